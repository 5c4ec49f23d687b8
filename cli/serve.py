"""``evote serve``: run the ballot server.

Production runs gunicorn (several worker processes sharing one database; the
board's append lock keeps them from ever forking the chain).  ``--dev`` runs
Flask's single-process development server instead.

Settings are the server's own ``EVOTE_*`` variables (``ballot_server.config``);
the options here set the common ones, and anything else can still come from
the environment.  The app is created once in the parent process before the
workers start, so the database tables and the board key are set up exactly
once, then every worker builds its own app (database connections must not
cross a fork).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from cli.console import CliError, note
from cli.keyfiles import read_public_key

DEFAULT_PORT = 8000
#: Seconds an idle kept-alive connection stays open (gthread workers).
KEEPALIVE_SECONDS = 5
#: Threads per worker by default: a slow client holds one thread for at most
#: EVOTE_BODY_TIMEOUT, so it takes this many of them per worker to stall it.
DEFAULT_THREADS = 16
#: The worker class: gunicorn's gthread with a receive deadline and JSON error pages.
WORKER_CLASS = "cli.gunicorn_worker.EvoteThreadWorker"


def server_config(
    *, data_dir: str | None, database: str | None, officials: tuple[str, ...]
) -> dict[str, Any]:
    """The ``create_app`` mapping for these options (unset ones come from the environment)."""
    config: dict[str, Any] = {}
    if data_dir:
        directory = Path(data_dir).resolve()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {directory}: {exc.strerror or exc}", code="io_error") from None
        config["EVOTE_INSTANCE_PATH"] = str(directory)  # SQLite database and board key
    if database:
        config["EVOTE_DATABASE_URL"] = database
    if officials:
        keys = [read_public_key(value, "official key") for value in officials]
        config["EVOTE_OFFICIALS"] = ",".join(k.to_json() for k in keys)
    return config


def _make_app(config: Mapping[str, Any]) -> Any:
    from ballot_server import create_app  # the server extra (Flask, SQLAlchemy) is needed here only
    from ballot_server.config import ConfigError

    try:
        return create_app(dict(config))
    except ConfigError as exc:
        raise CliError(str(exc), code="bad_config") from None


def run_gunicorn(
    config: Mapping[str, Any],
    host: str,
    port: int,
    workers: int,
    timeout: int,
    threads: int = DEFAULT_THREADS,
) -> None:
    """Serve with gunicorn in this process (it forks the workers).

    The workers are :class:`cli.gunicorn_worker.EvoteThreadWorker` (gunicorn's
    ``gthread``): each handles ``threads`` requests at once, gives every
    ``recv`` a deadline (so slow clients cannot hold threads for gunicorn's
    ``--timeout``), answers gunicorn's own errors (414, 431, 400) with the
    API's JSON error body, and keeps client connections alive between
    requests.  A worker whose thread waits for the board's append lock or for
    a commit to reach the disk then verifies another ballot meanwhile (the
    libsodium calls release the GIL), and a client (or reverse proxy) that
    reuses its connection skips the TCP set-up and tear-down per ballot.
    """
    from gunicorn.app.base import BaseApplication

    class EvoteApplication(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", timeout)
            self.cfg.set("worker_class", WORKER_CLASS)
            self.cfg.set("threads", threads)
            self.cfg.set("keepalive", KEEPALIVE_SECONDS)
            # No access log: client addresses with timestamps could be matched
            # against ballot entry times (docs/threat-model.md, item 13).
            self.cfg.set("accesslog", None)
            self.cfg.set("proc_name", "evote-server")

        def load(self) -> Any:
            return _make_app(config)

    EvoteApplication().run()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=2,
    show_default=True,
    help="gunicorn worker processes.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Threads per worker (gunicorn gthread workers with keep-alive); a slow client "
    "holds one thread for at most EVOTE_BODY_TIMEOUT seconds.",
)
@click.option(
    "--timeout",
    type=click.IntRange(10, 3600),
    default=120,
    show_default=True,
    help="Seconds before gunicorn restarts a silent worker.",
)
@click.option(
    "--dev", is_flag=True, help="Use Flask's development server (one process, not for production)."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Directory for the SQLite board database and the board key (made 0700, the "
    "database 0600, also when the directory exists).",
)
@click.option(
    "--database",
    metavar="URL",
    envvar="EVOTE_DATABASE_URL",
    help="SQLAlchemy URL of the board database, e.g. postgresql+psycopg://... "
    "[env: EVOTE_DATABASE_URL].",
)
@click.option(
    "--official",
    "officials",
    multiple=True,
    metavar="KEY",
    help="Public key (.pub file or key) allowed to create elections; repeatable "
    "[env: EVOTE_OFFICIALS, comma-separated].",
)
def serve(
    host: str,
    port: int,
    workers: int,
    threads: int,
    timeout: int,
    dev: bool,
    data_dir: str | None,
    database: str | None,
    officials: tuple[str, ...],
) -> None:
    """Run the ballot server (API under /api/v1, voting booth, board).

    Put it behind a TLS-terminating reverse proxy in production
    (EVOTE_PROXY_HOPS=1).  Only officials listed with --official (or in
    EVOTE_OFFICIALS) can create elections.
    """
    config = server_config(data_dir=data_dir, database=database, officials=officials)
    if not config.get("EVOTE_OFFICIALS") and not os.environ.get("EVOTE_OFFICIALS"):
        note("warning: no --official given: nobody can create an election on this server")
    app = _make_app(config)  # sets up tables and the board key once, before any fork
    note(
        f"evote server on http://{host}:{port}/ "
        f"({'development server' if dev else f'gunicorn, {workers} workers x {threads} threads'})"
    )
    if dev:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
        return
    del app
    run_gunicorn(config, host, port, workers, timeout, threads)
