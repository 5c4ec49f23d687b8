"""``evote credentials``: the credential authority's commands.

The credential authority (CA) is a separate party from the ballot server.  It
generates one Ed25519 credential per voter, hands each voter the private part
and publishes only the list of public keys (with weights).  The server never
sees a private credential, and the CA never sees a voter's login, so neither
alone can vote for someone who abstains.

Output of ``evote credentials issue --out DIR`` (DIR is created, mode 0700,
all or nothing)::

    DIR/public-credentials.json   the public list (sorted by key: the order says
                                  nothing about who got which credential)
    DIR/credentials/<id>.json     one private credential file per voter (0600)
    DIR/sheets/<id>.txt           the printable sheet as text (0600)
    DIR/sheets/<id>.svg           the printable sheet with a QR code (0600)

``<id>`` is the voter id from ``--from voters.csv`` or ``voter-000001``... The
ids stay in DIR: only the public list goes to the server.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from cli import api
from cli.client import Client
from cli.console import CliError, note, progress, say
from cli.keyfiles import json_bytes, new_directory, read_json, read_key_file
from cli.official import create_signing_key
from cli.options import OrderedGroup, ca_key_option, election_option, server_option
from cli.roster import RosterEntry, load_roster
from cli.sheets import sheet_svg, sheet_text
from evote.commands import check_election_id, sign_command
from evote.credentials import (
    MAX_CREDENTIALS,
    CredentialFile,
    CredentialList,
    PublicCredential,
    format_credential_code,
    issue_credentials,
)
from evote.errors import CredentialError, EvoteError, LifecycleError
from evote.kinds import CREDENTIALS_PUBLISHED
from evote.signing import SigningKey

PUBLIC_LIST_FILE = "public-credentials.json"
#: From this many sheets on, they are drawn by a pool of processes.
PARALLEL_SHEETS = 1000
#: Credentials made and written at a time (only their public keys are kept).
ISSUE_BATCH = 10_000


@dataclass(frozen=True)
class Issued:
    """What ``issue`` produced: the public list and, per label, the private key (none
    when issued with ``keep_private=False``)."""

    credentials: CredentialList
    private: dict[str, SigningKey]


def numbered_labels(count: int) -> list[RosterEntry]:
    width = max(6, len(str(count)))
    return [RosterEntry(f"voter-{i:0{width}d}", 1, 0) for i in range(1, count + 1)]


def issue_to_directory(
    election_id: str,
    title: str,
    voters: Sequence[RosterEntry],
    out: Path,
    *,
    sheets: bool = True,
    quiet: bool = False,
    keep_private: bool = True,
) -> Issued:
    """Generate one credential per voter and write DIR (see the module docstring).

    Keys are made and written :data:`ISSUE_BATCH` at a time, so that only the
    public keys stay in memory: a million private keys held at once (with
    their derived libsodium key pairs) took about 0.5 kB each.
    ``keep_private=False`` (the ``issue`` command) returns no private keys;
    callers that vote with them (the demo, the benchmarks) keep the default.
    """
    check_election_id(election_id)
    private: dict[str, SigningKey] = {}
    public: list[PublicCredential] = []
    with (
        new_directory(out, private=True) as put,
        progress("writing credentials", len(voters), quiet=quiet) as advance,
        _sheet_renderer(len(voters) if sheets else 0) as render,
    ):
        for start in range(0, len(voters), ISSUE_BATCH):
            batch = voters[start : start + ISSUE_BATCH]
            keys = issue_credentials(len(batch), secrets.token_bytes)
            jobs = (
                [
                    (election_id, title, format_credential_code(key), v.voter_id if v.line else None)
                    for v, key in zip(batch, keys, strict=True)
                ]
                if sheets
                else []
            )
            rendered = render(jobs)
            for voter, key in zip(batch, keys, strict=True):
                label = voter.voter_id
                put(
                    f"credentials/{label}.json",
                    json_bytes(CredentialFile(election_id, key).to_json()),
                    True,
                )
                if sheets:
                    text, svg = next(rendered)
                    put(f"sheets/{label}.txt", text, True)
                    put(f"sheets/{label}.svg", svg, True)
                public.append(PublicCredential(key.verify_key, voter.weight))
                if keep_private:
                    private[label] = key
                advance(1)
        # Sorted, and checked for a key made twice (in any batch), before DIR is kept.
        credentials = CredentialList(tuple(public))
        del public
        put(PUBLIC_LIST_FILE, json_bytes(credentials.to_json()), False)
    return Issued(credentials, private)


def _render_sheet(job: tuple[str, str, str, str | None]) -> tuple[bytes, bytes]:
    election_id, title, code, voter_id = job
    args = {"election_id": election_id, "title": title, "code": code, "voter_id": voter_id}
    return sheet_text(**args).encode("utf-8"), sheet_svg(**args).encode("utf-8")


@contextlib.contextmanager
def _sheet_renderer(count: int) -> Iterator[Callable[[list], Iterator[tuple[bytes, bytes]]]]:
    """``render(jobs)`` yields each job's (text, svg) in order; in parallel processes for
    large batches (a QR code takes milliseconds: 100,000 of them take minutes on one core)."""
    workers = min(os.cpu_count() or 1, 8)
    if count < PARALLEL_SHEETS or workers < 2:
        yield lambda jobs: map(_render_sheet, jobs)
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        yield lambda jobs: pool.map(_render_sheet, jobs, chunksize=256)


def publish_credentials(
    client: Client, key: SigningKey, election_id: str, credentials: CredentialList
) -> None:
    """Post the public list, signed by the credential authority (credentials_published)."""
    body = {"credentials": credentials.to_json()}
    api.post_command(
        client,
        election_id,
        CREDENTIALS_PUBLISHED,
        sign_command(key, election_id, CREDENTIALS_PUBLISHED, body),
        key,
    )


def _check_authority(client: Client, key: SigningKey, election_id: str) -> str:
    """The election's title, after checking this key is its credential authority."""
    view = api.fetch_board(client, election_id)
    if view.setup.credential_authority.raw != key.verify_key.raw:
        raise CliError(
            f"wrong key file: this key is not the credential authority of election {election_id!r}", code="wrong_file"
        )
    if not view.allows(CREDENTIALS_PUBLISHED):
        raise LifecycleError(
            f"election {election_id!r} is {view.phase.value}; credentials can only be "
            "published before it opens"
        )
    return view.setup.manifest.label()


@click.group(cls=OrderedGroup)
def credentials() -> None:
    """The credential authority: voter credentials, separate from the ballot server."""


@credentials.command("init")
@click.option(
    "--key",
    "key_path",
    default="credential-authority.key",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the new signing key (mode 0600; never overwritten).",
)
def init_command(key_path: str) -> None:
    """Make the credential authority's signing key (and its .pub file).

    Give the public key to the official, who names it when creating the
    election (`evote election create --credential-authority ca.pub`).
    """
    key = create_signing_key(key_path, "credential-authority")
    note(f"wrote {key_path} (secret) and its public key")
    say(key.verify_key.to_json())


@credentials.command("issue")
@election_option
@click.option(
    "--count",
    type=click.IntRange(1, MAX_CREDENTIALS),
    help="Number of credentials to make (files named voter-000001...).",
)
@click.option(
    "--from",
    "roster_path",
    type=click.Path(dir_okay=False),
    help="voters.csv (voter_id[,weight]): one credential per voter, files named by id.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="New directory for the private credentials, sheets and public list.",
)
@server_option
@ca_key_option
@click.option(
    "--sheets/--no-sheets",
    default=True,
    show_default=True,
    help="Write a printable sheet (text and SVG with a QR code) per voter.",
)
def issue_command(
    election_id: str,
    count: int | None,
    roster_path: str | None,
    out_dir: str,
    server: str,
    key_path: str,
    sheets: bool,
) -> None:
    """Generate voter credentials, write them to DIR, publish the public list.

    Each private credential goes to its own file (and printable sheet) in
    DIR, for the voter alone; the server receives only the public keys and
    weights, in key order, with no voter id.
    """
    if (count is None) == (roster_path is None):
        raise click.UsageError("give exactly one of --count N or --from voters.csv")
    voters = load_roster(roster_path) if roster_path else numbered_labels(count or 0)
    key = read_key_file(key_path, "credential-authority")
    with Client(server) as client:
        title = _check_authority(client, key, election_id)
        issued = issue_to_directory(
            election_id, title, voters, Path(out_dir), sheets=sheets, keep_private=False
        )
        note(f"wrote {len(voters)} credentials to {out_dir}")
        try:
            publish_credentials(client, key, election_id, issued.credentials)
        except EvoteError as exc:
            raise CliError(
                f"the credentials were written to {out_dir} but not published: {exc.message}; "
                f"retry with `evote credentials publish {out_dir}/{PUBLIC_LIST_FILE} "
                f"--election {election_id}`", code=exc.code
            ) from None
    say(
        f"published {len(issued.credentials)} public credentials for {election_id} "
        f"(total weight {issued.credentials.total_weight})"
    )


@credentials.command("publish")
@click.argument("list_path", metavar="PUBLIC_LIST", type=click.Path(dir_okay=False))
@election_option
@server_option
@ca_key_option
def publish_command(list_path: str, election_id: str, server: str, key_path: str) -> None:
    """Post an already issued public-credentials.json (to retry a failed upload)."""
    try:
        public = CredentialList.from_json(read_json(list_path, "credential list"))
    except CredentialError as exc:
        raise CredentialError(f"{list_path}: {exc.message}") from None
    key = read_key_file(key_path, "credential-authority")
    with Client(server) as client:
        _check_authority(client, key, election_id)
        publish_credentials(client, key, election_id, public)
    say(f"published {len(public)} public credentials for {election_id}")
