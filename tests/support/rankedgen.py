"""Ranked and graded elections on a board built with the core only (no server).

Extends :mod:`tests.support.recordgen` with the mixnet's steps after ``election_closed``:
the homomorphic tally of the choice/score questions (:func:`evote.ranked.tally_shape`),
every mixer's ``mix_posted`` per ranked/graded question, the trustees'
``mix_decryption`` of the final lists, the official's ``ranked_result``, then
``result_published``.  :func:`replay` folds a board through the projection the
way the server and the verifier do (ballots checked by R-BAL, the tally by an
:class:`~evote.rules.AggregateExpectation`, the mixnet by
:class:`~evote.ranked.MixInputs`), so a tampered board fails with the named rule.

Used by ``tests/core/test_ranked_board.py``; meant for the conformance cases of the
next wave too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evote.ballot import Ballot, encrypt_ballot
from evote.board import Entry
from evote.drbg import SeededRng
from evote.kinds import BALLOT_KINDS, ELECTION_CLOSED
from evote.mix_payloads import RankedResult
from evote.mixdecryption import partial_decrypt_rows
from evote.mixnet import MixerKey, mix
from evote.payloads import Command, parse_ballot_cast
from evote.ranked import (
    mix_inputs,
    ranked_result,
    tally_bounds,
    tally_ciphertexts,
    tally_shape,
)
from evote.rules import AggregateExpectation, BoardState, check_cast
from evote.signing import SigningKey, VerifyKey
from evote.tally import aggregate, combine, partial_decrypt
from tests.support.recordgen import BoardBuilder, Election, make_election, post_setup

RANKED_MANIFEST: dict[str, Any] = {
    "election_id": "ranked-election",
    "title": {"en": "City elections", "ru": "Городские выборы"},
    "questions": [
        {"id": "park", "title": "Which park first?", "options": ["North", "South"],
         "kind": "choice", "min": 0, "max": 1},
        {"id": "mayor", "title": {"en": "Mayor", "ru": "Мэр"},
         "options": ["Ann", "Bob", "Cid", "Dee"], "kind": "ranked", "method": "irv"},
        {"id": "council", "title": "Council", "options": ["E", "F", "G", "H"],
         "kind": "ranked", "method": "stv", "seats": 2},
        {"id": "rate", "title": "Rate the projects", "options": ["Tram", "Bridge"],
         "kind": "grades", "grades": [{"en": "Poor", "ru": "Плохо"},
                                      {"en": "Fair", "ru": "Средне"},
                                      {"en": "Good", "ru": "Хорошо"}]},
    ],
}

#: The voters' selections (one row per question): a proper ranking, a short one, an
#: ill-formed one (a repeated rank: counted up to the repeat), a blank one.
SELECTIONS: list[list[list[int]]] = [
    [[1, 0], [1, 2, 3, 4], [2, 1, 0, 0], [2, 1]],
    [[0, 1], [2, 1, 0, 0], [1, 2, 3, 0], [0, 2]],
    [[1, 0], [1, 1, 2, 0], [0, 0, 1, 2], [1, 1]],
    [[0, 0], [0, 0, 0, 0], [1, 3, 2, 4], [2, 2]],
    [[1, 0], [3, 1, 2, 0], [4, 3, 2, 1], [0, 0]],
]


@dataclass
class RankedBoard:
    election: Election
    builder: BoardBuilder
    mixer_keys: list[SigningKey]
    counted: dict[bytes, tuple[int, Ballot]] = field(default_factory=dict)
    closed: Entry | None = None

    @property
    def entries(self) -> list[Entry]:
        return self.builder.entries


def answers(ballot: Ballot) -> list[list[Any]]:
    return [list(a.choices) for a in ballot.answers]


def mixers_manifest(mixer_keys: Sequence[SigningKey]) -> dict[str, Any]:
    return RANKED_MANIFEST | {
        "mixers": [MixerKey(i, k.verify_key).to_json() for i, k in enumerate(mixer_keys, 1)]
    }


def build_open(*, mixers: int = 2, seed: bytes = b"rankedgen",
               selections: Sequence[Sequence[Sequence[int]]] = SELECTIONS,
               manifest: dict[str, Any] | None = None, voters: int | None = None) -> RankedBoard:
    """Setup, opening and one ballot per selection (voter i casts selections[i])."""
    rng = SeededRng(seed + b"/mixers")
    mixer_keys = [SigningKey.generate(rng) for _ in range(mixers)]
    doc = manifest or RANKED_MANIFEST
    doc = doc | {"mixers": mixers_manifest(mixer_keys)["mixers"]} if mixers else doc
    e = make_election(manifest=doc, voters=voters or max(1, len(selections)), seed=seed)
    b = BoardBuilder(e)
    post_setup(b)
    board = RankedBoard(e, b, mixer_keys)
    ballot_rng = SeededRng(seed + b"/ballots")
    for v, sel in enumerate(selections):
        ballot, _ = encrypt_ballot(e.ctx, e.voters[v], sel, ballot_rng)
        entry = b.append("ballot_cast", {"ballot": ballot.to_json()})
        board.counted[ballot.credential.raw] = (entry.index, ballot)
    return board


def post_close_and_tally(board: RankedBoard, seed: bytes = b"tally") -> None:
    """election_closed, the homomorphic tally of the choice/score questions and its partials."""
    e, b = board.election, board.builder
    rng = SeededRng(seed)
    board.closed = b.command(ELECTION_CLOSED, e.official, {})
    rows, total = [], 0
    for _, ballot in board.counted.values():
        w = e.credentials.weight_of(ballot.credential)
        total += w
        rows.append((w, tally_ciphertexts(e.manifest, answers(ballot))))
    tally = aggregate(tally_shape(e.manifest), rows)
    b.command("tally_posted", e.official,
              {"tally": tally.to_json(), "counted": len(board.counted), "total_weight": total})
    for s in e.states[: e.threshold]:
        p = partial_decrypt(e.ctx.fingerprint, s.trustee, s.share, tally, rng)
        b.command("partial_decryption", s.signing_key, p.to_json())


def mixer_signing_keys(board: RankedBoard) -> list[SigningKey]:
    """Mixer i's signing key (the trustees' when the manifest names no mixers)."""
    return board.mixer_keys or [s.signing_key for s in board.election.states]


def honest_mix(board: RankedBoard, question: int, mixer: int, inputs: Any, seed: bytes) -> Any:
    e = board.election
    key = mixer_signing_keys(board)[mixer - 1]
    return mix(e.ctx.fingerprint, e.joint.joint_key, question, mixer, key, inputs,
               SeededRng(seed))


def post_mixnet(board: RankedBoard, seed: bytes = b"mixnet") -> dict[int, RankedResult]:
    """Every mix, t mix decryptions and the ranked result of every mixed question."""
    e, b = board.election, board.builder
    assert board.closed is not None
    inputs = mix_inputs(e.manifest, _pairs(board), board.closed)
    keys = mixer_signing_keys(board)
    results = {}
    for q, rows in inputs.initial.items():
        for m in range(1, len(keys) + 1):
            posted = honest_mix(board, q, m, rows, seed + bytes([q, m]))
            b.command("mix_posted", keys[m - 1], posted.to_json())
            rows = posted.rows
        for s in e.states[: e.threshold]:
            p = partial_decrypt_rows(e.ctx.fingerprint, q, s.trustee, s.share, rows,
                                     SeededRng(seed + bytes([q, s.trustee])))
            b.command("mix_decryption", s.signing_key, p.to_json())
        result = ranked_result(replay(board), q, inputs.tie_seed)
        b.command("ranked_result", e.official, result.to_json())
        results[q] = result
    return results


def post_result(board: RankedBoard) -> None:
    e, b = board.election, board.builder
    state = replay(board)
    tally = state.tally
    assert tally is not None
    result = combine(e.ctx.fingerprint, tally.tally, state.partials.values(), e.joint,
                     tally_bounds(e.manifest, tally.total_weight))
    b.command("result_published", e.official, {"result": result.to_json()})


def build_ranked(**kw: Any) -> RankedBoard:
    board = build_open(**kw)
    post_close_and_tally(board)
    post_mixnet(board)
    post_result(board)
    return board


def _pairs(board: RankedBoard) -> list[tuple[int, list[list[Any]]]]:
    return [(i, answers(ballot)) for i, ballot in board.counted.values()]


def replay(board: RankedBoard, entries: Iterable[tuple[str, dict[str, Any]]] | None = None,
           *, closed: Entry | None = None) -> BoardState:
    """Fold ``entries`` ((kind, payload) pairs; default: the board's) through the projection.

    ``closed``: the ``election_closed`` entry whose leaf hash seeds the ties (default: the
    board's own; a tampered list after the close keeps it)."""
    e = board.election
    pairs = [(x.kind, x.payload) for x in board.entries] if entries is None else list(entries)
    state = BoardState()
    counted: dict[bytes, tuple[int, list[list[Any]], int]] = {}
    mixing = None
    for index, (kind, payload) in enumerate(pairs):
        if kind in BALLOT_KINDS:
            state = state.apply_kind(kind)
            if kind == "ballot_cast":
                entry = Entry(index=index, election=e.election_id, kind=kind, time=0,
                              payload=payload, prev=bytes(32))
                ballot = parse_ballot_cast(entry, e.manifest)
                weight = check_cast(state.opened_context(), ballot)
                counted[ballot.credential.raw] = (index, answers(ballot), weight)
            continue
        command = Command.parse(kind, payload)
        if kind == ELECTION_CLOSED:
            seal = closed or board.closed
            assert seal is not None
            mixing = mix_inputs(e.manifest, [(i, a) for i, a, _ in counted.values()], seal)
        tally = None
        if kind == "tally_posted":
            tally = AggregateExpectation(
                len(counted), sum(w for _, _, w in counted.values()), tally_shape(e.manifest),
                [(w, tally_ciphertexts(e.manifest, a)) for _, a, w in counted.values()],
            )
        state = state.apply(command, tally=tally, mixing=mixing)
    return state


def verify_key(key: SigningKey) -> VerifyKey:
    return key.verify_key
