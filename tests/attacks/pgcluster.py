"""A private, throw-away PostgreSQL cluster that a test (or bench/soak.py) may restart.

``scripts/with-postgres.sh`` starts one server for the whole test run and
exports ``EVOTE_TEST_PGCTL`` / ``EVOTE_TEST_PGDATA`` so that a test can restart
it; but other tests run against that server at the same time (``pytest -n
2``), and a restart would fail them at random.  So a test that kills the
database starts its own cluster with the same binaries (found through
``EVOTE_TEST_PGCTL``, or ``/usr/lib/postgresql/*/bin``), and restarts only that
one.  As in the script, the server runs as the ``postgres`` user when we are
root, listens on loopback only, and is stopped and removed on :meth:`close`.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from ballot_server.db import init_db, make_engine, setup_server_role
from tests.support.ports import free_port as _free_port


def postgres_bin() -> Path | None:
    """The directory of pg_ctl and initdb, or None if PostgreSQL is not installed."""
    pgctl = os.environ.get("EVOTE_TEST_PGCTL")
    if pgctl and Path(pgctl).exists():
        return Path(pgctl).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PrivateCluster:
    """``initdb`` + ``pg_ctl start`` in a fresh directory; :meth:`restart` and :meth:`close`."""

    def __init__(self, bindir: Path) -> None:
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="evote-pg-private-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self.data = self.root / "data"
        self.log = self.root / "log"
        self.port = _free_port()
        self._pg("initdb", "-D", str(self.data), "-U", "evote_admin", "--auth=trust",
                 "-E", "UTF8")
        self.start()
        self.admin_url = f"postgresql+psycopg://evote_admin@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=on"
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "immediate") -> None:
        """Stop (``immediate``: like a crash, no checkpoint) and start again."""
        self.stop(mode)
        self.start()

    def board_database(self) -> str:
        """Create a board database with the server's restricted role; return its URL."""
        name = "evote_" + secrets.token_hex(4)
        admin = create_engine(make_url(self.admin_url), poolclass=NullPool,
                              isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        owner_url = make_url(self.admin_url).set(database=name).render_as_string(
            hide_password=False)
        owner = make_engine(owner_url)
        try:
            init_db(owner)
        finally:
            owner.dispose()
        self.owner_url = owner_url
        return setup_server_role(owner_url, name + "_server", secrets.token_hex(16))

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)
