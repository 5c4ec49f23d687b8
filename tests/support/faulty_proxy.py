"""A loopback HTTP proxy that loses answers on purpose, for the fault tests of
``evote vote`` (tests/cli/test_vote_faults.py).

It forwards each request to the real server (gunicorn) and relays the answer
-- unless the test's ``plan`` says otherwise for that request:

* ``"drop"``: forward the whole request, read the server's whole answer (so the
  ballot is committed), then close the client's connection without a byte;
* ``"hang"``: as ``drop``, but keep the client's connection open and silent
  until the client gives up (its timeout);
* ``"kill_before"``: forward the headers and only half the body, then call
  ``on_kill`` (the test SIGKILLs the server) and close: the server died with
  the request in flight, before it could have committed it;
* ``"kill_after"``: forward everything, read the whole answer (committed), call
  ``on_kill`` and close without relaying.

Only 127.0.0.1 is ever contacted.  One request per connection (gunicorn's sync
workers close after each answer; the proxy closes the client's side too).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Plan = Callable[[str, str, int], str]
"""(method, path, how many requests with this method and path came before) -> action."""


@dataclass
class Seen:
    method: str
    path: str
    action: str
    body: bytes = b""


def pass_through(_method: str, _path: str, _n: int) -> str:
    return "pass"


def first_post_to(suffix: str, action: str) -> Plan:
    """``action`` for the first POST whose path ends with ``suffix``; pass otherwise."""

    def plan(method: str, path: str, n: int) -> str:
        return action if method == "POST" and path.endswith(suffix) and n == 0 else "pass"

    return plan


def _read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """(head, body) of one HTTP request, or None if the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n", body


def _read_all(sock: socket.socket) -> bytes:
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk


@dataclass
class FaultyProxy:
    """Listens on 127.0.0.1 (``url``) and forwards to ``127.0.0.1:upstream_port``."""

    upstream_port: int
    plan: Plan = pass_through
    on_kill: Callable[[], None] = lambda: None
    hang_seconds: float = 30.0
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._listener.close()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def actions(self, action: str) -> list[Seen]:
        return [s for s in self.seen if s.action == action]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            if request is None:
                return
            head, body = request
            method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            with self._lock:
                n = self._counts.get((method, path), 0)
                self._counts[(method, path)] = n + 1
                action = self.plan(method, path, n)
                self.seen.append(Seen(method, path, action, body))
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60)
            except OSError:
                return  # the server is down: the client sees its connection closed
            with upstream:
                if action == "kill_before":
                    upstream.sendall(head + body[: len(body) // 2])
                    self.on_kill()
                    return
                try:
                    upstream.sendall(head + body)
                    answer = _read_all(upstream)
                except OSError:
                    return  # the server died meanwhile (a kill of another request)
            if action == "kill_after":
                self.on_kill()
                return
            if action == "drop":
                return
            if action == "hang":
                self._stop.wait(self.hang_seconds)
                return
            conn.sendall(answer)
