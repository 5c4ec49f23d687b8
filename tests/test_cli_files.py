"""The CLI's local files: key files, manifests, rosters, sheets, charts, new directories."""

from __future__ import annotations

import json
import os
import stat

import pytest

from cli.chart import QuestionTotals, svg_chart, write_chart
from cli.console import CliError
from cli.keyfiles import (
    new_directory,
    read_key_file,
    read_public_key,
    replace_file,
    write_key_file,
    write_new_file,
)
from cli.manifest_file import parse_manifest
from cli.roster import parse_roster
from cli.sheets import _qr_path, qr_code, sheet_svg, sheet_text
from evote.errors import EncodingError, ManifestError, SchemaError
from evote.signing import SigningKey

GOOD_YAML = b"""\
election_id: poll
title: Poll
questions:
  - id: q1
    title: Renovate?
    kind: choice
    min: 1
    max: 1
    options:
      - Yes
      - No
  - id: q2
    title: Priorities
    kind: choice
    min: 0
    max: 2
    options: [a, b, c]
"""


def key() -> SigningKey:
    return SigningKey.generate(os.urandom)


# --- key files ------------------------------------------------------------------------


def test_key_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "official.key"
    k = key()
    write_key_file(path, "official", k)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_key_file(path, "official").seed == k.seed
    before = path.read_bytes()
    with pytest.raises(CliError, match="already exists; refusing to overwrite"):
        write_key_file(path, "official", key())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["official.key"]  # no temporary left over


def test_wrong_key_files_are_named(tmp_path):
    ca = tmp_path / "ca.key"
    write_key_file(ca, "credential-authority", key())
    with pytest.raises(
        CliError, match="holds the credential authority key, expected the official key"
    ):
        read_key_file(ca, "official")
    junk = tmp_path / "junk.key"
    junk.write_text("not json at all")
    with pytest.raises(CliError, match="is not an evote signing key file"):
        read_key_file(junk, "official")
    other = tmp_path / "state.json"
    other.write_text('{"type": "evote-trustee-state"}')
    with pytest.raises(CliError, match="'evote-trustee-state' file"):
        read_key_file(other, "official")
    with pytest.raises(CliError, match="does not exist"):
        read_key_file(tmp_path / "missing.key", "official")
    with pytest.raises(CliError, match="is a directory"):
        read_key_file(tmp_path, "official")


def test_key_file_with_mismatched_public_key_is_refused(tmp_path):
    path = tmp_path / "o.key"
    write_key_file(path, "official", key())
    obj = json.loads(path.read_text())
    obj["public"] = key().verify_key.to_json()
    tampered = tmp_path / "t.key"
    tampered.write_text(json.dumps(obj))
    with pytest.raises(CliError, match="public key does not match"):
        read_key_file(tampered, "official")


def test_exposed_key_file_warns(tmp_path, capsys):
    path = tmp_path / "o.key"
    write_key_file(path, "official", key())
    os.chmod(path, 0o644)
    read_key_file(path, "official")
    assert "readable by other users" in capsys.readouterr().err


def test_public_keys_from_text_pub_or_key_file(tmp_path):
    k = key()
    pub = tmp_path / "k.pub"
    pub.write_text(k.verify_key.to_json() + "\n")
    keyfile = tmp_path / "k.key"
    write_key_file(keyfile, "official", k)
    for value in (k.verify_key.to_json(), str(pub), str(keyfile)):
        assert read_public_key(value, "trustee 1") == k.verify_key
    with pytest.raises(CliError, match="trustee 1: 'nope' is not a public key"):
        read_public_key("nope", "trustee 1")


def test_replace_file_and_new_directory_are_all_or_nothing(tmp_path):
    target = tmp_path / "state"
    replace_file(target, b"one", secret=True)
    replace_file(target, b"two", secret=True)
    assert target.read_bytes() == b"two" and stat.S_IMODE(os.stat(target).st_mode) == 0o600
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), new_directory(out, private=True) as put:
        put("a.json", b"{}", True)
        raise RuntimeError("interrupted half way")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["state"]
    with new_directory(out, private=True) as put:
        put("sub/a.json", b"{}", True)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(out / "sub/a.json").st_mode) == 0o600
    with pytest.raises(CliError, match="not empty"), new_directory(out, private=True):
        pass
    write_new_file(tmp_path / "pub", b"x", secret=False)
    assert stat.S_IMODE(os.stat(tmp_path / "pub").st_mode) == 0o644


# --- manifests ------------------------------------------------------------------------


def test_yaml_manifest_keeps_yes_and_no_as_text():
    manifest = parse_manifest(GOOD_YAML, "poll.yaml")
    assert manifest.questions[0].options == ("Yes", "No")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            (b"    max: 2\n", b"    max: 4\n"),
            "poll.yaml:16: manifest.questions[1].max: must be <= 3",
        ),
        ((b"    min: 1\n", b""), "poll.yaml:4: manifest.questions[0]: missing field 'min'"),
        (
            (b"kind: choice\n    min: 0", b"kind: approval\n    min: 0"),
            "poll.yaml:14: manifest.questions[1].kind",
        ),
        (
            (b"options: [a, b, c]", b"options: [a, b, B]"),
            "poll.yaml:17: manifest.questions[1].options[2]: duplicate option",
        ),
        (
            (b"title: Poll\n", b"title: Poll\ntitle: Again\n"),
            "poll.yaml:3: duplicate key 'title' (first on line 2)",
        ),
        ((b"questions:\n", b"questions: [\n"), "poll.yaml:4:3: not valid YAML"),
        ((b"election_id: poll", b"election_id: Poll!"), "poll.yaml:1: manifest.election_id"),
    ],
)
def test_manifest_errors_name_line_and_field(edit, expected):
    data = GOOD_YAML.replace(*edit)
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, "poll.yaml")
    assert info.value.message.startswith(expected), info.value.message


def test_json_manifest_errors():
    good = {
        "election_id": "p",
        "title": "P",
        "questions": [
            {"id": "q", "title": "Q", "kind": "choice", "min": 0, "max": 1, "options": ["a", "b"]}
        ],
    }
    assert parse_manifest(json.dumps(good).encode(), "m.json").election_id == "p"
    bad = json.dumps(good, indent=1).replace('"max": 1', '"max": 9').encode()
    with pytest.raises(ManifestError, match=r"^m.json:\d+: manifest.questions\[0\].max"):
        parse_manifest(bad, "m.json")
    with pytest.raises(EncodingError, match="m.json: duplicate key 'title'"):
        parse_manifest(b'{"title": "a", "title": "b"}', "m.json")
    with pytest.raises(ManifestError, match="m.json: the file is empty"):
        parse_manifest(b"null", "m.json")
    with pytest.raises(ManifestError, match="not UTF-8"):
        parse_manifest(b"\xff\xfe", "m.yaml")


# --- rosters --------------------------------------------------------------------------


def test_roster_reads_ids_and_weights():
    rows = parse_roster(b"\xef\xbb\xbfVoter_ID,Weight,name\nalice,,Alice A\nbob,3,Bob\n\n", "v.csv")
    assert [(r.voter_id, r.weight, r.line) for r in rows] == [("alice", 1, 2), ("bob", 3, 3)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"name\nalice\n", "v.csv:1: no voter_id column"),
        (b"voter_id\nalice\nbob\nalice\n", "v.csv:4: duplicate voter id 'alice' (first on line 2)"),
        (b"voter_id,weight\nalice,0\n", "v.csv:2: weight '0'"),
        (b"voter_id,weight\nalice,x\n", "v.csv:2: weight 'x'"),
        (b"voter_id\n../etc/passwd\n", "v.csv:2: voter id '../etc/passwd'"),
        (b"voter_id\n.hidden\n", "v.csv:2: voter id '.hidden'"),
        (b"voter_id\n", "v.csv: no voters listed"),
        (b"", "v.csv: empty file"),
        (b"voter_id\nalice,extra\n", "v.csv:2: more fields than the header names"),
    ],
)
def test_roster_errors_name_the_line(data, expected):
    with pytest.raises(SchemaError) as info:
        parse_roster(data, "v.csv")
    assert info.value.message.startswith(expected), info.value.message


# --- sheets and charts ----------------------------------------------------------------


def test_sheet_shows_the_code_and_draws_its_qr_code():
    code = "7Q0B-1234-ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-ABCD-EFGH-JKMN-PQR"
    text = sheet_text(election_id="poll", title="Poll", code=code, voter_id="alice")
    assert "7Q0B-1234-ABCD-EFGH-JKMN" in text and "alice" in text
    svg = sheet_svg(election_id="poll", title="Poll <&>", code=code, voter_id=None)
    assert "Poll &lt;&amp;&gt;" in svg and "Voter:" not in svg
    # The drawn path covers exactly the dark modules of segno's QR matrix.
    path, side = _qr_path(code, 1)
    rows = list(qr_code(code).matrix_iter(scale=1, border=4))
    dark = {(x, y) for y, row in enumerate(rows) for x, v in enumerate(row) if v}
    drawn = set()
    for segment in path.split("M")[1:]:
        x, rest = segment.split(" ", 1)
        y, width = rest.split("h", 1)
        drawn |= {(int(x) + i, int(y)) for i in range(int(width.split("v")[0]))}
    assert side == len(rows) and drawn == dark
    assert qr_code(code).designator == "4-M" and qr_code(code).mode == "alphanumeric"


def test_svg_chart_scales_bars_and_escapes_labels(tmp_path):
    questions = [QuestionTotals("Q <1>", (("a & b", 10), ("c", 5), ("d", 0)))]
    svg = svg_chart("Title", questions)
    assert "a &amp; b" in svg and "Q &lt;1&gt;" in svg
    widths = [int(part.split('"')[0]) for part in svg.split('width="')[3:]]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    write_chart(tmp_path / "r.svg", "Title", questions)
    assert (tmp_path / "r.svg").read_text() == svg


def test_png_chart_needs_matplotlib(tmp_path):
    pytest.importorskip("cli.chart")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(CliError, match="PNG charts need matplotlib"):
            write_chart(tmp_path / "r.png", "T", [QuestionTotals("Q", (("a", 1),))])
    else:
        write_chart(tmp_path / "r.png", "T", [QuestionTotals("Q", (("a", 1),))])
        assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")


def test_example_manifest_is_valid():
    from pathlib import Path

    from cli.manifest_file import load_manifest

    manifest = load_manifest(Path(__file__).parent.parent / "examples" / "city-poll.yaml")
    assert [q.id for q in manifest.questions] == ["park", "priorities", "budget"]
    assert manifest.questions[0].option_label(0, "ru") == "Да"
