"""The mixnet's steps for the conformance suite: ranked and graded elections.

Extends :class:`tools.conformance_kit.Builder` (which posts the setup, the
ballots and the homomorphic tally) with what comes after the close for the
ranked and graded questions (docs/protocol-mixnet.md): every mixer's
``mix_posted`` in turn, t trustees' ``mix_decryption`` of each final list, the
official's ``ranked_result``, then ``result_published``.  Each party's step
is a function of what is on the board so far, so a case can replace one step
by the cheating party's own (re-signed with its key; the kit re-chains the
board, rebuilds the tree and re-signs the heads when it renders the plan).

The mixers are the trustees (the manifest names none: mixer i is trustee i,
docs/protocol-mixnet.md §4), so a cheating mixer signs with its trustee key.
The tie seed needs the leaf hash of ``election_closed`` as it will be on the
board: :func:`closed_entry` renders the plan up to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evote.board import Entry
from evote.drbg import SeededRng
from evote.mix_payloads import RankedResult
from evote.mixdecryption import RowsPartialDecryption, combine_rows, partial_decrypt_rows
from evote.mixnet import Mix, mix
from evote.ranked import expected_count, max_value, mix_input, tie_seed
from evote.shuffle import RowList
from tools.conformance_kit import Builder, Plan, render


def ranked_manifest(eid: str, *, methods: str = "irv") -> dict[str, Any]:
    """A choice question (the homomorphic tally), a ranked question of width 4 and a
    graded one of width 3 (three grades); ``methods="stv"``: STV for 2 seats, Schulze
    and Borda of width 3 instead."""
    choice = {"id": "q", "title": "Approve the proposal?", "options": ["Yes", "No"],
              "kind": "choice", "min": 1, "max": 1}
    if methods == "stv":
        questions = [
            choice,
            {"id": "council", "title": "Council (2 seats)", "options": ["Ann", "Bob", "Cid", "Dee"],
             "kind": "ranked", "method": "stv", "seats": 2},
            {"id": "logo", "title": "Logo", "options": ["Red", "Green", "Blue"],
             "kind": "ranked", "method": "schulze"},
            {"id": "motto", "title": "Motto", "options": ["One", "Two", "Three"],
             "kind": "ranked", "method": "borda"},
        ]
    else:
        questions = [
            choice,
            {"id": "mayor", "title": {"en": "Mayor", "ru": "Мэр"},
             "options": ["Ann", "Bob", "Cid", "Dee"], "kind": "ranked", "method": "irv"},
            {"id": "rate", "title": "Rate the projects", "options": ["Tram", "Bridge", "Park"],
             "kind": "grades", "grades": [{"en": "Poor", "ru": "Плохо"},
                                          {"en": "Fair", "ru": "Средне"},
                                          {"en": "Good", "ru": "Хорошо"}]},
        ]
    return {"election_id": eid, "title": "Ranked conformance election", "questions": questions}


def closed_entry(b: Builder) -> Entry:
    """``election_closed`` as the board will hold it (its leaf hash seeds the ties)."""
    i = b.find("close")
    files = render(Plan(b.e, b.steps[: i + 1]))
    line = files["board.jsonl"].splitlines()[-1]
    return Entry.from_bytes(line)


def initial_lists(b: Builder) -> dict[int, RowList]:
    """Each mixed question's rows of the counted ballots, in board order (R-MIX-02)."""
    order = {id(s): n for n, s in enumerate(b.steps)}
    counted = [(order[id(b.cast_steps[c])], [list(a.choices) for a in ballot.answers])
               for c, ballot in b.counted.items()]
    return mix_input(b.e.manifest, counted)


def honest_mix(b: Builder, q: int, mixer: int, inputs: RowList) -> Mix:
    e = b.e
    return mix(e.ctx.fingerprint, e.joint.joint_key, q, mixer, e.trustee_keys[mixer], inputs,
               SeededRng(b"conformance/mix/" + e.eid.encode() + bytes([q, mixer])))


def honest_decryption(b: Builder, q: int, j: int, rows: RowList) -> RowsPartialDecryption:
    e = b.e
    return partial_decrypt_rows(e.ctx.fingerprint, q, j, e.finished[j].share, rows,
                                SeededRng(b"conformance/mixdec/" + e.eid.encode() + bytes([q, j])))


def honest_result(b: Builder, q: int, rows: RowList, partials: list[RowsPartialDecryption],
                  seed: bytes) -> RankedResult:
    e = b.e
    decrypted = combine_rows(e.ctx.fingerprint, q, rows, partials, e.joint,
                             max_value(e.manifest, q))
    return RankedResult(decrypted, expected_count(e.manifest, q, decrypted, seed).to_json())


@dataclass
class MixnetRun:
    """What the mixnet posted per question: each mix, the final list and the partials."""

    mixes: dict[int, list[Mix]] = field(default_factory=dict)
    partials: dict[int, list[RowsPartialDecryption]] = field(default_factory=dict)
    results: dict[int, RankedResult] = field(default_factory=dict)
    seed: bytes = b""


#: A case's hook: called after each honest step is posted, with (builder, run, tag).
Hook = Callable[[Builder, MixnetRun, str], None]


def post_mixnet(b: Builder, *, decryptors: tuple[int, ...] | None = None,
                hook: Hook | None = None) -> MixnetRun:
    """Every mix (tags ``mix:q:m``), the decryptions (``mixdec:q:j``) and the ranked
    results (``ranked:q``) of every mixed question, honestly; ``hook`` may add or
    replace steps as it goes (it sees each tag just after that step is posted)."""
    e = b.e
    run = MixnetRun(seed=tie_seed(closed_entry(b)))
    who = decryptors or tuple(sorted(e.finished)[: e.t])
    for q, rows in initial_lists(b).items():
        run.mixes[q] = []
        for m in range(1, e.n + 1):
            posted = honest_mix(b, q, m, rows)
            b.command("mix_posted", e.trustee_keys[m], posted.to_json(), f"mix:{q}:{m}")
            run.mixes[q].append(posted)
            rows = posted.rows
            if hook:
                hook(b, run, f"mix:{q}:{m}")
            rows = run.mixes[q][-1].rows  # a hook may have replaced the mix
        run.partials[q] = []
        for j in who:
            p = honest_decryption(b, q, j, rows)
            b.command("mix_decryption", e.trustee_keys[j], p.to_json(), f"mixdec:{q}:{j}")
            run.partials[q].append(p)
            if hook:
                hook(b, run, f"mixdec:{q}:{j}")
        result = honest_result(b, q, rows, run.partials[q], run.seed)
        b.command("ranked_result", e.official, result.to_json(), f"ranked:{q}")
        run.results[q] = result
        if hook:
            hook(b, run, f"ranked:{q}")
    return run


def finish_ranked(b: Builder, *, hook: Hook | None = None,
                  decryptors: tuple[int, ...] | None = None) -> MixnetRun:
    """Close, the homomorphic tally and its partials, the mixnet, the result, a head."""
    b.head()
    b.closed()
    b.tally()
    for j in sorted(b.e.finished)[: b.e.t]:
        b.partial(j)
    run = post_mixnet(b, hook=hook, decryptors=decryptors)
    b.result()
    b.head()
    return run
