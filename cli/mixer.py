"""``evote mixer`` and ``evote trustee mix``: shuffling the ranked and graded ballots.

After the close, the counted ballots' rows of every ranked or grades question
are re-encrypted and permuted by each mixer in turn, each with a proof of a
shuffle (docs/protocol-mixnet.md).  The mixers are the manifest's ``mixers:``
(each with its own key file, made by ``evote mixer init``) or, when the
manifest names none, the trustees (``evote trustee mix``, with the key of the
trustee's state file).  A mixer's round, like a trustee's:

1. fetch the board and fold it through the projection -- which re-checks every
   earlier mix's proof, so a mixer never shuffles a list it was not given;
2. for each mixed question whose next mixer is this one, shuffle and prove the
   previous output (or the counted ballots' rows), and post the signed mix;
3. wait (:mod:`cli.waiting`) while an earlier mixer has not mixed yet.

Idempotent: a mix already on the board is never made again, so a mixer killed
at any point simply runs the command again.  A send whose answer is lost is
resent with the same bytes after a look at the board (:func:`deliver_command`,
as :mod:`cli.sending` does for ballots): the server refuses a second mix by
the same mixer (R-MIX-01), so at most one of them is ever on the board.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cli import api
from cli.board_view import BoardView
from cli.client import Client
from cli.console import CliError, note, progress, say
from cli.keyfiles import public_key_text, read_key_file, write_key_file, write_new_file
from cli.options import OrderedGroup, election_option, server_option, trustee_state_option
from cli.sending import UNCERTAIN, RetryPolicy
from cli.waiting import DEFAULT_TIMEOUT, names, wait_until
from evote.commands import SignedCommand, sign_command
from evote.encoding import canonical_json
from evote.errors import EvoteError, LifecycleError, RuleViolation, UnauthorisedSigner
from evote.kinds import ELECTION_CLOSED, MIX_POSTED
from evote.mixnet import mix
from evote.ranked import next_mixer
from evote.signing import SigningKey

MIXER_ROLE = "mixer"


@dataclass(frozen=True)
class MixStatus:
    """One pass of a mixer's round: ``done`` (every question this mixer mixes is on the
    board), ``posted`` (how many mixes this pass posted), or what it waits for."""

    done: bool
    posted: int = 0
    waiting: str = ""
    empty: bool = False  # no ballot was counted: there is nothing to mix


def mixer_index(view: BoardView, key: SigningKey) -> int:
    """This key's 1-based place in the election's mixer list."""
    for m in view.setup.mixers:
        if m.verify_key.raw == key.verify_key.raw:
            return m.index
    raise UnauthorisedSigner(
        f"this key ({key.verify_key.to_json()[:12]}…) is not one of the election's mixers"
    )


def mix_round(
    client: Client, key: SigningKey, election_id: str, *, quiet: bool = False,
    policy: RetryPolicy | None = None,
) -> MixStatus:
    """Mix every question whose turn it is for this mixer (see module doc)."""
    view = api.fetch_board(client, election_id)
    me = mixer_index(view, key)
    manifest = view.setup.manifest
    if not manifest.mixed_questions:
        raise LifecycleError(f"election {election_id!r} has no ranked or grades question to mix")
    if not view.has(ELECTION_CLOSED):
        return MixStatus(False, waiting="waiting for the official to close the election")
    state, mixing = view.board, view.mixing()
    assert mixing is not None  # the board holds election_closed
    waiting: list[int] = []
    posted = 0
    for q in manifest.mixed_questions:
        inputs = mixing.initial.get(q)
        if inputs is None:  # no counted ballot: nothing to mix (R-MIX-10 needs none)
            continue
        turn = next_mixer(state, q)
        if turn is None or turn > me:
            continue
        if turn < me:
            waiting.append(turn)
            continue
        if state.mixes.get(q):
            inputs = state.mixes[q][-1].rows
        label = manifest.questions[q].label()
        with progress(f"mixing {label!r} ({len(inputs)} rows)", 2, quiet=quiet) as advance:
            advance(1)
            posted_mix = mix(view.context().fingerprint, view.joint_key().joint_key, q, me,
                             key, inputs, secrets.token_bytes)
            command = sign_command(key, election_id, MIX_POSTED, posted_mix.to_json())
            deliver_command(client, election_id, MIX_POSTED, command, key, policy=policy)
            advance(1)
        posted += 1
    if waiting:
        return MixStatus(False, posted, f"waiting for {names(sorted(set(waiting)), 'mixer')} "
                                        "to mix first")
    return MixStatus(True, posted, empty=not mixing.initial)


def deliver_command(
    client: Client, election_id: str, kind: str, command: SignedCommand, key: SigningKey,
    *, policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Post ``command``; after a failure whose outcome is unknown (a lost answer, a 5xx),
    look for it on the board and send the same bytes again only if it is not there.

    A refusal after such a failure is taken as "it did arrive" only if the board
    then holds exactly this command; otherwise the refusal stands."""
    policy = policy or RetryPolicy()
    payload = command.to_json()
    uncertain = False
    for attempt in range(policy.attempts):
        if attempt:
            sleep(policy.delay(attempt))
            if _on_board(client, election_id, kind, payload):
                return
        try:
            api.post_command(client, election_id, kind, command, key)
            return
        except UNCERTAIN as exc:
            note(f"sending {kind} failed ({exc.message}); looking at the board, then resending")
            uncertain = True
        except RuleViolation:
            if uncertain and _on_board(client, election_id, kind, payload):
                return
            raise
    if _on_board(client, election_id, kind, payload):
        return
    raise CliError(f"{kind} could not be sent ({policy.attempts} attempts); run the command "
                   "again: what is on the board is never sent twice")


def _on_board(client: Client, election_id: str, kind: str, payload: dict[str, Any]) -> bool:
    try:
        entries = api.fetch_entries(client, election_id)
    except UNCERTAIN:
        return False
    want = canonical_json(payload)
    return any(e.kind == kind and canonical_json(e.payload) == want for e in entries)


def run_mixer(client: Client, key: SigningKey, election_id: str, timeout: float) -> int | None:
    """Wait for this mixer's turns and mix; the number of mixes posted by this run
    (None: no ballot was counted, so there was nothing to mix)."""
    total = 0

    def check() -> tuple[MixStatus | None, str]:
        nonlocal total
        status = mix_round(client, key, election_id)
        total += status.posted
        return (status if status.done else None), status.waiting

    last = wait_until(check, timeout=timeout, what="the mixing is not finished",
                      retry_hint="run the mix command again later (what is mixed is kept)")
    return None if last.empty else total


def _report(posted: int | None) -> None:
    if posted is None:
        say("no ballot was counted: there is nothing to mix")
    elif posted:
        say(f"{posted} mix{'es' if posted > 1 else ''} posted with proofs of a shuffle")
    else:
        say("this mixer's mixes are already on the board")


# --- commands ---------------------------------------------------------------------------

timeout_option = click.option(
    "--timeout", type=click.FloatRange(min=0), default=DEFAULT_TIMEOUT, show_default=True,
    help="Seconds to wait for the close and the earlier mixers (0: mix what is possible now).",
)
mixer_key_option = click.option(
    "--key", "key_path", envvar="EVOTE_MIXER_KEY", default="mixer.key", show_default=True,
    type=click.Path(dir_okay=False),
    help="This mixer's signing key file (from `evote mixer init`) [env: EVOTE_MIXER_KEY].",
)


@click.group(cls=OrderedGroup)
def mixer() -> None:
    """A mixer named in the manifest: shuffles the ranked and graded ballots after the close."""


@mixer.command("init")
@mixer_key_option
def init_command(key_path: str) -> None:
    """Make this mixer's signing key (secret, 0600) and a .pub file beside it.

    Send the public key to the official, who lists it under `mixers:` in the
    manifest (`{index: 1, verify_key: ...}`, in mixing order)."""
    target = Path(key_path)
    pub = target.with_name(target.name.removesuffix(".key") + ".pub")
    if pub.exists():
        raise CliError(f"{pub} already exists; refusing to overwrite it")
    key = SigningKey.generate(secrets.token_bytes)
    write_key_file(target, MIXER_ROLE, key)
    write_new_file(pub, public_key_text(key.verify_key), secret=False)
    note(f"wrote {key_path} (secret: keep it on this machine) and its public key {pub}")
    say(key.verify_key.to_json())


@mixer.command("mix")
@mixer_key_option
@server_option
@election_option
@timeout_option
def mix_command(key_path: str, server: str, election_id: str, timeout: float) -> None:
    """Shuffle and re-encrypt the ranked and graded ballots when this mixer's turn comes.

    Waits for the close and for the mixers before this one; checks every earlier
    mix's proof first.  Safe to re-run."""
    key = read_key_file(key_path, MIXER_ROLE)
    with Client(server) as client:
        _report(run_mixer(client, key, election_id, timeout))


def trustee_mix_command(state_path: str, server: str, timeout: float) -> None:
    """Mix as trustee i (mixer i when the manifest names no mixers), with the key of the
    trustee's state file."""
    from cli.trustee import load_state

    state = load_state(state_path)
    if state.election_id is None:
        raise CliError(f"{state_path} is not bound to an election yet: run `evote trustee keygen`")
    with Client(server) as client:
        _report(run_mixer(client, state.signing_key, state.election_id, timeout))


def register_trustee_mix(group: click.Group) -> None:
    """Add ``mix`` to the ``evote trustee`` group (kept here, beside the mixer's round)."""

    @group.command("mix")
    @trustee_state_option
    @server_option
    @timeout_option
    def _mix(state_path: str, server: str, timeout: float) -> None:
        """Shuffle the ranked and graded ballots as this trustee's mixer (default mixers).

        Waits for the close and the trustees before this one.  Safe to re-run."""
        trustee_mix_command(state_path, server, timeout)


__all__ = ["EvoteError", "deliver_command", "mix_round", "mixer", "register_trustee_mix"]
