"""``evote-verify``: check an election record, a voter's receipt, or an audited ballot.

    evote-verify SOURCE                         every check of the record (same as
                                                ``evote-verify record SOURCE``)
    evote-verify receipt RECEIPT SOURCE         is my ballot on the board, unchanged?
    evote-verify audit FILE SOURCE              did my device encrypt what I chose?
                                                (``--source SOURCE``: the old spelling)

SOURCE is a record directory, a ``.zip`` of one, or a server URL (with
``--election ID``).  Exit codes: 0 every check passed; 1 a check failed; 2 the
record could not be read, or the command line was wrong (``docs/verifier.md``).

This package imports nothing but :mod:`evote` (and click, rich, httpx): an
auditor needs no server code, no database and no secrets.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

from evote.encoding import parse_json
from evote.errors import EvoteError
from evote.signing import VerifyKey
from verifier import parallel
from verifier.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREADABLE,
    BoardKeyMismatch,
    FileUnreadable,
    RecordUnreadable,
    VerifierError,
)
from verifier.record import Record
from verifier.report import Report, render_html, render_table
from verifier.sources import DirectorySource, ServerSource, Source, ZipSource


def open_source(spec: str, *, election: str | None = None, board_key: str | None = None) -> Source:
    """A directory, a .zip archive, or ``http(s)://server`` with an election id."""
    pinned = None
    if board_key is not None:
        try:
            pinned = VerifyKey.from_json(board_key)
        except EvoteError as exc:
            raise click.BadParameter(exc.message, param_hint="--board-key") from None
    if spec.startswith(("http://", "https://")):
        if not election:
            raise click.UsageError("a server URL needs --election ID")
        return ServerSource(spec, election, board_key=pinned)
    path = Path(spec)
    if path.is_dir():
        return DirectorySource(path)
    if path.is_file():
        return ZipSource(path)
    raise RecordUnreadable("no such directory, archive or server URL", where=spec)


def load_record(source: Source, board_key: str | None) -> Record:
    """Load the record; a pinned ``--board-key`` must be the record's."""
    record = Record.load(source)
    if board_key is not None and record.board_key.to_json() != board_key:
        raise BoardKeyMismatch(
            f"the record is signed by another board key ({record.board_key.to_json()}) "
            f"than the pinned --board-key ({board_key})",
            where=source.description,
        )
    return record


class _Progress:
    """A progress bar in entries, with ballots/s and ETA (stderr; off when not a TTY)."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("entries  {task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            disable=not enabled,
        )
        self.task = self.progress.add_task("verify", total=total, rate="")

    def __enter__(self) -> _Progress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def update(self, entries: int, ballots: int) -> None:
        elapsed = time.perf_counter() - self.started
        rate = f"{ballots / elapsed:,.0f} ballots/s" if elapsed > 0 else ""
        self.progress.update(self.task, completed=entries, rate=rate)


def _emit(report: Report, *, as_json: bool, html: Path | None, quiet: bool) -> None:
    if html is not None:
        try:
            html.write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            click.echo(f"error: cannot write {html}: {exc.strerror}", err=True)
            sys.exit(EXIT_UNREADABLE)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    elif not quiet:
        render_table(report, Console())
    elif report.abandoned and report.ok:
        click.echo("VERIFIED (abandoned election)")
    else:
        click.echo("VERIFIED" if report.ok else "NOT VERIFIED: " + ", ".join(report.failed()))


def _run(action: Callable[[], Report], *, as_json: bool, html: Path | None, quiet: bool) -> None:
    """Run a verification and exit with its code; unreadable input exits 2 with a diagnosis."""
    try:
        report = action()
    except VerifierError as exc:
        click.echo(f"error: {exc.diagnostics()}", err=True)
        sys.exit(exc.exit_code)
    _emit(report, as_json=as_json, html=html, quiet=quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


_output_options = [
    click.option("--json", "as_json", is_flag=True, help="Print the machine-readable report."),
    click.option("--html", type=click.Path(dir_okay=False, writable=True, path_type=Path),
                 help="Also write the report as a self-contained HTML page."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar; one-line verdict."),
]
_source_options = [
    click.option("--election", help="Election id (needed with a server URL)."),
    click.option("--board-key", help="Pin the board's public key (base64url); recommended "
                 "with a server URL."),
]


def _options(options: list) -> Callable[[Any], Any]:
    def wrap(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return wrap


class _DefaultToRecord(click.Group):
    """``evote-verify SOURCE`` means ``evote-verify record SOURCE``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((a for a in args if not a.startswith("-")), None)
        if first is not None and first not in self.commands and args[:1] != ["--help"]:
            args = ["record", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToRecord)
@click.version_option(package_name="evote", prog_name="evote-verify")
def cli() -> None:
    """Verify an evote election: the whole record, a receipt, or an audited ballot.

    Exit codes: 0 all checks passed, 1 a check failed, 2 unreadable record or usage error.
    """


@cli.command("record")
@click.argument("source")
@_options(_source_options)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes checking ballots (default: every core; 1 = no subprocess).")
@click.option("--dask-scheduler", metavar="ADDRESS",
              help="Check ballots on this Dask distributed cluster instead (needs evote[dask]).")
@click.option("--in-progress", is_flag=True,
              help="The election is not tallied yet: skip the tally checks instead of failing.")
@_options(_output_options)
def record_command(source: str, election: str | None, board_key: str | None,
                   workers: int | None, dask_scheduler: str | None, in_progress: bool,
                   as_json: bool, html: Path | None, quiet: bool) -> None:
    """Run every check (numbered as in docs/verifier.md) over an election record."""
    from verifier.checks import verify_record

    def action() -> Report:
        src = open_source(source, election=election, board_key=board_key)
        try:
            record = load_record(src, board_key)
            n = workers or parallel.default_workers()
            if dask_scheduler:
                def factory(ctx: Any) -> parallel.Runner:
                    return parallel.DaskRunner(ctx, dask_scheduler)
            elif n == 1:
                factory = parallel.InlineRunner
            else:
                def factory(ctx: Any) -> parallel.Runner:
                    return parallel.ProcessRunner(ctx, n)
            show = not quiet and not as_json and Console(stderr=True).is_terminal
            with _Progress(record.latest_head.size, show) as bar:
                return verify_record(record, runner_factory=factory,
                                     progress=bar.update, in_progress=in_progress)
        finally:
            src.close()

    _run(action, as_json=as_json, html=html, quiet=quiet)


def _read_json_file(path: Path, what: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileUnreadable(f"cannot read the {what}: {exc.strerror}", where=str(path)) from None
    try:
        return parse_json(data)
    except EvoteError as exc:
        raise FileUnreadable(f"the {what} is not JSON: {exc.message}", where=str(path)) from None


@cli.command("receipt")
@click.argument("receipt_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("source")
@_options(_source_options)
@_options(_output_options)
def receipt_command(receipt_file: Path, source: str, election: str | None,
                    board_key: str | None, as_json: bool, html: Path | None, quiet: bool) -> None:
    """Check that a receipt's ballot is on the board, unchanged, and never rewritten since."""
    from verifier.receipt import verify_receipt

    action = _file_against_record(receipt_file, "receipt", source, election, board_key,
                                  verify_receipt)
    _run(action, as_json=as_json, html=html, quiet=quiet)


@cli.command("audit")
@click.argument("audit_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("source", required=False)
@click.option("--source", "source_option", metavar="SOURCE",
              help="Deprecated spelling of the SOURCE argument (still accepted).")
@_options(_source_options)
@_options(_output_options)
def audit_command(audit_file: Path, source: str | None, source_option: str | None,
                  election: str | None, board_key: str | None,
                  as_json: bool, html: Path | None, quiet: bool) -> None:
    """Check an audited ballot (from the booth or `evote vote --audit`) against the election.

    SOURCE comes after the file, as for `evote-verify receipt RECEIPT SOURCE`."""
    from verifier.audit import verify_audit_file

    source = _one_source(source, source_option, note=not (as_json or quiet))

    action = _file_against_record(audit_file, "audited ballot", source, election, board_key,
                                  verify_audit_file)
    _run(action, as_json=as_json, html=html, quiet=quiet)


def _file_against_record(path: Path, what: str, source: str, election: str | None,
                         board_key: str | None,
                         verify: Callable[[Record, Any], Report]) -> Callable[[], Report]:
    """The action of a one-file command (receipt, audit): read the JSON file, load the
    record from SOURCE and check the file against it, closing the source after."""

    def action() -> Report:
        obj = _read_json_file(path, what)
        src = open_source(source, election=election, board_key=board_key)
        try:
            return verify(load_record(src, board_key), obj)
        finally:
            src.close()

    return action


def _one_source(argument: str | None, option: str | None, *, note: bool) -> str:
    """SOURCE from the argument, or from the deprecated ``--source`` option (with a note,
    on standard error, unless the output is for a machine: ``--json`` or ``--quiet``)."""
    if option is not None:
        if argument is not None and argument != option:
            raise click.UsageError("give SOURCE once: as the argument (--source is its old "
                                   "spelling)")
        if note:
            click.echo("note: `--source SOURCE` is deprecated; write SOURCE after the file "
                       "(evote-verify audit FILE SOURCE)", err=True)
        return option
    if argument is None:
        raise click.UsageError("Missing argument 'SOURCE' (the record directory, .zip or "
                               "server URL).")
    return argument


def _terminated(signum: int, frame: Any) -> None:
    # Turn SIGTERM into an ordinary exit, so that worker pools are shut down.
    sys.exit(128 + signum)


def main() -> None:
    """Console-script entry point (``evote-verify``)."""
    signal.signal(signal.SIGTERM, _terminated)
    cli(prog_name="evote-verify")


if __name__ == "__main__":
    main()
