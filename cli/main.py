"""``evote``: run an end-to-end verifiable election from the command line.

The command tree (``evote --help`` and ``evote COMMAND --help`` are the manual;
docs/guide.md walks through a whole election)::

    evote official init                       the official's signing key
    evote election create|open|close|tally|status|result|export
    evote credentials init|issue|publish      the credential authority
    evote voters register                     voter logins (server side)
    evote trustee init|keygen|shares|decrypt  one trustee, on its own machine
    evote vote                                cast (or audit) a ballot from a terminal
    evote receipt check|fetch                 is my ballot still on the board? (fetch: by code)
    evote serve                               run the ballot server
    evote witness init|run                    an independent witness of the board
    evote demo                                a whole election on this machine

Error handling lives here, in one place: every :class:`evote.errors.EvoteError`
(raised locally or returned by the server), every unreachable server and every
unreadable file becomes one line on standard error and exit status 1.  A
traceback is a bug; ``evote --debug`` shows it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import httpx

from cli import (
    credentials,
    demo,
    election,
    mixer,
    official,
    receipt,
    serve,
    trustee,
    vote,
    voters,
    witness,
)
from cli.console import EXIT_ERROR, CliError, format_error
from cli.options import OrderedGroup
from evote.errors import EvoteError

EXIT_INTERRUPTED = 130


class EvoteGroup(OrderedGroup):
    """The top-level group: turns expected failures into one-line errors.

    Doing this in the group (not only in :func:`main`) means click's test
    runner sees exactly what a user sees.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            # click's own format (usage line, "Error: ..."), with a code like every failure
            if not exc.message.endswith("[usage]"):
                exc.message = format_error(exc.message, "usage")
            raise
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except EvoteError as exc:
            if ctx.params.get("debug"):
                raise
            raise CliError(" ".join(str(exc.message).split()), code=exc.code) from exc
        except httpx.HTTPError as exc:
            if ctx.params.get("debug"):
                raise
            raise CliError(f"HTTP error: {exc}", code="unreachable") from exc
        except OSError as exc:
            if ctx.params.get("debug"):
                raise
            where = f" {exc.filename}" if exc.filename else ""
            raise CliError(f"cannot use{where}: {exc.strerror or exc}", code="io_error") from exc
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _show_error(self: click.ClickException, file: object = None) -> None:
    click.echo(f"error: {self.format_message()}", err=True)


# Every one-line error reads "error: ..." (click's own usage errors keep their format).
CliError.show = _show_error  # type: ignore[method-assign]


@click.group(cls=EvoteGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show a traceback when a command fails.")
@click.version_option(package_name="evote", prog_name="evote")
def cli(debug: bool) -> None:
    """End-to-end verifiable elections: every ballot is encrypted and signed on
    the voter's device, published on an append-only board, and counted by a
    homomorphic tally that anyone can re-check.

    \b
    Roles and their commands, in the order an election uses them:
      official              evote official init; evote election create/open/close/tally
      credential authority  evote credentials init; evote credentials issue
      voter registrar       evote voters register
      trustee (each)        evote trustee init/keygen/shares/decrypt
      voter                 evote vote; evote receipt check
      auditor               evote election status/result/export; evote-verify
      server operator       evote serve

    Try `evote demo` to watch a whole election run on this machine, and read
    docs/guide.md for a real one.  Server URLs and key files can be given once
    in the environment (EVOTE_SERVER, EVOTE_OFFICIAL_KEY, ...).
    """


for group in (
    official.official,
    election.election,
    credentials.credentials,
    voters.voters,
    trustee.trustee,
    mixer.mixer,
    vote.vote,
    receipt.receipt,
    serve.serve,
    demo.demo,
    witness.witness,
):
    cli.add_command(group)
mixer.register_trustee_mix(trustee.trustee)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``evote``); exits with the command's status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = cli.main(args=args, prog_name="evote", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(EXIT_ERROR)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
