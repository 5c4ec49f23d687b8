"""The real ballot server as a process: gunicorn, two workers, in its own process group.

Shared by the tests that need ``evote serve`` for real (server processes, resends
across workers, ``evote vote`` over a faulty network): :class:`Server` starts,
SIGKILLs and stops it; :func:`serve_election` sets an election up in-process
and then serves it on the same database; :func:`whole_board` and
:func:`board_key` read it back over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from ballot_server import create_app, db
from evote.board import Entry
from evote.signing import VerifyKey
from tests.support.api_election import OFFICIAL, ApiElection, build_election, server_config
from tests.support.ports import free_port


class Server:
    """gunicorn serving ``create_app()`` from the environment, in its own process group."""

    def __init__(self, db_url: str, directory: Path) -> None:
        self.db_url = db_url
        self.directory = directory
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.proc: subprocess.Popen | None = None
        self.log = directory / "gunicorn.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            EVOTE_DATABASE_URL=self.db_url,
            EVOTE_INSTANCE_PATH=str(self.directory / "instance"),
            EVOTE_BOARD_KEY=str(self.directory / "board-key"),
            EVOTE_OFFICIALS=OFFICIAL.verify_key.to_json(),
            EVOTE_CAST_BURST="100000",
            EVOTE_CAST_RATE="1000000",
            EVOTE_COMMAND_BURST="100000",
            EVOTE_COMMAND_RATE="1000000",
        )
        return env

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn",
            "--workers", "2",
            "--bind", f"127.0.0.1:{self.port}",
            "--timeout", "60",
            "--graceful-timeout", "1",
            "ballot_server:create_app()",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                command, env=self.env(), stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/board-key", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not come up in 60 s")

    def kill(self) -> None:
        """SIGKILL the master and its workers at once (the whole process group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.proc = None


def serve_election(api_db: str, tmp_path: Path, voters: int) -> Iterator[tuple[Server, ApiElection]]:
    """An open election of ``voters`` (set up in-process), then served by gunicorn on the same database."""
    server = Server(api_db, tmp_path)
    app = create_app(server_config(api_db, str(tmp_path / "instance"), EVOTE_BOARD_KEY=str(tmp_path / "board-key")))
    election = build_election(app.test_client(), voters=voters)
    with app.app_context():
        db.get_engine().dispose()
    try:
        server.start()
        yield server, election
    finally:
        server.stop()


def whole_board(base: str, election_id: str) -> list[Entry]:
    entries: list[Entry] = []
    with httpx.Client(base_url=base, timeout=60) as http:
        while True:
            page = http.get(
                f"/elections/{election_id}/entries", params={"start": len(entries), "limit": 1000}
            ).json()
            entries += [Entry.from_json(x) for x in page["entries"]]
            if page["next"] is None:
                return entries


def board_key(base: str) -> VerifyKey:
    return VerifyKey.from_json(httpx.get(f"{base}/board-key").json()["board_key"])
