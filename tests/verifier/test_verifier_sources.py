"""Sources: a live server read page by page (honest, growing, forking, equivocating), zips.

The server here is a fake *network* (``httpx.MockTransport``) in front of a real
record: the board, the Merkle tree, the signatures and the proofs are all
real, only the HTTP is simulated.  The API paths and answers are those of
``ballot_server/api.py`` (docs/api.md).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from evote.board import Entry, TreeHead
from evote.encoding import b64encode
from evote.merkle import MemoryTree
from tests.support import recordgen
from verifier import sources
from verifier.checks import verify_record
from verifier.errors import RecordUnreadable
from verifier.record import Record
from verifier.sources import ServerSource, ZipSource


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> recordgen.GeneratedRecord:
    return recordgen.build_record(tmp_path_factory.mktemp("live"), voters=4, revotes=1, audits=1,
                                  seed=b"live")


class FakeServer:
    """Serves a board through the API; ``boards`` is the board it shows at each head request."""

    def __init__(self, gen: recordgen.GeneratedRecord, boards: list[list[Entry]]) -> None:
        self.gen = gen
        self.boards = boards
        self.calls = 0
        self.current = boards[0]
        self.time = 2 * recordgen.START_TIME

    def head(self) -> dict:
        self.current = self.boards[min(self.calls, len(self.boards) - 1)]
        self.calls += 1
        self.time += 1
        tree = MemoryTree(e.leaf_hash() for e in self.current)
        return TreeHead(self.gen.election.election_id, tree.size, tree.root(), self.time).sign(
            self.gen.election.board_key).to_json()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = urlsplit(str(request.url)).path
        q = {k: int(v[0]) for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        prefix = f"/api/v1/elections/{self.gen.election.election_id}"
        if path == "/api/v1/board-key":
            return httpx.Response(200, json={"board_key": self.gen.election.board_key.verify_key
                                             .to_json()})
        if path == prefix + "/tree-head":
            return httpx.Response(200, json=self.head())
        if path == prefix + "/entries":
            start, limit = q.get("start", 0), q.get("limit", 100)
            page = self.current[start:start + limit]
            return httpx.Response(200, json={"start": start, "size": len(self.current),
                                             "entries": [e.to_json() for e in page]})
        if path == prefix + "/consistency":
            tree = MemoryTree(e.leaf_hash() for e in self.current)
            proof = tree.consistency_proof(q["first"], q["second"])
            return httpx.Response(200, json={"first": q["first"], "second": q["second"],
                                             "proof": [b64encode(h) for h in proof]})
        return httpx.Response(404, json={"code": "not_found", "message": path})


def live(gen, boards, **options):
    server = FakeServer(gen, boards)
    src = ServerSource("http://vote.test", gen.election.election_id,
                       transport=httpx.MockTransport(server))
    return verify_record(Record.load(src), **options), server


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(sources, "PAGE_SIZE", 4)
    monkeypatch.setattr(sources, "HEAD_EVERY", 8)


def test_honest_server_verifies(gen):
    report, server = live(gen, [gen.entries])
    assert report.ok, report.failed()
    assert report.check("consistency").counts["server proofs"] >= 3
    assert server.calls >= 4  # the target head, one every 8 entries, one at the end


def test_growing_board_is_checked_up_to_the_first_head(gen):
    """Ballots keep arriving during the download: the newer heads are proved consistent."""
    cut = next(i for i, e in enumerate(gen.entries) if e.kind == "election_closed")
    boards = [gen.entries[:cut], gen.entries[: cut + 2], gen.entries]
    report, _ = live(gen, boards, in_progress=True)
    assert report.ok, report.failed()
    assert report.stats["entries"] == cut


def test_server_that_rewrites_its_board_during_the_download(gen):
    """A later, larger head's board differs in an early entry: no consistency proof verifies.

    (A board of the *same* size with another root is equivocation, below.)"""
    cut = next(i for i, e in enumerate(gen.entries) if e.kind == "election_closed")
    forked = list(gen.entries)
    e = forked[3]
    forked[3] = Entry(e.election, e.index, e.kind, e.prev, e.time + 1, e.payload)
    report, _ = live(gen, [gen.entries[:cut], gen.entries[:cut], forked], in_progress=True)
    assert not report.ok
    first = report.check("consistency").first_failure
    assert first.code == "root_mismatch"
    assert {"older", "newer"} <= set(first.evidence)


def test_server_that_equivocates(gen):
    """Two signed heads of the same size with different roots: both are the evidence."""
    forked = list(gen.entries)
    e = forked[-1]
    forked[-1] = Entry(e.election, e.index, e.kind, e.prev, e.time + 1, e.payload)
    report, _ = live(gen, [gen.entries, gen.entries, gen.entries, forked])
    eq = report.check("equivocation")
    assert eq.status == "fail" and eq.first_failure.code == "equivocation"
    assert eq.first_failure.evidence["first"]["head"]["size"] == len(gen.entries)


def test_server_that_lies_about_an_entry(gen):
    class Liar(FakeServer):
        def __call__(self, request):
            response = super().__call__(request)
            if "/entries" in str(request.url):
                body = json.loads(response.content)
                for obj in body["entries"]:
                    if obj["index"] == 5:
                        obj["time"] += 1
                return httpx.Response(200, json=body)
            return response

    server = Liar(gen, [gen.entries])
    src = ServerSource("http://vote.test", gen.election.election_id,
                       transport=httpx.MockTransport(server))
    report = verify_record(Record.load(src))
    assert {"hash-chain", "tree-heads"} <= set(report.failed())


def test_unreachable_server_is_unreadable(gen):
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RecordUnreadable):
        ServerSource("http://vote.test", "x", transport=httpx.MockTransport(refuse))


def test_server_that_stops_early_is_unreadable(gen):
    class Short(FakeServer):
        def __call__(self, request):
            if "/entries" in str(request.url):
                return httpx.Response(200, json={"entries": []})
            return super().__call__(request)

    src = ServerSource("http://vote.test", gen.election.election_id,
                       transport=httpx.MockTransport(Short(gen, [gen.entries])))
    record = Record.load(src)
    with pytest.raises(RecordUnreadable):
        verify_record(record)


def test_zip_with_a_top_level_folder_and_a_damaged_member(gen, tmp_path):
    folder = tmp_path / "city-poll"
    shutil.copytree(gen.path, folder)
    archive = Path(shutil.make_archive(str(tmp_path / "rec"), "zip", tmp_path, "city-poll"))
    assert verify_record(Record.load(ZipSource(archive))).ok
    # Flip a byte inside the compressed board: the CRC check makes it unreadable.
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo("city-poll/board.jsonl")
    data = bytearray(archive.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + 40] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(RecordUnreadable):
        verify_record(Record.load(ZipSource(archive)))
