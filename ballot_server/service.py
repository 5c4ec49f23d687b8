"""The election service: every rule of casting and of the election lifecycle.

No Flask here: the views in :mod:`ballot_server.api` parse HTTP and call one
method; this module decides, and :mod:`ballot_server.store` stores.  Every
write happens inside one ``store.locked(election)`` block, so a rule that
fails anywhere leaves nothing behind, and every entry is checked against the
board *as it is under the lock* (two racing requests cannot both pass a
"not yet posted" check).

Every rule of a valid board is the board projection's
(:mod:`evote.rules`, ids in ``docs/rules.md``): a command (``POST
.../commands/<kind>``) is parsed (R-REC-06), then checked by
:meth:`~evote.rules.BoardState.check` under the lock -- phase table,
signature and signer, then the kind's rules -- and refused with the broken
rule's code.  What this module adds is what the board cannot know: the
allow-list of officials for ``election_created``, and that an
``election_opened``'s ``booth_sha256`` is the bundle this server serves (422
booth_mismatch).

Rules for a cast (``POST .../ballots``), each with its own code:

* the election is open (409 wrong_phase);
* the login is valid (401 unauthenticated);
* the ballot parses against the manifest (422 bad_schema, 400 bad_encoding, ...);
* its credential is on the list (403 bad_credential), its signature and every
  proof verify (422 invalid_signature / invalid_proof);
* the credential binding holds: the first login to use a credential binds it,
  a credential never serves two logins, a login never casts with two
  credentials (403 binding);
* none of its ciphertexts is on this board already, cast or audited, under any
  credential (409 duplicate_ciphertext).  A ciphertext is identified by its
  alpha (r·G), i.e. by its randomness: an audited ballot makes its randomness
  public, so any ciphertext reusing it could be decrypted by anyone.
  The one exception is the same ballot sent again (docs/api.md §5.1): a cast
  whose every ciphertext belongs to one ``ballot_cast`` entry holding exactly
  this ballot, from a login bound to its credential, is answered with that
  entry's original receipt (200) and appends nothing -- a voter whose answer
  was lost resends the same bytes and must end with a receipt, not an error.
  Audits likewise.  R-BAL-03 decides (:func:`evote.rules.resend_of`,
  :func:`~evote.rules.is_resend`); the binding is this module's.

Re-voting is allowed: each cast is a new entry and the credential's last one
counts.  Nothing about the login or the connection is written on the board;
the ``voters`` binding row is the only link, and it is never exported.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ballot_server import store as store_queries
from ballot_server.auth import Authenticator, VoterLogin, check_voter_id, issue_login_codes
from ballot_server.casting import CastQueue, CastWritten, PendingCast
from ballot_server.store import BoardHandle, Store, binding_needed
from ballot_server.trustee_keys import refuse_reused_trustee_keys
from evote.ballot import AuditedBallot, Ballot
from evote.board import Entry, Receipt, SignedTreeHead
from evote.checkpoint import Checkpoint, Note, NoteSignature, election_origin, sign_checkpoint
from evote.commands import SignedCommand, check_election_id
from evote.credentials import CredentialList
from evote.election import Phase
from evote.encoding import Fields, b64encode
from evote.errors import (
    AlreadyExists,
    AuthenticationError,
    BoothMismatch,
    EvoteError,
    LifecycleError,
    NotFound,
    SchemaError,
    UnauthorisedSigner,
)
from evote.fingerprint import ElectionContext
from evote.group import Rng
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST, ELECTION_CREATED, ELECTION_OPENED, TALLY_POSTED
from evote.payloads import (
    COMMAND_KINDS,
    Command,
    ElectionCreated,
    ElectionOpened,
    TallyPosted,
    ballot_audited_payload,
    ballot_cast_payload,
    parse_ballot_cast,
)
from evote.record import (
    BOARD_FILE,
    CHECKPOINT_FILE,
    RECORD_FILE,
    TREE_HEADS_FILE,
    RecordHeader,
    checkpoint_text,
    record_json,
)
from evote.rulebook import violation
from evote.rules import (
    BoardState,
    ExpectedTally,
    ballot_alphas,
    check_audit,
    check_cast,
    duplicate_of,
    is_resend,
    resend_of,
)
from evote.signing import SigningKey, VerifyKey
from evote.tally import aggregate
from evote.witness import WitnessPolicy

REGISTER_VOTERS = "register_voters"
"""Kind of the official's signed command registering voter logins (not a board entry)."""

MAX_VOTERS_PER_REQUEST = 100_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- what the board says about an election (everything but the ballots) ----------------


@dataclass(frozen=True)
class ElectionFacts:
    """The board projection (:class:`evote.rules.BoardState`) over the election's
    command entries up to board size ``size``, with the count of every kind.

    Built incrementally: :meth:`extended` reads only entries appended since,
    so keeping one per process costs one short range read per request.  The
    entries come from this server's own database, where every one was checked
    by the projection before it was appended, so they are folded in
    (:meth:`BoardState.fold`) without checking them again.  Attribute reads
    (``facts.created``, ``facts.joint_key``, ``facts.context()`` ...) are the
    projection's.
    """

    board: BoardState
    size: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.board, name)

    @property
    def election_id(self) -> str:
        return self.board.election_id

    @classmethod
    def from_entries(
        cls, entries: Iterable[Entry], counts: Mapping[str, int], size: int
    ) -> ElectionFacts:
        it = iter(entries)
        first = next(it, None)
        if first is None or first.kind != ELECTION_CREATED:
            raise NotFound("no election_created entry on this board")
        facts = cls(BoardState().fold(Command.from_entry(first)))
        return facts.extended(it, counts, size)

    def extended(
        self, entries: Iterable[Entry], counts: Mapping[str, int], size: int
    ) -> ElectionFacts:
        """A copy that also covers ``entries`` (the command entries up to ``size``)."""
        board = self.board
        for entry in entries:
            board = board.fold(Command.from_entry(entry))
        merged = dict(self.counts)
        for kind, n in counts.items():
            merged[kind] = merged.get(kind, 0) + n
        return ElectionFacts(board, size, merged)

    @property
    def phase(self) -> Phase:
        phase = self.board.phase
        assert phase is not None  # entry 0 is always applied
        return phase


class BoardCache:
    """Per-process cache of :class:`ElectionFacts` and of open elections' contexts.

    Safe to share between threads; everything cached is derived from entries,
    which never change, so a stale copy is only ever *behind*, never wrong.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[str, ElectionFacts] = {}
        self._contexts: dict[str, ElectionContext] = {}

    def facts(self, election_id: str) -> ElectionFacts | None:
        with self._lock:
            return self._facts.get(election_id)

    def put_facts(self, facts: ElectionFacts) -> None:
        with self._lock:
            old = self._facts.get(facts.election_id)
            if old is None or old.size <= facts.size:
                self._facts[facts.election_id] = facts

    def context(self, election_id: str) -> ElectionContext | None:
        with self._lock:
            return self._contexts.get(election_id)

    def put_context(self, election_id: str, ctx: ElectionContext) -> None:
        with self._lock:
            self._contexts[election_id] = ctx


@dataclass(frozen=True, slots=True)
class Posted:
    """A cast's or audit's outcome: its receipt, and whether this request appended the
    entry (False: the same ballot was already on the board, docs/api.md §5.1)."""

    receipt: Receipt
    appended: bool = True


@dataclass(frozen=True, slots=True)
class Appended:
    """A command's outcome: its entry and a signed tree head that includes it."""

    entry: Entry
    tree_head: SignedTreeHead

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.entry.index,
            "entry_hash": b64encode(self.entry.leaf_hash()),
            "entry": self.entry.to_json(),
            "tree_head": self.tree_head.to_json(),
        }


# --- the service ---------------------------------------------------------------------


class ElectionService:
    """The rules, over one request's :class:`Store`.

    ``officials`` is the allow-list for ``election_created``; ``clock`` returns
    milliseconds and ``rng`` is ``rng(n) -> n bytes`` (login codes).
    ``booth_sha256`` is the SHA-256 of the booth bundle this server serves
    (None: it serves none), which an ``election_opened`` naming a booth digest
    must match.
    """

    def __init__(
        self,
        store: Store,
        *,
        board_key: SigningKey,
        officials: Iterable[VerifyKey],
        cache: BoardCache,
        authenticator: Authenticator,
        clock: Callable[[], int] = now_ms,
        rng: Rng = secrets.token_bytes,
        booth_sha256: bytes | None = None,
        casts: CastQueue | None = None,
    ) -> None:
        self.store = store
        self.board_key = board_key
        self.officials = frozenset(k.raw for k in officials)
        self.cache = cache
        self.authenticator = authenticator
        self.clock = clock
        self.rng = rng
        self.booth_sha256 = booth_sha256
        self.casts = casts if casts is not None else CastQueue()

    # -- reading ---------------------------------------------------------------

    def elections(self) -> list[str]:
        return self.store.elections()

    def facts(self, election_id: str) -> ElectionFacts:
        """The election's facts as of now; :class:`NotFound` for an unknown election."""
        size = self.store.entry_count(election_id)
        if size == 0:
            raise NotFound(f"no election {election_id!r}")
        cached = self.cache.facts(election_id)
        if cached is not None and cached.size == size:
            return cached
        start = cached.size if cached is not None and cached.size < size else 0
        entries = store_queries.command_entries(self.store, election_id, start, size)
        counts = store_queries.kind_counts(self.store, election_id, start, size)
        if start == 0:
            facts = ElectionFacts.from_entries(entries, counts, size)
        else:
            assert cached is not None
            facts = cached.extended(entries, counts, size)
        self.cache.put_facts(facts)
        return facts

    def context(self, election_id: str) -> ElectionContext:
        """The ballot context of an election that has been opened (409 before)."""
        ctx = self.cache.context(election_id)
        if ctx is not None:
            return ctx
        facts = self.facts(election_id)
        if facts.fingerprint is None:
            raise LifecycleError(
                f"election {election_id!r} is not open (phase {facts.phase.value})"
            )
        ctx = facts.context()
        if ctx.fingerprint != facts.fingerprint:  # R-OPEN-01 held when it was appended
            raise violation("R-OPEN-01", "the board's fingerprint differs from its recomputation")
        self.cache.put_context(election_id, ctx)
        return ctx

    def summary(self, election_id: str) -> dict[str, Any]:
        facts = self.facts(election_id)
        c = facts.created
        head = self.store.latest_signed_head(election_id)
        return {
            "id": election_id,
            "phase": facts.phase.value,
            "size": facts.size,
            "manifest": c.manifest.to_json(),
            "official": c.official.to_json(),
            "credential_authority": c.credential_authority.to_json(),
            "trustees": [k.to_json() for k in c.trustees],
            "threshold": c.threshold,
            "allowed_commands": sorted(facts.board.allowed_kinds() & COMMAND_KINDS),
            "counts": {
                "ballots_cast": facts.counts.get(BALLOT_CAST, 0),
                "ballots_audited": facts.counts.get(BALLOT_AUDITED, 0),
                "credentials": None if facts.credentials is None else len(facts.credentials),
                "trustees_announced": len(facts.announcements),
                "trustees_committed": len(facts.commitments),
                "trustees_dealt": len(facts.shares),
                "complaints": len(facts.complaints),
                "partial_decryptions": len(facts.partials),
            },
            "fingerprint": None if facts.fingerprint is None else b64encode(facts.fingerprint),
            "result": None if facts.result is None else facts.result.to_json(),
            "tree_head": None if head is None else head.to_json(),
        }

    def trustees(self, election_id: str) -> dict[str, Any]:
        """Public key-ceremony material: every trustee message so far and the joint key."""
        facts = self.facts(election_id)
        return {
            "trustees": [k.to_json() for k in facts.created.trustees],
            "threshold": facts.created.threshold,
            "announcements": [m.to_json() for _, m in sorted(facts.announcements.items())],
            "commitments": [m.to_json() for _, m in sorted(facts.commitments.items())],
            "qualified": None if facts.qualified is None else list(facts.qualified),
            "reconstructions": [m.to_json() for _, m in sorted(facts.reconstructions.items())],
            "shares": [m.to_json() for _, m in sorted(facts.shares.items())],
            "complaints": [m.to_json() for _, m in sorted(facts.complaints.items())],
            "answers": [m.to_json() for _, m in sorted(facts.answers.items())],
            "joint_key": None if facts.joint_key is None else facts.joint_key.to_json(),
        }

    def credentials(self, election_id: str) -> CredentialList:
        facts = self.facts(election_id)
        if facts.credentials is None:
            raise NotFound("the credential list is not published yet")
        return facts.credentials

    def fingerprint(self, election_id: str) -> dict[str, Any]:
        """The fingerprint on the board (``opened``), or the one the board now implies."""
        facts = self.facts(election_id)
        if facts.fingerprint is not None:
            return {"fingerprint": b64encode(facts.fingerprint), "opened": True}
        if facts.joint_key is None or facts.credentials is None:
            raise NotFound("the fingerprint needs the joint key and the credential list")
        return {"fingerprint": b64encode(facts.context().fingerprint), "opened": False}

    def board(self, election_id: str, start: int, limit: int) -> dict[str, Any]:
        size = self._size(election_id)
        entries = self.store.entries(election_id, start, limit) if start < size else []
        end = start + len(entries)
        return {
            "start": start,
            "size": size,
            "entries": [e.to_json() for e in entries],
            "next": end if end < size else None,
        }

    def entry(self, election_id: str, index: int) -> Entry:
        self._size(election_id)
        return self.store.entry(election_id, index)

    def ballot(self, election_id: str, tracking_code: str) -> Entry:
        """The cast or audited ballot entry with this tracking code (404 if none)."""
        self._size(election_id)
        entry = self.store.entry_by_tracking_code(election_id, tracking_code)
        if entry is None:
            raise NotFound(f"no ballot with tracking code {tracking_code!r}")
        return entry

    def ballot_receipt(self, election_id: str, tracking_code: str) -> tuple[Entry, Receipt]:
        """The entry of the ballot with this tracking code and its original receipt
        (docs/api.md §5.2), in any phase: what a device that lost the answer to its
        cast recovers.  The receipt is the one the cast was answered with (the first
        head that includes the entry), so a lookup and a resend agree byte for byte."""
        entry = self.ballot(election_id, tracking_code)
        head = store_queries.first_head_covering(self.store, election_id, entry.index)
        if head is None:  # not expected: every append stores its head
            head = self.tree_head(election_id)
        proof = self.store.inclusion_proof(election_id, entry.index, head.size)
        policy = self.facts(election_id).created.manifest.witnesses
        cosigned = (
            None
            if policy is None
            else self.cosigned_checkpoint(election_id, policy, max_size=entry.index)
        )
        return entry, self._receipt(entry, tracking_code, head, proof, cosigned)

    def tree_head(self, election_id: str) -> SignedTreeHead:
        """The latest signed head; a fresh one if the board has grown since (or none exists)."""
        size = self._size(election_id)
        head = self.store.latest_signed_head(election_id)
        if head is None or head.size < size:
            head = self.store.sign_head(election_id, self.board_key, self.clock())
        return head

    def inclusion(
        self,
        election_id: str,
        *,
        index: int | None,
        tracking_code: str | None,
        size: int | None,
    ) -> dict[str, Any]:
        """Audit path of one entry (by index or ballot tracking code).

        Without ``size`` the proof is to the latest signed head, which is
        included; with it, to the tree of that size (the client holds its head).
        """
        if (index is None) == (tracking_code is None):
            raise SchemaError("give exactly one of index and tracking_code")
        self._size(election_id)
        if tracking_code is not None:
            entry = self.ballot(election_id, tracking_code)
        else:
            assert index is not None
            entry = self.store.entry(election_id, index)
        head = None
        if size is None:
            head = self.tree_head(election_id)
            size = head.size
        proof = self.store.inclusion_proof(election_id, entry.index, size)
        return {
            "index": entry.index,
            "size": size,
            "entry_hash": b64encode(entry.leaf_hash()),
            "proof": [b64encode(h) for h in proof],
            "tree_head": None if head is None else head.to_json(),
        }

    def consistency(self, election_id: str, first: int, second: int | None) -> dict[str, Any]:
        """RFC 9162 proof that tree ``first`` is a prefix of tree ``second``
        (default: the latest signed head, which is included)."""
        self._size(election_id)
        head = None
        if second is None:
            head = self.tree_head(election_id)
            second = head.size
        proof = self.store.consistency_proof(election_id, first, second)
        return {
            "first": first,
            "second": second,
            "proof": [b64encode(h) for h in proof],
            "tree_head": None if head is None else head.to_json(),
        }

    def record(self, election_id: str) -> Iterator[bytes]:
        """The election record as a zip archive, streamed (docs/record-format.md).

        The board is cut at the size of a head signed now, so the archive is
        consistent with its last tree head even while ballots keep arriving.
        For an election with a witness policy, ``checkpoint.txt`` follows: the
        largest cosigned checkpoint within that cut (absent while there is none,
        which the verifier then reports).
        """
        head = self.tree_head(election_id)
        policy = self.facts(election_id).created.manifest.witnesses
        cosigned = (
            None
            if policy is None
            else self.cosigned_checkpoint(election_id, policy, max_size=head.size)
        )
        header = RecordHeader(election_id, self.board_key.verify_key)
        heads = (
            data + b"\n"
            for data in store_queries.iter_signed_head_bytes(
                self.store, election_id, max_size=head.size
            )
        )
        board = (
            data + b"\n"
            for data in self.store.iter_canonical(election_id, stop=head.size)
        )
        members: list[tuple[str, Iterable[bytes]]] = [
            (RECORD_FILE, [record_json(header)]),
            (TREE_HEADS_FILE, heads),
            (BOARD_FILE, board),
        ]
        if cosigned is not None:
            members.append((CHECKPOINT_FILE, [checkpoint_text(cosigned)]))
        return zip_stream(members)

    def _size(self, election_id: str) -> int:
        size = self.store.entry_count(election_id)
        if size == 0:
            raise NotFound(f"no election {election_id!r}")
        return size

    # -- commands --------------------------------------------------------------

    def create_election(self, command_json: Any) -> Appended:
        """Entry 0.  The signer must be on the allow-list and be the body's official."""
        command = Command.parse(ELECTION_CREATED, command_json)
        created: ElectionCreated = command.body
        election_id = created.election_id
        command.signed.verify(election_id, ELECTION_CREATED)
        signer = command.signed.signer.raw
        if signer not in self.officials:
            raise UnauthorisedSigner("election_created must be signed by an allowed official")
        if signer != created.official.raw:
            raise UnauthorisedSigner("election_created must be signed by the official it names")
        refuse_reused_trustee_keys(self.store, created)  # 409 trustee_key_reused
        with self.store.locked(election_id) as board:
            if board.head() is not None:
                raise AlreadyExists(f"election {election_id!r} already exists")
            entry = board.append(ELECTION_CREATED, command.signed.to_json(), self.clock())
            head = store_queries.sign_head_locked(board, self.board_key, entry.time)
        return Appended(entry, head)

    def command(self, election_id: str, kind: str, command_json: Any) -> Appended:
        """Append a lifecycle or trustee command if the board projection accepts it.

        Every rule is :meth:`evote.rules.BoardState.check`'s (docs/rules.md),
        run under the lock on the board as it is then; a broken rule is
        refused with the rule's code and status and writes nothing.
        """
        check_election_id(election_id)
        if kind == ELECTION_CREATED:
            raise LifecycleError("create elections with POST /elections")
        if kind not in COMMAND_KINDS:
            raise NotFound(f"{kind!r} is not a command kind")
        command = Command.parse(kind, command_json)  # R-REC-06
        facts = self.facts(election_id)
        facts.board.check_signer(command)  # R-SIG-*: refused before taking the lock
        expected = (
            ExpectedTally(self._expected_tally(facts)) if kind == TALLY_POSTED else None
        )
        with self.store.locked(election_id) as board:
            board.state.apply(kind)  # R-PHASE-*: 409 before any (costly) check
            facts = self.facts(election_id)  # as of the lock
            facts.board.check(command, tally=expected)
            if kind == ELECTION_OPENED:
                self._check_booth(command.body)
            entry = board.append(kind, command.signed.to_json(), self.clock())
            head = store_queries.sign_head_locked(board, self.board_key, entry.time)
        return Appended(entry, head)

    def _check_booth(self, body: ElectionOpened) -> None:
        """The booth digest the official publishes must be the bundle served here.

        Otherwise the board would vouch for a booth voters never get (or the
        voters would run one the official never vouched for).  A server that
        serves no booth has nothing to compare, and an ``election_opened``
        without a digest publishes none.
        """
        posted, served = body.booth_sha256, self.booth_sha256
        if posted is None or served is None or posted == served:
            return
        raise BoothMismatch(
            f"booth_sha256 {posted.hex()} is not the SHA-256 of the booth bundle this "
            f"server serves ({served.hex()}): rebuild the booth, or open with the served "
            "bundle's digest (GET /booth/assets.json)",
            detail={"posted": posted.hex(), "served": served.hex()},
        )

    def _expected_tally(self, facts: ElectionFacts) -> TallyPosted:
        """The tally of the counted set, computed before taking the lock.

        Safe because the counted set is final once the election is closed: no
        ballot may follow ``election_closed`` (re-checked under the lock).
        """
        facts.board.phase_state.apply(TALLY_POSTED)
        ctx = self.context(facts.election_id)
        indices = self.store.counted_ballot_indices(facts.election_id)
        manifest = ctx.manifest
        weights: list[int] = []

        def counted() -> Iterator[tuple[int, list[list[Any]]]]:
            for entry in store_queries.entries_at(self.store, facts.election_id, indices):
                ballot = parse_ballot_cast(entry, manifest)
                weight = ctx.credentials.weight_of(ballot.credential)
                weights.append(weight)
                yield weight, [list(a.choices) for a in ballot.answers]

        shape = [len(q.options) for q in manifest.questions]
        tally = aggregate(shape, counted())
        return TallyPosted(tally, len(indices), sum(weights))

    def register_voters(self, election_id: str, command_json: Any) -> list[tuple[str, str]]:
        """Create a login for each listed voter id; return ``(voter id, login code)``.

        The command is signed by the election's official (kind
        ``register_voters``, body ``{"voters": [id, ...]}``).  Only hashes of
        the codes are stored, so this is the one time they can be seen.
        Allowed until the election closes; a voter id already registered
        refuses the whole request (409), which also makes a replayed command
        harmless.
        """
        signed = SignedCommand.from_json(command_json, REGISTER_VOTERS)
        f = Fields(signed.body, f"{REGISTER_VOTERS}.body", required={"voters"})
        voters = f.list("voters", check_voter_id, min_len=1, max_len=MAX_VOTERS_PER_REQUEST)
        if len(set(voters)) != len(voters):
            seen: set[str] = set()
            twice = next(v for v in voters if v in seen or seen.add(v))
            raise AlreadyExists(f"voter id {twice!r} is listed twice",
                                detail={"voter_id": twice})
        facts = self.facts(election_id)
        signed.verify(election_id, REGISTER_VOTERS)
        if signed.signer.raw != facts.created.official.raw:
            raise UnauthorisedSigner("voters are registered by the election's official")
        if facts.phase not in (Phase.SETUP, Phase.OPEN):
            raise LifecycleError(f"voters cannot be registered in phase {facts.phase.value}")
        issued = issue_login_codes(voters, self.rng)
        try:
            self.store.add_voters(election_id, [(v, h) for v, _, h in issued])
        except AlreadyExists:  # name one (only on this path: one lookup per listed id)
            taken = next((v for v in voters if self.store.voter(election_id, v)), None)
            if taken is None:
                raise
            raise AlreadyExists(
                f"voter id {taken!r} is already registered for this election (nothing of "
                "this request was registered)", detail={"voter_id": taken}) from None
        return [(v, code) for v, code, _ in issued]

    # -- ballots ---------------------------------------------------------------

    def authenticate(self, election_id: str, authorization: str | None) -> VoterLogin:
        return self.authenticator.authenticate(self.store, election_id, authorization)

    def cast(self, election_id: str, login: VoterLogin, ballot_json: Any) -> Posted:
        """Cast a ballot for ``login`` (from :meth:`authenticate`, which the API calls
        before it reads the body, so the login is looked up once); return the receipt.

        The same ballot sent again by its login gets the original receipt and
        appends nothing (``Posted.appended`` False, docs/api.md §5.1).

        Everything up to the append runs in this request's thread, in parallel
        with other requests: the login, parsing and verifying the ballot.  The
        append goes through the process's :class:`~ballot_server.casting.CastQueue`,
        which writes it in one transaction with the other casts queued
        meanwhile (:meth:`_write_casts`); the receipt is signed here once that
        transaction has committed.

        In an election with a witness policy the receipt carries the latest
        cosigned checkpoint, read before the append (nothing may fail after the
        commit, or an acknowledged ballot would get no receipt)."""
        ctx = self._open_context(election_id)
        ballot = Ballot.from_json(ballot_json, ctx.manifest)
        check_cast(ctx, ballot)  # R-BAL-01/02
        pending = pending_cast(login, ballot)
        cosigned = self._receipt_checkpoint(ctx, election_id)
        written = self.casts.submit(election_id, pending, self._write_casts)
        # Committed (and fsynced): only now is the ballot acknowledged.
        if written.resent and ctx.manifest.witnesses is not None:
            # The checkpoint read above may include the earlier entry; a receipt's never does.
            cosigned = self.cosigned_checkpoint(
                election_id, ctx.manifest.witnesses, max_size=written.entry.index
            )
        receipt = self._receipt(
            written.entry, ballot.tracking_code, written.head, written.proof, cosigned
        )
        return Posted(receipt, appended=not written.resent)

    def _write_casts(self, election_id: str, casts: list[PendingCast]) -> None:
        """Write a batch of verified casts in one locked transaction (the
        :class:`~ballot_server.casting.CastQueue` calls this in one of their threads).

        Each cast is checked against the board under the lock and against the
        casts before it in the batch, in the order of the rules of one cast:
        the phase, the login's binding, then its ciphertexts.  A cast that
        fails is refused on its own and writes nothing; the others are
        appended, one tree head signed over them all, and each gets its
        inclusion proof in that head -- handed over only after the commit.
        """
        time_ms = self.clock()
        appended: list[tuple[PendingCast, Entry]] = []
        # Casts of a ballot already on the board (or earlier in this batch): answered
        # from that entry, appending nothing (docs/api.md §5.1).
        resent: list[tuple[PendingCast, Entry]] = []
        answers: list[tuple[PendingCast, CastWritten]] = []
        head: SignedTreeHead | None = None
        with self.store.locked(election_id, batched=True) as board:
            try:
                board.state.apply(BALLOT_CAST)
            except LifecycleError as exc:
                for cast in casts:
                    cast.refused(exc)
                return
            # Logins not known to be bound when they logged in are re-read under the
            # lock, with the owners of their credentials: bindings only change here.
            unsure = [c for c in casts if c.known is None or c.known.credential is None]
            logins, owners = board.login_bindings(
                (c.voter_id for c in unsure), (c.credential for c in unsure)
            )
            taken = board.ciphertext_entries(a for c in casts for a in c.alphas)
            to_bind: dict[str, bytes] = {}
            in_batch: dict[int, Entry] = {}
            for cast in casts:
                try:
                    bind = _check_binding(cast, logins, owners, to_bind)
                    original = resend_of(cast.alphas, taken)  # R-BAL-03
                    if original is not None:
                        resent.append((cast, _resent_cast(board, cast, original, in_batch, bind)))
                        continue
                except EvoteError as exc:
                    cast.refused(exc)
                    continue
                entry = board.append(BALLOT_CAST, cast.payload, time_ms)
                in_batch[entry.index] = entry
                board.index_ballot(entry.index, cast.tracking_code, cast.credential, cast.alphas)
                taken.update(dict.fromkeys(cast.alphas, entry.index))
                if bind:
                    to_bind[cast.voter_id] = cast.credential
                    owners[cast.credential] = cast.voter_id
                appended.append((cast, entry))
            if appended:
                board.bind_credentials(list(to_bind.items()))
                head = store_queries.sign_head_locked(board, self.board_key, appended[-1][1].time)
                for cast, entry in appended:
                    proof = board.inclusion_proof(entry.index, head.size)
                    answers.append((cast, CastWritten(entry, head, proof)))
            for cast, entry in resent:
                if head is not None and entry.index in in_batch:
                    first_head = head  # its first send is in this batch: the same head
                else:
                    first_head = self._first_head_locked(board, entry)
                proof = board.inclusion_proof(entry.index, first_head.size)
                answers.append((cast, CastWritten(entry, first_head, proof, resent=True)))
        # Committed: only now is any cast of the batch answered.
        for cast, written in answers:
            cast.written(written)

    def audit(self, election_id: str, login: VoterLogin, audited_json: Any) -> Posted:
        """Post an audited ballot; its ciphertexts can never be cast afterwards.

        The same audited ballot sent again gets its original receipt and appends
        nothing (docs/api.md §5.1), unless the login's binding shows it is another
        voter's (audits record no login; the binding is all there is)."""
        ctx = self._open_context(election_id)
        audited = AuditedBallot.from_json(audited_json, ctx.manifest)
        check_audit(ctx, audited)  # R-BAL-01/04
        ballot = audited.ballot
        alphas = _alphas(ballot)
        cosigned = self._receipt_checkpoint(ctx, election_id)
        payload = ballot_audited_payload(audited)
        with self.store.locked(election_id, batched=True) as board:
            board.state.apply(BALLOT_AUDITED)
            original = resend_of(alphas, board.ciphertext_entries(alphas))
            if original is not None:
                entry = _resent_audit(board, login, ballot, payload, original)
                head = self._first_head_locked(board, entry)
                proof = board.inclusion_proof(entry.index, head.size)
            else:
                entry = board.append(BALLOT_AUDITED, payload, self.clock())
                board.index_ballot(entry.index, ballot.tracking_code, None, alphas)
                head, proof = self._head_and_proof(board, entry)
        if original is not None and ctx.manifest.witnesses is not None:
            cosigned = self.cosigned_checkpoint(
                election_id, ctx.manifest.witnesses, max_size=entry.index
            )
        receipt = self._receipt(entry, ballot.tracking_code, head, proof, cosigned)
        return Posted(receipt, appended=original is None)

    def _open_context(self, election_id: str) -> ElectionContext:
        """The context, after a cheap early refusal when the election is known to be past open."""
        check_election_id(election_id)
        ctx = self.context(election_id)
        cached = self.cache.facts(election_id)
        if cached is not None:
            cached.board.phase_state.apply(BALLOT_CAST)  # R-PHASE-03, re-checked under the lock
        return ctx

    # -- signed answers --------------------------------------------------------

    def _first_head_locked(self, board: BoardHandle, entry: Entry) -> SignedTreeHead:
        """Inside the lock: the head the receipt of ``entry`` (already on the board) was
        issued with -- the first one that includes it; a new one if none does (not
        expected: every append stores its head)."""
        head = store_queries.first_head_covering_locked(board, entry.index)
        if head is None:
            head = store_queries.sign_head_locked(board, self.board_key, self.clock())
        return head

    def _head_and_proof(
        self, board: BoardHandle, entry: Entry
    ) -> tuple[SignedTreeHead, list[bytes]]:
        """Inside the lock: a head of the board ending with ``entry``, and its audit path.

        Stored in the same transaction as the entry, so the receipt's head is
        on record whenever the entry is."""
        head = store_queries.sign_head_locked(board, self.board_key, entry.time)
        return head, board.inclusion_proof(entry.index, head.size)

    def _receipt(
        self,
        entry: Entry,
        tracking_code: str,
        head: SignedTreeHead,
        proof: list[bytes],
        cosigned: Note | None = None,
    ) -> Receipt:
        receipt = Receipt.issue(
            entry=entry,
            tracking_code=tracking_code,
            tree_head=head,
            inclusion_proof=proof,
            key=self.board_key,
        )
        if cosigned is None:
            return receipt
        return dataclasses.replace(receipt, cosigned_checkpoint=cosigned.to_text())

    def _receipt_checkpoint(self, ctx: ElectionContext, election_id: str) -> Note | None:
        """The cosigned checkpoint a receipt carries (None without a witness policy)."""
        policy = ctx.manifest.witnesses
        return None if policy is None else self.cosigned_checkpoint(election_id, policy)

    # -- witnesses (docs/witness.md) ----------------------------------------------

    def cosigned_checkpoint(
        self, election_id: str, policy: WitnessPolicy, *, max_size: int | None = None
    ) -> Note | None:
        """The largest checkpoint (up to ``max_size``) that ``policy.threshold``
        witnesses cosigned, signed by the board and carrying every kept
        cosignature; None while there is none.

        The rows were verified against the policy and the stored root when the
        witnesses posted them (:mod:`ballot_server.witness_api`), so this only
        reassembles the note; Ed25519 being deterministic, the board's own
        signature is the same bytes every time.
        """
        size = store_queries.largest_cosigned_size(
            self.store, election_id, policy.threshold, max_size=max_size
        )
        if size is None:
            return None
        origin = election_origin(self.board_key.verify_key, election_id)
        cp = Checkpoint(origin, size, self.store.root(election_id, size))
        lines = store_queries.cosignature_lines(self.store, election_id, size, cp.root)
        return sign_checkpoint(cp, self.board_key).with_signatures(
            NoteSignature.parse_line(line) for line in lines
        )


def _alphas(ballot: Ballot) -> list[bytes]:
    """The ballot's ciphertext alphas; repeated randomness inside one ballot is refused
    (R-BAL-03, :func:`evote.rules.ballot_alphas`)."""
    return ballot_alphas(ballot)


def pending_cast(login: VoterLogin, ballot: Ballot) -> PendingCast:
    """What a verified cast of ``ballot`` by ``login`` queues for its batch: the login and
    its row as read at login, the credential, the ciphertext alphas (refusing repeated
    randomness inside the ballot) and the ``ballot_cast`` entry payload."""
    return PendingCast(
        voter_id=login.voter_id,
        known=login.voter,
        credential=ballot.credential.raw,
        tracking_code=ballot.tracking_code,
        alphas=_alphas(ballot),
        payload=ballot_cast_payload(ballot),
    )


def _check_binding(
    cast: PendingCast,
    logins: Mapping[str, bytes | None],
    owners: Mapping[bytes, str],
    batch_bound: Mapping[str, bytes],
) -> bool:
    """:func:`~ballot_server.store.binding_needed` for one cast of a batch.  ``logins``
    and ``owners`` are read under the lock
    (:meth:`~ballot_server.store.BoardHandle.login_bindings`) and ``owners`` includes
    the credentials bound earlier in the batch, ``batch_bound`` the logins bound
    earlier in the batch.  A binding already made never changes, so a login known
    bound when it logged in needs no read."""
    if cast.voter_id in batch_bound:
        current: bytes | None = batch_bound[cast.voter_id]
    elif cast.known is not None and cast.known.credential is not None:
        current = cast.known.credential
    elif cast.voter_id in logins:
        current = logins[cast.voter_id]
    else:
        raise AuthenticationError("unknown voter login for this election")
    return binding_needed(cast.voter_id, cast.credential, current, owners.get(cast.credential))


def _resent_cast(
    board: BoardHandle,
    cast: PendingCast,
    index: int,
    in_batch: Mapping[int, Entry],
    bind: bool,
) -> Entry:
    """The entry a resent cast is answered from: entry ``index`` must be a cast of this
    very ballot, and the login already bound to its credential (``bind`` False: the
    login that cast it, since a credential serves one login).  Otherwise 409
    duplicate_ciphertext, as for any reuse of a ciphertext."""
    entry = in_batch.get(index) or store_queries.entry_locked(board, index)
    if bind or not is_resend(entry, BALLOT_CAST, cast.payload):
        raise duplicate_of(index)  # R-BAL-03
    return entry


def _resent_audit(
    board: BoardHandle, login: VoterLogin, ballot: Ballot, payload: Mapping[str, Any], index: int
) -> Entry:
    """The entry a resent audit is answered from: entry ``index`` must be this very
    audited ballot, and the login's binding must not contradict its credential (neither
    the login bound to another credential nor the credential to another login: audits
    record no login, so that is all that tells voters apart).  Otherwise 409
    duplicate_ciphertext, the refusal of any reuse of an audited ballot's ciphertexts."""
    entry = store_queries.entry_locked(board, index)
    if not is_resend(entry, BALLOT_AUDITED, payload):
        raise duplicate_of(index)  # R-BAL-03
    credential = ballot.credential.raw
    logins, owners = board.login_bindings([login.voter_id], [credential])
    if logins.get(login.voter_id) not in (None, credential) or owners.get(credential) not in (
        None,
        login.voter_id,
    ):
        raise duplicate_of(index)  # R-BAL-03
    return entry


# --- the record archive --------------------------------------------------------------


class _Sink:
    """A write-only, unseekable byte sink: zipfile then writes a streamable archive
    (local headers with data descriptors), which is what lets us send it as it is made."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.pending = 0

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self.pending += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: :meth:`take` hands the bytes out."""

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        self.pending = 0
        return out


def zip_stream(
    members: Iterable[tuple[str, Iterable[bytes]]], *, chunk: int = 1 << 16
) -> Iterator[bytes]:
    """A zip archive of ``(name, byte pieces)`` members, yielded in pieces of about ``chunk``.

    Members are deflated and stamped 1980-01-01 (zip's epoch), so the same
    record always gives the same archive bytes.
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for name, pieces in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                for piece in pieces:
                    member.write(piece)
                    if sink.pending >= chunk:
                        yield sink.take()
    tail = sink.take()
    if tail:
        yield tail
