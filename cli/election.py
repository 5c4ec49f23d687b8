"""``evote election``: the official's lifecycle commands, and the public read-only views.

Every state change is a command signed with the official's key and appended
to the board by the server; before signing, the CLI recomputes from the board
what it is about to vouch for (the joint key from the trustees' messages, the
fingerprint from its parts, the encrypted tally from the counted ballots, the
result from the partial decryptions), so a lying server cannot get the
official's signature on something the board does not support.

Why one module of ~830 lines: the official's lifecycle is one click group
whose steps each recompute from the board what the next one signs, and they
share those board reads; the manifest file, the roster, the results view and
the official's key are apart (:mod:`cli.manifest_file`, :mod:`cli.roster`,
:mod:`cli.results`, :mod:`cli.official`).
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cli import api
from cli.board_view import BoardView, counted_weights, result_bounds
from cli.chart import write_chart
from cli.client import Client
from cli.console import CliError, note, progress, say, warn
from cli.keyfiles import new_directory, read_key_file, read_public_key, write_new_file
from cli.manifest_file import load_manifest
from cli.options import OrderedGroup, election_argument, official_key_option, server_option
from cli.ranked_steps import mixnet_status, ranked_round
from cli.ranked_view import print_sheets, ranked_sheets, sheet_totals
from cli.results import print_result, question_totals
from cli.waiting import DEFAULT_TIMEOUT, names, wait_until
from evote import dkg
from evote.board import verify_chain
from evote.checkpoint import checkpoint_size
from evote.commands import sign_command
from evote.encoding import b64encode
from evote.errors import (
    BoothMismatch,
    DecryptionError,
    KeyCeremonyError,
    LifecycleError,
    SchemaError,
    TallyError,
)
from evote.kinds import (
    BALLOT_AUDITED,
    BALLOT_CAST,
    CREDENTIALS_PUBLISHED,
    ELECTION_ABANDONED,
    ELECTION_CLOSED,
    ELECTION_CREATED,
    ELECTION_OPENED,
    KEY_PUBLISHED,
    RESULT_PUBLISHED,
    TALLY_POSTED,
)
from evote.manifest import Manifest
from evote.payloads import Command, ElectionAbandoned, ElectionCreated, ElectionOpened
from evote.ranked import tally_shape
from evote.record import (
    BOARD_FILE,
    CHECKPOINT_FILE,
    FILES,
    OPTIONAL_FILES,
    RECORD_FILE,
    TREE_HEADS_FILE,
    iter_board,
    parse_checkpoint_file,
    parse_record_json,
    parse_tree_heads,
)
from evote.signing import SigningKey, VerifyKey
from evote.tally import Result, aggregate, combine
from evote.witness import WitnessPolicy

# --- the functions (also used by `evote demo`) ---------------------------------------


def created_body(
    manifest: Manifest,
    official: VerifyKey,
    credential_authority: VerifyKey,
    trustees: list[VerifyKey],
    threshold: int,
) -> ElectionCreated:
    """The ``election_created`` body, with the roles checked before anything is signed
    (by the payload type itself: the rules the server and the verifier apply, R-REC-06)."""
    try:
        return ElectionCreated(
            manifest, official, credential_authority, tuple(trustees), threshold
        )
    except SchemaError as exc:
        raise KeyCeremonyError(exc.message.split(": ", 1)[-1]) from None



def create_election(client: Client, key: SigningKey, setup: ElectionCreated) -> None:
    eid = setup.manifest.election_id
    api.create_election(client, sign_command(key, eid, ELECTION_CREATED, setup.to_json()), key)


def _official_view(client: Client, key: SigningKey, election_id: str) -> BoardView:
    view = api.fetch_board(client, election_id)
    if view.setup.official.raw != key.verify_key.raw:
        raise CliError(
            f"wrong key file: this key is not the official key of election {election_id!r}", code="wrong_file"
        )
    return view


def booth_digest(client: Client, pinned: bytes | None = None) -> bytes | None:
    """The booth digest to publish at opening: the SHA-256 of the bundle the server
    serves, which must equal ``pinned`` (the official's own reproducible build) if
    given.  None when the server serves no booth and nothing is pinned.

    Without ``pinned`` the official vouches for the server's word about its own
    bundle; pinning is what makes the digest on the board independent of it.
    """
    served = api.served_booth_sha256(client)
    if pinned is None or served == pinned:
        return served
    where = "serves no booth bundle" if served is None else f"serves a booth bundle {served.hex()}"
    raise BoothMismatch(
        f"you pinned the booth digest {pinned.hex()}, but the server {where}: "
        "the election was not opened",
        detail={"pinned": pinned.hex(), "served": None if served is None else served.hex()},
    )


def qualify_ceremony(
    client: Client, key: SigningKey, election_id: str, *, force: bool = False
) -> tuple[int, ...]:
    """GJKR's cut: post ``ceremony_qualified`` with the QUAL the phase-1 messages give.

    Waits (refuses, naming whom) until every trustee has dealt its shares and
    every complaint is answered, unless ``force`` (the deadline has passed: a
    dealer that has not dealt or answered is then left out).  After this entry
    no phase-1 message is accepted, and only then do trustees reveal anything
    about the joint key.  Idempotent: returns QUAL if it is already fixed.
    """
    view = _official_view(client, key, election_id)
    if not view.allows(CREDENTIALS_PUBLISHED):  # i.e. still in setup
        raise LifecycleError(f"election {election_id!r} is already {view.phase.value}")
    b = view.ceremony()
    if b.qualified is not None:
        return b.qualified
    setup = view.setup
    n = len(setup.trustees)
    if not force:
        waiting = sorted(set(range(1, n + 1)) - {s.dealer for s in b.shares})
        answered = {(a.dealer, a.accuser) for a in b.answers}
        open_ = sorted({c.accused for c in b.complaints if (c.accused, c.accuser) not in answered})
        if waiting or open_:
            parts = []
            if waiting:
                parts.append(f"{names(waiting)} to deal shares (`evote trustee keygen`)")
            if open_:
                parts.append(f"{names(open_)} to answer complaints (`evote trustee shares`)")
            raise KeyCeremonyError(
                f"phase 1 of the key ceremony is not finished: waiting for {' and '.join(parts)}"
                "; pass --now after the deadline to leave them out"
            )
    qualified = dkg.qualified_set(
        election_id, n, setup.threshold, b.announcements, b.complaints, b.answers,
        dealt={s.dealer for s in b.shares},
    )
    body = dkg.Qualified(qualified).to_json()
    api.post_command(client, election_id, "ceremony_qualified",
                     sign_command(key, election_id, "ceremony_qualified", body))
    return qualified


def reconstruct_ceremony(client: Client, key: SigningKey, election_id: str) -> tuple[int, ...]:
    """After the reveal deadline: name the QUAL dealers that did not reveal
    (``ceremony_reconstruct``); the other trustees then publish the shares those
    dealers dealt them (`evote trustee shares`) and anyone rebuilds them.  Returns
    the dealers named (empty: everybody revealed, nothing posted)."""
    view = _official_view(client, key, election_id)
    b = view.ceremony()
    if b.qualified is None:
        raise LifecycleError("QUAL is not fixed yet (`evote election qualify`)")
    if b.reconstruct is not None:
        return b.reconstruct
    missing = dkg.unrevealed(b.qualified, b.commitments)
    if missing:
        body = dkg.Reconstruct(missing).to_json()
        api.post_command(client, election_id, "ceremony_reconstruct",
                         sign_command(key, election_id, "ceremony_reconstruct", body))
    return missing


def open_election(
    client: Client, key: SigningKey, election_id: str, *, booth_sha256: bytes | None = None,
    scheduled: bool = False,
) -> tuple[bytes, bytes | None]:
    """Publish the joint key (if not yet) and open the election; returns the fingerprint
    and the booth digest published with it (None: the server serves no booth).

    ``election_opened`` names the served booth bundle's SHA-256 when the server
    serves one (:func:`booth_digest`; ``booth_sha256`` pins the expected value,
    and a different served bundle refuses the opening before anything is posted).
    """
    view = _official_view(client, key, election_id)
    if not view.allows(CREDENTIALS_PUBLISHED):  # i.e. still in setup
        raise LifecycleError(f"election {election_id!r} is already {view.phase.value}")
    booth = booth_digest(client, booth_sha256)
    if view.joint_key() is None:
        b = view.ceremony()
        if b.qualified is None:
            raise KeyCeremonyError(
                "the key ceremony is not finished: the qualified trustees are not fixed yet "
                "(`evote election qualify`)"
            )
        missing = dkg.unrevealed(b.qualified, b.commitments)
        if missing and b.reconstruct is None:
            raise KeyCeremonyError(
                f"the key ceremony is not finished: waiting for {names(list(missing))} to "
                "reveal (`evote trustee shares`), or have them rebuilt "
                "(`evote election reconstruct`)"
            )
        joint = view.computed_joint_key()
        api.post_command(
            client,
            election_id,
            "key_published",
            sign_command(key, election_id, "key_published", {"joint_key": joint.to_json()}),
        )
        view = api.fetch_board(client, election_id)
    if not view.allows(ELECTION_OPENED):  # R-PHASE-04: the key is on the board by now
        raise LifecycleError(
            "the credential authority has not published the credential list yet "
            "(`evote credentials issue`)"
        )
    fingerprint = view.context().fingerprint
    body = ElectionOpened(fingerprint, booth).to_json()
    opened = sign_command(key, election_id, ELECTION_OPENED, body)
    if scheduled:  # signed now, appended by the server at opens_at (ballot_server/scheduler.py)
        schedule_commands(client, key, election_id, view.setup.manifest, opened)
        return fingerprint, booth
    api.post_command(client, election_id, ELECTION_OPENED, opened)
    return fingerprint, booth


def schedule_commands(
    client: Client, key: SigningKey, election_id: str, manifest: Manifest, opened: Any
) -> None:
    """Post the pre-signed election_opened and, with closes_at, the scheduled close
    (``{"at": closes_at}``, which the server may not append earlier: R-TIME-04)."""
    if manifest.opens_at is None:
        raise LifecycleError("the manifest has no opens_at: open with `evote election open`")
    body: dict[str, Any] = {ELECTION_OPENED: opened.to_json()}
    if manifest.closes_at is not None:
        body[ELECTION_CLOSED] = sign_command(
            key, election_id, ELECTION_CLOSED, {"at": manifest.closes_at}).to_json()
    client.post(f"/elections/{election_id}/schedule", body)


def close_election(client: Client, key: SigningKey, election_id: str) -> int:
    """Close the election; returns how many ballots were cast."""
    view = _official_view(client, key, election_id)
    if not view.allows(ELECTION_CLOSED):
        state = view.phase.value if view.phase else "empty"
        raise LifecycleError(f"election {election_id!r} is not open (phase {state})")
    api.post_command(
        client,
        election_id,
        ELECTION_CLOSED,
        sign_command(key, election_id, ELECTION_CLOSED, {}),
    )
    return len(view.of_kind(BALLOT_CAST))


def abandon_election(client: Client, key: SigningKey, election_id: str, reason: str) -> int:
    """Give up an election that never opened (R-PHASE-07); returns the board's size.

    The entry is final: nothing may be appended after it, so the election can
    never open, and its record verifies as the record of an abandoned election.
    """
    view = _official_view(client, key, election_id)
    if not view.allows(ELECTION_ABANDONED):
        state = view.phase.value if view.phase else "empty"
        raise LifecycleError(
            f"election {election_id!r} cannot be abandoned (phase {state}): only an election "
            "still in setup can; an open one is closed (`evote election close`)"
        )
    body = ElectionAbandoned(reason).to_json()
    api.post_command(
        client, election_id, ELECTION_ABANDONED,
        sign_command(key, election_id, ELECTION_ABANDONED, body),
    )
    return view.size + 1


@dataclass(frozen=True)
class Tallied:
    manifest: Manifest
    result: Result
    counted: int
    total_weight: int


def post_tally(
    client: Client, key: SigningKey, election_id: str, *, quiet: bool = False
) -> BoardView:
    """Aggregate the counted ballots and post the encrypted tally (once)."""
    view = _official_view(client, key, election_id)
    if not (view.allows(TALLY_POSTED) or view.has(TALLY_POSTED)):
        raise LifecycleError(
            f"election {election_id!r} is not closed "
            f"(phase {view.phase.value if view.phase else 'empty'}); "
            "close it first with `evote election close`"
        )
    if view.posted_tally() is not None:
        return view
    ctx = view.context()
    counted = view.counted()
    shape = tally_shape(ctx.manifest)  # choice and score questions only (R-MIX-11)
    with progress("aggregating counted ballots", len(counted), quiet=quiet) as advance:

        def stream() -> Iterator[tuple[int, Sequence[Sequence[Any]]]]:
            for item in counted_weights(ctx, counted):
                advance(1)
                yield item

        tally = aggregate(shape, stream())
    total_weight = sum(ctx.credentials.weight_of(b.credential) for _, b in counted)
    body = {"tally": tally.to_json(), "counted": len(counted), "total_weight": total_weight}
    api.post_command(
        client, election_id, TALLY_POSTED, sign_command(key, election_id, TALLY_POSTED, body)
    )
    return api.fetch_board(client, election_id)


def finish_tally(client: Client, key: SigningKey, election_id: str) -> tuple[Tallied | None, str]:
    """Combine t partial decryptions and post the result; (None, reason) while waiting."""
    view = _official_view(client, key, election_id)
    posted = view.posted_tally()
    if posted is None:
        raise LifecycleError("no encrypted tally has been posted")
    tally, counted, total_weight = posted
    ctx = view.context()
    joint = view.joint_key()
    if joint is None:
        raise TallyError("an encrypted tally is on the board without a joint key")
    existing = view.result()
    if existing is not None:  # the board view checked it (R-TAL-05)
        return Tallied(ctx.manifest, existing, counted, total_weight), ""
    partials = view.partials()
    if len(partials) < joint.threshold:
        have = sorted(p.trustee for p in partials)
        waiting = [j for j in joint.qualified if j not in have]
        return None, (
            f"{len(partials)} of the {joint.threshold} partial decryptions needed "
            "are on the board; "
            f"waiting for {names(waiting)} (`evote trustee decrypt`)"
        )
    try:
        result = combine(
            ctx.fingerprint, tally, partials, joint, result_bounds(ctx.manifest, total_weight)
        )
    except DecryptionError as exc:
        if exc.detail.get("valid") is not None:
            return None, exc.message
        raise
    api.post_command(
        client,
        election_id,
        RESULT_PUBLISHED,
        sign_command(key, election_id, RESULT_PUBLISHED, {"result": result.to_json()}),
    )
    return Tallied(ctx.manifest, result, counted, total_weight), ""


def published_result(client: Client, election_id: str) -> Tallied:
    """The result on the board, checked against the tally and the partial decryptions."""
    view = api.fetch_board(client, election_id)
    result = view.result()
    if result is None:
        state = view.phase.value if view.phase else "empty"
        raise LifecycleError(f"election {election_id!r} has no result yet (phase {state})")
    posted = view.posted_tally()
    joint = view.joint_key()
    if posted is None or joint is None:
        raise TallyError("a result is on the board without a tally or a joint key")
    _, counted, total_weight = posted  # the board view checked the result (R-TAL-05)
    return Tallied(view.setup.manifest, result, counted, total_weight)


def export_record(client: Client, election_id: str, out: Path) -> tuple[int, int]:
    """Download the record to ``out`` (a new directory, or a ``.zip`` file); returns
    (entries, signed heads).

    Before anything is kept, the archive is checked as far as it can be
    without the verifier: the header names this election, the last signed
    head's signature verifies under the header's board key, and the board's
    hash chain leads exactly to that head's root.  The directory or file
    appears complete or not at all.
    """
    with tempfile.TemporaryFile() as tmp:
        api.download_record(client, election_id, tmp)
        tmp.seek(0)
        try:
            archive = zipfile.ZipFile(tmp)
        except zipfile.BadZipFile:
            raise SchemaError("the server's record is not a zip archive") from None
        with archive:
            missing = [name for name in FILES if name not in archive.namelist()]
            if missing:
                raise SchemaError(f"the server's record has no {missing[0]}")
            header = parse_record_json(archive.read(RECORD_FILE))
            if header.election != election_id:
                raise SchemaError(f"the server's record is for election {header.election!r}")
            heads = parse_tree_heads(archive.read(TREE_HEADS_FILE), header)
            heads[-1].verify(header.board_key)
            with archive.open(BOARD_FILE) as board:
                chunks = iter(lambda: board.read(1 << 20), b"")
                summary = verify_chain(iter_board(chunks), expect=heads[-1].head)
            present = set(archive.namelist())
            if CHECKPOINT_FILE in present:
                parse_checkpoint_file(archive.read(CHECKPOINT_FILE))  # its format; the rest is
                # the verifier's (signatures, tree, witness policy)
            if out.suffix.lower() == ".zip":
                tmp.seek(0)
                write_new_file(out, tmp.read(), secret=False)
            else:
                with new_directory(out, private=False) as put:
                    for name in FILES + tuple(n for n in OPTIONAL_FILES if n in present):
                        with archive.open(name) as member:
                            put(name, member, False)
    return summary.size, len(heads)


# --- click commands --------------------------------------------------------------------


@click.group(cls=OrderedGroup)
def election() -> None:
    """Create and run an election (official), or look at one (anyone)."""


@election.command("create")
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(dir_okay=False))
@click.option(
    "--server",
    envvar="EVOTE_SERVER",
    metavar="URL",
    help="Ballot server base URL [env: EVOTE_SERVER]; not needed with --check.",
)
@official_key_option
@click.option(
    "--credential-authority",
    "ca",
    required=True,
    metavar="KEY",
    help="The credential authority's public key: its .pub file or the key itself.",
)
@click.option(
    "--trustee",
    "trustees",
    multiple=True,
    metavar="KEY",
    help="A trustee's public key (.pub file or key); repeat once per trustee, in order.",
)
@click.option(
    "--threshold", type=int, help="How many trustees are needed to decrypt (default: a majority)."
)
@click.option(
    "--check", is_flag=True, help="Only validate the manifest and the roles; post nothing."
)
def create_command(
    manifest_path: str,
    server: str | None,
    key_path: str,
    ca: str,
    trustees: tuple[str, ...],
    threshold: int | None,
    check: bool,
) -> None:
    """Validate MANIFEST (.yaml or .json) and create the election on the server.

    Posts the election_created command signed by the official, naming the
    manifest, the credential authority's key and the trustees' keys with the
    threshold.  Errors in the manifest name the line and field.
    """
    manifest = load_manifest(manifest_path)
    if not trustees:
        raise click.UsageError("name at least one trustee with --trustee")
    trustee_keys = [read_public_key(t, f"trustee {i}") for i, t in enumerate(trustees, start=1)]
    t = threshold if threshold is not None else len(trustee_keys) // 2 + 1
    key = read_key_file(key_path, "official")
    setup = created_body(
        manifest, key.verify_key, read_public_key(ca, "credential authority key"), trustee_keys, t
    )
    if check:
        say(
            f"manifest {manifest_path} is valid: election {manifest.election_id!r}, "
            f"{len(manifest.questions)} questions, {t} of {len(trustee_keys)} trustees"
        )
        return
    if not server:
        raise click.UsageError("Missing option '--server' (only --check posts nothing).")
    with Client(server) as client:
        create_election(client, key, setup)
    say(f"created election {manifest.election_id}")
    note(
        "next: each trustee runs `evote trustee keygen` and `evote trustee shares`; "
        "the credential authority runs `evote credentials issue`"
    )


def _sha256_hex(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    text = value.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise click.BadParameter("expected a SHA-256 as 64 hexadecimal digits")
    return bytes.fromhex(text)


@election.command("qualify")
@election_argument
@server_option
@official_key_option
@click.option("--now", "force", is_flag=True,
              help="The phase-1 deadline has passed: fix QUAL even if some trustee has not "
              "dealt its shares or answered a complaint (it is left out).")
def qualify_command(election_id: str, server: str, key_path: str, force: bool) -> None:
    """Fix the qualified trustees (QUAL) of the key ceremony.

    Run once every trustee has run `evote trustee keygen` and `evote trustee
    shares`.  Nothing about the election key is public before this step, so no
    trustee can bias the key by dropping out after seeing it (GJKR).
    """
    key = read_key_file(key_path, "official")
    with Client(server) as client:
        qualified = qualify_ceremony(client, key, election_id, force=force)
    say(f"qualified trustees {list(qualified)}; next: each trustee runs `evote trustee shares`")


@election.command("reconstruct")
@election_argument
@server_option
@official_key_option
def reconstruct_command(election_id: str, server: str, key_path: str) -> None:
    """After the reveal deadline: have every qualified trustee that did not reveal
    rebuilt in public from the shares it dealt (it cannot drop out)."""
    key = read_key_file(key_path, "official")
    with Client(server) as client:
        dealers = reconstruct_ceremony(client, key, election_id)
    if dealers:
        say(f"trustees {list(dealers)} will be rebuilt; each other trustee runs "
            "`evote trustee shares` again")
    else:
        say("every qualified trustee has revealed: nothing to rebuild")


@election.command("open")
@election_argument
@server_option
@official_key_option
@click.option(
    "--booth-sha256",
    "booth_sha256",
    metavar="HEX",
    callback=_sha256_hex,
    help="The SHA-256 of the booth bundle you built yourself (node build.mjs prints it); "
    "refuse to open unless the server serves exactly that bundle.",
)
@click.option("--at", "scheduled", is_flag=True,
              help="Sign the opening (and the close) now for the manifest's opens_at and "
              "closes_at: the server appends each when its time comes.")
def open_command(
    election_id: str, server: str, key_path: str, booth_sha256: bytes | None,
    scheduled: bool = False,
) -> None:
    """Publish the joint key and open ELECTION_ID for voting.

    Needs the trustees' key ceremony (QUAL fixed, every QUAL trustee revealed or
    rebuilt) and the credential list
    on the board.  The opening also publishes the SHA-256 of the web booth the
    server serves (GET /booth/assets.json); pin it with --booth-sha256.
    Prints the election fingerprint voters' devices check.
    """
    key = read_key_file(key_path, "official")
    with Client(server) as client:
        fingerprint, booth = open_election(client, key, election_id, booth_sha256=booth_sha256,
                                           scheduled=scheduled)
        if scheduled:
            times = client.get(f"/elections/{election_id}/schedule")
    if scheduled:
        closes = times["closes_at"] or "when you run `evote election close`"
        say(f"election {election_id} is scheduled: the server opens it at "
            f"{times['opens_at']} and closes it at {closes}; fingerprint "
            f"{b64encode(fingerprint)}")
    else:
        say(f"election {election_id} is open; fingerprint {b64encode(fingerprint)}")
    if booth is None:
        note("the server serves no web booth: no booth digest was published")
    else:
        note(f"booth bundle SHA-256 {booth.hex()} published on the board")


@election.command("schedule")
@election_argument
@server_option
@official_key_option
@click.pass_context
def schedule_command(ctx: click.Context, election_id: str, server: str, key_path: str) -> None:
    """Sign ELECTION_ID's opening and close now for the manifest's opens_at / closes_at.

    The same as `evote election open --at`: after set-up, the server holds the
    signed commands and appends each when its time comes.  `evote election
    close` still closes early (the first close on the board wins).
    """
    ctx.invoke(open_command, election_id=election_id, server=server, key_path=key_path,
               booth_sha256=None, scheduled=True)


@election.command("close")
@election_argument
@server_option
@official_key_option
def close_command(election_id: str, server: str, key_path: str) -> None:
    """Close ELECTION_ID: no ballot is accepted after this entry."""
    key = read_key_file(key_path, "official")
    with Client(server) as client:
        cast = close_election(client, key, election_id)
    say(f"election {election_id} is closed ({cast} ballots cast, re-votes included)")


@election.command("abandon")
@election_argument
@server_option
@official_key_option
@click.option("--reason", required=True, help="Why, in a sentence (it goes on the public board).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def abandon_command(election_id: str, server: str, key_path: str, reason: str, yes: bool) -> None:
    """Abandon ELECTION_ID, which never opened: a signed, final entry on its board.

    For an election whose set-up can never finish (a trustee lost its state
    file, trustee keys reused from another election, a wrong manifest).  The
    board stays public; nothing can be appended after this, and `evote-verify`
    reports the record as the record of an abandoned election.  Create a new
    election (with a new id and new trustee keys) instead.
    """
    key = read_key_file(key_path, "official")
    try:
        reason_ok = ElectionAbandoned(reason).reason
    except SchemaError as exc:
        raise click.BadParameter(exc.message, param_hint="--reason") from None
    if not yes:
        click.confirm(
            f"Abandon election {election_id} for good (nothing can be added after it)?",
            abort=True, err=True,
        )
    with Client(server) as client:
        size = abandon_election(client, key, election_id, reason_ok)
    say(f"election {election_id} is abandoned; its board is final ({size} entries)")


@election.command("tally")
@election_argument
@server_option
@official_key_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the trustees' partial decryptions.",
)
@click.option(
    "--chart",
    "chart_path",
    type=click.Path(dir_okay=False),
    help="Also draw the result to FILE (.svg, or .png with matplotlib).",
)
def tally_command(
    election_id: str, server: str, key_path: str, timeout: float, chart_path: str | None
) -> None:
    """Post the encrypted tally, wait for t partial decryptions, publish the result.

    The tally is the homomorphic sum of the last ballot of each credential,
    weighted; no single ballot is ever decrypted.  Re-running is safe.
    """
    key = read_key_file(key_path, "official")
    with Client(server) as client:
        post_tally(client, key, election_id)
        note("encrypted tally posted; trustees can now run `evote trustee decrypt`")
        wait_until(  # ranked and graded questions: the mixes, their decryptions, the counts
            lambda: ranked_round(client, key, election_id),
            timeout=timeout,
            what="the ranked and graded questions cannot be counted yet",
            retry_hint="run `evote election tally` again when the mixers and trustees are done",
        )
        done = wait_until(
            lambda: finish_tally(client, key, election_id),
            timeout=timeout,
            what="the result cannot be computed yet",
            retry_hint="run `evote election tally` again when more trustees have decrypted",
        )
        sheets = ranked_sheets(api.fetch_board(client, election_id))
    print_result(done.manifest, done.result, counted=done.counted, total_weight=done.total_weight)
    print_sheets(done.manifest, sheets)
    if chart_path:
        write_chart(chart_path, done.manifest.label(),
                    question_totals(done.manifest, done.result)
                    + sheet_totals(done.manifest, sheets))
        note(f"chart written to {chart_path}")


@election.command("status")
@election_argument
@server_option
def status_command(election_id: str, server: str) -> None:
    """Show where ELECTION_ID stands: phase, key ceremony, credentials, ballots, tally."""
    with Client(server) as client:
        view = api.fetch_board(client, election_id)
    setup = view.setup
    n = len(setup.trustees)
    b = view.ceremony()
    anns, comms, shares, complaints, answers = (
        b.announcements, b.commitments, b.shares, b.complaints, b.answers)
    lines = [
        ("election", f"{election_id} - {setup.manifest.label()}"),
        ("phase", view.phase.value if view.phase else "empty"),
        ("board entries", str(view.size)),
        ("trustees", f"{setup.threshold} of {n} needed to decrypt"),
        (
            "key ceremony",
            f"{len(anns)}/{n} announced, {len(shares)}/{n} dealt shares, "
            f"{len(complaints)} complaints, {len(answers)} answers, "
            + ("QUAL not fixed" if b.qualified is None else
               f"QUAL {list(b.qualified)}, {len(comms)}/{len(b.qualified)} revealed")
            + ("" if b.reconstruct is None else
               f", rebuilding {list(b.reconstruct)} ({len(b.reconstructions)} shares)"),
        ),
        ("election key", "published" if view.has(KEY_PUBLISHED) else "not yet published"),
        ("witnesses", witness_summary(setup.manifest.witnesses)),
    ]
    if setup.manifest.opens_at or setup.manifest.closes_at:
        with Client(server) as client:
            times = client.get(f"/elections/{election_id}/schedule")
        pending = [f"{s['kind']} {'done' if s['on_board'] else 'due ' + s['due']}"
                   for s in times["scheduled"]] or ["nothing signed in advance yet "
                                                    "(`evote election schedule`)"]
        lines.append(("schedule", f"opens {setup.manifest.opens_at or '-'}, closes "
                                  f"{setup.manifest.closes_at or '-'}; " + ", ".join(pending)))
    creds = view.credentials()
    lines.append(("credentials", f"{len(creds)} published" if creds else "not yet published"))
    if view.has(ELECTION_OPENED):
        lines.append(("fingerprint", b64encode(view.context().fingerprint)))
    cast = view.of_kind(BALLOT_CAST)
    lines.append(
        (
            "ballots",
            f"{len(cast)} cast, {len(view.counted())} counted (last per credential), "
            f"{len(view.of_kind(BALLOT_AUDITED))} audited",
        )
    )
    if view.has(TALLY_POSTED):
        lines.append(
            ("tally", f"posted; {len(view.partials())}/{setup.threshold} partial decryptions")
        )
    lines += mixnet_status(view)
    lines.append(("result", "published" if view.has(RESULT_PUBLISHED) else "not yet published"))
    if view.has(ELECTION_ABANDONED):
        abandoned = Command.from_entry(view.of_kind(ELECTION_ABANDONED)[0]).body
        lines.append(("abandoned", f"by the official, in setup: {abandoned.reason}"))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        say(f"{k.ljust(width)}  {v}")


def witness_summary(policy: WitnessPolicy | None) -> str:
    """The manifest's witness policy in one line (``election status``)."""
    if policy is None:
        return "none (no witness policy in the manifest)"
    names = ", ".join(k.name for k in policy.keys)
    return f"{policy.threshold} of {len(policy.keys)} must cosign: {names}"


@election.command("result")
@election_argument
@server_option
@click.option(
    "--chart",
    "chart_path",
    type=click.Path(dir_okay=False),
    help="Draw the result to FILE: .svg (always) or .png (needs matplotlib).",
)
@click.option("--lang", default=None, help="Language of labels, e.g. en or ru (default: English).")
def result_command(election_id: str, server: str, chart_path: str | None, lang: str | None) -> None:
    """Print the published result of ELECTION_ID as a table (after checking it
    against the tally and the trustees' proofs), and optionally draw it."""
    with Client(server) as client:
        done = published_result(client, election_id)
        sheets = ranked_sheets(api.fetch_board(client, election_id))
    print_result(
        done.manifest, done.result, counted=done.counted, total_weight=done.total_weight, lang=lang
    )
    print_sheets(done.manifest, sheets, lang)
    if chart_path:
        write_chart(
            chart_path, done.manifest.label(lang),
            question_totals(done.manifest, done.result, lang)
            + sheet_totals(done.manifest, sheets, lang),
        )
        note(f"chart written to {chart_path}")


@election.command("export")
@election_argument
@server_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(),
    help="New directory for the record (record.json, board.jsonl, tree-heads.jsonl), "
    "or a FILE.zip to keep the archive as one file.",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=120.0, show_default=True,
    help="With a witness policy: seconds to wait for the witnesses to cosign the whole "
    "board (0: check once).",
)
@click.option(
    "--allow-uncosigned", is_flag=True,
    help="Export even without a cosigned checkpoint of the whole board (the record will "
    "fail verifier check 19); prints a warning.",
)
def export_command(
    election_id: str, server: str, out_dir: str, timeout: float, allow_uncosigned: bool
) -> None:
    """Download the election record for auditors; check it with `evote-verify DIR`.

    With a witness policy in the manifest the record is complete only with a
    checkpoint of the whole board cosigned by enough witnesses (verifier check
    19), and witnesses poll at their own pace: export waits for one (up to
    --timeout seconds), and fails rather than write a record that would not
    verify, unless --allow-uncosigned.
    """
    with Client(server) as client:
        policy = api.fetch_setup(client, election_id).setup.manifest.witnesses
        if policy is not None:
            cosigned = wait_for_cosigned(client, election_id, timeout, allow_uncosigned)
            if cosigned is not None:
                note(f"the witnesses have cosigned the whole board ({cosigned} entries)")
        size, heads = export_record(client, election_id, Path(out_dir))
    say(
        f"wrote the record of {election_id} to {out_dir}: {size} entries, {heads} signed tree heads"
    )


def cosigned_size(client: Client, election_id: str) -> tuple[int | None, int]:
    """(size of the server's cosigned checkpoint or None, size of the board's latest head)."""
    note_text = api.cosigned_checkpoint(client, election_id)
    return checkpoint_size(note_text), api.signed_head(client, election_id).size


def wait_for_cosigned(
    client: Client, election_id: str, timeout: float, allow_uncosigned: bool
) -> int | None:
    """Wait until a checkpoint of the whole board meets the witness policy; its size.

    With ``allow_uncosigned`` a missing one is a loud warning and None, not an error.
    """

    def check() -> tuple[int | None, str]:
        cosigned, board = cosigned_size(client, election_id)
        if cosigned == board:
            return board, ""
        have = "no cosigned checkpoint yet" if cosigned is None else (
            f"the cosigned checkpoint covers {cosigned} entries")
        return None, f"waiting for the witnesses to cosign the whole board ({board} entries; {have})"

    try:
        return wait_until(
            check, timeout=timeout, what="no cosigned checkpoint of the whole board",
            retry_hint="the record would fail verifier check 19 (witnesses); make sure "
            "enough witnesses run (`evote witness run`), then export again (or pass "
            "--allow-uncosigned to export it anyway)",
            code="no_cosigned_checkpoint",
        )
    except CliError:
        if not allow_uncosigned:
            raise
        cosigned, board = cosigned_size(client, election_id)
        warn(
            f"EXPORTING WITHOUT A COSIGNED CHECKPOINT OF THE WHOLE BOARD ({board} entries; "
            + ("none is cosigned" if cosigned is None else f"the cosigned one covers {cosigned}")
            + "): this record FAILS verifier check 19 (witnesses) [no_cosigned_checkpoint]"
        )
        return None
