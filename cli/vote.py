"""``evote vote``: vote from a terminal, with the same cryptography as the web booth.

What happens, in order:

1. the setup part of the board is fetched and checked: the hash chain, the
   signatures of the official, the credential authority and the trustees, the
   joint key recomputed from the trustees' messages, and the fingerprint
   recomputed and compared with the one posted at opening;
2. the voter's choices (asked interactively, or ``--choices``) are checked
   against the manifest's rules;
3. the ballot is encrypted and proved on this machine, and signed with the
   voter's credential (which never leaves it);
4. either it is cast (sent with the voter's login), the board's receipt is
   checked (signature, inclusion proof, the entry really holds this ballot) and
   stored, and the tracking code printed; or, with ``--audit``, it is *audited*:
   the randomness is revealed, the ballot is re-encrypted here and compared,
   posted as an audited (never counted) ballot, and nothing is cast.

A ballot to be cast is saved (``ballot-<tracking code>.json``: the signed,
encrypted ballot, no secret) before it is sent, and its randomness is dropped
at once: it can never be audited.  If the answer is lost, the *same bytes* are
sent again with back-off and the board is asked for the tracking code
(:mod:`cli.sending`); the receipt comes from whichever answers first.  If
nothing answers, the saved file lets ``evote vote --resend FILE`` finish later.

The voter's secrets come as files or as the codes themselves: ``--credential``
takes the credential file or the printed credential code from the voter's
letter, ``--login`` the ``.login`` file or the login code; left out, each is
asked for without echo (a code typed on the command line may stay in the
shell history).

``--choices`` format: ``QUESTION=OPTIONS`` items separated by ``;``, where
QUESTION is a question id or its number (1-based), and OPTIONS lists option
numbers (``park=1;priorities=1,3``) for choice questions, or
``option:points`` pairs (``budget=1:3,2:2``) for score questions.  An empty
list (``priorities=``) selects nothing.

Why one module of ~580 lines: it is one flow, in the order above, and each
step's helpers serve this command only; what other commands share is apart
(the sending with back-off in :mod:`cli.sending`, the receipt file in
:mod:`cli.receipt`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from cli import api
from cli.client import Client
from cli.console import CliError, note, say, warn
from cli.keyfiles import json_bytes, read_json, write_new_file
from cli.options import server_option
from cli.ranked_input import describe_mixed, mixed_hint, mixed_rule, parse_mixed
from cli.sending import OutcomeUnknown, RetryPolicy, deliver
from cli.voters import read_login_file
from evote.ballot import AuditedBallot, Ballot, encrypt_ballot
from evote.board import Receipt
from evote.commands import check_election_id
from evote.credentials import CredentialFile, parse_credential_code
from evote.election import Phase
from evote.errors import (
    BoardError,
    CredentialError,
    EvoteError,
    InvalidBallot,
    LifecycleError,
    SchemaError,
)
from evote.fingerprint import ElectionContext
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.manifest import Manifest, Question
from evote.rules import check_audit
from evote.schedule import Schedule, check_entry_time
from evote.signing import SigningKey


def read_credential_file(path: str | Path) -> CredentialFile:
    """The voter's credential file; a damaged or mistyped one is a :class:`CredentialError`."""
    obj = read_json(path, "credential file")
    try:
        return CredentialFile.from_json(obj, str(path))
    except EvoteError as exc:
        raise CredentialError(f"credential file {path}: {exc.message}") from None


def _names_a_file(value: str) -> bool:
    """``value`` was meant as a path (it exists, or looks like one), not as a code."""
    return Path(value).exists() or "/" in value or value.endswith((".json", ".login"))


def read_credential(value: str) -> tuple[str | None, SigningKey]:
    """``(election id or None, key)`` from a credential file or a printed credential code
    (which names no election)."""
    if _names_a_file(value):
        found = read_credential_file(value)
        return found.election_id, found.key
    try:
        return None, parse_credential_code(value.strip().upper())
    except CredentialError as exc:
        raise CredentialError(
            f"--credential is neither a credential file nor a valid credential code: "
            f"{exc.message}"
        ) from None


def read_login(value: str) -> tuple[str | None, str]:
    """``(election id or None, login code)`` from a ``.login`` file or the login code."""
    if _names_a_file(value):
        return read_login_file(value)
    code = value.strip()
    if not code or any(c.isspace() for c in code) or code.startswith("{"):
        raise CliError("--login is neither a login file nor a login code", code="bad_login")
    return None, code


def one_election(named: dict[str, str | None]) -> str:
    """The election every input that names one agrees on (``named``: where -> id)."""
    ids = {where: eid for where, eid in named.items() if eid is not None}
    if not ids:
        raise CliError(
            "which election? The credential code and login code do not say: add --election ID", code="wrong_election"
        )
    if len(set(ids.values())) > 1:
        listed = ", ".join(f"{where} {eid!r}" for where, eid in ids.items())
        raise CliError(f"these are for different elections: {listed}", code="wrong_election")
    return next(iter(ids.values()))


def read_sent_ballot(path: str | Path, ctx: ElectionContext) -> Ballot:
    """A ballot saved before it was sent (``ballot-<code>.json``), for ``--resend``."""
    obj = read_json(path, "ballot file")
    try:
        return Ballot.from_json(obj, ctx.manifest)
    except EvoteError as exc:
        raise CliError(f"ballot file {path}: {exc.message}", code="wrong_file") from None


def ballot_file_election(path: str | Path) -> str:
    """The election a saved ballot is for (read before the election is fetched)."""
    obj = read_json(path, "ballot file")
    try:
        return check_election_id(obj.get("election_id") if isinstance(obj, dict) else None)
    except SchemaError:
        raise CliError(f"{path} is not a saved evote ballot (no election_id)", code="wrong_file") from None


# --- choices ---------------------------------------------------------------------------


def _question_index(manifest: Manifest, name: str) -> int:
    for q, question in enumerate(manifest.questions):
        if question.id == name:
            return q
    if name.isdigit() and 1 <= int(name) <= len(manifest.questions):
        return int(name) - 1
    ids = ", ".join(q.id for q in manifest.questions)
    raise InvalidBallot(f"--choices: no question {name!r} (questions: {ids})")


def _option_number(question: Question, text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= len(question.options):
        raise InvalidBallot(
            f"--choices: question {question.id!r} has options 1 to {len(question.options)}, "
            f"not {text.strip()!r}"
        )
    return int(text) - 1


def parse_row(question: Question, text: str) -> tuple[int, ...]:
    """One question's values from ``"1,3"`` (choice) or ``"1:3,2:2"`` (score)."""
    if question.is_mixed:  # ranked or grades: cli/ranked_input.py
        return parse_mixed(question, text)
    row = [0] * len(question.options)
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if question.kind == "score":
            opt, sep, points = item.partition(":")
            if not sep or not points.strip().isdigit():
                raise InvalidBallot(
                    f"--choices: question {question.id!r} is scored: write option:points, e.g. 1:3"
                )
            o, value = _option_number(question, opt), int(points)
        else:
            o, value = _option_number(question, item), 1
        if row[o]:
            raise InvalidBallot(f"--choices: option {o + 1} of {question.id!r} is given twice")
        row[o] = value
    return tuple(row)


def parse_choices(manifest: Manifest, text: str) -> list[tuple[int, ...]]:
    """Selections from the ``--choices`` text; every question must be answered."""
    rows: dict[int, tuple[int, ...]] = {}
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        name, sep, values = item.partition("=")
        if not sep:
            raise InvalidBallot(f"--choices: expected QUESTION=OPTIONS, got {item!r}")
        q = _question_index(manifest, name.strip())
        if q in rows:
            raise InvalidBallot(f"--choices: question {manifest.questions[q].id!r} is given twice")
        rows[q] = parse_row(manifest.questions[q], values)
    missing = [manifest.questions[q].id for q in range(len(manifest.questions)) if q not in rows]
    if missing:
        raise InvalidBallot(
            f"--choices: no answer for question {missing[0]!r} (use {missing[0]}= for none)"
        )
    return [rows[q] for q in range(len(manifest.questions))]


def check_row(question: Question, row: Sequence[int]) -> None:
    """The question's rules for one answer (the whole ballot is checked again by evote.ballot)."""
    if question.is_mixed:
        return  # parse_mixed checked the ranking or the grades
    total = sum(row)
    if any(v > question.max_score for v in row):
        raise InvalidBallot(f"at most {question.max_score} points per option")
    if not question.min <= total <= question.max:
        what = "points in total" if question.kind == "score" else "options"
        raise InvalidBallot(f"{_rule(question)}: you gave {total} {what}")


def _rule(question: Question) -> str:
    if question.is_mixed:
        return mixed_rule(question)
    if question.kind == "score":
        return (
            f"give each option 0 to {question.max_score} points, "
            f"{question.min} to {question.max} points in total"
        )
    if question.min == question.max:
        return f"choose exactly {question.min}"
    return f"choose {question.min} to {question.max}"


def answer_hint(question: Question) -> str:
    """How to answer ``question``, with an example that is itself a valid answer.

    "empty for none" only where no answer is allowed (min 0): offering it on a
    choose-exactly-1 question invites an answer the next line refuses."""
    if question.is_mixed:  # ranked or grades: cli/ranked_input.py
        return mixed_hint(question)
    if question.kind == "score":
        left, parts = max(question.min, min(question.max, 2 * question.max_score)), []
        for o in range(len(question.options)):
            if left <= 0:
                break
            points = min(question.max_score, left)
            parts.append(f"{o + 1}:{points}")
            left -= points
        hint = f"option:points, e.g. {','.join(parts) or '1:0'}"
    else:
        k = max(question.min, min(question.max, 2))
        example = ",".join(str(o + 1) for o in range(k)) or "1"
        hint = f"option number{'s' if question.max > 1 else ''}, e.g. {example}"
    return hint + ("; empty for none" if question.min == 0 else "")


def ask_choices(manifest: Manifest, lang: str | None) -> list[tuple[int, ...]]:
    """Ask every question on the terminal until the answer follows the rules."""
    say(f"\n{manifest.label(lang)}")
    if manifest.description_in(lang):
        say(manifest.description_in(lang))
    rows: list[tuple[int, ...]] = []
    for q, question in enumerate(manifest.questions, start=1):
        say(
            f"\nQuestion {q} of {len(manifest.questions)}: {question.label(lang)}  "
            f"({_rule(question)})"
        )
        for o in range(len(question.options)):
            say(f"  {o + 1}) {question.option_label(o, lang)}")
        while True:
            answer = click.prompt(
                f"Your answer ({answer_hint(question)})", default="", show_default=False
            )
            try:
                row = parse_row(question, answer)
                check_row(question, row)
            except InvalidBallot as exc:
                say(f"  {exc.message.removeprefix('--choices: ')}")
                continue
            rows.append(row)
            break
    return rows


def describe(
    manifest: Manifest, selections: Sequence[Sequence[int]], lang: str | None
) -> list[str]:
    lines = []
    for question, row in zip(manifest.questions, selections, strict=True):
        if question.is_mixed:
            picked = describe_mixed(question, row, lang)
        elif question.kind == "score":
            picked = [f"{question.option_label(o, lang)}: {v}" for o, v in enumerate(row) if v]
        else:
            picked = [question.option_label(o, lang) for o, v in enumerate(row) if v]
        lines.append(f"  {question.label(lang)}: {', '.join(picked) if picked else '(none)'}")
    return lines


# --- voting ----------------------------------------------------------------------------


def election_context(client: Client, election_id: str) -> ElectionContext:
    """The checked context of an open election (board steps 1 in the module docstring)."""
    view = api.fetch_setup(client, election_id)
    # The setup part ends at the opening, so ask the server whether it was closed
    # since (an early, friendly refusal; the server refuses a late ballot anyway).
    phase = view.phase.value if view.phase else "empty"
    if view.allows(BALLOT_CAST):
        phase = str(api.election_info(client, election_id).get("phase"))
    if phase != Phase.OPEN.value:
        # a scheduled election says when it opens or that it closed (R-TIME-02/03)
        window = Schedule.from_manifest(view.setup.manifest)
        check_entry_time(window, BALLOT_CAST, None, time.time_ns() // 1_000_000)
        raise LifecycleError(f"election {election_id!r} is not open (phase {phase})")
    return view.context()


@dataclass(frozen=True)
class Cast:
    ballot: Ballot
    receipt: Receipt
    audited: AuditedBallot | None = None  # set when the ballot was audited, not cast


def cast_or_audit(
    client: Client,
    ctx: ElectionContext,
    credential: SigningKey,
    login_code: str,
    selections: Sequence[Sequence[int]],
    *,
    audit: bool = False,
    policy: RetryPolicy | None = None,
    before_sending: Callable[[Ballot], None] | None = None,
) -> Cast:
    """Encrypt, prove and sign; then cast (checking the receipt) or audit.

    For a cast, the randomness is dropped before anything is sent, so the
    ballot can never be audited; ``before_sending`` sees the signed ballot
    first (to save it for ``--resend``).  Both paths resend the same bytes
    after a lost answer and recover the receipt from the board
    (:func:`cli.sending.deliver`)."""
    if credential.verify_key not in ctx.credentials:
        raise CredentialError(
            "this credential is not on the election's published list (unknown credential)"
        )
    ballot, ballot_secrets = encrypt_ballot(ctx, credential, selections, secrets.token_bytes)
    eid = ctx.election_id
    if audit:
        audited = AuditedBallot.from_secrets(ballot, ballot_secrets)
        check_audit(ctx, audited)  # R-BAL-01/04, before posting it
        receipt = deliver(
            lambda: api.audit_ballot(client, eid, audited, login_code),
            lambda: board_receipt(client, ballot),
            lambda r: check_receipt_for(client, r, ballot, kind=BALLOT_AUDITED),
            tracking_code=ballot.tracking_code,
            policy=policy or RetryPolicy(),
        )
        return Cast(ballot, receipt, audited)
    del ballot_secrets  # a ballot that may be sent is never opened
    if before_sending is not None:
        before_sending(ballot)
    return Cast(ballot, send_ballot(client, ballot, login_code, policy))


def send_ballot(
    client: Client, ballot: Ballot, login_code: str, policy: RetryPolicy | None = None
) -> Receipt:
    """Cast ``ballot`` (already signed) and return its checked receipt, resending the same
    bytes and asking the board after a lost answer."""
    eid = ballot.election_id
    return deliver(
        lambda: api.cast_ballot(client, eid, ballot, login_code),
        lambda: board_receipt(client, ballot),
        lambda r: check_receipt_for(client, r, ballot),
        tracking_code=ballot.tracking_code,
        policy=policy or RetryPolicy(),
    )


def board_receipt(client: Client, ballot: Ballot) -> Receipt | None:
    """The receipt of ``ballot`` from the board, by its tracking code (None: not there)."""
    found = api.ballot_receipt(client, ballot.election_id, ballot.tracking_code)
    return None if found is None else found[1]


def check_receipt_for(
    client: Client, receipt: Receipt, ballot: Ballot, *, kind: str = BALLOT_CAST
) -> None:
    """The receipt is signed, proves inclusion, and its entry holds exactly ``ballot``."""
    receipt.verify(receipt.tree_head.board_key)
    if receipt.election != ballot.election_id or receipt.tracking_code != ballot.tracking_code:
        raise BoardError("the server's receipt is for another ballot")
    entry = api.entry(client, receipt.election, receipt.index)
    receipt.verify_entry(entry)
    posted = entry.payload.get("ballot" if kind == BALLOT_CAST else "audited")
    if kind == BALLOT_AUDITED and isinstance(posted, dict):
        posted = posted.get("ballot")
    if entry.kind != kind or posted != ballot.to_json():
        raise BoardError(f"entry {entry.index} on the board does not hold the ballot just sent")


@click.command("vote")
@server_option
@click.option(
    "--login",
    "login_value",
    help="Your login file (from the election office), or the login code itself. "
    "Left out: asked for without echo.",
)
@click.option(
    "--credential",
    "credential_value",
    help="Your credential file, or the credential code printed in your letter "
    "(from the credential authority). Left out: asked for without echo.",
)
@click.option(
    "--election",
    "election_opt",
    help="The election id, when neither the credential nor the login names it "
    "(a printed code and a bare login code do not).",
)
@click.option(
    "--choices",
    help="Answer without questions, e.g. 'park=1;priorities=1,3' (see `evote vote --help`).",
)
@click.option(
    "--audit",
    is_flag=True,
    help="Audit instead of casting: reveal and check the "
    "encryption, post it as an audited ballot; nothing is counted.",
)
@click.option(
    "--resend",
    "resend_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Send again a ballot saved by an earlier `evote vote` whose answer never came "
    "(ballot-<tracking code>.json), and get its receipt. Needs only the login.",
)
@click.option(
    "--receipt",
    "receipt_path",
    type=click.Path(dir_okay=False),
    help="Where to store the receipt (default: receipt-<tracking code>.json), or with "
    "--audit the audited ballot (default: audited-<tracking code>.json).",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="How many times to send the same ballot again after a lost answer.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    default=60.0,
    show_default=True,
    help="Seconds to wait for each answer of the server.",
)
@click.option("--lang", default=None, help="Language of the questions, e.g. en or ru.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation before casting.")
def vote(
    server: str,
    login_value: str | None,
    credential_value: str | None,
    election_opt: str | None,
    choices: str | None,
    audit: bool,
    resend_path: str | None,
    receipt_path: str | None,
    retries: int,
    timeout: float,
    lang: str | None,
    yes: bool,
) -> None:
    """Encrypt, sign and cast a ballot (or audit one) from this terminal.

    Your choices are encrypted on this machine; the server sees only the
    encrypted, signed ballot.  Prints the ballot's tracking code and stores the
    receipt; check it later with `evote receipt check RECEIPT`.  You may vote
    again: only your last ballot counts.

    If the server's answer is lost, the same ballot is sent again (never a new
    one, never opened) and the board is asked for it by its tracking code,
    until a receipt is had; if the server stays out of reach, the ballot is
    kept in ballot-<tracking code>.json for `evote vote --resend`.

    \b
    --choices: QUESTION=OPTIONS separated by ';'. QUESTION is an id or number;
    OPTIONS are option numbers (1,3) or, for scored questions, option:points
    pairs (1:3,2:2).  Example: --choices 'park=1;priorities=1,3'
    """
    if resend_path is not None and (audit or choices is not None or credential_value):
        raise CliError("--resend sends a saved ballot as it is: no --audit, --choices or "
                       "--credential with it", code="usage")
    policy = RetryPolicy(attempts=retries + 1)
    credential: SigningKey | None = None
    named: dict[str, str | None] = {"--election": election_opt}
    if resend_path is not None:
        named["the ballot file"] = ballot_file_election(resend_path)
    else:
        if credential_value is None:
            credential_value = click.prompt(
                "Your credential code (from your letter) or credential file", hide_input=True
            )
        elif not _names_a_file(credential_value):
            warn_code_on_command_line("--credential")
        named["the credential"], credential = read_credential(credential_value)
    if login_value is None:
        login_value = click.prompt("Your login code or login file", hide_input=True)
    elif not _names_a_file(login_value):
        warn_code_on_command_line("--login")
    named["the login"], login_code = read_login(login_value)
    eid = one_election(named)

    with Client(server, timeout=timeout) as client:
        ctx = election_context(client, eid)
        if resend_path is not None:
            ballot = read_sent_ballot(resend_path, ctx)
            receipt = send_ballot(client, ballot, login_code, policy)
            store_receipt(ballot, receipt, receipt_path)
            return
        assert credential is not None
        manifest = ctx.manifest
        if credential.verify_key not in ctx.credentials:
            raise CredentialError(
                "this credential is not on the election's published list (unknown credential)"
            )
        selections = (
            parse_choices(manifest, choices) if choices is not None else ask_choices(manifest, lang)
        )
        if choices is None and not yes:
            say("\nYour ballot:")
            for line in describe(manifest, selections, lang):
                say(line)
            verb = "Encrypt and audit" if audit else "Encrypt and cast"
            if not click.confirm(f"{verb} this ballot?", default=False):
                raise click.Abort()
        saved: list[Path] = []

        def save(ballot: Ballot) -> None:
            folder = receipt_target(ballot, receipt_path).parent
            target = folder / f"ballot-{ballot.tracking_code}.json"
            saved.append(write_new_file(target, json_bytes(ballot.to_json()), secret=False))

        try:
            done = cast_or_audit(
                client, ctx, credential, login_code, selections,
                audit=audit, policy=policy, before_sending=save,
            )
        except OutcomeUnknown:
            if saved:
                note(f"the ballot that was sent is kept in {saved[0]}; finish with "
                     f"`evote vote --resend {saved[0]} --login ...`")
            raise
        except EvoteError:
            for path in saved:  # refused for certain: nothing to finish later
                path.unlink(missing_ok=True)
            raise
    code = done.ballot.tracking_code
    if done.audited is not None:
        target = Path(receipt_path or f"audited-{code}.json")
        write_new_file(target, json_bytes(done.audited.to_json()), secret=False)
        note(
            f"audited ballot stored in {target}; re-check it on another device with "
            f"`evote-verify audit {target} {server} --election {eid}`"
        )
        say(
            f"audited ballot, tracking code {code}: re-encrypting your choices gave exactly "
            "this ballot, so the encryption was honest. It is on the board as audited and "
            "NOT counted; run `evote vote` again to cast."
        )
        return
    store_receipt(done.ballot, done.receipt, receipt_path)
    for path in saved:  # the receipt is stored: the saved ballot is no longer needed
        path.unlink(missing_ok=True)


def warn_code_on_command_line(option: str) -> None:
    warn(f"a code given as {option} on the command line can stay in your shell history and be "
         f"seen by other users of this machine; leave {option} out to be asked for it")


def receipt_target(ballot: Ballot, receipt_path: str | None) -> Path:
    return Path(receipt_path or f"receipt-{ballot.tracking_code}.json")


def store_receipt(ballot: Ballot, receipt: Receipt, receipt_path: str | None) -> None:
    target = receipt_target(ballot, receipt_path)
    write_new_file(target, json_bytes(receipt.to_json()), secret=False)
    note(f"receipt stored in {target}; check it any time with `evote receipt check {target}`")
    say(f"ballot cast; tracking code {ballot.tracking_code} (board entry {receipt.index})")
