"""``evote official``: the election official's signing key.

The official signs every lifecycle command (create, publish the key, open,
close, tally, result).  The server accepts ``election_created`` only from keys
on its allow-list (``evote serve --official official.pub``), and every later
official command only from the key named in that election's first entry, so
this key file is what makes someone "the official" of an election.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from cli.console import CliError, note, say
from cli.keyfiles import public_key_text, write_key_file, write_new_file
from cli.options import OrderedGroup
from evote.signing import SigningKey


def create_signing_key(path: str | Path, role: str) -> SigningKey:
    """Make a fresh key for ``role`` at ``path`` (0600) and its public half at ``path.pub``.

    Refuses to overwrite either file: losing the official's key mid-election
    would leave nobody able to close it.
    """
    key_path = Path(path)
    pub_path = key_path.with_name(key_path.name.removesuffix(".key") + ".pub")
    for existing in (key_path, pub_path):
        if existing.exists():
            raise CliError(f"{existing} already exists; refusing to overwrite it", code="already_exists")
    key = SigningKey.generate(secrets.token_bytes)
    write_key_file(key_path, role, key)
    write_new_file(pub_path, public_key_text(key.verify_key), secret=False)
    return key


@click.group(cls=OrderedGroup)
def official() -> None:
    """The election official: creates, opens, closes and tallies elections."""


@official.command("init")
@click.option(
    "--key",
    "key_path",
    default="official.key",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the new signing key (mode 0600; never overwritten).",
)
def init(key_path: str) -> None:
    """Make the official's signing key.

    Writes KEY (secret, mode 0600) and KEY with .pub instead of .key (the
    public key, one line).  Give the public key to the server operator, who
    starts the server with `evote serve --official official.pub`.
    """
    key = create_signing_key(key_path, "official")
    note(f"wrote {key_path} (secret, keep it offline) and its public key")
    say(key.verify_key.to_json())
