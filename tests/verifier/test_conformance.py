"""The published conformance suite (``conformance/``, docs/conformance.md) against our verifier.

* every case: ``evote-verify`` reaches exactly the expected verdict and exit code,
  fails exactly the expected checks (plus, at most, the case's ``may_also_fail``),
  each with the expected rule id, error code and entry index;
* every rule of ``docs/rules.md`` (and of the registry in ``evote/rulebook.py``)
  has at least one case that breaks it, and a tampered case breaks only the rule
  it is named after (the two record-format rules and R-DKG-12, which a record
  cannot break alone, are the documented exceptions; R-DKG-13 cannot be broken at
  all, and R-TAL-06 is named by a passing case instead: docs/conformance.md);
* regenerating the suite with ``tools/make_conformance.py`` gives the committed
  bytes.

The suite is data; this test reads the expectations from it and never from the
verifier, so a verifier change that moves a failure makes a case fail here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evote.rulebook import RULES
from tools import make_conformance
from verifier.main import cli

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "conformance"
INDEX = json.loads((SUITE / "cases.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = INDEX["cases"]
RULE_ROW = re.compile(r"^\| (R-[A-Z]+-\d{2}) \|", re.MULTILINE)

#: Cases on which the reference verifier is known to disagree with docs/rules.md
#: (each a reported defect; strict xfail, so a fix makes the entry fail until removed).
REFERENCE_DEFECTS: dict[str, str] = {}

#: Tampered cases that cannot break their rule alone: on a record every head that is
#: inconsistent with a later one also mismatches the board (R-REC-03).
#: R-DKG-12 (an answer after its dealer's announcement) follows from R-DKG-08 (an answer
#: needs a complaint) and R-DKG-10 (a complaint needs both trustees announced); it is
#: reached only after the complaint broke a rule that stops its own ceremony checks.
INSEPARABLE = {"R-REC-04": {"R-REC-03"}, "R-REC-05": {"R-REC-03"}, "R-DKG-12": {"R-SIG-02"},
               # a ballot before opens_at follows election_opened, which is at or after
               # opens_at, so its time goes back (R-TIME-01 holds, R-REC-02 cannot)
               "R-TIME-02": {"R-REC-02"}}

#: Rules no record can break (docs/conformance.md): R-DKG-13 holds whenever R-DKG-15
#: does (a dealer without a shares message is never in the recomputed QUAL).
UNBREAKABLE = {"R-DKG-13"}

#: Rules a passing record names in a check's note instead of failing it
#: (docs/conformance.md): a recorded invalid partial decryption (robust decryption).
NAMED_NOT_FAILING = {"R-TAL-06"}


def verify(path: Path) -> tuple[int, dict[str, Any] | None]:
    """Run ``evote-verify record PATH --json`` in process; (exit code, report)."""
    result = CliRunner().invoke(cli, ["record", str(path), "--json", "--workers", "1"])
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = None
    return result.exit_code, report


def _params() -> list[Any]:
    out = []
    for c in CASES:
        marks = ()
        if c["case"] in REFERENCE_DEFECTS:
            marks = (pytest.mark.xfail(strict=True, reason=REFERENCE_DEFECTS[c["case"]]),)
        out.append(pytest.param(c, id=c["case"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_the_verifier_reaches_the_expected_verdict(case: dict[str, Any]) -> None:
    code, report = verify(SUITE / case["case"])
    assert code == case["exit_code"]
    if case["exit_code"] == 2:
        assert report is None
        return
    assert report is not None
    assert report["verdict"] == case["verdict"]
    failed = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
    required = {f["check"]: f for f in case["failures"]}
    assert set(required) <= set(failed), "expected failures missing"
    assert set(failed) - set(required) <= set(case["may_also_fail"]), "unexpected failures"
    for name, want in required.items():
        first = failed[name]["first_failure"]
        got = {"code": first["code"], "rule": first.get("rule"), "index": first["index"]}
        assert got == {"code": want["code"], "rule": want["rule"], "index": want["index"]}, name
    checks = {c["name"]: c for c in report["checks"]}
    for want in case["named"]:
        named = checks[want["check"]]
        assert named["status"] == "pass", want
        assert f"(entry {want['index']})" in named["note"], named["note"]
        assert f"({want['rule']})" in named["note"], named["note"]
    # an abandoned election (R-PHASE-07) verifies with no result; the report says why
    assert report.get("abandoned", False) is case.get("abandoned", False)
    if case["verdict"] == "pass" and not case.get("abandoned"):
        assert report["result"], "a verified record shows its result"
    if case.get("abandoned"):
        assert report["result"] == []
        for c in report["checks"]:
            if c["status"] == "skipped":
                assert "R-PHASE-07" in c["note"], c


def test_every_rule_has_a_case_that_breaks_it() -> None:
    documented = RULE_ROW.findall((ROOT / "docs" / "rules.md").read_text(encoding="utf-8"))
    assert documented, "no rule ids found in docs/rules.md"
    # (that the page and the registry list the same rules is tests/core/test_rulebook.py's job)
    broken = {f["rule"] for c in CASES for f in c["failures"] if f["rule"]}
    named = {n["rule"] for c in CASES if c["verdict"] == "pass" for n in c["named"]}
    assert named <= NAMED_NOT_FAILING
    assert sorted((set(documented) | set(RULES)) - broken - named - UNBREAKABLE) == []


def test_each_tampered_case_breaks_only_its_rule() -> None:
    for c in CASES:
        if c["tampered_by"] is None:
            assert c["failures"] == [] and c["exit_code"] == 0, c["case"]
            continue
        if c["exit_code"] == 2:  # not a record at all: no rule can be checked
            assert c["case"].startswith("unreadable-") and c["failures"] == [], c["case"]
            continue
        own = re.match(r"R-[A-Z]+-\d{2}", c["case"])
        assert own is not None, c["case"]
        rule = own.group(0)
        assert rule in c["breaks"], c["case"]
        assert set(c["breaks"]) - {rule} <= INSEPARABLE.get(rule, set()), c["case"]
        for f in c["failures"]:
            if f["rule"] is not None:
                assert RULES[f["rule"]].check in (f["check"], "(owner of the kind)"), c["case"]


def test_each_case_has_its_expected_file_next_to_the_record() -> None:
    for c in CASES:
        d = SUITE / c["case"]
        assert json.loads((d / "expected.json").read_text(encoding="utf-8")) == c
        assert {"record.json", "board.jsonl", "tree-heads.jsonl"} <= {p.name for p in d.iterdir()}


def test_regenerating_gives_the_same_bytes(tmp_path: Path) -> None:
    make_conformance.generate(tmp_path)
    assert make_conformance.tree_bytes(tmp_path) == make_conformance.tree_bytes(SUITE)


def test_the_console_script_exits_with_the_expected_codes() -> None:
    """The installed ``evote-verify`` (not the click object) on one honest and one tampered case."""
    exe = Path(sys.executable).with_name("evote-verify")
    for name in ("honest-minimal", "R-DKG-02-early-reveal"):
        case = next(c for c in CASES if c["case"] == name)
        done = subprocess.run([str(exe), str(SUITE / name), "--quiet", "--workers", "1"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == case["exit_code"], done.stderr
        assert done.stdout.startswith("VERIFIED" if case["verdict"] == "pass" else "NOT VERIFIED")
