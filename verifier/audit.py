"""Cast-or-audit, checked by a second device: did the voter's device encrypt what they chose?

``evote-verify audit FILE SOURCE`` takes an audited ballot (the
ballot, the voter's selections and the encryption randomness the device
revealed, as written by the booth or ``evote vote --audit``) and runs four
checks, numbered as in ``docs/verifier.md`` (section "Audited ballots"):

    1  election-context  the record's setup verifies (manifest, key ceremony,
                         credentials, fingerprint, signatures, chain), so the
                         ballot is checked against the real election key
    2  audit-format      the file is an audited ballot for this manifest
    3  re-encryption     every option re-encrypts, with the revealed randomness
                         and choice, to the ballot's ciphertext; the selections are
                         allowed; the ballot's signature and proofs verify
    4  never-cast        no cast ballot on the board reuses any of its ciphertexts
                         (a ballot whose randomness is public must never count)

Check 3 failing with ``audit_mismatch`` is the evidence that the device lied.
"""

from __future__ import annotations

from typing import Any

from evote.ballot import AuditedBallot
from evote.encoding import b64encode, parse_json
from evote.errors import EvoteError
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.rules import check_audit
from verifier.checks import CheckSpec, CheckState, RecordVerifier
from verifier.errors import FileUnreadable
from verifier.record import Record
from verifier.report import Report

AUDIT_CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(1, "election-context", "Election set-up",
              "the ballot is checked against this election's real key and rules",
              needs="contexts"),
    CheckSpec(2, "audit-format", "Audited ballot file",
              "the file is an audited ballot for this election", needs="ballots"),
    CheckSpec(3, "re-encryption", "Re-encryption",
              "the device encrypted exactly the choices it revealed", needs="options"),
    CheckSpec(4, "never-cast", "Never cast",
              "this (no longer secret) ballot is not counted", needs="entries"),
)

#: The record checks whose failure means the context cannot be trusted.
SETUP_CHECKS = ("record-format", "hash-chain", "lifecycle", "command-signatures", "manifest",
                "key-ceremony", "credentials")


def _unwrap(obj: Any) -> Any:
    """The audited ballot, bare or as a board payload ``{"audited": {...}}``."""
    if isinstance(obj, dict) and set(obj) == {"audited"}:
        return obj["audited"]
    return obj


def verify_audit_file(record: Record, obj: Any) -> Report:
    """Run the audit checks of ``obj`` (decoded JSON) against ``record``."""
    if not isinstance(_unwrap(obj), dict):
        raise FileUnreadable("not an audited ballot: expected a JSON object")
    c = {spec.name: CheckState(spec) for spec in AUDIT_CHECKS}
    context, fmt, reenc, never = (c[s.name] for s in AUDIT_CHECKS)
    verifier = RecordVerifier(record)
    rest = verifier.setup()
    ctx = verifier.ctx
    for name in SETUP_CHECKS:
        first = verifier.c[name].first
        if first is not None:
            context.fail(f"{name}: {first.message}", first.code, first.index, first.evidence)
    if ctx is None:
        if context.first is None:
            context.fail("the board has no election_opened: there is no election to check "
                         "against", "no_context")
    else:
        context.count("contexts")
    audited: AuditedBallot | None = None
    if ctx is not None:
        try:
            audited = AuditedBallot.from_json(_unwrap(obj), ctx.manifest)
            fmt.count("ballots")
        except EvoteError as exc:
            fmt.fail_exc(exc)
    alphas: set[str] = set()
    if ctx is not None and audited is not None:
        reenc.count("options", sum(len(q.options) for q in ctx.manifest.questions))
        try:
            check_audit(ctx, audited)  # R-BAL-01/04
        except EvoteError as exc:
            reenc.fail_exc(exc)
        alphas = {ct.alpha.to_json() for a in audited.ballot.answers for ct in a.choices}
        posted = audited.to_json()
        for position, line in rest:
            never.count("entries")
            if b'"kind":"ballot_' not in line:
                continue
            try:
                entry = parse_json(line)
                kind, payload = entry["kind"], entry["payload"]
            except (EvoteError, KeyError, TypeError):
                continue  # the record checks report unreadable lines
            if kind == BALLOT_AUDITED and payload.get("audited") == posted:
                fmt.notes.append(f"posted on the board as entry {position}")
            elif kind == BALLOT_CAST:
                shared = alphas & _cast_alphas(payload)
                if shared:
                    never.fail("a cast ballot reuses a ciphertext of this audited ballot",
                               "audited_ballot_cast", position,
                               {"alpha": sorted(shared)[0]})
    elif ctx is not None:
        reenc.fail("the file could not be read as an audited ballot", "unreadable")
        never.fail("the file could not be read as an audited ballot", "unreadable")
    if audited is not None:
        fmt.notes.append("tracking code " + audited.ballot.tracking_code)
    return Report(
        command="audit",
        source=record.source.description,
        election=record.election,
        checks=tuple(c[s.name].result() for s in AUDIT_CHECKS),
        stats={"alphas": len(alphas), "credential": b64encode(audited.ballot.credential.raw)
               if audited is not None else None},
    )


def _cast_alphas(payload: Any) -> set[str]:
    try:
        return {
            ct["alpha"] for a in payload["ballot"]["answers"] for ct in a["choices"]
        }
    except (KeyError, TypeError):
        return set()
