"""CPU seconds spent by the benchmark's server processes, read from ``/proc`` (Linux).

On a machine shared with other work, ballots per second say as much about the
neighbours as about the server.  CPU seconds per ballot do not: they count
only what the server's own processes burnt.  ``bench/server.py`` samples the
gunicorn master and its workers (and, on PostgreSQL, the private cluster's
postmaster and every process it forked) right before and right after the
load, and divides by the ballots cast.

A process that exits between the two samples takes its CPU time with it;
none is expected to (gunicorn workers and pooled database connections live
for the whole run), and one that appears in between is counted from zero.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> tuple[int, float] | None:
    """``(parent pid, user + system CPU seconds)`` of ``pid``, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _cmdline(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode("utf-8", "replace").split("\0")


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def _with_descendants(roots: Iterable[int]) -> list[int]:
    parents = {pid: st[0] for pid in _pids() if (st := proc_stat(pid)) is not None}
    found = list(roots)
    frontier = set(found)
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier and pid not in found]
        found.extend(children)
        frontier = set(children)
    return found


def server_processes(port: int) -> list[int]:
    """The ``evote serve`` process listening on ``port`` (the gunicorn master) and its workers."""
    masters = [
        pid
        for pid in _pids()
        if "serve" in (cmd := _cmdline(pid))
        and "cli.main" in cmd
        and "--port" in cmd
        and cmd[cmd.index("--port") + 1 :][:1] == [str(port)]
    ]
    return _with_descendants(masters)


def postgres_processes(pgdata: str | None) -> list[int]:
    """The postmaster serving data directory ``pgdata`` and every process it started
    (backends, WAL writer, checkpointer); empty when ``pgdata`` is unknown."""
    if not pgdata:
        return []
    target = os.path.realpath(pgdata)
    masters = [
        pid
        for pid in _pids()
        if "-D" in (cmd := _cmdline(pid))
        and os.path.realpath(cmd[cmd.index("-D") + 1] if cmd.index("-D") + 1 < len(cmd) else "")
        == target
    ]
    return _with_descendants(masters)


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds so far of each process still alive."""
    return {pid: st[1] for pid in pids if (st := proc_stat(pid)) is not None}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two samples (processes new in ``after`` count from zero)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
