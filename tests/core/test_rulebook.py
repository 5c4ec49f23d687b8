"""The rule list is one table: docs/rules.md and evote/rulebook.py agree, every id the
code raises is listed, every rule names a real verifier check, and no module outside
the projection raises a rule of its own."""

from __future__ import annotations

import re
from pathlib import Path

from evote.errors import PhaseViolation, RuleViolation
from evote.kinds import REGISTRY
from evote.rulebook import RULES, violation
from verifier.checks import CHECKS

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (R-[A-Z]+-\d\d) \| (.+) \| `([^`]+)` \| (\d{3}|—) `([a-z_]+)`")


def doc_rows() -> dict[str, tuple[str, str, str, str]]:
    rows = {}
    for line in (ROOT / "docs" / "rules.md").read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} is listed twice"
            rows[m.group(1)] = m.group(2, 3, 4, 5)
    return rows


def test_docs_list_exactly_the_rulebook() -> None:
    rows = doc_rows()
    assert set(rows) == set(RULES)
    for rid, rule in RULES.items():
        text, check, status, code = rows[rid]
        assert text.startswith(rule.text[:40]), rid
        assert check == rule.check, rid
        assert status == (str(rule.http_status) if rule.http_status else "—"), rid
        assert code == rule.code, rid


def test_every_rule_names_a_verifier_check() -> None:
    names = {c.name for c in CHECKS} | {"(owner of the kind)"}
    assert {r.check for r in RULES.values()} <= names
    assert {s.check for s in REGISTRY} <= names


def test_every_rule_id_in_the_code_is_in_the_rulebook() -> None:
    cited = set()
    for path in [*ROOT.glob("evote/*.py"), *ROOT.glob("ballot_server/*.py"),
                 *ROOT.glob("verifier/*.py"), *ROOT.glob("cli/*.py")]:
        cited |= set(re.findall(r"R-[A-Z]+-\d\d", path.read_text(encoding="utf-8")))
    assert cited <= set(RULES), cited - set(RULES)


def test_ids_are_stable_and_dense_per_family() -> None:
    families: dict[str, list[int]] = {}
    for rid in RULES:
        _, fam, num = rid.split("-")
        families.setdefault(fam, []).append(int(num))
    for fam, nums in families.items():
        assert nums == list(range(1, len(nums) + 1)), fam


def test_violation_carries_id_code_status_and_check() -> None:
    v = violation("R-DKG-02", "early reveal")
    assert isinstance(v, RuleViolation) and not isinstance(v, PhaseViolation)
    assert (v.rule, v.code, v.http_status, v.check) == ("R-DKG-02", "wrong_phase", 409,
                                                        "key-ceremony")
    assert v.to_json() == {"code": "wrong_phase", "message": "early reveal", "rule": "R-DKG-02"}
    p = violation("R-PHASE-03", "late ballot")
    assert isinstance(p, PhaseViolation)


def test_failures_the_verifier_finds_itself_name_their_rule(tmp_path) -> None:
    """A broken chain is R-REC-02 and a forged ballot proof R-BAL-02, in the report."""
    from tests.support import recordgen
    from verifier.checks import verify_record
    from verifier.record import Record
    from verifier.sources import DirectorySource

    g = recordgen.build_record(tmp_path / "r", voters=3, revotes=0, audits=0)
    lines = recordgen.read_board(g.path)
    i = next(n for n, line in enumerate(lines) if b'"kind":"ballot_cast"' in line)
    lines[i] = lines[i].replace(b'"time":', b'"time":1', 1)  # the entry no longer chains on
    recordgen.rewrite_board(g.path, lines)
    report = verify_record(Record.load(DirectorySource(g.path)))
    chain = report.check("hash-chain").first_failure
    assert chain is not None and (chain.rule, chain.code) == ("R-REC-02", "broken_chain")
    assert report.to_json()["checks"][5]["first_failure"]["rule"] == "R-REC-02"
