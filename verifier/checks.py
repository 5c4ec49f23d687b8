"""The checks, numbered exactly as in ``docs/verifier.md``, and the engine that runs them.

Verification is a pure function of the record.  The board is read once, in
order, as a stream; every entry feeds the checks it concerns, and each check
keeps counts and its *first* failure (entry index, error code, message, and
evidence where there is some).  A failing check never stops the others: the
report shows everything that is wrong.

The checks (``CHECKS``; the numbers are part of the interface)::

     1  record-format        every line is the canonical JSON of a well-formed entry
                             of this election at its position
     2  manifest             the manifest is valid; election_opened's fingerprint
                             equals the one recomputed from manifest, key, commitments
                             and credential list
     3  key-ceremony         trustee messages, commitments and their Schnorr proofs;
                             the joint key recomputed (evote.dkg.verify_ceremony)
                             equals key_published
     4  credentials          the credential list: valid keys and weights, sorted, no
                             duplicates, count and total weight reported
     5  command-signatures   every command is signed, by the key allowed to issue it
     6  hash-chain           every entry's prev is the hash of the one before; times
                             never go back
     7  tree-heads           every signed head: board-key signature, and root equal to
                             the root recomputed from the board; the latest head covers
                             the whole board
     8  consistency          RFC 9162 consistency proofs, built from the board, between
                             successive heads and from every head to the latest
     9  equivocation         no two validly signed heads of one size with different roots
    10  lifecycle            entry kinds in an order evote.election allows (no ballot
                             before open or after close)
    11  ballots              every cast ballot: shape, listed credential, signature,
                             every range proof, all bound to the election fingerprint
    12  unique-ciphertexts   no ciphertext (its alpha = r·G) appears twice among cast
                             and audited ballots
    13  counted-set          the newest valid ballot of each credential is counted; the
                             tally's count and total weight match; count <= credentials
    14  aggregation          the posted encrypted tally equals the homomorphic sum of
                             the counted ballots, weighted
    15  partial-decryptions  every trustee's partial decryption and its DLEQ proofs; an
                             invalid one (signed, of the tally's shape) is named, not used
    16  combination          t valid partials of distinct qualified trustees combine
                             (Lagrange at 0) and every count is within its bound
    17  result               the published result equals that decryption
    18  audited-ballots      every audited ballot re-encrypts to its ciphertexts and
                             its proofs verify
    19  witnesses            with a witness policy in the manifest: the record's
                             checkpoint.txt is the board-signed checkpoint of the whole
                             board, cosigned by at least k of the listed witnesses

How the aggregate is kept (memory does not grow with the number of ballots):
workers return, per run of consecutive ``ballot_cast`` lines, the sum of the
valid ballots' ciphertexts grouped by credential weight; the main process adds
those sums and, when a credential votes again, *subtracts* its previous
ballot's ciphertexts (Point subtraction).  For that it keeps, per credential,
only the raw ciphertexts (64 bytes per option) of its latest ballot.  The weights are applied once per distinct weight at the end
(:func:`evote.tally.verify_aggregate` over the per-weight sums), not once per
ballot.  The one structure that grows with the ballots is the set of alphas of
check 12 (32 bytes each), which that check cannot do without.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from evote import dkg
from evote.board import Entry, detect_equivocation, verify_heads
from evote.checkpoint import checkpoint_size
from evote.commands import SignedCommand
from evote.credentials import CredentialList
from evote.elgamal import Ciphertext
from evote.encoding import b64encode
from evote.errors import Equivocation, EvoteError, MerkleError, RuleViolation
from evote.fingerprint import ElectionContext
from evote.group import POINT_BYTES, Point
from evote.kinds import BALLOT_KINDS, ELECTION_CREATED, SPECS, TALLY_POSTED
from evote.merkle import MerkleAccumulator, consistency_nodes, consistency_proof
from evote.payloads import (
    Command,
    CredentialsPublished,
    ElectionClosed,
    ElectionCreated,
    ElectionOpened,
    KeyPublished,
    ResultPublished,
    TallyPosted,
    parse_body,
)
from evote.rulebook import RULES, violation
from evote.rules import AggregateExpectation, BoardState, CountedSet
from evote.tally import (
    EncryptedTally,
    PartialDecryption,
    Result,
    combine,
    verify_partial,
)
from evote.witness import verify_final_checkpoint
from verifier import parallel
from verifier.record import Record
from verifier.report import (
    FAIL,
    PASS,
    SKIPPED,
    CheckResult,
    Failure,
    OptionTotal,
    QuestionTotals,
    Report,
)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One check: its number and name (stable), title, and what passing it proves."""

    number: int
    name: str
    title: str
    proves: str
    #: The count that must be non-zero for the check to pass (empty never passes).
    needs: str | None = None


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(1, "record-format", "Record format and schema",
              "the board is a list of canonical, well-formed entries of this election",
              needs="entries"),
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
    CheckSpec(6, "hash-chain", "Board hash chain",
              "no entry was changed, removed or reordered after the next one was added",
              needs="entries"),
    CheckSpec(7, "tree-heads", "Signed tree heads",
              "the board is the one the server signed, to its last entry", needs="heads"),
    CheckSpec(8, "consistency", "Consistency between tree heads",
              "the board was only ever appended to between the heads", needs="heads"),
    CheckSpec(9, "equivocation", "No equivocation",
              "the server did not sign two different boards of one size", needs="heads"),
    CheckSpec(10, "lifecycle", "Lifecycle order",
              "no ballot before opening or after closing; every step in its phase",
              needs="entries"),
    CheckSpec(11, "ballots", "Cast ballots",
              "every ballot is well formed, from a listed credential, and proves it is valid",
              needs="ballots"),
    CheckSpec(12, "unique-ciphertexts", "No duplicated ciphertexts",
              "no ballot replays another's (or an audited ballot's) encryption",
              needs="ciphertexts"),
    CheckSpec(13, "counted-set", "Counted set",
              "exactly the newest ballot of each voter is counted, no one twice",
              needs="counted"),
    CheckSpec(14, "aggregation", "Encrypted tally",
              "the encrypted tally is the sum of the counted ballots", needs="options"),
    CheckSpec(15, "partial-decryptions", "Partial decryptions",
              "each trustee decrypted the tally with its own key share", needs="partials"),
    CheckSpec(16, "combination", "Threshold combination",
              "enough trustees' shares combine into the decryption of the tally",
              needs="options"),
    CheckSpec(17, "result", "Published result", "the published result is the decryption",
              needs="options"),
    CheckSpec(18, "audited-ballots", "Audited ballots",
              "the devices that made audited ballots encrypted what the voters chose"),
    CheckSpec(19, "witnesses", "Witness cosignatures",
              "the board is the one history the election's independent witnesses saw"),
)

SPEC_BY_NAME = {c.name: c for c in CHECKS}

#: The checks that can only run once the election has reached a later phase;
#: ``--in-progress`` reports them as skipped instead of failed.
LATE_CHECKS = ("counted-set", "aggregation", "partial-decryptions", "combination", "result")

#: Codes that say a check had nothing (yet) to judge, not that a rule broke.
NOT_A_VERDICT = frozenset({"empty", "not_reached", "no_context"})


def rule_of(check: str, code: str) -> str | None:
    """The rule (docs/rules.md) a failure of ``check`` with ``code`` reports, for the
    failures the verifier finds itself (the chain, the heads, the ballots' proofs);
    the projection's own violations name their rule directly."""
    if code in NOT_A_VERDICT:
        return None
    ids = [r for r in RULES.values() if r.check == check]
    for candidates in ([r for r in ids if r.code == code], [r for r in ids if r.cause_code], ids):
        if len(candidates) == 1:
            return candidates[0].id
    return None


class CheckState:
    """The running state of one check: counts and the first failure."""

    __slots__ = ("spec", "counts", "failures", "first", "notes")

    def __init__(self, spec: CheckSpec) -> None:
        self.spec = spec
        self.counts: dict[str, int] = {}
        self.failures = 0
        self.first: Failure | None = None
        self.notes: list[str] = []

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def fail(
        self, message: str, code: str, index: int | None = None,
        evidence: dict[str, Any] | None = None, rule: str | None = None,
    ) -> None:
        self.failures += 1
        if self.first is None:
            if rule is None:
                rule = rule_of(self.spec.name, code)
            self.first = Failure(message=message, code=code, index=index, evidence=evidence,
                                 rule=rule)

    def fail_exc(self, exc: EvoteError, index: int | None = None, prefix: str = "") -> None:
        evidence = exc.detail if exc.detail else None
        rule = exc.rule if isinstance(exc, RuleViolation) else None
        self.fail(prefix + exc.message, exc.code, index, evidence, rule)

    def result(self, *, skip: str | None = None) -> CheckResult:
        counts = dict(self.counts)
        s = self.spec
        if s.needs is not None:
            counts.setdefault(s.needs, 0)
        note = "; ".join(self.notes)
        if self.first is None and skip is not None:
            return CheckResult(s.number, s.name, s.title, SKIPPED, counts, 0, None, skip)
        first, failures = self.first, self.failures
        if first is None and s.needs is not None and counts[s.needs] == 0:
            # An empty list never passes: nothing checked is not "all good".
            first, failures = Failure(f"nothing to check: no {s.needs}", "empty"), 1
        status = PASS if first is None else FAIL
        return CheckResult(s.number, s.name, s.title, status, counts, failures, first, note)


ProgressFn = Callable[[int, int], None]
"""``progress(entries_done, ballots_done)``, called after each chunk."""


class RecordVerifier:
    """Runs every check over one record.

    ``runner_factory(ctx)`` makes the :class:`~verifier.parallel.Runner` that
    checks ballot lines once the election context is known (the default checks
    them in this process).  ``in_progress`` reports the late checks of an
    election that is not tallied yet as skipped instead of failed.
    """

    def __init__(
        self,
        record: Record,
        *,
        runner_factory: Callable[[ElectionContext | None], parallel.Runner] | None = None,
        chunk_size: int = parallel.DEFAULT_CHUNK,
        progress: ProgressFn | None = None,
        in_progress: bool = False,
    ) -> None:
        self.record = record
        self.runner_factory = runner_factory or parallel.InlineRunner
        self.chunk_size = chunk_size
        self.progress = progress
        self.in_progress = in_progress
        self.c = {spec.name: CheckState(spec) for spec in CHECKS}
        # the checks every entry or ballot feeds, looked up once
        self._fmt, self._chain, self._life = (
            self.c["record-format"], self.c["hash-chain"], self.c["lifecycle"])
        self._ballots, self._unique = self.c["ballots"], self.c["unique-ciphertexts"]
        self.election = record.election
        # chain and tree
        self.acc = MerkleAccumulator()
        self.prev_leaf = bytes(32)
        self.last_time = 0
        self.head_sizes = {h.size for h in record.heads}
        # (19) capture the root at the cosigned checkpoint's size too (--in-progress)
        self.checkpoint_size = checkpoint_size(record.checkpoint)  # check 19 says why if None
        if self.checkpoint_size is not None:
            self.head_sizes.add(self.checkpoint_size)
        self.roots: dict[int, bytes] = {}
        self.needed: dict[tuple[int, int], bytes | None] = {}
        # the board projection (evote.rules): every rule of docs/rules.md
        self.board = BoardState()
        # setup
        self.created: ElectionCreated | None = None
        self.joint: dkg.JointKey | None = None
        self.credentials: CredentialList | None = None
        self.ctx: ElectionContext | None = None
        # ballots and tally
        self.n_options = 0
        self.shape: tuple[int, ...] = ()
        self.sums: dict[int, list[Point]] = {}
        self.segment_sums: dict[int, dict[int, bytes]] = {}
        # credential -> ciphertexts of its last valid ballot (the counting rule)
        self.last: CountedSet[bytes] = CountedSet()
        self.alphas: set[bytes] = set()
        self.ballots = 0
        self.tally: EncryptedTally | None = None
        self.tally_index: int | None = None
        self.partials: dict[int, PartialDecryption] = {}
        self.result: Result | None = None
        self.result_index: int | None = None
        self.totals: tuple[QuestionTotals, ...] = ()
        self.runner_description = "in-process"
        self.workers = 1

    # ------------------------------------------------------------------
    # driving the stream
    # ------------------------------------------------------------------

    def run(self) -> Report:
        started = _time.perf_counter()
        lines = self.setup()
        # Voting and tally phases: chunks of lines, checked by the runner.
        if self.ctx is not None:
            runner = self.runner_factory(self.ctx)
            self.runner_description = runner.description
            self.workers = runner.workers
            try:
                for chunk_result in runner.map(self._chunks(lines)):
                    self._consume_chunk(chunk_result)
                    if self.progress:
                        last = chunk_result.results[-1].position
                        self.progress(last + 1, self.ballots)
            finally:
                runner.close()
        self._finish()
        elapsed = _time.perf_counter() - started
        return self._report(elapsed)

    def setup(self) -> Iterator[tuple[int, bytes]]:
        """Check the setup phase, in this process, until the election context exists.

        Returns the rest of the board, unread.  Used by :meth:`run` and by the
        audit command, which needs the context but not the ballots.
        """
        self._plan_consistency()
        lines = self._numbered_lines()
        for position, line in lines:
            result, entry = parallel.check_command_line(self.ctx, position, line)
            self._consume(result, entry=entry)
            if self.ctx is not None:
                break
            if self.progress:
                self.progress(position + 1, self.ballots)
        return lines

    def _numbered_lines(self) -> Iterator[tuple[int, bytes]]:
        """(position, line without newline); format problems of the line framing are
        recorded against check 1 and the line is still checked (as it is)."""
        fmt = self.c["record-format"]
        for position, raw in enumerate(self.record.board_lines()):
            if raw.endswith(b"\n"):
                line = raw[:-1]
            else:
                line = raw
                fmt.fail("the last line of board.jsonl has no newline", "bad_framing", position)
            if line.endswith(b"\r") or not line:
                fmt.fail("empty line or CRLF line ending", "bad_framing", position)
            yield position, line

    def _chunks(self, lines: Iterator[tuple[int, bytes]]) -> Iterator[parallel.Chunk]:
        batch: list[bytes] = []
        start = None
        for position, line in lines:
            if start is None:
                start = position
            batch.append(line)
            if len(batch) >= self.chunk_size:
                yield parallel.Chunk(start, tuple(batch))
                batch, start = [], None
        if batch:
            assert start is not None
            yield parallel.Chunk(start, tuple(batch))

    def _consume_chunk(self, cr: parallel.ChunkResult) -> None:
        self.segment_sums.update(cr.sums)
        for r in cr.results:
            self._consume(r)

    # ------------------------------------------------------------------
    # one entry
    # ------------------------------------------------------------------

    def _consume(self, r: parallel.LineResult, *, entry: Entry | None = None) -> None:
        """Feed one entry (already parsed and, if a ballot, verified by a worker) to
        the sequential checks, in board order; the numbers are the checks'.
        ``entry``: a command's line already parsed in this process."""
        pos = r.position
        fmt, chain, life = self._fmt, self._chain, self._life
        self._merkle(r.leaf)  # (7, 8) roots and proof nodes, for the end
        fmt.count("entries")
        chain.count("entries")
        life.count("entries")
        if self.segment_sums:
            sums = self.segment_sums.pop(pos, None)  # (14) a run of ballots starts here
            if sums:
                for weight, blob in sums.items():
                    acc = self.sums.get(weight)
                    if acc is None:
                        self.sums[weight] = parallel.split_points(blob)
                    else:
                        parallel.add_points(acc, blob)
        # (1) the line is a canonical entry of this election at this index
        if r.header is None:
            assert r.error is not None
            fmt.fail(r.error[2], r.error[1], pos, rule=r.error[3])
            chain.fail("entry cannot be read, so its link cannot be checked", "unreadable", pos)
            self.prev_leaf = r.leaf
            return
        election, index, kind, prev, time = r.header
        if election != self.election:
            fmt.fail(f"entry is for election {election!r}, not {self.election!r}",
                     "wrong_election", pos)
        if index != pos:
            fmt.fail(f"entry says index {index} but is line {pos + 1} (index {pos})",
                     "wrong_index", pos)
        # (6) the chain link and the clock
        if prev != self.prev_leaf:
            chain.fail("prev is not the hash of the previous entry", "broken_chain", pos)
        if time < self.last_time:
            chain.fail(f"time {time} is before the previous entry's {self.last_time}",
                       "time_goes_back", pos)
        else:
            self.last_time = time
        self.prev_leaf = r.leaf
        # (10) the phase table, for ballots; commands go through the whole projection
        in_phase = True
        if kind in BALLOT_KINDS:
            try:
                self.board = self.board.apply_kind(kind)
            except RuleViolation as exc:
                self.c[exc.check].fail_exc(exc, pos)
                in_phase = False
        # (11-13, 18) ballots; (2-5, 13-17) commands
        if kind == parallel.CAST:
            self._on_cast(r, in_phase)
        elif kind == parallel.AUDITED:
            self._on_audited(r)
        elif kind not in SPECS:
            try:
                self.board.phase_state.apply(kind)
            except RuleViolation as exc:
                self.c[exc.check].fail_exc(exc, pos)
        else:
            assert r.line is not None
            self._on_command(pos, kind, entry if entry is not None else Entry.from_bytes(r.line))

    def _merkle(self, leaf: bytes) -> None:
        needed = self.needed
        for level, idx, h in self.acc.append(leaf):
            if (level, idx) in needed:
                needed[(level, idx)] = h
        if self.acc.size in self.head_sizes:
            self.roots[self.acc.size] = self.acc.root()

    # ------------------------------------------------------------------
    # ballots
    # ------------------------------------------------------------------

    def _alphas(self, pos: int, cts: bytes) -> None:
        check = self._unique
        alphas = self.alphas
        step = 2 * POINT_BYTES
        check.count("ciphertexts", len(cts) // step)
        for i in range(0, len(cts), step):
            alpha = cts[i : i + POINT_BYTES]
            if alpha in alphas:
                check.fail("a ciphertext (its alpha) already appeared in an earlier ballot",
                           "duplicate_ciphertext", pos, {"alpha": b64encode(alpha)})
            else:
                alphas.add(alpha)

    def _on_cast(self, r: parallel.LineResult, in_phase: bool) -> None:
        ballots = self._ballots
        ballots.count("ballots")
        self.ballots += 1
        if r.error is not None:
            check = self.c[r.error[0]]
            check.fail(r.error[2], r.error[1], r.position, rule=r.error[3])
            return
        assert r.credential is not None
        ballots.count("valid")
        self._alphas(r.position, r.ciphertexts)
        if not in_phase:
            # The worker summed it, but a ballot outside the voting phase never counts.
            self._subtract(r.weight, r.ciphertexts)
            return
        previous = self.last.cast(r.credential, r.ciphertexts)
        if previous is not None:
            ballots.count("re-votes")
            self._subtract(r.weight, previous)

    def _subtract(self, weight: int, cts: bytes) -> None:
        acc = self.sums.get(weight)
        if acc is None:  # impossible: the ballot was added to this weight's sum
            raise AssertionError("subtracting a ballot that was never added")
        parallel.sub_points(acc, cts)

    def _on_audited(self, r: parallel.LineResult) -> None:
        check = self.c["audited-ballots"]
        check.count("audited")
        if r.error is not None:
            self.c[r.error[0]].fail(r.error[2], r.error[1], r.position, rule=r.error[3])
            return
        self._alphas(r.position, r.ciphertexts)

    # ------------------------------------------------------------------
    # commands
    # ------------------------------------------------------------------

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
        valid = signature_ok
        if signature_ok:
            try:
                self.board.check(command, tally=tally)
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

    def _tally_expectation(self) -> AggregateExpectation | None:
        """What the counted ballots add up to (R-TAL-01/02 compare tally_posted with it)."""
        if not self.shape:
            return None
        counted, weight = self._counted()
        return AggregateExpectation(counted, weight, self.shape, list(self._weighted_sums()))

    def _on_tally_posted(self, pos: int, body: TallyPosted, valid: bool) -> None:
        counted_check, agg = self.c["counted-set"], self.c["aggregation"]
        if self.tally is not None:
            return
        self.tally, self.tally_index = body.tally, pos
        counted, weight = self._counted()
        counted_check.count("counted", counted)
        counted_check.count("total weight", weight)
        if not self.shape:
            agg.fail("no manifest to give the tally its shape", "no_context", pos)
            return
        agg.count("options", self.n_options)
        agg.count("ballots", counted)

    def _counted(self) -> tuple[int, int]:
        return len(self.last), self.last.weight(self.credentials)

    def _weighted_sums(self) -> Iterator[tuple[int, list[list[Ciphertext]]]]:
        """Each weight's sum of counted ballots, shaped like one ballot (for aggregate)."""
        for weight in sorted(self.sums):
            pts = self.sums[weight]
            cts = [Ciphertext(pts[2 * i], pts[2 * i + 1]) for i in range(len(pts) // 2)]
            rows, k = [], 0
            for n in self.shape:
                rows.append(cts[k : k + n])
                k += n
            yield weight, rows

    def _on_partial_decryption(self, pos: int, body: PartialDecryption, valid: bool) -> None:
        check = self.c["partial-decryptions"]
        check.count("partials")
        if not valid:
            return
        # Robust decryption (R-TAL-06, docs/protocol-trustees.md §5.13): a signed partial
        # of the tally's shape whose proofs fail is the trustee's fault, not the record's.
        # It is named here and kept (combine skips it; a second one from the same trustee
        # stays R-TAL-04); the combination check fails if fewer than t valid ones remain.
        self.partials[body.trustee] = body
        joint, ctx, tally = self.board.joint_key, self.ctx, self.board.tally
        key = joint.verification_keys.get(body.trustee) if joint is not None else None
        if key is None or ctx is None or tally is None:
            return
        try:
            verify_partial(ctx.fingerprint, key, tally.tally, body)
        except EvoteError as exc:
            check.count("invalid")
            check.notes.append(f"trustee {body.trustee}'s partial decryption (entry {pos}) "
                               f"is invalid and not used: {exc.message} (R-TAL-06)")
            return
        check.count("valid")
        check.count("proofs", sum(self.shape))

    def _on_result_published(self, pos: int, body: ResultPublished, valid: bool) -> None:
        if self.result is None:
            self.result = body.result
            self.result_index = pos

    # ------------------------------------------------------------------
    # after the last entry
    # ------------------------------------------------------------------

    def _plan_consistency(self) -> None:
        """Which perfect subtrees the consistency proofs will need (captured while streaming)."""
        sizes = sorted({h.size for h in self.record.heads})
        latest = sizes[-1]
        pairs = set(zip(sizes, sizes[1:], strict=False)) | {(s, latest) for s in sizes[:-1]}
        self.pairs = sorted(pairs)
        for old, new in self.pairs:
            for element in consistency_nodes(old, new):
                for node in element:
                    self.needed.setdefault(node, None)

    def _finish(self) -> None:
        self._finish_heads()
        self._finish_tally()
        if self.ctx is None:
            self.c["ballots"].fail("the board never reached a valid election_opened: no "
                                   "ballot could be checked", "no_context")
        audited = self.c["audited-ballots"]
        if not audited.counts.get("audited"):
            audited.notes.append("no audited ballots on the board (auditing is optional)")
        self.c["counted-set"].count("credentials", len(self.credentials or ()))
        self._finish_witnesses()

    def _finish_witnesses(self) -> None:
        """(19) The final checkpoint meets the manifest's witness policy (docs/witness.md §6).

        With ``in_progress``, a cosigned checkpoint of a prefix of the board is
        accepted (the witnesses cosign after each poll); otherwise it must be
        the checkpoint of the whole board.
        """
        check = self.c["witnesses"]
        if self.created is None:
            check.fail("no readable manifest, so no witness policy to check", "no_context")
            return
        policy = self.created.manifest.witnesses
        if policy is None:
            check.notes.append("no witness policy")
            return
        check.count("witnesses", len(policy.keys))
        rule = f"{policy.threshold} of {len(policy.keys)}"
        note = self.record.checkpoint
        if note is None:
            if not self.in_progress:
                check.fail(f"the manifest requires {rule} witnesses to cosign the final "
                           "checkpoint, but the record has no checkpoint.txt",
                           "missing_checkpoint")
            return
        size, root = self.acc.size, self.acc.root()
        cut = self.checkpoint_size
        prefix = self.in_progress and cut is not None and cut < size and cut in self.roots
        if prefix:
            assert cut is not None
            size, root = cut, self.roots[cut]
        try:
            names = verify_final_checkpoint(note, board_key=self.record.board_key,
                                            election=self.election, size=size, root=root,
                                            policy=policy)
        except EvoteError as exc:
            check.fail_exc(exc, None)
            return
        check.count("cosigned by", len(names))
        check.notes.append(f"cosigned by {', '.join(names)} ({rule} needed)")
        if prefix:
            check.notes.append(f"in progress: cosigned up to entry {size} of {self.acc.size}")

    def _finish_heads(self) -> None:
        heads_check, cons, equiv = (self.c[n] for n in ("tree-heads", "consistency",
                                                         "equivocation"))
        key = self.record.board_key
        size = self.acc.size
        heads = []  # the validly signed ones: a forged head is evidence of nothing
        for h in self.record.heads:
            heads_check.count("heads")
            cons.count("heads")
            equiv.count("heads")
            try:
                h.verify(key)
            except EvoteError as exc:
                heads_check.fail_exc(exc, None, f"head of size {h.size}: ")
                continue
            heads.append(h)
            root = self.roots.get(h.size)
            if root is None:
                heads_check.fail(f"a signed head covers {h.size} entries; the board has only "
                                 f"{size}", "board_truncated", None, {"head": h.to_json()})
            elif root != h.root:
                heads_check.fail(f"the board's first {h.size} entries do not hash to the signed "
                                 "root", "root_mismatch", None,
                                 {"head": h.to_json(), "computed_root": b64encode(root)})
        latest = self.record.latest_head
        if latest.size != size:
            heads_check.fail(f"the latest signed head covers {latest.size} entries; the board "
                             f"has {size}: entries after it are not signed", "unsigned_entries",
                             min(size, latest.size))
        # equivocation: every pair of heads of one size
        by_size: dict[int, list] = {}
        for h in heads:
            by_size.setdefault(h.size, []).append(h)
        for group in by_size.values():
            for a in group:
                for b in group:
                    if a.root < b.root:
                        try:
                            detect_equivocation(a, b, board_key=key)
                        except EvoteError as exc:
                            equiv.fail_exc(exc, None)
        # consistency: successive heads, and every head to the latest
        first_of = {}
        for h in heads:
            first_of.setdefault(h.size, h)
        # A live server's own consistency proofs, checked while downloading.
        for obs in getattr(self.record.source, "observations", ()):
            cons.count("server proofs")
            if isinstance(obs.error, Equivocation):
                equiv.fail_exc(obs.error, None)
            elif obs.error is not None:
                evidence = dict(obs.error.detail)
                evidence.setdefault("older", obs.older.to_json())
                evidence.setdefault("newer", obs.newer.to_json())
                cons.fail(obs.error.message, obs.error.code, None, evidence)
        for old, new in self.pairs:
            if old not in first_of or new not in first_of:
                continue  # a head with a bad signature (check 7 failed it)
            older, newer = first_of[old], first_of[new]
            cons.count("proofs")
            try:
                proof = consistency_proof(old, new, self._node)
            except MerkleError:
                cons.fail(f"the board is too short to prove tree {old} is a prefix of tree {new}",
                          "board_truncated", None)
                continue
            try:
                verify_heads(older, newer, proof, board_key=key)
            except EvoteError as exc:
                cons.fail_exc(exc, None)

    def _node(self, level: int, index: int) -> bytes:
        h = self.needed.get((level, index))
        if h is None:
            raise MerkleError(f"subtree ({level}, {index}) is not on the board")
        return h

    def _finish_tally(self) -> None:
        late = {name: self.c[name] for name in LATE_CHECKS}
        comb, result_check = self.c["combination"], self.c["result"]
        if self.tally is None:
            if not self.in_progress:
                for check in late.values():
                    check.fail("the board has no tally_posted entry", "not_reached")
            return
        ctx, joint = self.ctx, self.joint
        if ctx is None or joint is None or not self.shape:
            comb.fail("no election context to decrypt against", "no_context")
            return
        manifest = ctx.manifest
        _, total_weight = self._counted()
        bounds = [[total_weight * q.max_score] * len(q.options) for q in manifest.questions]
        try:
            decrypted = combine(ctx.fingerprint, self.tally, self.partials.values(), joint, bounds)
        except EvoteError as exc:
            comb.fail_exc(exc, None)
            decrypted = None
        else:
            comb.count("options", self.n_options)
            comb.count("partials used", joint.threshold)
        if self.result is None:
            if not self.in_progress:
                result_check.fail("the board has no result_published entry", "not_reached")
            return
        result_check.count("options", self.n_options)
        # R-TAL-05 itself was checked by the projection at the result's entry.
        if decrypted is not None and decrypted != self.result:
            result_check.fail("the published result is not the decryption of the tally",
                              "result_mismatch", self.result_index,
                              {"published": self.result.to_json(),
                               "decrypted": decrypted.to_json()}, rule="R-TAL-05")
        if result_check.first is None:
            self.totals = tuple(
                QuestionTotals(
                    q.label(),
                    tuple(OptionTotal(q.option_label(o), n) for o, n in enumerate(row)),
                )
                for q, row in zip(manifest.questions, self.result.counts, strict=True)
            )

    def _report(self, elapsed: float) -> Report:
        results = []
        for spec in CHECKS:
            check = self.c[spec.name]
            skip = None
            if self.in_progress and spec.name in LATE_CHECKS and self.tally is None:
                skip = "election not tallied yet (--in-progress)"
            if (self.in_progress and spec.name in ("combination", "result")
                    and self.result is None):
                skip = "no result yet (--in-progress)"
            if (self.in_progress and spec.name == "witnesses" and self.record.checkpoint is None
                    and self.created is not None and self.created.manifest.witnesses is not None):
                skip = "no cosigned checkpoint yet (--in-progress)"
            results.append(check.result(skip=skip))
        stats = {
            "entries": self.acc.size,
            "ballots": self.ballots,
            "seconds": round(elapsed, 3),
            "ballots_per_second": round(self.ballots / elapsed, 1) if elapsed > 0 else 0,
            "runner": self.runner_description,
            "workers": self.workers,
        }
        # The result is shown (and charted) only for a record that verified
        # completely: a correct decryption of a tampered board is no result.
        verified = all(r.status != FAIL for r in results)
        return Report(
            command="record",
            source=self.record.source.description,
            election=self.election,
            checks=tuple(results),
            result=self.totals if verified else (),
            stats=stats,
        )


def verify_record(record: Record, **options: Any) -> Report:
    """Run every check over ``record`` and return the report (see :class:`RecordVerifier`)."""
    return RecordVerifier(record, **options).run()


__all__ = ["CHECKS", "CheckSpec", "RecordVerifier", "verify_record"]
