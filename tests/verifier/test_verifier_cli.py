"""``evote-verify`` from the outside: exit codes, outputs, receipts, audits, isolation, docs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evote.encoding import b64decode, b64encode
from evote.record import RECORD_FILE
from tests.support import recordgen
from verifier.audit import AUDIT_CHECKS
from verifier.checks import CHECKS
from verifier.main import cli
from verifier.receipt import RECEIPT_CHECKS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> recordgen.GeneratedRecord:
    return recordgen.build_record(tmp_path_factory.mktemp("cli"), voters=4, revotes=1, audits=1,
                                  seed=b"cli")


@pytest.fixture()
def record(gen, tmp_path) -> Path:
    out = tmp_path / "record"
    shutil.copytree(gen.path, out)
    return out


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tamper_ballot(gen: recordgen.GeneratedRecord, path: Path) -> None:
    """Re-chain and re-sign a board whose first ballot has one ciphertext swapped."""
    pairs = [(e.kind, json.loads(json.dumps(e.payload))) for e in gen.entries]
    i = next(i for i, (k, _) in enumerate(pairs) if k == "ballot_cast")
    choices = pairs[i][1]["ballot"]["answers"][0]["choices"]
    choices[0], choices[1] = choices[1], choices[0]
    entries = recordgen.rechain(gen.election, [], pairs)
    recordgen.rewrite_board(path, recordgen.iter_lines(entries))
    recordgen.resign_heads(path, gen.election, entries)


def test_valid_record_exits_0_with_a_table(record):
    result = run(str(record), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.output
    for spec in CHECKS:
        assert spec.title.split()[0] in result.output


def test_record_subcommand_is_the_default(record):
    assert run("record", str(record), "--workers", "1", "--quiet").output.strip() == "VERIFIED"
    assert run(str(record), "--workers", "1", "--quiet").output.strip() == "VERIFIED"


def test_json_report(record):
    result = run(str(record), "--workers", "1", "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["format"] == "evote-verification-report" and report["verdict"] == "pass"
    assert [(c["number"], c["name"]) for c in report["checks"]] == [
        (s.number, s.name) for s in CHECKS]
    assert all(c["status"] == "pass" and c["first_failure"] is None for c in report["checks"])
    assert report["result"][0]["options"][0]["label"] == "North"


def test_failed_check_exits_1_and_names_it(gen, record):
    tamper_ballot(gen, record)
    result = run(str(record), "--workers", "1", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    failed = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
    assert "ballots" in failed
    first = failed["ballots"]["first_failure"]
    assert first["code"] == "invalid_signature" and isinstance(first["index"], int)
    assert report["verdict"] == "fail"
    quiet = run(str(record), "--workers", "1", "--quiet")
    assert quiet.exit_code == 1 and quiet.output.startswith("NOT VERIFIED: ")


def test_html_report_is_self_contained(record, tmp_path):
    page = tmp_path / "report.html"
    result = run(str(record), "--workers", "1", "--quiet", "--html", str(page))
    assert result.exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "North" in text
    # Nothing is loaded from anywhere: no scripts, links, images, imports or URLs
    # other than the SVG namespace name.
    for needle in ("<script", "<link", "<img", "src=", "href=", "@import", "url("):
        assert needle not in text, needle
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg"}


def test_html_escapes_text_from_the_record(tmp_path):
    manifest = json.loads(json.dumps(recordgen.DEFAULT_MANIFEST))
    manifest["questions"][0]["options"][0] = "<script>alert(1)</script>"
    g = recordgen.build_record(tmp_path / "r", voters=2, revotes=0, audits=0, manifest=manifest,
                               seed=b"xss")
    page = tmp_path / "r.html"
    assert run(str(g.path), "--workers", "1", "--quiet", "--html", str(page)).exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_zip_source(record, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "rec"), "zip", record)
    assert run(archive, "--workers", "1", "--quiet").exit_code == 0


@pytest.mark.parametrize("damage", ["missing", "not-a-record", "version-2", "no-heads", "bad-zip"])
def test_unreadable_record_exits_2(record, tmp_path, damage):
    target = str(record)
    if damage == "missing":
        target = str(tmp_path / "nowhere")
    elif damage == "not-a-record":
        (record / RECORD_FILE).write_text("hello")
    elif damage == "version-2":
        obj = json.loads((record / RECORD_FILE).read_text())
        obj["version"] = 2
        (record / RECORD_FILE).write_text(json.dumps(obj, separators=(",", ":"), sort_keys=True))
    elif damage == "no-heads":
        (record / "tree-heads.jsonl").write_bytes(b"")
    else:
        target = str(tmp_path / "broken.zip")
        Path(target).write_bytes(b"PK\x03\x04 this is not really a zip")
    result = run(target, "--workers", "1")
    assert result.exit_code == 2, result.output
    assert "error:" in result.output


def test_usage_errors_exit_2():
    assert run().exit_code == 2  # no command: help, as a usage error
    assert CliRunner().invoke(cli, ["record"]).exit_code == 2
    assert CliRunner().invoke(cli, ["record", ".", "--workers", "0"]).exit_code == 2
    assert CliRunner().invoke(cli, ["http://localhost:9"]).exit_code == 2  # needs --election


# --------------------------------------------------------------------------
# receipts
# --------------------------------------------------------------------------


def test_receipt_of_a_ballot_on_the_board(gen, record, tmp_path):
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps({"receipt": gen.receipts[0].to_json()}))
    result = run("receipt", str(receipt), str(record), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [c["name"] for c in report["checks"]] == [s.name for s in RECEIPT_CHECKS]
    assert report["verdict"] == "pass"


def test_receipt_against_a_rewritten_board(gen, record, tmp_path):
    """The server drops the receipt's ballot, re-chains and re-signs: the voter's receipt catches it."""
    receipt = gen.receipts[0]
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt.to_json()))
    pairs = [(e.kind, e.payload) for e in gen.entries]
    del pairs[receipt.index]
    entries = recordgen.rechain(gen.election, [], pairs)
    recordgen.rewrite_board(record, recordgen.iter_lines(entries))
    recordgen.resign_heads(record, gen.election, entries)
    result = run("receipt", str(path), str(record), "--json")
    assert result.exit_code == 1
    failed = {c["name"]: c["first_failure"]["code"] for c in json.loads(result.output)["checks"]
              if c["status"] == "fail"}
    assert failed["entry-on-board"] == "board"
    assert failed["receipt-tree"] == "root_mismatch"
    assert failed["not-rewritten"] in ("root_mismatch", "equivocation")


def test_forged_receipt_signature(gen, record, tmp_path):
    obj = gen.receipts[0].to_json()
    sig = bytearray(b64decode(obj["signature"], length=64))
    sig[5] ^= 4
    obj["signature"] = b64encode(bytes(sig))
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(obj))
    result = run("receipt", str(path), str(record), "--json")
    assert result.exit_code == 1
    first = json.loads(result.output)["checks"][0]
    assert first["status"] == "fail" and first["first_failure"]["code"] == "invalid_signature"


def test_not_a_receipt_exits_2(record, tmp_path):
    path = tmp_path / "receipt.json"
    path.write_text('{"hello": 1}')
    assert run("receipt", str(path), str(record)).exit_code == 2


# --------------------------------------------------------------------------
# audited ballots
# --------------------------------------------------------------------------


def test_audit_file_that_checks_out(gen, record, tmp_path):
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(gen.audited_files[0]))
    result = run("audit", str(path), "--source", str(record), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [c["name"] for c in report["checks"]] == [s.name for s in AUDIT_CHECKS]


def test_audit_of_a_lying_device(gen, record, tmp_path):
    """The device revealed choices other than what it encrypted."""
    obj = json.loads(json.dumps(gen.audited_files[0]))
    row = obj["selections"][0]
    obj["selections"][0] = row[1:] + row[:1]
    path = tmp_path / "audit.json"
    path.write_text(json.dumps({"audited": obj}))
    result = run("audit", str(path), "--source", str(record), "--json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert checks["re-encryption"]["first_failure"]["code"] == "audit_mismatch"


def test_audited_ballot_that_was_cast_anyway(gen, record, tmp_path):
    pairs = [(e.kind, e.payload) for e in gen.entries]
    j = next(i for i, (k, _) in enumerate(pairs) if k == "election_closed")
    pairs.insert(j, ("ballot_cast", {"ballot": gen.audited_files[0]["ballot"]}))
    entries = recordgen.rechain(gen.election, [], pairs)
    recordgen.rewrite_board(record, recordgen.iter_lines(entries))
    recordgen.resign_heads(record, gen.election, entries)
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(gen.audited_files[0]))
    result = run("audit", str(path), "--source", str(record), "--json")
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert checks["never-cast"]["first_failure"]["code"] == "audited_ballot_cast"
    assert checks["never-cast"]["first_failure"]["index"] == j


# --------------------------------------------------------------------------
# isolation and documentation
# --------------------------------------------------------------------------


def test_verifier_imports_no_server_code():
    code = ("import verifier.main, verifier.checks, verifier.receipt, verifier.audit, "
            "verifier.sources, sys; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'sqlalchemy', 'ballot_server', 'cli', 'dask', 'distributed')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_console_script_runs(record):
    exe = Path(sys.executable).with_name("evote-verify")
    out = subprocess.run([str(exe), str(record), "--workers", "1", "--quiet"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "VERIFIED", out.stderr


def _documented(section: str) -> list[tuple[int, str]]:
    """``(number, name)`` of every check heading in one section of docs/verifier.md."""
    text = (ROOT / "docs" / "verifier.md").read_text(encoding="utf-8")
    body = text.split(f"<!-- checks:{section} -->")[1].split("<!-- /checks -->")[0]
    return [(int(n), name) for n, name in re.findall(r"^### (\d+)\. `([a-z-]+)`", body, re.M)]


@pytest.mark.parametrize("section,specs", [
    ("record", CHECKS), ("receipt", RECEIPT_CHECKS), ("audit", AUDIT_CHECKS)])
def test_docs_number_the_checks_as_the_code_does(section, specs):
    assert _documented(section) == [(s.number, s.name) for s in specs]


def test_pinned_board_key(gen, record):
    mine = gen.election.board_key.verify_key.to_json()
    assert run(str(record), "--workers", "1", "--quiet", "--board-key", mine).exit_code == 0
    other = gen.election.official.verify_key.to_json()
    result = run(str(record), "--workers", "1", "--quiet", "--board-key", other)
    assert result.exit_code == 2 and "another board key" in result.output
    assert run(str(record), "--board-key", "not base64!").exit_code == 2
