"""The public pages for residents and observers (issue 17): the list at ``/`` by
state, an election's page (ballot_server/public_pages.py) and the board explorer
(ballot_server/board_explorer.py), through Flask's test client.

Unhappy paths first: an unknown or impossible election is an HTML 404 page (not
JSON, not a traceback), hostile query strings are a 400 page that echoes
nothing as markup, a tracking code not on the board is said to be absent.  Then
each state of an election, the figures against what the board holds, Russian,
and the headers.  The browser half (the in-browser proof check, a tampered
proof, axe-core, 360 px) is tests/test_public_pages_browser.py.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from ballot_server.booth_assets import STATIC
from evote.checkpoint import Note, cosign
from evote.encoding import b64encode
from evote.signing import SigningKey
from evote.witness import WitnessKey, WitnessPolicy
from tests.support import api_election
from tests.support.api_election import API, MANIFEST, ApiElection, build_election

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election


def page(client, path: str, status: int = 200, **headers: str):
    response = client.get(path, headers=headers)
    assert response.status_code == status, (path, response.status_code, response.data[:400])
    assert response.mimetype == "text/html", response.mimetype
    return response


def texts(response) -> str:
    return " ".join(outline_any(response).text)


def outline_any(response):
    from tests.server.test_site import Outline

    parsed = Outline()
    parsed.feed(response.get_data(as_text=True))
    return parsed


# --- unhappy paths ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/elections/{}/", "/elections/{}/board/"])
@pytest.mark.parametrize("bad", ["nosuch-poll", "Not_An_Id", "a" * 65, "x%00y"])
def test_an_unknown_election_is_an_html_404_page(api_client, path: str, bad: str) -> None:
    response = page(api_client, path.format(bad), 404)
    parsed = outline_any(response)
    assert len(parsed.all("h1")) == 1 and parsed.all("main")
    assert "There is no such election or page on this server." in parsed.text
    assert "not_found" in parsed.text
    assert "Traceback" not in response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    ru = page(api_client, path.format(bad) + "?lang=ru", 404)
    assert "На этом сервере нет такого голосования или страницы." in texts(ru)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("start=-1", "start must be a whole number"),
        ("start=abc", "start must be a whole number"),
        ("start=1e3", "start must be a whole number"),
        ("start=99999999999999999999", "start must be a whole number"),
        ("limit=-5", "limit must be a whole number"),
        ("kind=%3Cscript%3Ealert(1)%3C/script%3E", "kind must be one of the board's entry kinds"),
        ("kind=nosuch_kind", "kind must be one of the board's entry kinds"),
    ],
)
def test_hostile_board_queries_are_a_400_page(election: ApiElection, query: str, named: str) -> None:
    response = page(election.client, f"/elections/{election.election_id}/board/?{query}", 400)
    body = response.get_data(as_text=True)
    assert named in html.unescape(body)
    assert "<script>" not in body  # the hostile kind is never echoed as markup
    assert outline_any(response).all("h1")


def test_a_huge_limit_is_cut_to_the_largest_page(election: ApiElection) -> None:
    for voter in range(4):
        election.cast_ok(voter)
    size = election.size()
    response = page(election.client, f"/elections/{election.election_id}/board/?limit=1000000000")
    rows = [a for a in outline_any(response).all("tr") if a.get("data-index")]
    assert len(rows) == min(size, 100)
    # A start beyond the board is an empty page, not an error.
    empty = page(election.client, f"/elections/{election.election_id}/board/?start={size + 5}")
    assert "No entries here." in texts(empty)


def test_a_tracking_code_not_on_the_board_is_absent(election: ApiElection) -> None:
    base = f"/elections/{election.election_id}/"
    response = page(election.client, base + "?tracking_code=NOTONTHEBOARD")
    parsed = outline_any(response)
    verdicts = [a["data-verdict"] for a in parsed.all("p") if a.get("data-verdict")]
    assert verdicts == ["server-absent"]
    assert "The server says no ballot with this tracking code is on the board." in parsed.text
    bad = page(election.client, base + "?tracking_code=%01%02", 400)
    assert [a["data-verdict"] for a in outline_any(bad).all("p") if a.get("data-verdict")] == ["invalid"]
    long = page(election.client, base + "?tracking_code=" + "A" * 5000, 400)
    assert "A" * 201 not in long.get_data(as_text=True)


def test_a_tracking_code_on_the_board_is_found_by_the_server(election: ApiElection) -> None:
    receipt = election.cast_ok(0)
    base = f"/elections/{election.election_id}/"
    response = page(election.client, base + f"?tracking_code={receipt.tracking_code.lower()}")
    assert f"The server says this ballot is entry {receipt.index} on the board." in texts(response)
    # ... and the page says that this is the server's word, not a proof.
    assert "This answer is the server's word." in texts(response)


# --- the list by state --------------------------------------------------------------------


def _abandoned(client) -> ApiElection:
    e = build_election(client, stop_before="trustee_announced")
    e.ok("election_abandoned", e.official, {"reason": "the trustees changed"})
    return e


def test_the_root_groups_the_elections_by_state(api_client) -> None:
    setup = build_election(api_client, stop_before="election_opened")
    opened = build_election(api_client)
    closed = build_election(api_client)
    closed.cast_ok(0)
    closed.close()
    tallied = build_election(api_client)
    tallied.cast_ok(0)
    tallied.tally()
    abandoned = _abandoned(api_client)
    parsed = outline_any(page(api_client, "/?lang=en"))
    groups = [a["data-group"] for a in parsed.all("section") if a.get("data-group")]
    assert groups == ["open", "setup", "closed", "tallied", "abandoned"]
    phases = {a["data-election"]: a["data-phase"] for a in parsed.all("li") if a.get("data-election")}
    expected = [(setup, "setup"), (opened, "open"), (closed, "closed"), (tallied, "tallied"),
                (abandoned, "abandoned")]
    for e, phase in expected:
        assert phases[e.election_id] == phase
        assert f"/elections/{e.election_id}/?lang=en" in [a.get("href") for a in parsed.all("a")]
    headings = [re.sub(r" \(\d+\)$", " (n)", t) for t in parsed.text if re.search(r" \(\d+\)$", t)]
    assert headings == ["Open for voting (n)", "Upcoming (being set up) (n)",
                        "Closed, being counted (n)", "Counted (n)", "Abandoned (n)"]
    # Every state's page renders, says its state, and has one h1.
    for e, phase in expected:
        p = outline_any(page(api_client, f"/elections/{e.election_id}/"))
        assert len(p.all("h1")) == 1
        assert [a["data-phase"] for a in p.all("strong") if a.get("data-phase")] == [phase]


# --- one election's page ------------------------------------------------------------------


def test_the_tallied_page_shows_timeline_turnout_and_result(api_client) -> None:
    e = build_election(api_client)
    for voter, choice in ((0, 0), (1, 2), (2, 2), (3, 1)):
        e.cast_ok(voter, [[1 if o == choice else 0 for o in range(3)]])
    e.cast_ok(3, [[0, 0, 1]])  # a re-vote: the last ballot counts
    result = e.tally()
    response = page(api_client, f"/elections/{e.election_id}/")
    html = response.get_data(as_text=True)
    parsed = outline_any(response)
    # The timeline: each milestone with the entry's time and its first signed head.
    entries = {entry.kind: entry for entry in e.entries()}
    kinds = [a["data-kind"] for a in parsed.all("li") if a.get("data-kind")]
    assert kinds == ["election_created", "election_opened", "election_closed", "tally_posted",
                     "result_published"]
    times = [a["datetime"] for a in parsed.all("time")]
    from ballot_server.public_html import utc

    for kind in kinds:
        assert utc(entries[kind].time)["iso"] in times
        assert f"entry {entries[kind].index}" in html
    assert "in the tree head of size" in html
    # Turnout: five ballots cast (one re-vote), four counted, of four credentials.
    assert re.search(r'data-testid="cast">5<', html)
    assert re.search(r'data-testid="credentials">4<', html)
    assert re.search(r'data-testid="counted">4 \(100\.0 %\)<', html)
    # The result table is the decrypted counts, option by option.
    assert result.counts == ((1, 0, 3),)
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td></tr>', html)
    assert rows == [("North", "1"), ("South", "0"), ("East", "3")]
    # The chart: an SVG image with a title and a description that say the same figures.
    svg = parsed.all("svg")
    assert len(svg) == 1 and svg[0]["role"] == "img" and svg[0]["aria-labelledby"]
    assert "North: 1 (25.0 %); South: 0 (0.0 %); East: 3 (75.0 %)" in html
    widths = [int(a["width"]) for a in parsed.all("rect")]
    assert widths[1] == 0 and widths[2] == max(widths) and widths[0] == round(widths[2] / 3)
    # The record and the command that verifies it, with this server's board key pinned.
    assert f'href="{API}/elections/{e.election_id}/record"' in html
    key = b64encode(e.board_key.raw)
    assert f"evote-verify http://localhost --election {e.election_id} --board-key {key}" in html
    assert "This election names no witnesses." in html
    # The tracking-code form carries what the in-browser check needs.
    form = parsed.all("form")[0]
    assert form["data-board-key"] == key and form["data-election"] == e.election_id


def test_an_open_page_has_no_result_yet(election: ApiElection) -> None:
    response = page(election.client, f"/elections/{election.election_id}/")
    assert "No result yet" in texts(response)
    assert not outline_any(response).all("svg")


def test_witness_status_compares_the_cosigned_checkpoint_with_the_board(api_client) -> None:
    keys = [SigningKey.from_bytes(bytes([0x50 + i]) * 32) for i in range(3)]
    names = [f"w{i}.example.net/w" for i in range(3)]
    policy = WitnessPolicy(tuple(WitnessKey(n, k.verify_key) for n, k in zip(names, keys, strict=True)), 2)
    e = build_election(api_client, manifest={**MANIFEST, "witnesses": policy.to_json()})
    path = f"/elections/{e.election_id}/"
    before = outline_any(page(api_client, path))
    status = [a for a in before.all("p") if a.get("data-testid") == "witness-status"][0]
    assert status["data-current"] == "no"
    assert any("2 of these 3 witnesses must cosign the board" in t for t in before.text)
    assert f"No checkpoint is cosigned by enough witnesses yet (the board has {e.size()} entries)." in before.text
    note = e.client.get(f"{e.url}/checkpoint").get_json()["checkpoint"]
    for i in (0, 2):
        line = cosign(Note.parse(note).text, names[i], keys[i], 1_750_000_000).line()
        r = e.client.post(f"{e.url}/checkpoint/cosignatures", json={"checkpoint": note, "cosignature": line})
        assert r.status_code == 200, r.get_json()
    size = e.size()
    after = outline_any(page(api_client, path))
    status = [a for a in after.all("p") if a.get("data-testid") == "witness-status"][0]
    assert status["data-current"] == "yes"
    assert f"The latest cosigned checkpoint covers {size} of the board's {size} entries." in after.text
    e.cast_ok(0)  # the board grows past the checkpoint
    later = outline_any(page(api_client, path))
    assert f"The latest cosigned checkpoint covers {size} of the board's {size + 1} entries." in later.text
    board = outline_any(page(api_client, f"/elections/{e.election_id}/board/"))
    assert f"The latest cosigned checkpoint covers {size} of the board's {size + 1} entries." in board.text
    assert any(names[0] in t and names[2] in t for t in board.text)


# --- the board explorer --------------------------------------------------------------------


def test_the_explorer_pages_and_filters_the_board(election: ApiElection) -> None:
    for voter in range(4):
        election.cast_ok(voter)
    entries = election.entries()
    base = f"/elections/{election.election_id}/board/"
    first = outline_any(page(election.client, base + "?limit=3"))
    rows = [a for a in first.all("tr") if a.get("data-index")]
    assert [int(a["data-index"]) for a in rows] == [0, 1, 2]
    html = page(election.client, base + "?limit=3").get_data(as_text=True)
    for entry in entries[:3]:
        assert entry.leaf_hash().hex() in html
        assert f'href="{API}/elections/{election.election_id}/inclusion?index={entry.index}"' in html
    nxt = [a["href"] for a in first.all("a") if a.get("data-testid") == "next"]
    assert nxt and "start=3" in nxt[0] and "limit=3" in nxt[0]
    # The last page has no "next".
    last = outline_any(page(election.client, base + f"?start={len(entries) - 1}&limit=3"))
    assert not [a for a in last.all("a") if a.get("data-testid") == "next"]
    # By kind: only the ballots, in index order, and the next page continues after them.
    ballots = [e.index for e in entries if e.kind == "ballot_cast"]
    by_kind = outline_any(page(election.client, base + "?kind=ballot_cast&limit=2"))
    rows = [a for a in by_kind.all("tr") if a.get("data-index")]
    assert [int(a["data-index"]) for a in rows] == ballots[:2]
    assert {a["data-kind"] for a in rows} == {"ballot_cast"}
    nxt = [a["href"] for a in by_kind.all("a") if a.get("data-testid") == "next"][0]
    rest = outline_any(page(election.client, nxt.replace("&amp;", "&")))
    assert [int(a["data-index"]) for a in rest.all("tr") if a.get("data-index")] == ballots[2:4]
    # The signed heads: the latest first, the largest being the whole board.
    heads = [a for a in by_kind.tags if a[0] == "table" and a[1].get("data-testid") == "heads"]
    assert heads
    from evote.board import SignedTreeHead

    head = SignedTreeHead.from_json(election.client.get(f"{election.url}/tree-head").get_json())
    assert head.head.size == len(entries)
    heads_html = html[html.index('data-testid="heads"'):]
    first_row = re.search(r'<tbody>\s*<tr><td class="num">(\d+)</td>.*?<td class="hash">([0-9a-f]+)</td>',
                          heads_html, re.S)
    assert first_row and int(first_row[1]) == len(entries)
    assert first_row[2] == head.head.root.hex()


def test_the_proof_links_serve_a_proof_that_verifies(election: ApiElection) -> None:
    """What the explorer links to is a real inclusion proof of that entry's leaf hash."""
    from evote import merkle
    from evote.board import SignedTreeHead

    election.cast_ok(1)
    html = page(election.client, f"/elections/{election.election_id}/board/").get_data(as_text=True)
    links = re.findall(r'href="(/api/v1/elections/[^"]+/inclusion\?index=(\d+))"', html)
    assert links
    for link, index in links:
        proof = election.client.get(link).get_json()
        sth = SignedTreeHead.from_json(proof["tree_head"])
        leaf = election.entries()[int(index)].leaf_hash()
        assert proof["entry_hash"] == b64encode(leaf)
        from evote.encoding import b64decode

        merkle.verify_inclusion(int(index), sth.head.size, leaf,
                                [b64decode(p) for p in proof["proof"]], sth.head.root)


# --- languages and headers -----------------------------------------------------------------


def test_the_catalogues_have_the_same_keys_and_every_page_key_exists() -> None:
    en = json.loads((STATIC / "i18n" / "site-en.json").read_text())
    ru = json.loads((STATIC / "i18n" / "site-ru.json").read_text())
    assert en.keys() == ru.keys()
    templates = STATIC.parent / "templates"
    used: set[str] = set()
    for name in ("election.html", "board.html", "public_base.html", "public_error.html",
                 "elections.html"):
        used |= set(re.findall(r"""t\[["']([a-z_.]+)["']\]""", (templates / name).read_text()))
    assert used and used <= en.keys(), used - en.keys()
    for kind in ("election_created", "election_opened", "election_closed", "tally_posted",
                 "result_published", "ranked_result", "election_abandoned"):
        assert f"page.milestone.{kind}" in en
    for phase in ("open", "setup", "closed", "tallied", "abandoned"):
        assert f"site.group.{phase}" in en


def test_the_pages_in_russian(api_client) -> None:
    e = build_election(api_client)
    e.cast_ok(0)
    e.tally()
    election_page = page(api_client, f"/elections/{e.election_id}/", **{"Accept-Language": "ru"})
    parsed = outline_any(election_page)
    assert parsed.all("html")[0]["lang"] == "ru"
    assert election_page.headers["Content-Language"] == "ru"
    assert "Городской опрос" in parsed.text and "Хронология" in parsed.text
    assert "Результат опубликован" in " ".join(parsed.text)
    board = outline_any(page(api_client, f"/elections/{e.election_id}/board/?lang=ru&kind=ballot_cast"))
    assert "Публичная доска: Городской опрос" in board.text
    # The language switch keeps the page's own query.
    hrefs = [a["href"] for a in board.all("a") if a.get("hreflang") == "en"]
    assert hrefs and "kind=ballot_cast" in hrefs[0] and "lang=en" in hrefs[0]


@pytest.mark.parametrize("path", ["/elections/{}/", "/elections/{}/board/"])
def test_the_pages_carry_the_csp_and_no_inline_script(election: ApiElection, path: str) -> None:
    response = page(election.client, path.format(election.election_id))
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    body = response.get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", body):
        assert 'src="/static/site.js"' in tag and 'integrity="sha384-' in tag
    assert "<style" not in body and " style=" not in body
    assert not re.search(r"\son[a-z]+=", body)  # no inline event handlers
    assert "http://" not in body.replace("http://localhost", "") and "https://" not in body


# --- the check's bundle ---------------------------------------------------------------------

NODE = __import__("shutil").which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_check_bundle_is_reproducible_and_its_sri_is_on_the_page(
    election: ApiElection, tmp_path
) -> None:
    """site.js built from a copy of the sources elsewhere is byte for byte ours, and the
    page's integrity hash is that file's (so the browser runs nothing else)."""
    import shutil
    import subprocess

    from ballot_server.public_html import sri

    booth = STATIC.parent / "booth"
    ours = (STATIC / "site.js").read_bytes()
    copy = tmp_path / "elsewhere" / "ballot_server"
    shutil.copytree(booth / "src", copy / "booth" / "src")
    for name in ("build.mjs", "package.json", "package-lock.json"):
        shutil.copy(booth / name, copy / "booth" / name)
    (copy / "booth" / "node_modules").symlink_to(booth / "node_modules")
    shutil.copytree(STATIC / "i18n", copy / "static" / "i18n")
    built = subprocess.run([NODE, "build.mjs"], cwd=copy / "booth", capture_output=True,
                           text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    assert (copy / "static" / "site.js").read_bytes() == ours
    body = page(election.client, f"/elections/{election.election_id}/").get_data(as_text=True)
    assert f'src="/static/site.js" integrity="{sri(ours)}"' in body
    css = (STATIC / "site.css").read_bytes()
    assert f'href="/static/site.css" integrity="{sri(css)}"' in body


def test_a_ranked_count_sheet_reads_as_winners_and_rounds() -> None:
    """The page's reading of a real IRV count sheet (evote.counting), as published in
    ``ranked_result``: winners by name, each round's totals, excluded ones as a dash."""
    from ballot_server.public_pages import ranked_sheet
    from evote.counting import count
    from tests.core.test_counting import TENNESSEE

    sheet = count("irv", TENNESSEE, 4, b"\x00" * 32).to_json()
    read = ranked_sheet(sheet, ["Memphis", "Nashville", "Chattanooga", "Knoxville"])
    assert read["method"] == "irv" and read["winners"] == ["Knoxville"]
    assert [r["votes"] for r in read["rounds"]] == [
        ["42", "26", "15", "17"], ["42", "26", "—", "32"], ["42", "—", "—", "58"]]
    assert read["rounds"][1]["subject"] == "Chattanooga"
    # A sheet of the wrong shape is read as far as it goes, never a 500.
    assert ranked_sheet({"winners": [99, "x"], "rounds": ["junk"]}, ["A"])["winners"] == ["99", "x"]
