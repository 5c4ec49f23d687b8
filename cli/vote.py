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

``--choices`` format: ``QUESTION=OPTIONS`` items separated by ``;``, where
QUESTION is a question id or its number (1-based), and OPTIONS lists option
numbers (``park=1;priorities=1,3``) for choice questions, or
``option:points`` pairs (``budget=1:3,2:2``) for score questions.  An empty
list (``priorities=``) selects nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from cli import api
from cli.client import Client
from cli.console import CliError, note, say
from cli.keyfiles import json_bytes, read_json, write_new_file
from cli.options import server_option
from cli.voters import read_login_file
from evote.ballot import AuditedBallot, Ballot, encrypt_ballot
from evote.board import Receipt
from evote.credentials import CredentialFile
from evote.election import Phase
from evote.errors import BoardError, CredentialError, EvoteError, InvalidBallot, LifecycleError
from evote.fingerprint import ElectionContext
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.manifest import Manifest, Question
from evote.rules import check_audit
from evote.signing import SigningKey


def read_credential_file(path: str | Path) -> CredentialFile:
    """The voter's credential file; a damaged or mistyped one is a :class:`CredentialError`."""
    obj = read_json(path, "credential file")
    try:
        return CredentialFile.from_json(obj, str(path))
    except EvoteError as exc:
        raise CredentialError(f"credential file {path}: {exc.message}") from None


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
    total = sum(row)
    if any(v > question.max_score for v in row):
        raise InvalidBallot(f"at most {question.max_score} points per option")
    if not question.min <= total <= question.max:
        what = "points in total" if question.kind == "score" else "options"
        raise InvalidBallot(f"{_rule(question)}: you gave {total} {what}")


def _rule(question: Question) -> str:
    if question.kind == "score":
        return (
            f"give each option 0 to {question.max_score} points, "
            f"{question.min} to {question.max} points in total"
        )
    if question.min == question.max:
        return f"choose exactly {question.min}"
    return f"choose {question.min} to {question.max}"


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
        hint = (
            "option:points, e.g. 1:3,2:1"
            if question.kind == "score"
            else "option numbers, e.g. 1,3"
        )
        while True:
            answer = click.prompt(
                f"Your answer ({hint}; empty for none)", default="", show_default=False
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
        if question.kind == "score":
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
) -> Cast:
    """Encrypt, prove and sign; then cast (checking the receipt) or audit."""
    if credential.verify_key not in ctx.credentials:
        raise CredentialError(
            "this credential is not on the election's published list (unknown credential)"
        )
    ballot, ballot_secrets = encrypt_ballot(ctx, credential, selections, secrets.token_bytes)
    eid = ctx.election_id
    if audit:
        audited = AuditedBallot.from_secrets(ballot, ballot_secrets)
        check_audit(ctx, audited)  # R-BAL-01/04, before posting it
        receipt = api.audit_ballot(client, eid, audited, login_code)
        check_receipt_for(client, receipt, ballot, kind=BALLOT_AUDITED)
        return Cast(ballot, receipt, audited)
    receipt = api.cast_ballot(client, eid, ballot, login_code)
    check_receipt_for(client, receipt, ballot)
    return Cast(ballot, receipt)


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
    "login_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Your login file (from the election office).",
)
@click.option(
    "--credential",
    "credential_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Your credential file (from the credential authority).",
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
    "--receipt",
    "receipt_path",
    type=click.Path(dir_okay=False),
    help="Where to store the receipt (default: receipt-<tracking code>.json), or with "
    "--audit the audited ballot (default: audited-<tracking code>.json).",
)
@click.option("--lang", default=None, help="Language of the questions, e.g. en or ru.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation before casting.")
def vote(
    server: str,
    login_path: str,
    credential_path: str,
    choices: str | None,
    audit: bool,
    receipt_path: str | None,
    lang: str | None,
    yes: bool,
) -> None:
    """Encrypt, sign and cast a ballot (or audit one) from this terminal.

    Your choices are encrypted on this machine; the server sees only the
    encrypted, signed ballot.  Prints the ballot's tracking code and stores the
    receipt; check it later with `evote receipt check RECEIPT`.  You may vote
    again: only your last ballot counts.

    \b
    --choices: QUESTION=OPTIONS separated by ';'. QUESTION is an id or number;
    OPTIONS are option numbers (1,3) or, for scored questions, option:points
    pairs (1:3,2:2).  Example: --choices 'park=1;priorities=1,3'
    """
    credential = read_credential_file(credential_path)
    login_election, login_code = read_login_file(login_path)
    eid = credential.election_id
    if login_election is not None and login_election != eid:
        raise CliError(
            f"the login file is for election {login_election!r} but the credential is for {eid!r}"
        )
    with Client(server) as client:
        ctx = election_context(client, eid)
        manifest = ctx.manifest
        if credential.key.verify_key not in ctx.credentials:
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
        done = cast_or_audit(client, ctx, credential.key, login_code, selections, audit=audit)
    code = done.ballot.tracking_code
    if done.audited is not None:
        target = Path(receipt_path or f"audited-{code}.json")
        write_new_file(target, json_bytes(done.audited.to_json()), secret=False)
        note(
            f"audited ballot stored in {target}; re-check it on another device with "
            f"`evote-verify audit {target} --source {server} --election {eid}`"
        )
        say(
            f"audited ballot, tracking code {code}: re-encrypting your choices gave exactly "
            "this ballot, so the encryption was honest. It is on the board as audited and "
            "NOT counted; run `evote vote` again to cast."
        )
        return
    target = Path(receipt_path or f"receipt-{code}.json")
    write_new_file(target, json_bytes(done.receipt.to_json()), secret=False)
    note(f"receipt stored in {target}; check it any time with `evote receipt check {target}`")
    say(f"ballot cast; tracking code {code} (board entry {done.receipt.index})")
