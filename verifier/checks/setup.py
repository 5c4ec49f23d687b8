"""Checks 2 (manifest), 3 (key-ceremony), 4 (credentials) and 5 (command-signatures).

Every signed command goes through the board projection (``evote.rules``), the
same rules the server applies before appending; these handlers only keep each
check's counts and notes.  The key ceremony is checked with
``evote.dkg.messages``/``evote.dkg.verify`` only: the verifier never imports a
trustee's secret-holding code (an import contract in ``pyproject.toml``).
"""

from __future__ import annotations

from evote.board import Entry
from evote.commands import SignedCommand
from evote.dkg import messages as dkg
from evote.errors import EvoteError, RuleViolation
from evote.kinds import ELECTION_CREATED, SPECS, TALLY_POSTED
from evote.payloads import (
    Command,
    CredentialsPublished,
    ElectionAbandoned,
    ElectionClosed,
    ElectionCreated,
    ElectionOpened,
    KeyPublished,
    parse_body,
)
from evote.rulebook import violation
from verifier.checks.registry import CheckSpec

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(2, "manifest", "Manifest and fingerprint",
              "every ballot was made for these questions, this key and these voters",
              needs="manifests"),
    CheckSpec(3, "key-ceremony", "Trustee key ceremony and joint key",
              "the election key is the trustees' joint key; no one holds its secret",
              needs="joint keys"),
    CheckSpec(4, "credentials", "Credential list",
              "who may vote, with which weight, each credential once", needs="credentials"),
    CheckSpec(5, "command-signatures", "Command signers and signatures",
              "each step was taken by the party allowed to take it", needs="commands"),
)


class SetupChecks:
    """Handlers of :class:`~verifier.checks.engine.RecordVerifier` for these checks
    (the state they use is set up in its ``__init__``)."""

    def _on_command(self, pos: int, kind: str, entry: Entry) -> None:
        """A signed command: the board projection's rules, then this check's counts.

        Parsing (R-REC-06), the signer (R-SIG-*) and every ordering and validity
        rule are :mod:`evote.rules`', the same the server applies before it
        appends the entry; a broken rule fails the rule's check with its id.
        The entry is folded in even then, so the report goes on to the end.
        """
        sigs = self.c["command-signatures"]
        sigs.count("commands")
        try:
            signed = SignedCommand.from_json(entry.payload, kind)
        except EvoteError as exc:
            sigs.fail_exc(exc, pos, f"{kind}: ")
            return
        try:  # R-SIG-01 first, so a tampered body is also caught as a broken signature
            signed.verify(self.election, kind)
        except EvoteError as exc:
            sigs.fail_exc(violation("R-SIG-01", f"{kind}: {exc.message}", cause=exc), pos)
            signature_ok = False
        else:
            signature_ok = True
        try:
            body = parse_body(kind, signed.body)
        except EvoteError as exc:  # R-REC-06, reported by the check that owns the kind
            self.c[SPECS[kind].check].fail(f"{kind}: {exc.message}", exc.code, pos,
                                           exc.detail or None, rule="R-REC-06")
            if kind == ELECTION_CREATED:
                sigs.fail(f"{kind}: unreadable, so no signer is known", "wrong_signer", pos)
            return
        command = Command(kind, signed, body)
        tally = self._tally_expectation() if kind == TALLY_POSTED else None
        mixing = self._mix_inputs(pos, kind, entry)  # (20-22) the first mixes' inputs, tie seed
        valid = signature_ok
        if signature_ok:
            try:
                self.board.check(command, tally=tally, mixing=mixing)
            except RuleViolation as exc:
                found = [exc]
                if exc.rule.startswith("R-TAL-0") and kind == TALLY_POSTED:
                    found = self.board.tally_violations(command.body, tally)  # each, own check
                for v in found:
                    self.c[v.check].fail_exc(v, pos, f"{kind}: ")
                valid = False
        self.board = self.board.fold(command)
        getattr(self, "_on_" + kind)(pos, command.body, valid)

    def _on_election_created(self, pos: int, body: ElectionCreated, valid: bool) -> None:
        manifest_check = self.c["manifest"]
        manifest_check.count("manifests")
        if body.election_id != self.election:
            manifest_check.fail(
                f"manifest is for election {body.election_id!r}, not {self.election!r}",
                "wrong_election", pos, rule="R-REC-01")
        if self.created is not None:
            return  # a second election_created: lifecycle has already failed it
        self.created = body
        self.shape = tuple(len(q.options) for q in body.manifest.questions)
        self.n_options = sum(self.shape)
        self.c["key-ceremony"].count("trustees", len(body.trustees))

    def _on_trustee_announced(self, pos: int, body: dkg.Announcement, valid: bool) -> None:
        self.c["key-ceremony"].count("announcements")

    def _on_trustee_committed(self, pos: int, body: dkg.Commitments, valid: bool) -> None:
        self.c["key-ceremony"].count("reveals")
        self.c["key-ceremony"].count("schnorr-proofs", len(body.proofs) + len(body.blinding_proofs))

    def _on_ceremony_qualified(self, pos: int, body: dkg.Qualified, valid: bool) -> None:
        """GJKR's cut (R-DKG-13/14): QUAL fixed before any Feldman value was public."""
        if valid:
            self.c["key-ceremony"].notes.append(
                f"QUAL {list(body.qualified)} fixed at entry {pos}, before any Feldman reveal")

    def _on_ceremony_reconstruct(self, pos: int, body: dkg.Reconstruct, valid: bool) -> None:
        if valid:
            self.c["key-ceremony"].notes.append(
                f"trustees {list(body.dealers)} did not reveal and are rebuilt in public from "
                f"the shares they dealt (entry {pos})")

    def _on_trustee_reconstruction(self, pos: int, body: dkg.Reconstruction,
                                   valid: bool) -> None:
        self.c["key-ceremony"].count("reconstruction shares")

    def _on_trustee_shares(self, pos: int, body: dkg.EncryptedShares, valid: bool) -> None:
        self.c["key-ceremony"].count("share messages")

    def _on_trustee_complaint(self, pos: int, body: dkg.Complaint, valid: bool) -> None:
        self.c["key-ceremony"].count("complaints")

    def _on_trustee_complaint_answer(self, pos: int, body: dkg.ComplaintAnswer,
                                     valid: bool) -> None:
        self.c["key-ceremony"].count("answers")

    def _on_key_published(self, pos: int, body: KeyPublished, valid: bool) -> None:
        check = self.c["key-ceremony"]
        check.count("joint keys")
        if self.joint is None:
            # carry on with the posted key so ballots can be checked even if it is wrong
            self.joint = body.joint_key
            if valid:
                check.count("qualified", len(body.joint_key.qualified))

    def _on_credentials_published(self, pos: int, body: CredentialsPublished,
                                  valid: bool) -> None:
        """One batch of the credential list (docs/rules.md §3.2: the list is the union)."""
        check = self.c["credentials"]
        check.count("batches")
        merged = self.board.credentials
        if merged is not None:
            check.counts["credentials"] = len(merged)
            check.counts["total weight"] = merged.total_weight
        self.credentials = merged

    def _on_election_opened(self, pos: int, body: ElectionOpened, valid: bool) -> None:
        check = self.c["manifest"]
        try:
            # the fingerprint as posted, even when it breaks R-OPEN-01 (rules.md §3.6)
            ctx = self.board.opened_context()
        except EvoteError:
            return  # the projection has failed the entry (R-PHASE-04 or R-OPEN-01)
        check.count("fingerprints")
        if body.booth_sha256 is not None:
            check.notes.append(f"booth bundle SHA-256 {body.booth_sha256.hex()} published at "
                               "opening")
        if self.ctx is None:
            self.ctx = ctx

    def _on_election_closed(self, pos: int, body: ElectionClosed, valid: bool) -> None:
        pass

    def _on_election_abandoned(self, pos: int, body: ElectionAbandoned, valid: bool) -> None:
        # The projection has checked it (phase, signer); the report says the election was
        # abandoned when the replay ends in that phase (RecordVerifier.abandoned).
        if valid:
            self.abandoned_reason = body.reason
