"""Checks 20-22 (mixes, mixed-decryptions, ranked-count) of ``evote-verify`` on real records.

Unhappy paths first: each tampered record is an honest ranked election
(``tests/rankedgen.py``) with one artefact replaced by the cheating party's own,
re-signed with its key and re-chained (the board rebuilt, a head signed over it),
and each is rejected by the named check with the rule id, code and entry.  Then:
offloaded proofs give the same report on 2 worker processes as in process; an
election still mixing is skipped with ``--in-progress`` and failed without; a
record without ranked questions has nothing to mix; the honest record passes and
its report carries the count sheets, in ``--json`` and in the HTML (table and an
accessible inline chart).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evote.drbg import SeededRng
from evote.elgamal import encrypt
from evote.group import Scalar
from evote.hashing import TAG_MIX_SIGNATURE
from evote.mix_payloads import RankedResult
from evote.mixdecryption import partial_decrypt_rows
from evote.mixnet import Mix, _signed_fields
from evote.payloads import Command
from evote.shuffle import RowList
from tests.support.rankedgen import RankedBoard, build_ranked, mixer_signing_keys
from tests.support.recordgen import BoardBuilder, build_record, write_files
from verifier import parallel
from verifier.checks import verify_record
from verifier.checks.mixing import NO_MIXING
from verifier.record import Record
from verifier.report import Report, render_html
from verifier.sources import DirectorySource

Body = dict[str, Any]
Tamper = Callable[[RankedBoard, int, Body], tuple[str, Any, Body] | None]


@pytest.fixture(scope="module")
def board() -> RankedBoard:
    return build_ranked()


def body_of(entry: Any) -> Body:
    return Command.parse(entry.kind, entry.payload).signed.body


def rebuilt(board: RankedBoard, tmp: Path, tamper: Tamper, *, cut: int | None = None) -> Path:
    """The board re-chained with ``tamper(board, index, body)``'s replacement (kind, key,
    body) at the entries it returns one for; a signed head over the result, written."""
    e = board.election
    b = BoardBuilder(e)
    for i, entry in enumerate(board.entries[:cut]):
        change = tamper(board, i, body_of(entry)) if entry.kind not in (
            "ballot_cast", "ballot_audited") else None
        b._time = entry.time - 1000  # each entry at its time: election_closed seeds the ties
        if change is None:
            b.append(entry.kind, entry.payload)
        else:
            kind, key, body = change
            b.command(kind, key, body)
    b.sign_head()
    return write_files(tmp, e, b)


def verify(path: Path, **kw: Any) -> Report:
    return verify_record(Record.load(DirectorySource(path)), **kw)


def nth(board: RankedBoard, kind: str, **where: Any) -> int:
    for i, entry in enumerate(board.entries):
        if entry.kind != kind:
            continue
        body = body_of(entry)
        q = body.get("question", body.get("decrypted", {}).get("question"))
        if all((q if k == "question" else body.get(k)) == v for k, v in where.items()):
            return i
    raise LookupError((kind, where))


def mix_of(board: RankedBoard, i: int) -> Mix:
    return Mix.from_json(body_of(board.entries[i]))


def resigned(board: RankedBoard, m: Mix, rows: RowList, proof: Any) -> Mix:
    e = board.election
    key = mixer_signing_keys(board)[m.mixer - 1]
    sig = key.sign(TAG_MIX_SIGNATURE, _signed_fields(e.ctx.fingerprint, m.question, m.mixer,
                                                     m.input_digest, rows, proof))
    return Mix(m.question, m.mixer, m.input_digest, rows, proof, sig)


def first_failure(report: Report, check: str) -> dict[str, Any]:
    c = report.check(check)
    assert c.status == "fail", (check, c)
    assert c.first_failure is not None
    return {"code": c.first_failure.code, "rule": c.first_failure.rule,
            "index": c.first_failure.index}


def failed(report: Report) -> set[str]:
    return set(report.failed())


# --- a mixer's proof, a dropped row, a substituted row ----------------------------------


def test_a_changed_proof_scalar_fails_check_20_with_r_mix_03(board, tmp_path) -> None:
    at = nth(board, "mix_posted", question=2, mixer=2)

    def tamper(b: RankedBoard, i: int, body: Body):
        if i != at:
            return None
        m = mix_of(b, i)
        proof = dataclasses.replace(m.proof, s2=m.proof.s2 + Scalar.from_int(1))
        return "mix_posted", mixer_signing_keys(b)[1], resigned(b, m, m.rows, proof).to_json()

    report = verify(rebuilt(board, tmp_path, tamper))
    assert failed(report) == {"mixes"}
    assert first_failure(report, "mixes") == {"code": "invalid_shuffle", "rule": "R-MIX-03",
                                               "index": at}


def test_a_row_substituted_after_proving_fails_check_20(board, tmp_path) -> None:
    at = nth(board, "mix_posted", question=1, mixer=1)
    e = board.election

    def tamper(b: RankedBoard, i: int, body: Body):
        if i != at:
            return None
        m = mix_of(b, i)
        rng = SeededRng(b"substitute")
        row = tuple(encrypt(e.joint.joint_key, v, Scalar.random(rng)) for v in (1, 2, 3, 4))
        rows = RowList(m.rows.width, (row, *m.rows.rows[1:]))
        return "mix_posted", mixer_signing_keys(b)[0], resigned(b, m, rows, m.proof).to_json()

    report = verify(rebuilt(board, tmp_path, tamper))
    # the next mixer shuffled the honest output, which is no longer the previous output
    assert first_failure(report, "mixes") == {"code": "invalid_shuffle", "rule": "R-MIX-03",
                                               "index": at}


def test_a_dropped_row_fails_check_20_with_r_mix_02(board, tmp_path) -> None:
    at = nth(board, "mix_posted", question=3, mixer=1)
    e = board.election

    def tamper(b: RankedBoard, i: int, body: Body):
        if i != at:
            return None
        m = mix_of(b, i)
        from evote.mixnet import mix
        from evote.ranked import mix_input
        from tests.support.rankedgen import _pairs

        first = mix_input(e.manifest, _pairs(b))[3]
        shorter = RowList(first.width, first.rows[1:])
        posted = mix(e.ctx.fingerprint, e.joint.joint_key, 3, 1, mixer_signing_keys(b)[0],
                     shorter, SeededRng(b"drop"))
        assert posted.mixer == m.mixer
        return "mix_posted", mixer_signing_keys(b)[0], posted.to_json()

    report = verify(rebuilt(board, tmp_path, tamper))
    assert first_failure(report, "mixes") == {"code": "mix_input", "rule": "R-MIX-02",
                                               "index": at}


# --- a wrong decryption, a wrong count ---------------------------------------------------


def test_a_decryption_with_a_wrong_share_fails_check_21(board, tmp_path) -> None:
    at = nth(board, "mix_decryption", question=1, trustee=1)
    e = board.election

    def tamper(b: RankedBoard, i: int, body: Body):
        if i != at:
            return None
        final = mix_of(b, nth(b, "mix_posted", question=1, mixer=len(mixer_signing_keys(b))))
        p = partial_decrypt_rows(e.ctx.fingerprint, 1, 1, Scalar.from_int(4242), final.rows,
                                 SeededRng(b"wrong"))
        return "mix_decryption", e.states[0].signing_key, p.to_json()

    report = verify(rebuilt(board, tmp_path, tamper))
    assert first_failure(report, "mixed-decryptions") == {
        "code": "decryption", "rule": "R-MIX-06", "index": at}
    # with t = 2 of 3 and only trustees 1 and 2 decrypting, the count has too few factors
    assert first_failure(report, "ranked-count")["rule"] == "R-MIX-07"


def test_a_wrong_count_sheet_fails_check_22_with_r_mix_09(board, tmp_path) -> None:
    at = nth(board, "ranked_result", question=2)
    e = board.election

    def tamper(b: RankedBoard, i: int, body: Body):
        if i != at:
            return None
        honest = RankedResult.from_json(body)
        sheet = dict(honest.count)
        sheet["winners"] = [w for w in range(4) if w not in sheet["winners"]][:2]
        return "ranked_result", e.official, RankedResult(honest.decrypted, sheet).to_json()

    report = verify(rebuilt(board, tmp_path, tamper))
    assert failed(report) == {"ranked-count"}
    assert first_failure(report, "ranked-count") == {"code": "count_mismatch",
                                                     "rule": "R-MIX-09", "index": at}
    assert report.ranked == ()  # no count sheet is shown for a record that fails


# --- parallel, in progress, nothing to mix ---------------------------------------------


def test_the_proofs_checked_on_two_workers_give_the_same_report(board, tmp_path) -> None:
    at = nth(board, "mix_posted", question=1, mixer=2)

    def tamper(b: RankedBoard, i: int, body: Body):
        if i != at:
            return None
        m = mix_of(b, i)
        proof = dataclasses.replace(m.proof, s3=m.proof.s3 + Scalar.from_int(1))
        return "mix_posted", mixer_signing_keys(b)[1], resigned(b, m, m.rows, proof).to_json()

    path = rebuilt(board, tmp_path, tamper)
    inline = verify(path)
    pooled = verify(path, runner_factory=lambda ctx: parallel.ProcessRunner(ctx, 2))
    assert pooled.runner_description if hasattr(pooled, "runner_description") else True
    assert pooled.stats["workers"] == 2
    assert [c.to_json() for c in pooled.checks] == [c.to_json() for c in inline.checks]
    assert first_failure(pooled, "mixes")["rule"] == "R-MIX-03"


def test_an_election_still_mixing_is_skipped_only_in_progress(board, tmp_path) -> None:
    cut = nth(board, "mix_posted", question=1, mixer=2)  # mixer 1 has mixed question 1
    path = rebuilt(board, tmp_path, lambda *_: None, cut=cut)
    report = verify(path, in_progress=True)
    for name in ("mixes", "mixed-decryptions", "ranked-count"):
        assert report.check(name).status == "skipped", name
    assert report.check("mixes").counts["proofs verified"] == 1
    strict = verify(path)
    assert first_failure(strict, "mixes") == {"code": "not_reached", "rule": None, "index": None}
    assert first_failure(strict, "ranked-count")["code"] == "not_reached"


def test_a_record_without_ranked_questions_has_nothing_to_mix(tmp_path) -> None:
    generated = build_record(tmp_path / "plain", voters=3, revotes=0)
    report = verify(generated.path)
    assert report.ok
    for name in ("mixes", "mixed-decryptions", "ranked-count"):
        c = report.check(name)
        assert c.status == "pass" and c.note == NO_MIXING and c.counts == {}, c
    assert report.ranked == () and report.to_json()["ranked"] == []


# --- the honest record and its report ----------------------------------------------------


def test_the_honest_ranked_record_verifies_with_its_count_sheets(board, tmp_path) -> None:
    path = rebuilt(board, tmp_path, lambda *_: None)
    report = verify(path)
    assert report.ok, report.failed()
    mixes = report.check("mixes").counts
    assert mixes["mixes"] == 6 and mixes["proofs verified"] == 6  # 3 questions x 2 mixers
    assert report.check("mixed-decryptions").counts["proofs verified"] == 6
    assert report.check("ranked-count").counts["results"] == 3
    # the tally covers the choice question only (evote.ranked.tally_shape)
    assert report.check("aggregation").counts["options"] == 2
    sheets = report.to_json()["ranked"]
    assert [s["question"] for s in sheets] == [1, 2, 3]
    assert [s["method"] for s in sheets] == ["irv", "stv", "majority_judgment"]
    posted = {q: body_of(board.entries[nth(board, "ranked_result", question=q)])["count"]
              for q in (1, 2, 3)}
    assert all(s["sheet"] == posted[s["question"]] for s in sheets)
    json.dumps(report.to_json())  # serialisable as --json prints it


def test_the_html_report_draws_the_rounds_as_a_table_and_an_accessible_chart(
        board, tmp_path) -> None:
    report = verify(rebuilt(board, tmp_path, lambda *_: None))
    page = render_html(report)
    assert "Ranked and graded questions" in page
    stv = next(s for s in report.ranked if s["method"] == "stv")
    table_id = f'rounds-q{stv["question"]}'
    assert f'<table id="{table_id}">' in page
    assert f'aria-describedby="{table_id}"' in page and 'role="img"' in page
    assert page.count("<figcaption>") >= len([s for s in report.ranked if s["sheet"]["rounds"]])
    for name in stv["options"]:
        assert f'<th scope="row">{name}</th>' in page
    # self-contained: nothing loaded from anywhere (the SVG namespace is not a request)
    assert "src=" not in page and "<link" not in page and "<script" not in page


def test_the_one_step_counts_get_a_chart_and_a_table_too() -> None:
    suite = Path(__file__).resolve().parents[2] / "conformance"
    report = verify(suite / "honest-ranked-stv-schulze-borda")
    assert report.ok
    page = render_html(report)
    by_method = {s["method"]: s for s in report.ranked}
    for method, series in (("schulze", "candidates beaten"), ("borda", "points")):
        item = by_method[method]
        table_id = f'rounds-q{item["question"]}'
        assert f'aria-describedby="{table_id}"' in page
        start = page.index(f'<table id="{table_id}">')
        table = page[start : page.index("</table>", start)]
        assert f'<th scope="col">{series}</th>' in table
        figures = item["sheet"]["details"]["beats" if method == "schulze" else "points"]
        for name, value in zip(item["options"], figures, strict=True):
            assert f'<th scope="row">{name}</th><td>{value}</td>' in table
