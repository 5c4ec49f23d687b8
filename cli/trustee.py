"""``evote trustee``: one trustee's side of the key ceremony and of the decryption.

Each trustee runs these on its own machine.  The trustee's secrets (signing
key, box key, polynomial, and finally its key share) live only in its state
file (mode 0600, replaced atomically after every change); everything it posts
is a signed public message on the board.

Rounds (``docs/protocol-trustees.md``), each one command, each idempotent —
re-running posts only what is not on the board yet, so a trustee whose
network failed simply runs the command again:

``init``     make the trustee's signing key; give the public key to the official
``keygen``   phase 1: announce (keys + Pedersen commitments), wait for every
             trustee's announcement, deal the encrypted shares
``shares``   phase 1: check the shares dealt to this trustee (posting complaints),
             answer complaints against it; once the official has fixed QUAL
             (``evote election qualify``), phase 2: reveal the Feldman values,
             publish shares of dealers the official names for reconstruction,
             and report the joint key it will hold a share of
``decrypt``  after the official posts the encrypted tally: recompute the
             aggregate from the board's counted ballots, refuse if it differs,
             else post this trustee's partial decryption with its proofs

The polynomial is kept until ``decrypt`` (which computes the key share from
the final board and wipes it), so a late complaint can still be answered by
re-running ``shares`` before the election opens.

Why one module of ~500 lines: the four rounds share the state file (load,
atomic save, wipe) and the ceremony view, and a trustee's machine runs only
this group; split by round, the handling of its secrets would be spread over
several files to audit.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from cli import api
from cli.board_view import BoardView, counted_weights, trustee_index
from cli.client import Client
from cli.console import CliError, note, progress, say
from cli.keyfiles import (
    json_bytes,
    public_key_text,
    read_json,
    replace_file,
    warn_if_exposed,
    write_new_file,
)
from cli.options import OrderedGroup, server_option, trustee_state_option
from cli.ranked_steps import mix_decrypt_round
from cli.waiting import DEFAULT_TIMEOUT, names, wait_until
from evote import dkg
from evote.commands import check_election_id, sign_command
from evote.dkg import trustee as dkg_trustee
from evote.encoding import Fields
from evote.errors import EvoteError, KeyCeremonyError, LifecycleError
from evote.group import Scalar
from evote.kinds import (
    PARTIAL_DECRYPTION,
    TALLY_POSTED,
    TRUSTEE_ANNOUNCED,
    TRUSTEE_SHARES,
)
from evote.ranked import tally_shape
from evote.rules import AggregateExpectation, check_cast, check_tally
from evote.signing import SigningKey, VerifyKey
from evote.tally import partial_decrypt

STATE_FILE_TYPE = "evote-trustee-state"
STATE_FILE_VERSION = 2  # 2: GJKR ceremony state (two polynomials)


# --- the state file --------------------------------------------------------------


@dataclass(frozen=True)
class TrusteeFile:
    """The trustee's state file: its signing key, and once bound, its ceremony state."""

    path: Path
    signing_key: SigningKey
    election_id: str | None = None
    ceremony: dkg_trustee.TrusteeState | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": STATE_FILE_TYPE,
            "v": STATE_FILE_VERSION,
            "public": self.signing_key.verify_key.to_json(),
            "signing_key": self.signing_key.to_json(),
            "election": self.election_id,
            "ceremony": None if self.ceremony is None else self.ceremony.to_json(),
        }

    @property
    def public(self) -> VerifyKey:
        return self.signing_key.verify_key

    def save(self) -> TrusteeFile:
        replace_file(self.path, json_bytes(self.to_json()), secret=True)
        return self

    def with_ceremony(self, ceremony: dkg_trustee.TrusteeState) -> TrusteeFile:
        return replace(self, election_id=ceremony.election_id, ceremony=ceremony).save()


def load_state(path: str | Path) -> TrusteeFile:
    """Read a trustee state file; :class:`CliError` if missing or not a trustee state."""
    target = Path(path)
    if not target.exists():
        raise CliError(
            f"trustee state file {target} does not exist; make one with "
            f"`evote trustee init --state {target}` (or pass --state)", code="not_found"
        )
    obj = read_json(target, "trustee state file")
    if not isinstance(obj, dict) or obj.get("type") != STATE_FILE_TYPE:
        raise CliError(f"wrong file: {target} is not an evote trustee state file", code="wrong_file")
    warn_if_exposed(target, "trustee state file")
    try:
        f = Fields(
            obj,
            str(target),
            required=("type", "v", "public", "signing_key", "election", "ceremony"),
        )
        if f.int("v") != STATE_FILE_VERSION:
            raise CliError(f"{target}: unsupported state file version", code="wrong_file")
        key = SigningKey.from_json(f.raw("signing_key"))
        if VerifyKey.from_json(f.raw("public")).raw != key.verify_key.raw:
            raise CliError(f"{target}: the public key does not match the signing key", code="wrong_file")
        election = f.raw("election")
        if election is not None:
            check_election_id(election, f.sub("election"))
        ceremony = None
        if f.raw("ceremony") is not None:
            ceremony = dkg_trustee.TrusteeState.from_json(f.raw("ceremony"), f.sub("ceremony"))
            if ceremony.signing_key.seed != key.seed or ceremony.election_id != election:
                raise CliError(f"{target}: the ceremony state does not belong to this trustee", code="wrong_file")
    except EvoteError as exc:
        raise CliError(f"{target} is damaged: {exc.message}", code="wrong_file") from None
    return TrusteeFile(target, key, election, ceremony)


def init_trustee(path: str | Path) -> VerifyKey:
    """Create a new state file (0600) with a fresh signing key, and ``<name>.pub`` beside it."""
    target = Path(path)
    pub = target.with_name(target.name.removesuffix(".state") + ".pub")
    for existing in (target, pub):
        if existing.exists():
            raise CliError(f"{existing} already exists; refusing to overwrite it", code="already_exists")
    key = SigningKey.generate(secrets.token_bytes)
    write_new_file(target, json_bytes(TrusteeFile(target, key).to_json()), secret=True)
    write_new_file(pub, public_key_text(key.verify_key), secret=False)
    return key.verify_key


def _bound(state: TrusteeFile, election_id: str | None) -> str:
    if state.election_id is not None:
        if election_id is not None and election_id != state.election_id:
            raise CliError(
                f"{state.path} belongs to election {state.election_id!r}, not {election_id!r}; "
                "use a separate state file per election", code="wrong_election"
            )
        return state.election_id
    if election_id is None:
        raise CliError("this state file is not bound to an election yet: pass --election ID",
                       code="wrong_election")
    return election_id


def _post(client: Client, state: TrusteeFile, kind: str, body: dict[str, Any]) -> None:
    eid = _bound(state, None)
    api.post_command(client, eid, kind, sign_command(state.signing_key, eid, kind, body))


# --- rounds ---------------------------------------------------------------------


@dataclass(frozen=True)
class RoundStatus:
    """What one pass of a round achieved: done, or what it is waiting for."""

    done: bool
    waiting: str = ""
    detail: Any = None


def keygen_round(client: Client, path: str | Path, election_id: str | None = None) -> RoundStatus:
    """Phase 1: announce (keys and Pedersen commitments), then, once every trustee has
    announced, deal the encrypted shares."""
    state = load_state(path)
    eid = _bound(state, election_id)
    view = api.fetch_board(client, eid)
    setup = view.setup
    if not view.allows(TRUSTEE_ANNOUNCED):
        raise LifecycleError(
            f"election {eid!r} is past its key ceremony (phase {view.phase.value})"
        )
    index = trustee_index(setup, state.public)
    n, t = len(setup.trustees), setup.threshold
    ceremony = state.ceremony
    if ceremony is None:
        ceremony, _ = dkg_trustee.step1_announce(
            eid, index, n, t, secrets.token_bytes, signing_key=state.signing_key
        )
        state = state.with_ceremony(ceremony)  # saved before anything is posted
    board = view.ceremony()
    announced = {a.trustee: a for a in board.announcements}
    mine = ceremony.announcement()
    if index not in announced:
        _post(client, state, TRUSTEE_ANNOUNCED, mine.to_json())
        announced[index] = mine
    elif announced[index] != mine:
        raise KeyCeremonyError(
            f"trustee {index}'s announcement on the board was not made from {state.path}"
        )
    missing = [i for i in range(1, n + 1) if i not in announced]
    if missing:
        return RoundStatus(False, f"announced; waiting for {names(missing)} to announce")
    if index not in {s.dealer for s in board.shares} and board.qualified is None:
        dealt = dkg_trustee.step2_shares(ceremony, list(announced.values()), secrets.token_bytes)
        _post(client, state, "trustee_shares", dealt.to_json())
    return RoundStatus(True, detail=index)


def shares_round(client: Client, path: str | Path) -> RoundStatus:
    """Phase 1: check the shares dealt to this trustee (complaining in public), answer
    complaints against it; then, once the official has fixed QUAL, phase 2: reveal the
    Feldman values, and publish shares of any QUAL dealer the official names for
    reconstruction.  Done when this trustee can compute its key share."""
    state = load_state(path)
    ceremony = state.ceremony
    if ceremony is None:
        raise CliError(
            f"{state.path} has not taken part in a key ceremony: run `evote trustee keygen` first", code="wrong_phase"
        )
    eid, me = ceremony.election_id, ceremony.trustee
    view = api.fetch_board(client, eid)
    if not view.allows(TRUSTEE_SHARES):
        raise LifecycleError(
            f"election {eid!r} is past its key ceremony (phase {view.phase.value})"
        )
    if ceremony.finalized:
        raise CliError(f"{state.path} has already finished the key ceremony",
                       code="wrong_phase")
    b = view.ceremony()
    n = ceremony.trustees
    if me not in {s.dealer for s in b.shares}:
        raise CliError("this trustee has not dealt its shares: run `evote trustee keygen`",
                       code="wrong_phase")
    complaints, answers = list(b.complaints), list(b.answers)
    if b.qualified is None:
        missing = sorted(set(range(1, n + 1)) - {s.dealer for s in b.shares})
        if missing:
            return RoundStatus(False, f"shares dealt; waiting for {names(missing)} to deal theirs")
        outcome = dkg_trustee.step3_receive(ceremony, b.announcements, b.shares)
        if isinstance(outcome, list):
            posted = {(c.accuser, c.accused) for c in complaints}
            for complaint in outcome:
                if (complaint.accuser, complaint.accused) not in posted:
                    _post(client, state, "trustee_complaint", complaint.to_json())
                    complaints.append(complaint)
        answered = {(a.dealer, a.accuser) for a in answers}
        for answer in dkg_trustee.step4_answer(ceremony, b.announcements, complaints):
            if (answer.dealer, answer.accuser) not in answered:
                _post(client, state, "trustee_complaint_answer", answer.to_json())
                answers.append(answer)
        return RoundStatus(
            False, "shares checked; waiting for the official to fix the qualified trustees "
            "(`evote election qualify`)"
        )
    if me in b.qualified and me not in {c.trustee for c in b.commitments} and (
        b.reconstruct is None
    ):
        mine = dkg_trustee.step5_reveal(ceremony, secrets.token_bytes)
        _post(client, state, "trustee_committed", mine.to_json())
        b = view_ceremony(client, eid)
    if b.reconstruct is not None:
        have = {(r.trustee, r.dealer) for r in b.reconstructions}
        for r in dkg_trustee.step6_reconstruct(ceremony, b.announcements, b.shares, b.answers,
                                       b.reconstruct):
            if (r.trustee, r.dealer) not in have:
                _post(client, state, "trustee_reconstruction", r.to_json())
        b = view_ceremony(client, eid)
    if me not in b.qualified:
        raise KeyCeremonyError(f"trustee {me} was disqualified and holds no key share")
    try:
        joint, _ = dkg_trustee.finalize(ceremony, b.announcements, b.shares, b.complaints, b.answers,
                                b.commitments, b.reconstructions)
    except KeyCeremonyError as exc:
        unrevealed = dkg.unrevealed(b.qualified, b.commitments)
        if unrevealed:
            return RoundStatus(
                False, f"revealed; waiting for {names(list(unrevealed))} to reveal, or for the "
                f"official to have them rebuilt (`evote election reconstruct`) ({exc.message})"
            )
        raise
    return RoundStatus(True, detail=joint)


def view_ceremony(client: Client, election_id: str) -> Any:
    """The ceremony messages on the board now (after this round's own posts)."""
    return api.fetch_board(client, election_id).ceremony()


def run_ceremony(
    client: Client, paths: Sequence[str | Path], election_id: str, official: SigningKey
) -> None:
    """Every trustee's key ceremony driven from one place (the demo, the benchmarks,
    the tests): all announce and deal; all check; the official fixes QUAL; all reveal.
    Raises :class:`CliError` naming what a round still waits for if it did not finish."""
    from cli.election import qualify_ceremony  # the official's step (cli.election imports us)

    for path in paths:
        keygen_round(client, path, election_id)
    for path in paths:
        if not (status := keygen_round(client, path, election_id)).done:
            raise CliError(f"key generation did not finish: {status.waiting}", code="not_ready")
    for path in paths:
        shares_round(client, path)
    qualify_ceremony(client, official, election_id)
    for path in paths:
        shares_round(client, path)
    for path in paths:
        if not (status := shares_round(client, path)).done:
            raise CliError(f"the share exchange did not finish: {status.waiting}", code="not_ready")


def _finalized(state: TrusteeFile, ceremony: dkg_trustee.TrusteeState, view: BoardView) -> Scalar:
    """This trustee's key share, computed once from the (now final) ceremony on the board
    and saved in the state file, which from then on no longer holds the polynomial."""
    if ceremony.share is not None:
        return ceremony.share
    b = view.ceremony()
    joint, final = dkg_trustee.finalize(ceremony, b.announcements, b.shares, b.complaints, b.answers,
                                b.commitments, b.reconstructions)
    published = view.joint_key()
    if published is None or published != joint or final.share is None:
        raise KeyCeremonyError("the joint key on the board is not the one this trustee computed")
    state.with_ceremony(final)
    return final.share


def decrypt_round(
    client: Client, path: str | Path, *, check_ballots: bool = True, quiet: bool = False
) -> RoundStatus:
    """Check the posted tally against the board's ballots, then post a partial decryption."""
    state = load_state(path)
    ceremony = state.ceremony
    if ceremony is None:
        raise CliError(f"{state.path} has not taken part in a key ceremony",
                       code="wrong_phase")
    eid, me = ceremony.election_id, ceremony.trustee
    view = api.fetch_board(client, eid)
    posted = view.posted_tally()
    if posted is None:
        if not view.allows(TALLY_POSTED):
            phase = view.phase.value if view.phase else "empty"
            raise LifecycleError(f"election {eid!r} has no tally to decrypt yet (phase {phase})")
        return RoundStatus(False, "waiting for the official to post the encrypted tally")
    if me in {p.trustee for p in view.partials()}:
        return RoundStatus(True, detail="already posted")
    if not view.allows(PARTIAL_DECRYPTION):  # the result is out
        return RoundStatus(True, detail="not needed")
    share = _finalized(state, ceremony, view)
    ctx = view.context()
    counted = view.counted()
    if check_ballots:
        with progress("checking counted ballots", len(counted), quiet=quiet) as advance:
            for _, ballot in counted:
                check_cast(ctx, ballot)  # R-BAL-01/02
                advance(1)
    tally = posted[0]
    shape = tally_shape(ctx.manifest)  # choice and score questions only (R-MIX-11)
    weights = sum(ctx.credentials.weight_of(b.credential) for _, b in counted)
    # R-TAL-01/02: the tally is the aggregate of the counted set, before decrypting it
    assert view.board.tally is not None
    check_tally(view.board.tally, AggregateExpectation(
        len(counted), weights, shape, list(counted_weights(ctx, counted))))
    partial = partial_decrypt(ctx.fingerprint, me, share, tally, secrets.token_bytes)
    _post(client, state, PARTIAL_DECRYPTION, partial.to_json())
    return RoundStatus(True, detail=len(counted))


# --- commands -------------------------------------------------------------------------

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the other trustees (0: do what is possible now and stop).",
)


@click.group(cls=OrderedGroup)
def trustee() -> None:
    """A trustee: holds one share of the election key, never the whole key."""


@trustee.command("init")
@trustee_state_option
def init_command(state_path: str) -> None:
    """Make this trustee's signing key and private state file.

    Writes STATE (secret, mode 0600) and a .pub file with the public key.
    Send the public key to the official, who lists it when creating the
    election (`evote election create --trustee trustee.pub ...`).
    """
    public = init_trustee(state_path)
    note(f"wrote {state_path} (secret: keep it on this machine) and its public key")
    say(public.to_json())


@trustee.command("keygen")
@trustee_state_option
@server_option
@click.option(
    "--election",
    "election_id",
    envvar="EVOTE_ELECTION",
    metavar="ID",
    help="Election to join (needed the first time) [env: EVOTE_ELECTION].",
)
@timeout_option
def keygen_command(state_path: str, server: str, election_id: str | None, timeout: float) -> None:
    """Key ceremony, phase 1: announce keys and Pedersen commitments, then deal shares.

    Waits until every trustee has announced (the share boxes need their box
    keys).  The Pedersen commitments reveal nothing about the key.  Safe to re-run.
    """
    with Client(server) as client:
        index = wait_until(
            lambda: _as_check(keygen_round(client, state_path, election_id)),
            timeout=timeout,
            what="key generation is not finished",
            retry_hint="run `evote trustee keygen` again later",
        )
    say(f"trustee {index}: announced and dealt shares; next: `evote trustee shares`")


@trustee.command("shares")
@trustee_state_option
@server_option
@timeout_option
def shares_command(state_path: str, server: str, timeout: float) -> None:
    """Key ceremony: check the shares dealt to this trustee (complaining publicly
    about bad ones), answer complaints; once the official has fixed the qualified
    trustees (`evote election qualify`), reveal this trustee's Feldman values and,
    if the official names dealers to rebuild, publish the shares they dealt.

    Prints the joint election key this trustee holds a share of.  Safe to re-run.
    """
    with Client(server) as client:
        joint = wait_until(
            lambda: _as_check(shares_round(client, state_path)),
            timeout=timeout,
            what="the share exchange is not finished",
            retry_hint="run `evote trustee shares` again later",
        )
    say(
        f"shares checked; joint key {joint.joint_key.to_json()} "
        f"(threshold {joint.threshold}, qualified trustees {list(joint.qualified)})"
    )


@trustee.command("decrypt")
@trustee_state_option
@server_option
@timeout_option
@click.option(
    "--skip-ballot-proofs",
    is_flag=True,
    help="Do not re-verify every counted ballot's proofs (the aggregate is always recomputed).",
)
def decrypt_command(state_path: str, server: str, timeout: float, skip_ballot_proofs: bool) -> None:
    """Check the encrypted tally and post this trustee's partial decryption.

    Recomputes the aggregate from the board's counted ballots (the last
    ballot of each credential, weighted) and refuses to decrypt anything
    else: a trustee never helps decrypt a single ballot or a doctored sum.
    """
    with Client(server) as client:
        detail = wait_until(
            lambda: _as_check(
                decrypt_round(client, state_path, check_ballots=not skip_ballot_proofs)
            ),
            timeout=timeout,
            what="nothing to decrypt",
            retry_hint="run `evote trustee decrypt` again once the official has run "
            "`evote election tally`",
        )
        mixed = wait_until(  # ranked and graded questions: the final mixed lists
            lambda: mix_decrypt_round(client, state_path),
            timeout=timeout,
            what="the mixed lists cannot be decrypted yet",
            retry_hint="run `evote trustee decrypt` again once every mixer has mixed",
        )
    if mixed:
        say(f"{mixed} mixed list{'s' if mixed > 1 else ''} decrypted (with proofs) and posted")
    if detail == "already posted":
        say("this trustee's partial decryption is already on the board")
    elif detail == "not needed":
        say("the result is already published; this trustee's decryption is not needed")
    else:
        say(f"tally checked against {detail} counted ballots; partial decryption posted")


def _as_check(status: RoundStatus) -> tuple[Any, str]:
    return (status.detail if status.done else None), status.waiting
