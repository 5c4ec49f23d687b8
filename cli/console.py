"""How the ``evote`` commands talk to the person at the terminal.

* Results go to standard output (tables, tracking codes, public keys), so they
  can be piped; progress bars and notes go to standard error.
* Every failure the user can fix is a :class:`CliError` (or an
  :class:`evote.errors.EvoteError` from the core or the server): ``cli.main``
  prints it as one line and exits non-zero.  A traceback means a bug, and is
  shown only with ``evote --debug``.
* Long steps (bulk credential issue, casting many ballots, tallying) run inside
  :func:`progress`, a rich progress bar that degrades to a single summary line
  when standard error is not a terminal (CI logs, tests).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

EXIT_ERROR = 1
"""Exit status of every command that failed (click itself uses 2 for usage errors)."""


DEFAULT_CODE = "cli_error"
"""The code of a :class:`CliError` raised without one (a specific code is better)."""


class CliError(click.ClickException):
    """A problem the user can fix locally: a missing file, a file that would be
    overwritten, a key file of the wrong kind, a missing trustee state file.

    Every one carries a stable ``code``, shown as ``[code]`` at the end of the
    line (docs/guide.md promises it, so that a user can report it and a script
    can match on it); :func:`format_error` is the one place that formats it.
    """

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, code: str = DEFAULT_CODE) -> None:
        super().__init__(message)
        self.code = code

    def format_message(self) -> str:
        return format_error(self.message, self.code)


def format_error(message: str, code: str) -> str:
    """The message, then its stable code in brackets (on the message's last line)."""
    return f"{str(message).rstrip()} [{code}]"


def stdout() -> Console:
    """A console on the *current* ``sys.stdout`` (click's test runner swaps it)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def say(message: str) -> None:
    """A result line, on standard output."""
    click.echo(message)


def note(message: str) -> None:
    """A progress or status line, on standard error (not part of the output)."""
    click.echo(message, err=True)


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


Advance = Callable[[int], None]


@contextmanager
def progress(description: str, total: int, *, quiet: bool = False) -> Iterator[Advance]:
    """Yield ``advance(n)``; show a progress bar for ``total`` steps while the block runs.

    When standard error is not a terminal the bar is replaced by one line at the
    end (``description: 50/50 in 1.2 s``), so logs stay readable.  ``quiet``
    suppresses both (the demo runs some steps many times).
    """
    console = stderr()
    started = time.monotonic()
    done = 0
    if quiet or not console.is_terminal:

        def count(n: int = 1) -> None:
            nonlocal done
            done += n

        yield count
        if not quiet:
            console.print(f"{description}: {done}/{total} in {time.monotonic() - started:.1f} s")
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance
