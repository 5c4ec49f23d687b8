"""The board: entries and the hash chain, signed tree heads, receipts, and the
evidence a rewritten or forked board leaves behind.  Every tamper test changes
a real artefact and asserts the exact error and entry index."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote import merkle
from evote.board import (
    KINDS,
    ChainHead,
    ConsistencyProof,
    Entry,
    Receipt,
    SignedTreeHead,
    TreeHead,
    detect_equivocation,
    foreign_kind_header,
    next_entry,
    verify_chain,
    verify_heads,
)
from evote.election import Phase
from evote.encoding import canonical_json, parse_json
from evote.errors import (
    BoardError,
    EncodingError,
    Equivocation,
    InvalidSignature,
    MerkleError,
    RootMismatchError,
    SchemaError,
)
from evote.signing import SigningKey

BOARD_KEY = SigningKey.from_bytes(hashlib.sha256(b"test board key").digest())
OTHER_KEY = SigningKey.from_bytes(hashlib.sha256(b"another key").digest())
ELECTION = "city-poll-2025-07"

LIFECYCLE = [
    "election_created",
    "trustee_announced",
    "trustee_committed",
    "trustee_shares",
    "key_published",
    "credentials_published",
    "election_opened",
    "ballot_cast",
    "ballot_cast",
    "ballot_audited",
    "ballot_cast",
    "election_closed",
    "tally_posted",
    "partial_decryption",
    "partial_decryption",
    "result_published",
]


def build(kinds, *, election=ELECTION, start=1_750_000_000_000, salt="") -> list[Entry]:
    entries: list[Entry] = []
    prev = None
    for i, kind in enumerate(kinds):
        prev = next_entry(
            prev,
            election=election,
            kind=kind,
            time=start + 1000 * (i // 2),  # some equal times, never decreasing
            payload={"n": i, "note": f"{kind}{salt}", "nested": {"list": [i, "x"]}},
        )
        entries.append(prev)
    return entries


def head_of(entries, key=BOARD_KEY, size=None, time=1_750_000_100_000) -> SignedTreeHead:
    size = len(entries) if size is None else size
    root = merkle.root(e.leaf_hash() for e in entries[:size])
    return TreeHead(entries[0].election, size, root, time).sign(key)


def reparse(entry: Entry, **changes) -> Entry:
    """The entry as a third party would get it after someone edited its JSON."""
    obj = parse_json(entry.canonical())
    for key, value in changes.items():
        if key == "payload":
            obj["payload"] = {**obj["payload"], **value}
        else:
            obj[key] = value
    return Entry.from_json(obj)


def bad_chain(entries, index: int, match: str, *, expect=None):
    with pytest.raises(BoardError) as exc:
        verify_chain(entries, expect=expect)
    assert type(exc.value) is BoardError
    assert exc.value.detail["index"] == index, exc.value.message
    assert exc.value.message.startswith(f"entry {index}: ")
    assert match in exc.value.message


# --- entries -----------------------------------------------------------------------


def test_entry_json_and_hash():
    entries = build(LIFECYCLE[:3])
    e0, e1 = entries[0], entries[1]
    assert e0.index == 0 and e0.prev == bytes(32)
    assert e1.prev == e0.leaf_hash() == merkle.leaf_hash(e0.canonical())
    assert list(e1.to_json()) == ["v", "election", "index", "kind", "prev", "time", "payload"]
    assert e1.canonical() == canonical_json(e1.to_json())
    assert e1.canonical().startswith(b'{"election":"city-poll-2025-07","index":1,"kind":')
    assert Entry.from_json(parse_json(e1.canonical())) == e1
    assert Entry.from_bytes(e1.canonical()) == e1
    assert e1.leaf_hash() == hashlib.sha256(b"\x00" + e1.canonical()).digest()


def test_entry_from_bytes_requires_canonical_form():
    e = build(LIFECYCLE[:1])[0]
    spaced = e.canonical().replace(b'"index":0', b'"index": 0')
    with pytest.raises(EncodingError, match="canonical"):
        Entry.from_bytes(spaced)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"v": 2}, "entry.v"),
        ({"v": True}, "entry.v"),
        ({"kind": "vote"}, "entry.kind"),
        ({"index": -1}, "entry.index"),
        ({"index": 1.0}, "entry.index"),
        ({"time": "now"}, "entry.time"),
        ({"election": ""}, "entry.election"),
        ({"payload": []}, "entry.payload"),
        ({"extra": 1}, "unknown field 'extra'"),
    ],
)
def test_entry_from_json_is_strict(change, field):
    obj = build(LIFECYCLE[:1])[0].to_json() | change
    with pytest.raises(SchemaError, match=field.replace(".", r"\.")):
        Entry.from_json(obj)


def test_an_unknown_kind_is_still_a_readable_header_but_nothing_else_is_forgiven():
    """docs/board.md §2: an unknown kind is a well-formed, chained entry (it breaks
    R-PHASE-02 only); every other fault of the line still makes it unreadable."""
    e = build(LIFECYCLE[:2])[-1]
    foreign = canonical_json(e.to_json() | {"kind": "trustee_withdrawn"})
    with pytest.raises(SchemaError, match="entry.kind"):
        Entry.from_bytes(foreign)  # Entry itself keeps refusing it
    assert foreign_kind_header(foreign) == (e.election, e.index, "trustee_withdrawn", e.prev,
                                            e.time)
    assert foreign_kind_header(e.canonical()) is None  # a known kind is Entry's business
    spaced = foreign.replace(b'"index":1', b'"index": 1')
    assert foreign_kind_header(spaced) is None  # not canonical
    for change in ({"v": 2}, {"index": -1}, {"extra": 1}, {"payload": []}, {"kind": ""},
                   {"kind": "k" * 65}, {"kind": 7}):
        bad = canonical_json(e.to_json() | {"kind": "trustee_withdrawn"} | change)
        assert foreign_kind_header(bad) is None, change
    assert foreign_kind_header(b"[1]") is None and foreign_kind_header(b"{") is None


def test_entry_prev_must_be_32_bytes():
    obj = build(LIFECYCLE[:1])[0].to_json() | {"prev": "AAAA"}
    with pytest.raises(EncodingError, match="entry.prev"):
        Entry.from_json(obj)
    with pytest.raises(SchemaError, match="entry.prev"):
        Entry(ELECTION, 0, "election_created", b"\x00" * 31, 0, {})


def test_next_entry_refuses_other_election_and_time_going_back():
    e = build(LIFECYCLE[:2])[-1]
    with pytest.raises(BoardError, match="entry 2: election"):
        next_entry(e, election="other", kind="trustee_committed", time=e.time, payload={})
    with pytest.raises(BoardError, match="entry 2: time"):
        next_entry(e, election=ELECTION, kind="trustee_committed", time=e.time - 1, payload={})
    with pytest.raises(SchemaError, match="entry.kind"):
        next_entry(e, election=ELECTION, kind="vote", time=e.time, payload={})


def test_next_entry_from_a_chain_head_is_the_same_entry():
    e = build(LIFECYCLE[:2])[-1]
    head = ChainHead.of(e)
    assert (head.index, head.time, head.leaf_hash()) == (e.index, e.time, e.leaf_hash())
    after = {"election": ELECTION, "kind": "trustee_committed", "time": e.time, "payload": {}}
    assert next_entry(head, **after).canonical() == next_entry(e, **after).canonical()
    with pytest.raises(BoardError, match="entry 2: time"):
        next_entry(head, **{**after, "time": e.time - 1})
    with pytest.raises(SchemaError, match="chain_head.hash"):
        ChainHead(ELECTION, 1, 0, b"\x00" * 31)


# --- the chain ---------------------------------------------------------------------


def test_chain_verifies_and_summarises():
    entries = build(LIFECYCLE)
    head = head_of(entries)
    summary = verify_chain(iter(entries), expect=head.head)
    assert summary.size == len(LIFECYCLE) and summary.election == ELECTION
    assert summary.root == merkle.MemoryTree(e.leaf_hash() for e in entries).root()
    assert summary.head_hash == entries[-1].leaf_hash()
    assert summary.state is not None and summary.state.phase is Phase.TALLIED


def test_chain_is_streamed():
    def once():
        yield from build(LIFECYCLE)

    assert verify_chain(once()).size == len(LIFECYCLE)


def test_empty_board_fails():
    with pytest.raises(BoardError, match="no entries"):
        verify_chain([])


def test_flipped_prev_byte():
    entries = build(LIFECYCLE)
    prev = bytearray(entries[5].prev)
    prev[7] ^= 0x40
    entries[5] = dataclasses.replace(entries[5], prev=bytes(prev))
    bad_chain(entries, 5, "prev does not match")


def test_changed_payload_breaks_the_next_link():
    entries = build(LIFECYCLE)
    entries[5] = reparse(entries[5], payload={"note": "credentials_published (edited)"})
    bad_chain(entries, 6, "prev does not match")


def test_changed_last_entry_is_caught_by_the_signed_root():
    entries = build(LIFECYCLE)
    head = head_of(entries)
    entries[-1] = reparse(entries[-1], payload={"n": 999})
    verify_chain(entries)  # no later entry covers it ...
    with pytest.raises(RootMismatchError) as exc:  # ... the signed head does
        verify_chain(entries, expect=head.head)
    assert exc.value.expected == head.root


def test_dropped_entry():
    entries = build(LIFECYCLE)
    del entries[7]
    bad_chain(entries, 7, "index is 8, expected 7")


def test_dropped_tail_is_caught_by_the_signed_size():
    entries = build(LIFECYCLE)
    head = head_of(entries)
    with pytest.raises(BoardError, match="size 16, the board has 15"):
        verify_chain(entries[:-1], expect=head.head)


def test_reordered_entries():
    entries = build(LIFECYCLE)
    entries[8], entries[9] = entries[9], entries[8]
    bad_chain(entries, 8, "index is 9, expected 8")


def test_reordered_and_rechained_board_is_caught_by_the_signed_root():
    honest = build(LIFECYCLE)
    order = honest[:8] + [honest[9], honest[8]] + honest[10:]
    prev, rechained = honest[7], honest[:8]
    for e in order[8:]:
        prev = next_entry(prev, election=ELECTION, kind=e.kind, time=e.time, payload=e.payload)
        rechained.append(prev)
    verify_chain(rechained)  # a rebuilt chain is internally consistent ...
    with pytest.raises(RootMismatchError):  # ... but not the one the board signed
        verify_chain(rechained, expect=head_of(honest).head)


def test_changed_election_id():
    entries = build(LIFECYCLE)
    entries[4] = dataclasses.replace(entries[4], election="another-poll")
    bad_chain(entries, 4, "election 'another-poll' is not 'city-poll-2025-07'")


def test_first_entry_of_another_election_is_caught_against_the_head():
    entries = build(LIFECYCLE)
    head = head_of(entries)
    entries[0] = dataclasses.replace(entries[0], election="another-poll")
    bad_chain(entries, 0, "election 'another-poll' is not", expect=head.head)


def test_time_going_backwards():
    entries = build(LIFECYCLE)
    entries[3] = dataclasses.replace(entries[3], time=entries[2].time - 1)
    bad_chain(entries, 3, "is before the previous entry's")


def test_first_entry_must_have_zero_prev():
    entries = build(LIFECYCLE)
    entries[0] = dataclasses.replace(entries[0], prev=b"\x01" * 32)
    bad_chain(entries, 0, "prev does not match")


def test_lifecycle_violation_is_a_board_error_at_its_index():
    kinds = LIFECYCLE[:8] + ["tally_posted"]
    bad_chain(build(kinds), 8, "tally_posted is not allowed in phase open")
    assert verify_chain(build(kinds), lifecycle=False).state is None


def test_out_of_order_ceremony_refused():
    kinds = ["election_created", "election_opened"]
    bad_chain(build(kinds), 1, "election_opened is not allowed in phase setup before")


# --- properties --------------------------------------------------------------------

MUTATIONS = ["prev", "payload", "time", "election", "drop", "swap", "index", "kind", "duplicate"]


@st.composite
def legal_kinds(draw):
    trustee = draw(
        st.lists(st.sampled_from(["trustee_announced", "trustee_committed", "trustee_shares"]), max_size=4)
    )
    ballots = draw(st.lists(st.sampled_from(["ballot_cast", "ballot_audited"]), max_size=12))
    partials = draw(st.integers(0, 3))
    full = (
        ["election_created", *trustee, "key_published", "credentials_published", "election_opened"]
        + ballots
        + ["election_closed", "tally_posted"]
        + ["partial_decryption"] * partials
        + ["result_published"]
    )
    return full[: draw(st.integers(1, len(full)))]


@settings(max_examples=40, deadline=None)
@given(kinds=legal_kinds(), data=st.data())
def test_random_chains_verify_and_any_single_mutation_fails(kinds, data):
    entries = build(kinds)
    head = head_of(entries)
    verify_chain(entries, expect=head.head)

    what = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    i = data.draw(st.integers(0, len(entries) - 1), label="at")
    e = entries[i]
    mutated = list(entries)
    if what == "prev":
        bit = data.draw(st.integers(0, 255))
        mutated[i] = dataclasses.replace(e, prev=merkle_flip(e.prev, bit))
    elif what == "payload":
        mutated[i] = reparse(e, payload={"n": e.payload["n"] + 1})
    elif what == "time":
        mutated[i] = dataclasses.replace(e, time=e.time + 1)
    elif what == "election":
        mutated[i] = dataclasses.replace(e, election=ELECTION + "-x")
    elif what == "drop":
        del mutated[i]
    elif what == "swap":
        if len(entries) < 2:
            return
        j = data.draw(st.integers(0, len(entries) - 1).filter(lambda j: j != i))
        mutated[i], mutated[j] = mutated[j], mutated[i]
    elif what == "index":
        mutated[i] = dataclasses.replace(e, index=e.index + data.draw(st.integers(1, 5)))
    elif what == "kind":
        other = data.draw(st.sampled_from([k for k in KINDS if k != e.kind]))
        mutated[i] = dataclasses.replace(e, kind=other)
    elif what == "duplicate":
        mutated.insert(i, e)
    if not mutated:
        with pytest.raises(BoardError):
            verify_chain(mutated, expect=head.head)
        return
    with pytest.raises((BoardError, RootMismatchError)) as exc:
        verify_chain(mutated, expect=head.head)
    if what in ("prev", "election", "index", "drop", "duplicate") and i < len(mutated) - 1:
        assert exc.value.detail.get("index") == (i + 1 if what == "duplicate" else i)


def merkle_flip(h: bytes, bit: int) -> bytes:
    i, b = divmod(bit, 8)
    return h[:i] + bytes([h[i] ^ (1 << b)]) + h[i + 1 :]


# --- tree heads --------------------------------------------------------------------


def test_tree_head_sign_verify_and_json():
    entries = build(LIFECYCLE)
    sth = head_of(entries)
    sth.verify()
    sth.verify(BOARD_KEY.verify_key)
    again = SignedTreeHead.from_json(parse_json(canonical_json(sth.to_json())))
    assert again == sth
    again.verify(BOARD_KEY.verify_key)
    assert sth.head.to_json() == {
        "v": 1,
        "election": ELECTION,
        "size": len(LIFECYCLE),
        "root": sth.to_json()["head"]["root"],
        "time": 1_750_000_100_000,
    }


@pytest.mark.parametrize(
    "change",
    [{"size": 15}, {"time": 1_750_000_100_001}, {"election": "other"}, {"root": b"\x00" * 32}],
)
def test_tampered_tree_head_fails(change):
    sth = head_of(build(LIFECYCLE))
    forged = SignedTreeHead(dataclasses.replace(sth.head, **change), sth.signature, sth.board_key)
    with pytest.raises(InvalidSignature):
        forged.verify(BOARD_KEY.verify_key)


def test_tree_head_by_another_key_fails():
    sth = head_of(build(LIFECYCLE), key=OTHER_KEY)
    sth.verify()  # self-consistent ...
    with pytest.raises(InvalidSignature, match="not the trusted board key"):
        sth.verify(BOARD_KEY.verify_key)  # ... but not by the board we trust
    relabelled = SignedTreeHead(sth.head, sth.signature, BOARD_KEY.verify_key)
    with pytest.raises(InvalidSignature):
        relabelled.verify(BOARD_KEY.verify_key)


def test_tree_head_signature_input_is_the_documented_transcript():
    from nacl.signing import VerifyKey as NaclVerifyKey

    sth = head_of(build(LIFECYCLE))
    body = canonical_json(sth.head.to_json())

    def lp(b: bytes) -> bytes:
        return len(b).to_bytes(8, "big") + b

    message = lp(b"evote/v1/edwards25519") + lp(b"tree-head") + lp(body)
    NaclVerifyKey(BOARD_KEY.verify_key.raw).verify(message, sth.signature)


def test_tree_head_json_is_strict():
    obj = head_of(build(LIFECYCLE)).to_json()
    with pytest.raises(SchemaError, match="head.size"):
        SignedTreeHead.from_json(obj | {"head": obj["head"] | {"size": 0}})
    with pytest.raises(SchemaError, match="unknown field"):
        SignedTreeHead.from_json(obj | {"note": "x"})
    with pytest.raises(SchemaError, match="board_key"):
        SignedTreeHead.from_json(obj | {"board_key": "A" * 43})
    with pytest.raises(EncodingError, match="signature"):
        SignedTreeHead.from_json(obj | {"signature": "AAAA"})


# --- receipts ------------------------------------------------------------------------


def issue(entries, index, size=None):
    size = len(entries) if size is None else size
    tree = merkle.MemoryTree(e.leaf_hash() for e in entries[:size])
    sth = head_of(entries, size=size)
    return Receipt.issue(
        entry=entries[index],
        tracking_code="TRK-1234-ABCD",
        tree_head=sth,
        inclusion_proof=tree.inclusion_proof(index),
        key=BOARD_KEY,
    )


def test_receipt_verifies_and_round_trips():
    entries = build(LIFECYCLE)
    receipt = issue(entries, 8, size=11)
    receipt.verify(BOARD_KEY.verify_key)
    receipt.verify_entry(entries[8])
    again = Receipt.from_json(parse_json(canonical_json(receipt.to_json())))
    assert again == receipt
    again.verify(BOARD_KEY.verify_key)
    assert set(receipt.to_json()) == {
        "v",
        "election",
        "index",
        "tracking_code",
        "entry_hash",
        "tree_head",
        "inclusion_proof",
        "signature",
    }


@pytest.mark.parametrize(
    "change", [{"index": 7}, {"tracking_code": "TRK-0000-0000"}, {"entry_hash": b"\x07" * 32}]
)
def test_tampered_receipt_statement_fails_signature(change):
    receipt = issue(build(LIFECYCLE), 8)
    with pytest.raises(InvalidSignature):
        dataclasses.replace(receipt, **change).verify(BOARD_KEY.verify_key)


def test_receipt_with_a_bad_proof_fails_inclusion():
    receipt = issue(build(LIFECYCLE), 8)
    proof = list(receipt.inclusion_proof)
    proof[1] = merkle_flip(proof[1], 9)
    with pytest.raises(RootMismatchError):
        dataclasses.replace(receipt, inclusion_proof=proof).verify(BOARD_KEY.verify_key)
    with pytest.raises(MerkleError):
        dataclasses.replace(receipt, inclusion_proof=proof[:-1]).verify(BOARD_KEY.verify_key)


def test_receipt_from_another_key_fails():
    receipt = issue(build(LIFECYCLE), 8)
    with pytest.raises(InvalidSignature):
        receipt.verify(OTHER_KEY.verify_key)


def test_receipt_for_another_entry():
    entries = build(LIFECYCLE)
    receipt = issue(entries, 8)
    with pytest.raises(BoardError, match="not entry 9"):
        receipt.verify_entry(entries[9])
    edited = reparse(entries[8], payload={"note": "swapped ballot"})
    with pytest.raises(BoardError, match="not the entry in the receipt"):
        receipt.verify_entry(edited)


def test_board_refuses_to_sign_a_wrong_receipt():
    entries = build(LIFECYCLE)
    tree = merkle.MemoryTree(e.leaf_hash() for e in entries)
    with pytest.raises(RootMismatchError):
        Receipt.issue(
            entry=entries[8],
            tracking_code="TRK",
            tree_head=head_of(entries),
            inclusion_proof=tree.inclusion_proof(9),
            key=BOARD_KEY,
        )
    with pytest.raises(BoardError, match="different key"):
        Receipt.issue(
            entry=entries[8],
            tracking_code="TRK",
            tree_head=head_of(entries, key=OTHER_KEY),
            inclusion_proof=tree.inclusion_proof(8),
            key=BOARD_KEY,
        )


# --- consistency, forks and equivocation --------------------------------------------


def test_honest_heads_are_consistent():
    entries = build(LIFECYCLE)
    tree = merkle.MemoryTree(e.leaf_hash() for e in entries)
    for old in (1, 5, 8, 15, 16):
        proof = tree.consistency_proof(old)
        older, newer = head_of(entries, size=old), head_of(entries)
        verify_heads(older, newer, proof, board_key=BOARD_KEY.verify_key)
        cp = ConsistencyProof(older, newer, proof)
        assert ConsistencyProof.from_json(parse_json(canonical_json(cp.to_json()))) == cp
        cp.verify(BOARD_KEY.verify_key)


def test_fork_is_caught_with_both_heads_as_evidence():
    honest = build(LIFECYCLE)
    forked = honest[:6] + build(LIFECYCLE, salt=" (fork)")[6:]
    # Re-chain the fork from entry 6 so that it is a valid board on its own.
    prev = honest[5]
    rebuilt = honest[:6]
    for e in forked[6:]:
        prev = next_entry(prev, election=ELECTION, kind=e.kind, time=e.time, payload=e.payload)
        rebuilt.append(prev)
    verify_chain(rebuilt)

    older = head_of(honest, size=10)  # what one auditor saw
    newer = head_of(rebuilt)  # what the board shows later
    fork_tree = merkle.MemoryTree(e.leaf_hash() for e in rebuilt)
    with pytest.raises(RootMismatchError) as exc:
        verify_heads(older, newer, fork_tree.consistency_proof(10), board_key=BOARD_KEY.verify_key)
    detail = exc.value.to_json()["detail"]
    assert detail["older"] == older.to_json() and detail["newer"] == newer.to_json()
    assert exc.value.message.startswith("board forked")


def test_equivocation_same_size_different_roots():
    honest = build(LIFECYCLE)
    other = build(LIFECYCLE, salt="'")
    a, b = head_of(honest), head_of(other)
    with pytest.raises(Equivocation) as exc:
        detect_equivocation(a, b, board_key=BOARD_KEY.verify_key)
    assert exc.value.first == a.to_json() and exc.value.second == b.to_json()
    assert exc.value.to_json()["code"] == "equivocation"
    with pytest.raises(Equivocation):
        verify_heads(a, b, [], board_key=BOARD_KEY.verify_key)
    detect_equivocation(a, head_of(honest, time=1))  # same root, other time: fine


def test_equivocation_needs_signed_evidence():
    a = head_of(build(LIFECYCLE))
    b = head_of(build(LIFECYCLE, salt="'"))
    forged = SignedTreeHead(b.head, a.signature, b.board_key)
    with pytest.raises(InvalidSignature):
        detect_equivocation(a, forged)
    with pytest.raises(InvalidSignature):
        detect_equivocation(a, head_of(build(LIFECYCLE, salt="'"), key=OTHER_KEY), board_key=BOARD_KEY.verify_key)


def test_heads_of_different_elections_or_keys():
    a = head_of(build(LIFECYCLE))
    b = head_of(build(LIFECYCLE, election="another-poll"))
    with pytest.raises(BoardError, match="different elections"):
        verify_heads(a, b, [])
    with pytest.raises(BoardError, match="different board keys"):
        verify_heads(a, head_of(build(LIFECYCLE), key=OTHER_KEY), [])


def test_shrinking_board_is_refused():
    entries = build(LIFECYCLE)
    with pytest.raises(MerkleError, match="larger"):
        verify_heads(head_of(entries), head_of(entries, size=4), [])
