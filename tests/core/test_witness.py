"""The witness's decisions and the auditor's policy check (pure, no processes)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote import merkle
from evote.checkpoint import (
    Checkpoint,
    Note,
    NoteSignature,
    cosign,
    election_origin,
    sign_checkpoint,
)
from evote.encoding import canonical_json, parse_json
from evote.errors import (
    BoardError,
    BoardMisbehaviour,
    EncodingError,
    InvalidSignature,
    MerkleError,
    SchemaError,
    WitnessPolicyError,
)
from evote.signing import SigningKey
from evote.witness import (
    Evidence,
    LogState,
    WitnessKey,
    WitnessPolicy,
    WitnessState,
    check_witness_policy,
    cosign_state,
    observe,
    proof_needed,
    verify_cosigned_inclusion,
    verify_evidence,
    verify_final_checkpoint,
)

BOARD = SigningKey.from_bytes(b"\x01" * 32)
ORIGIN = election_origin(BOARD.verify_key, "poll")
OTHER = SigningKey.from_bytes(b"\x02" * 32)
W = [SigningKey.from_bytes(bytes([0x10 + i]) * 32) for i in range(3)]
NAMES = [f"w{i}.example.net/witness" for i in range(3)]
POLICY = WitnessPolicy(tuple(WitnessKey(n, k.verify_key) for n, k in zip(NAMES, W)), 2)
NOW = 1_750_000_000


def leaves(tag: bytes, n: int) -> list[bytes]:
    return [merkle.leaf_hash(tag + b"%d" % i) for i in range(n)]


TREE = merkle.MemoryTree(leaves(b"a", 40))
FORK = merkle.MemoryTree(leaves(b"a", 10) + leaves(b"b", 30))  # agrees with TREE up to 10


def note_at(tree: merkle.MemoryTree, size: int, key: SigningKey = BOARD) -> Note:
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), key)


def cosigned(note: Note, witnesses: list[int], t: int = NOW) -> Note:
    return note.with_signatures(cosign(note.text, NAMES[i], W[i], t) for i in witnesses)


def step(prior, tree, size, **kw):
    note = note_at(tree, size)
    need = proof_needed(prior, Checkpoint.parse(note.text))
    proof = tree.consistency_proof(*need) if need else None
    return observe(prior, note, board_key=BOARD.verify_key, origin=ORIGIN, proof=proof, **kw)


# --- the policy ------------------------------------------------------------------


def test_policy_json_round_trip_and_validation():
    assert WitnessPolicy.from_json(parse_json(canonical_json(POLICY.to_json()))) == POLICY
    keys = POLICY.to_json()["keys"]
    bad = [
        {"keys": keys, "threshold": 0},
        {"keys": keys, "threshold": 4},
        {"keys": [], "threshold": 1},
        {"keys": keys[:1] + keys[:1], "threshold": 1},  # same witness twice
        {"keys": [keys[0], {"name": "other/name", "key": keys[0]["key"]}], "threshold": 2},
        {"keys": [{"name": "has space", "key": keys[0]["key"]}], "threshold": 1},
        {"keys": keys, "threshold": 2, "extra": 1},
        {"keys": [{"name": "n", "key": "AAAA"}], "threshold": 1},
    ]
    for obj in bad:
        with pytest.raises(SchemaError):
            WitnessPolicy.from_json(obj)


def test_policy_counts_each_listed_witness_once():
    note = cosigned(note_at(TREE, 7), [0, 2])
    assert check_witness_policy(note, POLICY) == [NAMES[0], NAMES[2]]
    again = note.with_signatures([cosign(note.text, NAMES[0], W[0], NOW + 1)])
    assert check_witness_policy(again.to_bytes(), POLICY) == [NAMES[0], NAMES[2]]


def test_policy_not_met_names_who_signed():
    with pytest.raises(WitnessPolicyError) as err:
        check_witness_policy(cosigned(note_at(TREE, 7), [1]), POLICY)
    assert err.value.detail["signed"] == [NAMES[1]]
    assert err.value.code == "witness_policy"


def test_same_witness_twice_and_strangers_do_not_reach_the_threshold():
    note = cosigned(note_at(TREE, 7), [0])
    stranger = SigningKey.from_bytes(b"\x99" * 32)
    note = note.with_signatures(
        [
            cosign(note.text, NAMES[0], W[0], NOW + 5),  # replaces, still one witness
            cosign(note.text, "stranger.example/w", stranger, NOW),  # not in the policy
            cosign(note.text, NAMES[1], stranger, NOW),  # a listed name, another key: unknown
        ]
    )
    with pytest.raises(WitnessPolicyError):
        check_witness_policy(note, POLICY)


def test_a_bad_cosignature_from_a_listed_witness_rejects_the_note():
    note = cosigned(note_at(TREE, 7), [0, 1])
    sig = note.signatures[-1]
    bad = NoteSignature(sig.name, sig.key_id, sig.signature[:-1] + b"\x00")
    with pytest.raises(InvalidSignature):
        check_witness_policy(note.with_signatures([bad]), POLICY)


def test_a_cosignature_of_another_checkpoint_does_not_count():
    other = note_at(TREE, 8)
    note = note_at(TREE, 7)
    moved = note.with_signatures([cosign(other.text, NAMES[i], W[i], NOW) for i in (0, 1)])
    with pytest.raises(InvalidSignature):
        check_witness_policy(moved, POLICY)


def test_future_cosignatures_are_refused_when_a_clock_is_given():
    note = cosigned(note_at(TREE, 7), [0, 1], t=NOW + 3600)
    assert check_witness_policy(note, POLICY) == NAMES[:2]
    with pytest.raises(WitnessPolicyError, match="future"):
        check_witness_policy(note, POLICY, not_after=NOW)


def test_final_checkpoint_check():
    note = cosigned(note_at(TREE, 40), [1, 2])
    args = {"board_key": BOARD.verify_key, "election": "poll", "policy": POLICY}
    assert verify_final_checkpoint(note, size=40, root=TREE.root(), **args) == NAMES[1:]
    with pytest.raises(BoardError):  # cosigned, but not the final board
        verify_final_checkpoint(note, size=41, root=TREE.root(), **args)
    with pytest.raises(BoardError):
        verify_final_checkpoint(note, size=40, root=FORK.root(), **args)
    with pytest.raises(SchemaError):
        verify_final_checkpoint(
            note, size=40, root=TREE.root(), **{**args, "election": "other"}
        )
    with pytest.raises(InvalidSignature):
        verify_final_checkpoint(
            note, size=40, root=TREE.root(), **{**args, "board_key": OTHER.verify_key}
        )
    self_witness = WitnessPolicy((WitnessKey("board/self", BOARD.verify_key), *POLICY.keys), 2)
    with pytest.raises(WitnessPolicyError, match="its own witnesses"):
        verify_final_checkpoint(note, size=40, root=TREE.root(), **{**args, "policy": self_witness})


# --- the witness's decisions ---------------------------------------------------------


def test_growth_is_accepted_and_each_state_is_cosignable():
    state = None
    for size in (1, 2, 3, 8, 9, 17, 40):
        state = step(state, TREE, size)
        assert (state.size, state.root) == (size, TREE.root(size))
        sig = cosign_state(state, NAMES[0], W[0], NOW)
        note = Note.parse(state.checkpoint).with_signatures([sig])
        assert check_witness_policy(note, WitnessPolicy(POLICY.keys[:1], 1)) == [NAMES[0]]


def test_same_tree_again_keeps_the_state_and_needs_no_proof():
    state = step(None, TREE, 9)
    assert proof_needed(state, Checkpoint.parse(note_at(TREE, 9).text)) is None
    assert step(state, TREE, 9) is state


def test_cosignatures_on_the_presented_note_are_not_stored():
    note = cosigned(note_at(TREE, 9), [0, 1])
    state = observe(None, note, board_key=BOARD.verify_key, origin=ORIGIN)
    assert Note.parse(state.checkpoint) == note_at(TREE, 9)


def test_rollback_is_refused_with_evidence():
    state = step(None, TREE, 20)
    with pytest.raises(BoardMisbehaviour) as err:
        step(state, TREE, 19)
    assert err.value.reason == "rollback"
    with pytest.raises(BoardError, match="not a proof"):
        verify_evidence(err.value.evidence, BOARD.verify_key)


def test_equivocation_is_refused_and_the_evidence_proves_it():
    state = step(None, TREE, 20)
    with pytest.raises(BoardMisbehaviour) as err:
        step(state, FORK, 20)
    assert err.value.reason == "equivocation" and err.value.code == "board_misbehaviour"
    assert verify_evidence(err.value.evidence, BOARD.verify_key) == "equivocation"
    with pytest.raises(InvalidSignature):
        verify_evidence(err.value.evidence, OTHER.verify_key)


def test_a_fork_that_grows_is_refused_and_proven_with_the_old_view():
    state = step(None, TREE, 20)
    bad_proof = FORK.consistency_proof(20, 30)  # the fork's own proof, from its own 20
    kw = {"board_key": BOARD.verify_key, "origin": ORIGIN, "proof": bad_proof, "now": NOW}
    with pytest.raises(BoardMisbehaviour) as err:
        observe(state, note_at(FORK, 30), **kw)
    assert err.value.reason == "inconsistent"
    assert err.value.evidence["proof"] is not None
    with pytest.raises(BoardError, match="not a proof"):
        verify_evidence(err.value.evidence, BOARD.verify_key)
    with pytest.raises(BoardMisbehaviour) as err:
        observe(state, note_at(FORK, 30), old_view=note_at(FORK, 20), **kw)
    assert err.value.reason == "equivocation"
    ev = Evidence.from_json(parse_json(canonical_json(err.value.evidence)))
    assert verify_evidence(ev, BOARD.verify_key) == "equivocation"


def test_a_bad_proof_of_an_honest_tree_is_refused_but_proves_nothing():
    state = step(None, TREE, 20)
    proof = TREE.consistency_proof(20, 30)
    proof[0] = bytes(32)
    with pytest.raises(BoardMisbehaviour) as err:
        observe(
            state, note_at(TREE, 30), board_key=BOARD.verify_key, origin=ORIGIN, proof=proof,
            old_view=note_at(TREE, 20),
        )  # fmt: skip
    assert err.value.reason == "inconsistent"
    with pytest.raises(BoardError):
        verify_evidence(err.value.evidence, BOARD.verify_key)
    with pytest.raises(MerkleError):  # and a missing proof is a caller error, not evidence
        observe(state, note_at(TREE, 30), board_key=BOARD.verify_key, origin=ORIGIN)


def test_garbage_is_not_evidence():
    state = step(None, TREE, 20)
    kw = {"board_key": BOARD.verify_key, "origin": ORIGIN}
    with pytest.raises(InvalidSignature):
        observe(state, note_at(FORK, 20, key=OTHER), **kw)  # not signed by the board
    with pytest.raises(EncodingError):
        observe(state, b"not a note", **kw)
    other_origin = sign_checkpoint(Checkpoint("elsewhere/poll", 20, FORK.root(20)), BOARD)
    with pytest.raises(SchemaError):
        observe(state, other_origin, **kw)


def test_forged_evidence_is_refused():
    state = step(None, TREE, 20)
    with pytest.raises(BoardMisbehaviour) as err:
        step(state, FORK, 20)
    ev = dict(err.value.evidence)
    forged = note_at(FORK, 20, key=OTHER).to_text()
    with pytest.raises(InvalidSignature):
        verify_evidence({**ev, "presented": forged}, BOARD.verify_key)
    with pytest.raises(SchemaError):
        verify_evidence({**ev, "reason": "bored"}, BOARD.verify_key)


def test_state_json_round_trip_and_tamper():
    state = WitnessState(NAMES[0]).with_log(step(None, TREE, 12))
    assert WitnessState.from_json(parse_json(canonical_json(state.to_json()))) == state
    obj = state.to_json()
    obj["logs"][0]["size"] = 13
    with pytest.raises(SchemaError):
        WitnessState.from_json(obj)
    assert isinstance(state.log(ORIGIN), LogState) and state.log("x/y") is None


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8), st.data())
def test_no_sequence_of_views_gets_two_roots_of_one_size_accepted(sizes, data):
    """Whatever a server shows, in whatever order, what the witness accepts is
    one growing history: every accepted state extends every earlier one."""
    state, accepted = None, []
    for size in sizes:
        tree = data.draw(st.sampled_from([TREE, FORK]))
        try:
            state = step(state, tree, size)
        except BoardMisbehaviour:
            continue
        accepted.append(state)
    for a, b in zip(accepted, accepted[1:]):
        assert a.size <= b.size
        if a.size < b.size:
            proof = TREE.consistency_proof(a.size, b.size) if b.root == TREE.root(b.size) else (
                FORK.consistency_proof(a.size, b.size)
            )
            merkle.verify_consistency(a.size, b.size, proof, a.root, b.root)
        else:
            assert a.root == b.root


def test_cosigned_inclusion_for_check_my_ballot():
    note = cosigned(note_at(TREE, 30), [0, 2])
    args = {"board_key": BOARD.verify_key, "election": "poll", "policy": POLICY}
    leaf = TREE.leaf(17)
    proof = TREE.inclusion_proof(17, 30)
    assert verify_cosigned_inclusion(note, index=17, entry_hash=leaf, proof=proof, **args) == [
        NAMES[0],
        NAMES[2],
    ]
    with pytest.raises(MerkleError):  # RootMismatchError: the entry is not in that tree
        verify_cosigned_inclusion(note, index=17, entry_hash=FORK.leaf(17), proof=proof, **args)
    with pytest.raises(WitnessPolicyError):  # a tree only the voter was shown
        verify_cosigned_inclusion(
            cosigned(note_at(FORK, 30), [1]), index=17, entry_hash=FORK.leaf(17),
            proof=FORK.inclusion_proof(17, 30), **args,
        )  # fmt: skip
    # A board listed among its own witnesses is refused here too (check_cosigners), as by
    # the auditor's final check: the voter's and the CLI's check go through the same rule.
    self_witness = WitnessPolicy((WitnessKey("board/self", BOARD.verify_key), *POLICY.keys), 2)
    with pytest.raises(WitnessPolicyError, match="its own witnesses"):
        verify_cosigned_inclusion(
            note, index=17, entry_hash=leaf, proof=proof, **{**args, "policy": self_witness}
        )
