"""Each process's *own* peak memory, sampled from ``/proc`` (Linux), for ``bench/city.py``.

``getrusage(RUSAGE_CHILDREN)`` gives the largest peak of any waited-for
descendant, and a forked child starts with its parent's peak counted in; neither
says what one worker process needed.  ``VmHWM`` in ``/proc/<pid>/status`` is the
high-water mark of that process's resident set since it started (``exec`` resets
it, so a ``spawn``-ed worker counts only itself; it includes the pages of mapped
files, such as SQLite's memory-mapped database, so the largest ``RssAnon`` seen
-- the process's own heap -- is kept beside it), and writing ``5`` to
``/proc/<pid>/clear_refs`` resets it to the current RSS -- which lets a long-lived
process (the ballot server's workers, the bench itself) be measured step by step.

:class:`PeakSampler` polls a set of root processes and all their descendants in a
thread and keeps the largest ``VmHWM`` seen per pid.  A process that exits
between two polls loses at most its last interval's growth; the peaks measured
here are reached during the work, not in the last fraction of a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.server_cpu import PROC  # one /proc/PID/stat reader
from bench.server_cpu import proc_stat as _stat


@dataclass
class ProcessPeak:
    pid: int
    role: str
    depth: int
    peak_kb: int
    cpu_s: float = 0.0  # user + system CPU seconds, as last seen
    anon_kb: int = 0  # the largest RssAnon seen (sampled): VmHWM also counts mapped files

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    @property
    def anon_mb(self) -> float:
        return self.anon_kb / 1024


def _status_kb(pid: int, *fields: str) -> list[int] | None:
    """The ``fields`` of ``/proc/<pid>/status`` in kB (None if the process is gone)."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    values = dict.fromkeys(fields, 0)
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0])
    return [values[f] for f in fields]


def _parent(pid: int) -> int | None:
    st = _stat(pid)
    return None if st is None else st[0]


def role_of(pid: int) -> str:
    """A short name for what the process runs, from its command line."""
    try:
        cmd = (PROC / str(pid) / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return "?"
    joined = " ".join(cmd)
    if "resource_tracker" in joined:
        return "multiprocessing resource tracker"
    if "LocalCluster" in joined:
        return "dask scheduler (LocalCluster)"
    if "spawn_main" in joined or "forkserver" in joined:
        return "worker"
    if "gunicorn" in joined or " serve " in f" {joined} ":
        return "server"
    for i, part in enumerate(cmd):
        if part == "-m" and i + 1 < len(cmd):
            rest = [a for a in cmd[i + 2 :] if a and not a.startswith("-")][:2]
            return " ".join([cmd[i + 1], *rest])
    name = Path(cmd[1]).name if len(cmd) > 1 and cmd[1] else Path(cmd[0]).name
    return name or "?"


def descendants(roots: Iterable[int]) -> dict[int, int]:
    """``{pid: depth}`` of ``roots`` (depth 0) and every live process below them."""
    parents: dict[int, int] = {}
    for p in PROC.iterdir():
        if p.name.isdigit() and (ppid := _parent(int(p.name))) is not None:
            parents[int(p.name)] = ppid
    found = {r: 0 for r in roots}
    frontier = set(found)
    depth = 0
    while frontier:
        depth += 1
        children = {pid for pid, ppid in parents.items() if ppid in frontier and pid not in found}
        for c in children:
            found[c] = depth
        frontier = children
    return found


def reset_peak(pids: Iterable[int]) -> None:
    """Reset each process's VmHWM to its current RSS (``clear_refs``; own processes only)."""
    for pid in pids:
        try:
            (PROC / str(pid) / "clear_refs").write_text("5")
        except OSError:
            pass


class PeakSampler:
    """Poll ``roots()`` and their descendants every ``interval`` seconds; keep each pid's
    largest VmHWM.  Use as a context manager; :attr:`peaks` after the block."""

    def __init__(
        self, roots: Callable[[], Iterable[int]], interval: float = 0.2, *, descend: bool = True
    ) -> None:
        self._roots = roots
        self._descend = descend
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._peaks: dict[int, ProcessPeak] = {}
        self._cpu0: dict[int, float] = {}

    def _poll(self) -> None:
        roots = list(self._roots())
        found = descendants(roots) if self._descend else dict.fromkeys(roots, 0)
        for pid, depth in found.items():
            status = _status_kb(pid, "VmHWM", "RssAnon")
            st = _stat(pid)
            if status is None or st is None:
                continue
            hwm, anon = status
            seen = self._peaks.get(pid)
            if seen is None:
                seen = self._peaks[pid] = ProcessPeak(pid, role_of(pid), depth, hwm)
                self._cpu0.setdefault(pid, 0.0)
            seen.peak_kb = max(seen.peak_kb, hwm)
            seen.anon_kb = max(seen.anon_kb, anon)
            seen.cpu_s = st[1] - self._cpu0[pid]

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._poll()

    def __enter__(self) -> PeakSampler:
        # Processes alive now (the server, the bench) count CPU from here on; the ones that
        # start later count from zero.
        for pid in descendants(self._roots()):
            if (st := _stat(pid)) is not None:
                self._cpu0[pid] = st[1]
        self._poll()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    @property
    def peaks(self) -> list[ProcessPeak]:
        return sorted(self._peaks.values(), key=lambda p: (p.depth, p.pid))
