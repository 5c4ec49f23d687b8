"""Hostile traffic against a real ``evote serve`` (issue 14, findings 1-7).

Every test here runs the real thing: ``evote serve`` as a process (gunicorn,
two workers), Debian's nginx with ``deploy/nginx.conf``, the real
``evote-verify`` and ``evote receipt check`` on tampered artefacts.  Targets
are 127.0.0.1 only and every loop is bounded.  Figures the tests measure
(delays, RSS growth, allowed/refused counts) are printed (``pytest -s``).
"""

from __future__ import annotations

import concurrent.futures
import http.server
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ballot_server import create_app, db
from evote.board import Entry, Receipt
from evote.body_signature import HEADER as BODY_SIGNATURE
from evote.encoding import b64encode
from tests.support import recordgen
from tests.support.api_election import (
    OFFICIAL,
    ApiElection,
    build_election,
    fresh_database,
    server_config,
)
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
API = "/api/v1"
BIG_INT = "9" * 5000
DEEP = "[" * 5000 + "]" * 5000  # valid JSON, deeper than Python's recursion limit
MIB = 1024 * 1024

#: The bound on a worker's RSS growth under 64 MiB hostile bodies (finding 2).
RSS_BOUND_MB = 32
#: The bound on another request's delay while slow clients hold connections (finding 1).
DELAY_BOUND_S = 1.0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def proc_status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class EvoteServe:
    """``evote serve`` in its own process group, on ``db_url`` with the given board key."""

    def __init__(self, directory: Path, db_url: str | None, board_key: Path, **env: str) -> None:
        self.directory = directory
        self.db_url = db_url
        self.board_key = board_key
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.extra_env = env
        self.proc: subprocess.Popen | None = None
        self.log = directory / f"serve-{self.port}.log"
        self.data_dir = directory / "data"

    def start(self, *args: str) -> EvoteServe:
        env = dict(os.environ)
        env.update(EVOTE_BOARD_KEY=str(self.board_key), **self.extra_env)
        env.pop("EVOTE_DATABASE_URL", None)
        command = [
            str(BIN / "evote"), "serve", "--port", str(self.port), "--workers", "2",
            "--data-dir", str(self.data_dir), "--official", OFFICIAL.verify_key.to_json(),
            *(["--database", self.db_url] if self.db_url else []), *args,
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                command, env=env, stdout=log, stderr=log, start_new_session=True, cwd=ROOT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"evote serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}{API}/board-key", timeout=2).status_code == 200:
                    if len(self.workers()) >= 2:
                        return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("evote serve did not come up in 60 s")

    def workers(self) -> list[int]:
        assert self.proc is not None
        return children(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.proc = None


def setup_election(db_url: str, directory: Path, voters: int = 4) -> ApiElection:
    """An open election on ``db_url``, set up in this process (board key ``directory/board-key``)."""
    app = create_app(
        server_config(
            db_url,
            str(directory / "setup-instance"),
            EVOTE_BOARD_KEY=str(directory / "board-key"),
            EVOTE_COMMAND_BURST=100_000,
            EVOTE_COMMAND_RATE=1_000_000,
        )
    )
    election = build_election(app.test_client(), voters=voters)
    with app.app_context():
        db.get_engine().dispose()
    return election


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory) -> Iterator[str]:
    yield from fresh_database("sqlite", tmp_path_factory.mktemp("hostile-db"))


@pytest.fixture(scope="module")
def served(sqlite_db, tmp_path_factory) -> Iterator[tuple[EvoteServe, ApiElection]]:
    """One open election served by ``evote serve`` (defaults: 2 workers, gthread)."""
    directory = tmp_path_factory.mktemp("served")
    election = setup_election(sqlite_db, directory)
    server = EvoteServe(
        directory, sqlite_db, directory / "board-key",
        EVOTE_BODY_TIMEOUT="3", EVOTE_CAST_BURST="100000", EVOTE_CAST_RATE="1000000",
        EVOTE_COMMAND_BURST="100000", EVOTE_COMMAND_RATE="1000000",
    )
    try:
        yield server.start(), election
    finally:
        server.stop()


# --- raw HTTP helpers -------------------------------------------------------------


def raw_request(port: int, head: bytes, body: bytes = b"", *, timeout: float = 30) -> tuple[int, dict, bytes]:
    """Send ``head`` + ``body`` on a fresh connection; (status, headers, body) of the answer.

    The body is sent from a thread, so a server that answers (413) and closes
    before reading it all is still heard."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head)

        def send() -> None:
            try:
                view = memoryview(body)
                for i in range(0, len(view), MIB):
                    s.sendall(view[i:i + MIB])
            except OSError:
                pass

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest[:length]
    finally:
        s.close()


def post_head(path: str, length: int | None, *, extra: str = "") -> bytes:
    size = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{size}{extra}Connection: close\r\n\r\n"
    ).encode()


def assert_json_error(status: int, headers: dict, body: bytes, expected: int | None = None) -> dict:
    assert status < 500, (status, body[:300])
    if expected is not None:
        assert status == expected, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:200])
    doc = json.loads(body)
    assert set(doc) >= {"code", "message"}, doc
    return doc


def route_paths(election: ApiElection, directory: Path) -> list[tuple[str, str]]:
    """(method, path) of every API route, from the Flask url_map, with real values filled in."""
    app = create_app(server_config("sqlite://", str(directory / "url-map-instance")))
    values = {"election_id": election.election_id, "kind": "election_closed",
              "tracking_code": "x", "index": 0, "filename": "booth.js"}
    out = []
    with app.test_request_context():
        adapter = app.url_map.bind("127.0.0.1")
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            path = adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments})
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                out.append((method, path))
    return out


# --- finding 1: slow clients --------------------------------------------------------


def open_slow_clients(port: int, path: str, count: int) -> list[socket.socket]:
    """``count`` connections that announce a 1000-byte body, send ``{`` and stall."""
    out = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(post_head(path, 1000) + b"{")
        out.append(s)
    return out


def worst_delay(url: str, requests: int = 20) -> float:
    worst = 0.0
    for _ in range(requests):
        t0 = time.monotonic()
        r = httpx.get(url, timeout=30)
        worst = max(worst, time.monotonic() - t0)
        assert r.status_code == 200
    return worst


def test_slow_clients_do_not_stall_other_requests(served) -> None:
    server, e = served
    slow = open_slow_clients(server.port, f"{API}/elections/{e.election_id}/commands/election_closed", 12)
    # Half-sent headers too: a request line and one header, then nothing.
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        s.sendall(b"POST /api/v1/elections HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(s)
    time.sleep(0.5)  # let the workers pick them up
    try:
        delay = worst_delay(f"{server.base}{API}/board-key")
        print(f"\n[finding 1] 16 slow connections, 2 workers: worst delay of 20 requests {delay:.3f} s")
        assert delay < DELAY_BOUND_S
        # The stalled bodies get their 408 (JSON) and their threads back.
        for s in slow[:12]:
            s.settimeout(20)
            answer = b""
            while b"request_timeout" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert b"application/json" in answer and b'"code":"request_timeout"' in answer, answer
    finally:
        for s in slow:
            s.close()


def test_a_header_drip_gets_a_json_408(served) -> None:
    """One header byte every 1.5 s (under the 5 s receive timeout): the header deadline
    (10 s) ends it with a JSON 408 instead of holding a thread for as long as it drips."""
    server, _ = served
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(b"GET /api/v1/board-key HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ")
    t0 = time.monotonic()
    answer = b""
    try:
        s.settimeout(1.5)
        for _ in range(20):  # at most 30 s
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
                if b"request_timeout" in answer:
                    break
            except TimeoutError:
                s.sendall(b"a")
    finally:
        s.close()
    elapsed = time.monotonic() - t0
    print(f"\n[finding 1] header drip answered after {elapsed:.1f} s: {answer[:12]!r}")
    assert answer.startswith(b"HTTP/1.1 408") and b'"code": "request_timeout"' in answer, answer
    assert elapsed < 20


# --- finding 2: huge bodies -----------------------------------------------------------


def reset_peak_rss(pids: list[int]) -> bool:
    try:
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to VmRSS
        return True
    except OSError:
        return False


def test_64_mib_bodies_do_not_grow_a_worker(served) -> None:
    server, e = served
    workers = server.workers()
    assert len(workers) == 2
    assert reset_peak_rss(workers), "cannot reset VmHWM through /proc/PID/clear_refs"
    before = {pid: proc_status_kb(pid, "VmRSS") for pid in workers}
    body = b"[" + b"{}," * (64 * MIB // 3 - 1) + b"{}]"
    command = f"{API}/elections/{e.election_id}/commands/election_closed"
    # 1. The finding's request: unsigned, with Content-Length.
    doc = assert_json_error(*raw_request(server.port, post_head(command, len(body)), body), 413)
    assert doc["code"] == "body_too_large"
    # 2. The same streamed (chunked, no Content-Length): cut at the cap.
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + MIB]), body[i:i + MIB])
                       for i in range(0, len(body), MIB)) + b"0\r\n\r\n"
    doc = assert_json_error(*raw_request(server.port, post_head(command, None), chunked), 413)
    assert doc["code"] == "body_too_large"
    # 3. To the one large route, with a forged body signature in the authority's name
    #    (its key is public): read to the end, hashed, spooled to disk, refused unparsed.
    forged = f"{BODY_SIGNATURE}: {e.authority.verify_key.to_json()}.{b64encode(bytes(64))}\r\n"
    large = f"{API}/elections/{e.election_id}/commands/credentials_published"
    doc = assert_json_error(*raw_request(server.port, post_head(large, len(body), extra=forged), body), 422)
    assert doc["code"] == "invalid_signature"
    # 4. Without the header, the large route has the small cap.
    doc = assert_json_error(*raw_request(server.port, post_head(large, len(body)), body), 413)
    growth = {pid: (proc_status_kb(pid, "VmHWM") - before[pid]) / 1024 for pid in workers}
    print(f"\n[finding 2] 4 x 64 MiB hostile bodies: peak RSS growth per worker (MB) "
          f"{ {pid: round(g, 1) for pid, g in growth.items()} } (bound {RSS_BOUND_MB} MB)")
    assert max(growth.values()) < RSS_BOUND_MB
    assert httpx.get(f"{server.base}{API}/board-key").status_code == 200


def test_a_signed_large_credential_list_is_accepted(sqlite_db, tmp_path) -> None:
    """The large cap is real: a body above EVOTE_MAX_BODY with a valid signature gets through
    (to the service's own checks), the same body without one is 413."""
    db_url = sqlite_db
    app = create_app(server_config(db_url, str(tmp_path / "i"), EVOTE_MAX_BODY=4096))
    e = build_election(app.test_client(), stop_before="credentials_published")
    from evote.body_signature import sign_body
    from evote.commands import sign_command

    body = {"credentials": e.credential_list.to_json(), "padding": "x" * 5000}
    raw = json.dumps(sign_command(e.authority, e.election_id, "credentials_published", body).to_json()).encode()
    path = f"{e.url}/commands/credentials_published"
    r = e.client.post(path, data=raw, content_type="application/json")
    assert r.status_code == 413 and r.get_json()["code"] == "body_too_large"
    header = sign_body(e.authority, e.election_id, "credentials_published", raw).header()
    r = e.client.post(path, data=raw, content_type="application/json", headers={BODY_SIGNATURE: header})
    assert r.status_code == 422 and "padding" in r.get_json()["message"]  # parsed, then refused
    other = sign_body(e.trustee_keys[0], e.election_id, "credentials_published", raw).header()
    r = e.client.post(path, data=raw, content_type="application/json", headers={BODY_SIGNATURE: other})
    assert r.status_code == 403 and r.get_json()["code"] == "wrong_signer"
    with app.app_context():
        db.get_engine().dispose()


# --- finding 3 and 5: parsing and error pages -------------------------------------------


HOSTILE_BODIES = {
    "5000-digit integer": BIG_INT.encode(),
    "5000-digit integer in an object": b'{"body": {"n": ' + BIG_INT.encode() + b'}, "signer": "x", "signature": "y"}',
    "deep nesting": DEEP.encode(),
    "deep nesting in a command": b'{"body": {"x": ' + DEEP.encode() + b'}, "signer": "x", "signature": "y"}',
    "overflowing float": b'{"x": 1e999}',
    "unterminated nesting": b"[" * 200_000,
}


def test_no_route_answers_500_or_html_to_hostile_json(served) -> None:
    server, e = served
    routes = route_paths(e, server.directory)
    posts = [path for method, path in routes if method == "POST"]
    assert len(posts) >= 6, posts
    seen = 0
    for path in posts:
        for login in (None, e.login(0)):
            auth = f"Authorization: Bearer {login}\r\n" if login else ""
            for body in HOSTILE_BODIES.values():
                status, headers, answer = raw_request(server.port, post_head(path, len(body), extra=auth), body)
                if status == 204 and not answer:
                    continue  # the booth's login check, which reads no body, said yes
                assert_json_error(status, headers, answer)
                seen += 1
    print(f"\n[finding 3] {seen} hostile bodies to {len(posts)} POST routes: no 500, all JSON")
    # The server logged no traceback for any of them.
    assert "Traceback" not in server.log.read_text()


def probes(path: str) -> dict[str, bytes]:
    return {
        "request line of 8 KiB": f"GET {path}?q={'a' * 8192} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        "one 60 KB header": f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 60_000}\r\n\r\n".encode(),
        "200 headers": (f"GET {path} HTTP/1.1\r\nHost: x\r\n"
                        + "".join(f"X-H{i}: v\r\n" for i in range(200)) + "\r\n").encode(),
        "malformed request line": b"GET  /\x01 HTTP/9.9\r\n\r\n",
    }


EXPECTED_PROBE = {"request line of 8 KiB": 414, "one 60 KB header": 431, "200 headers": 431,
                  "malformed request line": 400}


def test_no_route_answers_html_to_oversize_lines_and_headers(served) -> None:
    server, e = served
    count = 0
    for _method, path in route_paths(e, server.directory):
        for name, request in probes(path).items():
            doc = assert_json_error(*raw_request(server.port, request), EXPECTED_PROBE[name])
            assert doc["code"] in ("uri_too_long", "headers_too_large", "bad_request")
            count += 1
    print(f"\n[finding 5] {count} oversize-line/header probes answered by gunicorn: all JSON 4xx")


# --- nginx in front (deploy/nginx.conf) ---------------------------------------------------


@pytest.fixture(scope="module")
def nginx(served, tmp_path_factory) -> Iterator[int]:
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(exe):
        pytest.fail("nginx is not installed (apt-get install nginx; .ci/run does)", pytrace=False)
    server, _ = served
    prefix = tmp_path_factory.mktemp("nginx")
    (prefix / "logs").mkdir()
    port = free_port()
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server 127.0.0.1:8000;" in conf and "listen 127.0.0.1:8080;" in conf
    conf = conf.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{server.port};")
    conf = conf.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};")
    temp = "".join(f"    {d}_temp_path {prefix}/{d};\n"
                   for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = conf.replace("http {\n", "http {\n" + temp, 1).replace("worker_processes auto;", "worker_processes 1;")
    (prefix / "nginx.conf").write_text(conf)
    globals_ = f"daemon off; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log;"
    if os.geteuid() == 0:
        globals_ += " user root;"
    proc = subprocess.Popen([exe, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", globals_],
                            stdout=subprocess.DEVNULL, stderr=open(prefix / "logs" / "stderr", "wb"))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{API}/board-key", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((prefix / "logs" / "stderr").read_text())
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_nginx_answers_its_own_errors_in_json(served, nginx) -> None:
    _server, e = served
    for name, request in probes(f"{API}/elections/{e.election_id}").items():
        status, headers, body = raw_request(nginx, request)
        doc = assert_json_error(status, headers, body)
        assert status in (400, 414, 431), (name, status)
        assert doc["code"] in ("bad_request", "uri_too_long", "headers_too_large"), (name, doc)
    body = b"[" + b"{}," * (2 * MIB // 3) + b"{}]"
    command = f"{API}/elections/{e.election_id}/commands/election_closed"
    doc = assert_json_error(*raw_request(nginx, post_head(command, len(body)), body), 413)
    assert doc["code"] == "body_too_large"
    for text in HOSTILE_BODIES.values():
        assert_json_error(*raw_request(nginx, post_head(command, len(text)), text))


def test_nginx_buffers_slow_clients(served, nginx) -> None:
    server, e = served
    slow = open_slow_clients(nginx, f"{API}/elections/{e.election_id}/commands/election_closed", 40)
    try:
        time.sleep(0.3)
        delay = worst_delay(f"http://127.0.0.1:{nginx}{API}/board-key")
        print(f"\n[finding 1, nginx] 40 slow connections (more than 2 workers x 16 threads): "
              f"worst delay {delay:.3f} s")
        assert delay < DELAY_BOUND_S
    finally:
        for s in slow:
            s.close()


# --- finding 4: the auditors' tools on hostile artefacts ------------------------------------


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> recordgen.GeneratedRecord:
    return recordgen.build_record(tmp_path_factory.mktemp("hostile-record"), voters=3, revotes=0,
                                  audits=0, seed=b"hostile")


def tampered(record: recordgen.GeneratedRecord, tmp_path: Path, name: str, old: bytes, new: bytes) -> Path:
    out = tmp_path / "record"
    shutil.copytree(record.path, out)
    data = (out / name).read_bytes()
    assert old in data
    (out / name).write_bytes(data.replace(old, new, 1))
    return out


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.parametrize(
    ("name", "old", "new", "exit_code"),
    [
        ("board.jsonl", b'"index":1,', b'"index":' + BIG_INT.encode() + b",", 1),
        ("board.jsonl", b'"index":1,', b'"index":1,"x":' + ("[" * 990 + "]" * 990).encode() + b",", 1),
        ("board.jsonl", b'"index":1,', b'"index":' + DEEP.encode() + b",", 1),
        ("board.jsonl", b'"index":1,', b'"index":1e999,', 1),
        ("tree-heads.jsonl", b'"size":', b'"n":' + BIG_INT.encode() + b',"size":', 2),
        ("tree-heads.jsonl", b'"size":', b'"n":' + DEEP.encode() + b',"size":', 2),
        ("record.json", b"{", b'{"n":' + BIG_INT.encode() + b",", 2),
    ],
    ids=["entry-int", "entry-nesting-990", "entry-nesting-5000", "entry-float", "heads-int",
         "heads-nesting", "header-int"],
)
def test_verifier_reports_hostile_records(record, tmp_path, name, old, new, exit_code) -> None:
    path = tampered(record, tmp_path, name, old, new)
    result = run_cli(str(BIN / "evote-verify"), str(path), "--workers", "1")
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-2000:]
    assert result.returncode == exit_code, output[-2000:]
    assert ("NOT VERIFIED" in output) if exit_code == 1 else ("where:" in output)


def hostile_receipts(record: recordgen.GeneratedRecord) -> dict[str, str]:
    good = json.dumps(record.receipts[0].to_json())
    return {
        "int": good.replace('"index": ', f'"n": {BIG_INT}, "index": ', 1),
        "nesting": good.replace('"index": ', f'"n": {DEEP}, "index": ', 1),
        "unterminated": "[" * 100_000,
    }


def test_receipt_checks_report_hostile_receipts(record, tmp_path) -> None:
    for name, text in hostile_receipts(record).items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        # evote-verify: 2, unreadable (docs/verifier.md); evote: 1 with an error: line (docs/guide.md).
        for command, code in (
            ([str(BIN / "evote-verify"), "receipt", str(path), str(record.path)], 2),
            ([str(BIN / "evote"), "receipt", "check", str(path), "--server", "http://127.0.0.1:9"], 1),
        ):
            result = run_cli(*command)
            output = result.stdout + result.stderr
            assert "Traceback" not in output, (name, command[0], output[-2000:])
            assert result.returncode == code, (name, command[0], result.returncode, output[-1000:])
            assert "[bad_encoding]" in output or "not JSON" in output, output[-1000:]


class HostileBoard(http.server.BaseHTTPRequestHandler):
    """A board that serves a tree head with a 5000-digit size to every GET."""

    def do_GET(self) -> None:  # noqa: N802
        body = ('{"size": ' + BIG_INT + ', "root": "x", "time": 1, "signature": "y"}').encode()
        if "/entries/" in self.path:
            body = ('{"index": ' + DEEP + "}").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_receipt_check_against_a_hostile_server(record, tmp_path) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileBoard)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        path = tmp_path / "receipt.json"
        path.write_text(json.dumps(record.receipts[0].to_json()))
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        for command in ([str(BIN / "evote"), "receipt", "check", str(path), "--server", url],
                        [str(BIN / "evote-verify"), "receipt", str(path), url, "--election",
                         record.election.manifest.election_id]):
            result = run_cli(*command)
            output = result.stdout + result.stderr
            assert "Traceback" not in output, output[-2000:]
            assert result.returncode != 0 and result.returncode in (1, 2, 3, 4), output[-1000:]
    finally:
        httpd.shutdown()


# --- finding 6: data files --------------------------------------------------------------


@pytest.mark.parametrize("exists", [True, False], ids=["existing-0755", "new"])
def test_data_files_are_private(tmp_path, exists) -> None:
    server = EvoteServe(tmp_path, None, tmp_path / "data" / "board-key")
    if exists:
        server.data_dir.mkdir(mode=0o755)
        server.data_dir.chmod(0o755)
        (server.data_dir / "evote.sqlite").touch(mode=0o644)
        (server.data_dir / "evote.sqlite").chmod(0o644)
    old = os.umask(0o022)
    try:
        server.start()
        httpx.get(f"{server.base}{API}/elections")  # the workers open the database
    finally:
        os.umask(old)
        server.stop()
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    files = sorted(server.data_dir.iterdir())
    assert any(f.name == "evote.sqlite" for f in files)
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, (f.name, oct(f.stat().st_mode))


def test_a_foreign_world_readable_data_dir_is_refused(tmp_path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs a directory owned by another user")
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    os.chown(data, 65534, 65534)
    result = run_cli(str(BIN / "evote"), "serve", "--data-dir", str(data), "--port", str(free_port()))
    assert result.returncode != 0
    assert "readable by other users" in result.stderr and "Traceback" not in result.stderr


# --- finding 7 (issue item 7): one rate limit for every worker and host ----------------------


def spend(urls: list[str], path: str, total: int, body: bytes = b"{}") -> dict[int, int]:
    """``total`` POSTs spread over ``urls`` (round robin, 8 at a time); statuses counted."""

    def one(i: int) -> int:
        with httpx.Client(timeout=30) as http:  # a new connection each: any worker may answer
            return http.post(urls[i % len(urls)] + path, content=body,
                             headers={"Content-Type": "application/json"}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(total)))
    return {s: statuses.count(s) for s in sorted(set(statuses))}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def test_shared_bucket_spends_refills_names_the_wait_and_forgets(sqlite_db) -> None:
    from ballot_server.ratelimit import SharedRateLimiter, client_key, limiter_engine
    from evote.errors import RateLimited

    engine = limiter_engine(sqlite_db)
    clock = FakeClock()
    limiter = SharedRateLimiter(engine, "unit", 0.5, 2, client_key(b"k" * 32), clock=clock)
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(RateLimited) as caught:
        limiter.take("a")
    assert caught.value.retry_after == 2 and caught.value.http_status == 429
    limiter.take("b")  # another address has its own bucket
    clock.now += 2000
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")
    clock.now -= 60_000  # a host whose clock is behind never refills a bucket backwards
    with pytest.raises(RateLimited):
        limiter.take("a")
    clock.now += 60_000
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT client FROM rate_buckets WHERE scope = 'unit'").all()
    assert len(rows) == 2 and all(len(r.client) == 32 for r in rows)  # HMACs, not addresses
    clock.now += 10_000  # both full again: forgotten
    assert limiter.purge() == 2
    engine.dispose()


LIMITS = dict(EVOTE_CAST_BURST="5", EVOTE_CAST_RATE="0.01",
              EVOTE_COMMAND_BURST="5", EVOTE_COMMAND_RATE="0.01")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def limit_db(request, tmp_path) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path)


def test_rate_limit_holds_across_two_workers(limit_db, tmp_path) -> None:
    e = setup_election(limit_db, tmp_path)
    server = EvoteServe(tmp_path, limit_db, tmp_path / "board-key", **LIMITS).start()
    try:
        casts = spend([server.base], f"{API}/elections/{e.election_id}/ballots", 30)
        commands = spend([server.base], f"{API}/elections/{e.election_id}/commands/election_closed", 30)
    finally:
        server.stop()
    print(f"\n[item 7] burst 5, 2 workers, 30 requests: casts {casts}, commands {commands}")
    assert casts.get(429) == 25 and casts.get(401) == 5  # not logged in: refused after the limit
    assert commands.get(429) == 25 and commands.get(422) == 5


@pytest.fixture
def pg_db(tmp_path) -> Iterator[str]:
    yield from fresh_database("postgres", tmp_path)


@pytest.mark.postgres
def test_rate_limit_holds_across_two_server_processes(pg_db, tmp_path) -> None:
    url = pg_db
    e = setup_election(url, tmp_path)
    one = EvoteServe(tmp_path / "a", url, tmp_path / "board-key", **LIMITS)
    two = EvoteServe(tmp_path / "b", url, tmp_path / "board-key", **LIMITS)
    for s in (one, two):
        s.directory.mkdir()
        s.log = s.directory / "serve.log"
        s.data_dir = s.directory / "data"
    try:
        one.start()
        two.start()
        counts = spend([one.base, two.base], f"{API}/elections/{e.election_id}/ballots", 30)
    finally:
        one.stop()
        two.stop()
    print(f"\n[item 7] burst 5, 2 processes x 2 workers on one PostgreSQL, 30 casts: {counts}")
    assert counts.get(429) == 25 and counts.get(401) == 5


# --- soak: hostile traffic mixed into honest casting -------------------------------------


def test_soak_honest_voters_unharmed_by_hostile_traffic(sqlite_db, tmp_path) -> None:
    voters = 10
    e = setup_election(sqlite_db, tmp_path, voters=voters)
    server = EvoteServe(
        tmp_path, sqlite_db, tmp_path / "board-key", EVOTE_BODY_TIMEOUT="3",
        EVOTE_CAST_BURST="100000", EVOTE_CAST_RATE="1000000",
        EVOTE_COMMAND_BURST="100000", EVOTE_COMMAND_RATE="1000000",
    ).start()
    casts = [(v, e.ballot(v)[0]) for v in list(range(voters)) * 2]  # everyone votes twice
    receipts: list[Receipt] = []
    errors: list[Any] = []
    stop = threading.Event()
    hostile_sent = {"slow": 0, "big": 0, "json": 0}
    command = f"{API}/elections/{e.election_id}/commands/election_closed"

    def honest(job: tuple[int, Any]) -> None:
        voter, ballot = job
        r = httpx.post(f"{server.base}{API}/elections/{e.election_id}/ballots", json=ballot.to_json(),
                       headers={"Authorization": f"Bearer {e.login(voter)}"}, timeout=60)
        if r.status_code != 201:
            errors.append((r.status_code, r.text[:200]))
        else:
            receipts.append(Receipt.from_json(r.json()))

    def hostile() -> None:
        big = b"[" + b"{}," * (16 * MIB // 3) + b"{}]"
        held: list[socket.socket] = []
        for round_ in range(6):  # bounded
            if stop.is_set():
                break
            held += open_slow_clients(server.port, command, 4)
            hostile_sent["slow"] += 4
            raw_request(server.port, post_head(command, len(big)), big)
            hostile_sent["big"] += 1
            for body in HOSTILE_BODIES.values():
                raw_request(server.port, post_head(command, len(body)), body)
                hostile_sent["json"] += 1
            if round_ % 2:
                for s in held:
                    s.close()
                held = []
        for s in held:
            s.close()

    attacker = threading.Thread(target=hostile)
    attacker.start()
    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(honest, casts))
        stop.set()
        attacker.join(timeout=60)
        elapsed = time.monotonic() - t0
        entries = [Entry.from_json(x) for x in httpx.get(
            f"{server.base}{API}/elections/{e.election_id}/entries", params={"limit": 1000}).json()["entries"]]
        key = e.board_key
        for receipt in receipts:
            receipt.verify(key)
            receipt.verify_entry(entries[receipt.index])
        e.tally()  # close, tally, decrypt, publish (in-process, on the same database)
        archive = tmp_path / "record.zip"
        archive.write_bytes(httpx.get(f"{server.base}{API}/elections/{e.election_id}/record", timeout=60).content)
    finally:
        stop.set()
        server.stop()
    print(f"\n[soak] {len(casts)} honest casts in {elapsed:.1f} s alongside {hostile_sent}: "
          f"{len(errors)} errors, {len(receipts)} receipts checked")
    assert errors == []
    assert len(receipts) == len(casts)
    result = run_cli(str(BIN / "evote-verify"), str(archive), "--workers", "1")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "VERIFIED" in result.stdout
