"""Opening and closing scheduled elections on time, with no official at the keyboard.

The official signs ``election_opened`` and a scheduled ``election_closed``
(body ``{"at": closes_at}``) in advance and posts them here
(``POST /api/v1/elections/<id>/schedule``, ``evote election schedule``); a
thread in every server process appends each one when the manifest's time
comes.  Nothing here bypasses the rules: the append goes through the ordinary
command path (:func:`ballot_server.commands.command`), under the append lock,
through the projection, so

* the board stays verifiable: the entry is the official's own signed command
  (R-SIG-*), and its time is at or after the scheduled time (R-TIME-01/04);
* with several gunicorn workers (or hosts) every scheduler tries, and exactly
  one append happens: the second finds the kind on the board (R-PHASE-03,
  409) under the lock, and is a no-op;
* an early close by the official wins: the scheduled close then finds the
  election closed and is dropped;
* a restart catches up: the first tick after start appends whatever is due.

Whether a scheduled command is still to do is always read from the board, so
the table of scheduled commands is append-only and needs no state.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, jsonify

from ballot_server.commands import check_booth
from ballot_server.context import get_service, json_body, rate_limited
from evote.encoding import Fields, canonical_json
from evote.errors import EvoteError, LifecycleError, SchemaError
from evote.kinds import ELECTION_CLOSED, ELECTION_OPENED
from evote.payloads import Command
from evote.schedule import Schedule, check_entry_time, format_time

if TYPE_CHECKING:
    from ballot_server.service import ElectionService

log = logging.getLogger(__name__)

bp = Blueprint("schedule", __name__, url_prefix="/api/v1")

#: Seconds between two looks at the scheduled commands (EVOTE_SCHEDULER_INTERVAL;
#: 0 turns the thread off).  A command is appended at most this late.
DEFAULT_INTERVAL = 2.0
EXTENSION = "evote_scheduler"
SCHEDULED_KINDS = (ELECTION_OPENED, ELECTION_CLOSED)


def schedule(svc: ElectionService, election_id: str, body: Any) -> list[dict[str, Any]]:
    """Keep the official's pre-signed ``election_opened`` / ``election_closed`` (a new
    one of a kind replaces the earlier one, until that kind is on the board).

    Checked now as far as the board allows, so a mistake shows at the
    official's keyboard and not at 08:00 on polling day: the signer (R-SIG-*),
    the open's fingerprint (R-OPEN-01, so only after set-up), and that a
    scheduled close names the manifest's ``closes_at`` (R-TIME-04).
    """
    f = Fields(body, "schedule", required=(), optional=SCHEDULED_KINDS)
    if not any(f.has(k) for k in SCHEDULED_KINDS):
        raise SchemaError("schedule: give election_opened and/or election_closed")
    facts = svc.facts(election_id)
    window = Schedule.from_manifest(facts.created.manifest)
    planned: list[tuple[str, int, Command]] = []
    for kind in SCHEDULED_KINDS:
        if not f.has(kind):
            continue
        parsed = Command.parse(kind, f.raw(kind))  # R-REC-06
        facts.board.check_signer(parsed)  # R-SIG-*
        if facts.board.count(kind):
            raise LifecycleError(f"{kind} is already on the board: nothing to schedule")
        if kind == ELECTION_OPENED:
            if window.opens_at is None:
                raise LifecycleError("the manifest has no opens_at: open the election with "
                                     "`evote election open`")
            facts.board.check(parsed)  # R-PHASE-04, R-OPEN-01: set-up must be complete
            check_booth(parsed.body, svc.booth_sha256)  # the bundle served now (422)
            due = window.opens_at
        else:
            if window.closes_at is None:
                raise LifecycleError("the manifest has no closes_at: close the election with "
                                     "`evote election close`")
            if parsed.body.at is None:
                raise SchemaError("schedule.election_closed: a scheduled close names its "
                                  "time (body {\"at\": closes_at}); an early close is posted "
                                  "as a command")
            check_entry_time(window, kind, parsed.body, window.closes_at)  # R-TIME-04
            due = window.closes_at
        planned.append((kind, due, parsed))
    for kind, due, parsed in planned:
        svc.store.add_scheduled(election_id, kind, due, canonical_json(parsed.signed.to_json())
                                .decode())
    return [{"kind": kind, "due": format_time(due)} for kind, due, _ in planned]


def schedule_json(svc: ElectionService, election_id: str) -> dict[str, Any]:
    """The election's window and its scheduled commands, each with whether it is done."""
    facts = svc.facts(election_id)
    manifest = facts.created.manifest
    rows = svc.store.scheduled(election_id)
    return {
        "opens_at": manifest.opens_at,
        "closes_at": manifest.closes_at,
        "scheduled": [
            {"kind": r.kind, "due": format_time(r.due_ms), "on_board": bool(facts.board.count(r.kind))}
            for r in rows
        ],
    }


def run_due(svc: ElectionService, now_ms: int) -> list[tuple[str, str]]:
    """Append every scheduled command that is due and not yet done; return
    ``(election, kind)`` of those this call appended.

    A command that the board refuses (another process appended it first, the
    official closed early, the election was abandoned) is dropped with a log
    line: the board decides, and the refusal wrote nothing."""
    done = []
    for row in svc.store.scheduled(due_by=now_ms):
        try:
            facts = svc.facts(row.election_id)
            if facts.board.count(row.kind) or row.kind not in facts.board.allowed_kinds():
                # on the board (appended by us, another process, the official), or no
                # longer possible (an early close came first, the election was abandoned)
                continue
            svc.command(row.election_id, row.kind, _load(row.command))
        except EvoteError as exc:
            log.info("scheduled %s of %s not appended: [%s] %s",
                     row.kind, row.election_id, exc.code, exc.message)
            continue
        log.info("scheduled %s of %s appended", row.kind, row.election_id)
        done.append((row.election_id, row.kind))
    return done


def _load(text: str) -> Any:
    from evote.encoding import parse_json

    return parse_json(text.encode())


class Scheduler:
    """The thread of one server process that runs :func:`run_due` every ``interval`` s."""

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="evote-scheduler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)

    def tick(self) -> list[tuple[str, str]]:
        """One look at the due commands, in an app context (also for tests)."""
        with self.app.app_context():
            svc = get_service()
            return run_due(svc, svc.clock())

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the thread
                log.exception("scheduler tick failed; retrying")
            self._stop.wait(self.interval)


def init_app(app: Flask, config: Mapping[str, Any]) -> None:
    """Register the schedule routes and start this process's scheduler thread.

    The thread is off under ``TESTING`` unless ``EVOTE_SCHEDULER_INTERVAL`` is
    given (tests drive :meth:`Scheduler.tick` with their own clock)."""
    app.register_blueprint(bp)
    raw = config.get("EVOTE_SCHEDULER_INTERVAL", os.environ.get("EVOTE_SCHEDULER_INTERVAL"))
    if raw is None and app.testing:
        interval = 0.0
    else:
        try:
            interval = DEFAULT_INTERVAL if raw is None else float(raw)
        except ValueError:
            from ballot_server.config import ConfigError

            raise ConfigError(f"EVOTE_SCHEDULER_INTERVAL: {raw!r} is not a number") from None
    scheduler = Scheduler(app, interval)
    app.extensions[EXTENSION] = scheduler
    if interval > 0:
        scheduler.start()


# --- routes -------------------------------------------------------------------------


@bp.post("/elections/<election:election_id>/schedule")
def post_schedule(election_id: str) -> Response:
    @rate_limited("command")
    def view() -> Response:
        planned = schedule(get_service(), election_id, json_body())
        response = jsonify({"scheduled": planned})
        response.status_code = 201
        return response

    return view()


@bp.get("/elections/<election:election_id>/schedule")
def get_schedule(election_id: str) -> Response:
    return jsonify(schedule_json(get_service(), election_id))
