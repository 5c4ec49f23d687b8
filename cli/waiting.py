"""Waiting for other parties: trustees for each other, the official for the trustees.

The key ceremony and the decryption are rounds between people on different
machines, and the board is the only channel between them.  A command that
needs others' messages polls the board until they are there, showing who is
still missing, and gives up after ``timeout`` seconds with a message that says
whom it was waiting for and which command to re-run (every round is
idempotent: re-running posts only what is not on the board yet).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from cli.console import CliError, note

T = TypeVar("T")

DEFAULT_TIMEOUT = 600.0
POLL_INTERVAL = 1.0


def wait_until(
    check: Callable[[], tuple[T | None, str]],
    *,
    timeout: float,
    what: str,
    retry_hint: str,
    interval: float = POLL_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    code: str = "not_ready",
) -> T:
    """Call ``check()`` until it returns ``(value, _)`` with a value; return that value.

    ``check`` returns ``(None, "waiting for trustees 2, 3")`` while not ready;
    the reason is shown whenever it changes.  With ``timeout`` 0 it checks once.
    Raises :class:`CliError` (``code``) naming ``what``, the last reason and
    ``retry_hint`` on timeout.
    """
    deadline = clock() + timeout
    last_reason = ""
    while True:
        value, reason = check()
        if value is not None:
            return value
        if clock() >= deadline:
            raise CliError(f"{what}: {reason}; {retry_hint}", code=code)
        if reason != last_reason:
            note(f"{reason} …")
            last_reason = reason
        sleep(interval)


def names(indices: list[int], word: str = "trustee") -> str:
    """``[2]`` -> "trustee 2", ``[2, 3]`` -> "trustees 2, 3"."""
    if len(indices) == 1:
        return f"{word} {indices[0]}"
    return f"{word}s {', '.join(str(i) for i in indices)}"
