"""``evote witness init|run``: an independent witness of ballot-server boards.

A witness runs on a machine its operator controls (not the ballot server's),
with its own Ed25519 key.  ``run`` polls the server: for each election it GETs
the latest checkpoint, GETs a consistency proof from the size it cosigned
last, lets :func:`evote.witness.observe` decide, and only then POSTs its
cosignature back.  The order within one round is the guarantee:

1. verify (board signature, origin, consistency with the last cosigned tree);
2. write the new state durably: temporary file, fsync, rename over
   ``state.json``, fsync the directory;
3. only then sign and post the cosignature.

So a witness killed at any instant restarts from a state at least as new as
anything it ever cosigned, and can never be walked onto a second history.
When the server misbehaves the witness refuses, writes the evidence (both
board-signed checkpoints and the failed proof) under ``evidence/`` and keeps
polling.  The directory holds::

    witness.key    the witness's name and Ed25519 key (0600)
    state.json     per board origin: the last cosigned size, root and checkpoint
    evidence/      one JSON file per refused checkpoint (docs/witness.md)
    lock           held while `run` runs: one process per directory

docs/witness.md says how to run one for a real election.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from cli.client import Client
from cli.console import CliError, note, say, warn
from cli.keyfiles import (
    SECRET_MODE,
    json_bytes,
    read_json,
    warn_if_exposed,
    write_new_file,
    write_temp,
)
from cli.options import server_option
from evote.checkpoint import (
    SIG_COSIGNATURE_V1,
    Checkpoint,
    Note,
    NoteKey,
    check_key_name,
    election_origin,
)
from evote.commands import check_election_id
from evote.encoding import Fields, b64decode
from evote.errors import BoardMisbehaviour, EncodingError, EvoteError, SchemaError
from evote.merkle import HASH_SIZE
from evote.signing import SigningKey, VerifyKey
from evote.witness import (
    LogState,
    WitnessKey,
    WitnessState,
    cosign_state,
    observe,
    proof_needed,
)

KEY_FILE = "witness.key"
STATE_FILE = "state.json"
EVIDENCE_DIR = "evidence"
LOCK_FILE = "lock"
KEY_TYPE = "evote-witness-key"
KEY_VERSION = 1
DEFAULT_INTERVAL = 30.0


# --- durable files ---------------------------------------------------------------------


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new name in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that, after any crash, it holds the old
    bytes or the new bytes, and the new bytes once this returns.

    Temporary file in the same directory, write, fsync, rename over ``path``,
    fsync the directory (the rename itself is only durable after that).
    """
    tmp = write_temp(path.parent, data, SECRET_MODE, prefix=f".{path.name}.")
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(path.parent)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete what a killed :func:`write_durably` left behind (never the state itself)."""
    for leftover in directory.glob(f".{STATE_FILE}.*"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def load_state(directory: Path) -> WitnessState:
    return WitnessState.from_json(read_json(directory / STATE_FILE, "witness state file"))


def save_state(directory: Path, state: WitnessState) -> None:
    write_durably(directory / STATE_FILE, json_bytes(state.to_json()))


def save_evidence(directory: Path, election: str, exc: BoardMisbehaviour) -> Path | None:
    """Keep the evidence of a refusal (once per distinct refused checkpoint)."""
    folder = directory / EVIDENCE_DIR
    same = {k: v for k, v in exc.evidence.items() if k != "observed_at"}  # not per poll
    digest = hashlib.sha256(json_bytes(same)).hexdigest()[:16]
    path = folder / f"{election}-{exc.reason}-{digest}.json"
    if path.exists():
        return None
    write_durably(path, json_bytes(exc.evidence))
    return path


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """One ``run`` per witness directory: two would race on the state file."""
    with open(directory / LOCK_FILE, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CliError(f"another witness is already running on {directory}", code="busy") from None
        yield


# --- the key file ---------------------------------------------------------------------


def key_file_json(name: str, key: SigningKey) -> dict[str, Any]:
    return {
        "type": KEY_TYPE,
        "v": KEY_VERSION,
        "name": name,
        "secret": key.to_json(),
        "public": key.verify_key.to_json(),
    }


def read_witness_key(path: Path) -> tuple[str, SigningKey]:
    obj = read_json(path, "witness key file")
    warn_if_exposed(path, "witness key file")
    try:
        f = Fields(obj, str(path), required={"type", "v", "name", "secret", "public"})
        if f.raw("type") != KEY_TYPE or f.raw("v") != KEY_VERSION:
            raise SchemaError(f"{path} is not an evote witness key file")
        name = check_key_name(f.str("name", max_len=256), "witness name")
        key = SigningKey.from_json(f.raw("secret"))
        if key.verify_key.raw != VerifyKey.from_json(f.raw("public")).raw:
            raise SchemaError(f"{path}: the public key does not match the secret key")
    except EvoteError as exc:
        raise CliError(f"wrong witness key file: {exc.message}", code="wrong_file") from None
    return name, key


# --- one round --------------------------------------------------------------------------


def _member(body: Any, key: str, what: str) -> Any:
    """One member of a JSON object the server answered (extra members are ignored)."""
    if not isinstance(body, dict) or key not in body:
        raise SchemaError(f"{what}: the server's answer has no {key!r}")
    return body[key]


def _note_text(body: Any, what: str) -> str:
    text = _member(body, "checkpoint", what)
    if not isinstance(text, str):
        raise SchemaError(f"{what}: 'checkpoint' is not text")
    return text


def _hashes(value: Any, path: str) -> list[bytes]:
    if not isinstance(value, list) or len(value) > 128:
        raise SchemaError(f"{path}: expected a list of hashes")
    return [b64decode(h, length=HASH_SIZE, what=f"{path}[{i}]") for i, h in enumerate(value)]


class Witness:
    """The I/O around :func:`evote.witness.observe`: fetch, persist, cosign, post."""

    def __init__(
        self,
        directory: Path,
        client: Client,
        *,
        board_key: VerifyKey | None,
        clock: Any = time.time,
    ) -> None:
        self.directory = directory
        self.client = client
        self.name, self.key = read_witness_key(directory / KEY_FILE)
        self.state = load_state(directory)
        if self.state.name != self.name:
            raise CliError(f"{STATE_FILE} belongs to witness {self.state.name}, not {self.name}",
                           code="wrong_file")
        self.board_key = board_key
        self.clock = clock
        self.note_key = NoteKey(self.name, SIG_COSIGNATURE_V1, self.key.verify_key)

    def _board_key(self, election: str) -> VerifyKey:
        """The trusted board key: given, else pinned in the state, else the server's (pinned now)."""
        if self.board_key is not None:
            return self.board_key
        pinned = {log.board_key.raw for log in self.state.logs}
        if len(pinned) == 1:
            return next(log.board_key for log in self.state.logs)
        if pinned:
            raise CliError("the state file follows several boards: give --board-key",
                           code="ambiguous")
        key = VerifyKey.from_json(_member(self.client.get("/board-key"), "board_key", "board key"))
        warn(f"trusting the server's board key {key.to_json()} on first use for {election}")
        self.board_key = key
        return key

    def round(self, election: str) -> str:
        """Check the election's latest checkpoint and cosign it if consistent; say what happened."""
        board_key = self._board_key(election)
        origin = election_origin(board_key, election)
        base = f"/elections/{election}"
        note_text = _note_text(self.client.get(f"{base}/checkpoint"), "checkpoint")
        presented = Checkpoint.parse(Note.parse(note_text).text)
        prior = self.state.log(origin)
        proof = None
        need = proof_needed(prior, presented)
        if need is not None:
            got = self.client.get(
                f"{base}/consistency", params={"first": need[0], "second": need[1]}
            )
            proof = _hashes(_member(got, "proof", "consistency"), "proof")
        now = int(self.clock())
        args = {"board_key": board_key, "origin": origin, "proof": proof,
                "witness": self.name, "now": now}  # fmt: skip
        try:
            accepted = self._observe(prior, note_text, args, base)
        except BoardMisbehaviour as exc:
            path = save_evidence(self.directory, election, exc)
            where = f"; evidence in {path}" if path else " (evidence already kept)"
            return f"REFUSED {election} size {presented.size}: {exc.message}{where}"
        if accepted != prior:
            self.state = self.state.with_log(accepted)
            save_state(self.directory, self.state)  # durable before any cosignature exists
        if Note.parse(note_text).signatures_by(self.note_key) and accepted == prior:
            return f"unchanged {election} size {accepted.size}"
        sig = cosign_state(accepted, self.name, self.key, now)
        self.client.post(
            f"{base}/checkpoint/cosignatures",
            {"checkpoint": accepted.checkpoint, "cosignature": sig.line()},
        )
        return f"cosigned {election} size {accepted.size}"

    def _observe(
        self, prior: LogState | None, note_text: str, args: dict[str, Any], base: str
    ) -> LogState:
        try:
            return observe(prior, note_text, **args)
        except BoardMisbehaviour as exc:
            if exc.reason != "inconsistent" or prior is None:
                raise
            # Ask the same view for its checkpoint at the size we cosigned: a
            # different root there turns the complaint into a proof.
            try:
                old = self.client.get(f"{base}/checkpoint", params={"size": prior.size})
                old_view = _note_text(old, "old checkpoint")
            except EvoteError:
                raise exc from None
            return observe(prior, note_text, old_view=old_view, **args)


# --- commands -----------------------------------------------------------------------------


@click.group()
def witness() -> None:
    """Run an independent witness that cosigns an election's board.

    \b
    A witness remembers the last board it cosigned and cosigns a new one
    only if a consistency proof shows it extends that one, so a server that
    shows different histories to different people cannot get both
    cosigned.  The manifest lists the witnesses' keys and how many must
    cosign (docs/witness.md).
    """


@witness.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--name",
    required=True,
    metavar="NAME",
    help="This witness's key name, a schema-less URL such as witness.example.org/w1.",
)
def init(directory: str, name: str) -> None:
    """Create a witness directory: a new key, an empty state, an evidence folder.

    Prints the entry to add to the manifest's "witnesses" keys.
    """
    try:
        check_key_name(name, "witness name")
    except EncodingError as exc:
        raise CliError(exc.message, code=exc.code) from None
    root = Path(directory)
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        (root / EVIDENCE_DIR).mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {root}: {exc.strerror or exc}", code="io_error") from None
    if (root / KEY_FILE).exists() or (root / STATE_FILE).exists():
        raise CliError(f"{root} is already a witness directory; refusing to overwrite it",
                       code="already_exists")
    key = SigningKey.generate(os.urandom)
    write_new_file(root / STATE_FILE, json_bytes(WitnessState(name).to_json()), secret=False)
    write_new_file(root / KEY_FILE, json_bytes(key_file_json(name, key)), secret=True)
    fsync_directory(root)
    entry = WitnessKey(name, key.verify_key)
    # The vkey first, so that the line just above the instruction is the manifest entry.
    note(f"verifier key (C2SP vkey, for other tools): {entry.note_key.to_vkey()}")
    say(json_bytes(entry.to_json()).decode().rstrip())
    note(
        "add the JSON entry just above (the {\"name\": …, \"key\": …} line, on standard "
        f"output) to the manifest's witnesses.keys; keep {root / KEY_FILE} secret"
    )


@witness.command("run")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@server_option
@click.option(
    "--election",
    "elections",
    multiple=True,
    required=True,
    metavar="ID",
    help="An election to witness (repeat for several).",
)
@click.option(
    "--board-key",
    metavar="KEY",
    help="The server's board key (base64url) as published with the election; "
    "without it the key is taken from the server on first use and pinned.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=DEFAULT_INTERVAL,
    show_default=True,
    help="Seconds between polls.",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=0),
    default=0,
    help="Stop after this many polls (0: run until interrupted).",
)
def run(
    directory: str,
    server: str,
    elections: tuple[str, ...],
    board_key: str | None,
    interval: float,
    rounds: int,
) -> None:
    """Poll the server and cosign every consistent checkpoint of the elections."""
    root = Path(directory)
    for election in elections:
        check_election_id(election, "--election")
    key = None
    if board_key is not None:
        try:
            key = VerifyKey.from_json(board_key.strip())
        except EncodingError as exc:
            raise CliError(f"--board-key: {exc.message}", code=exc.code) from None
    with directory_lock(root):
        remove_stale_temporaries(root)
        with Client(server, timeout=max(10.0, interval)) as client:
            w = Witness(root, client, board_key=key)
            done = 0
            while True:
                for election in elections:
                    try:
                        say(w.round(election))
                    except (CliError, EvoteError) as exc:
                        # An unreachable server or a garbled answer is not misbehaviour.
                        warn(f"{election}: {getattr(exc, 'message', exc)}")
                done += 1
                if rounds and done >= rounds:
                    return
                time.sleep(interval)
