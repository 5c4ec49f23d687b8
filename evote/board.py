"""The bulletin board's logic: entries, the hash chain, signed tree heads, receipts.

Pure: no storage, no clock.  The server builds every entry with
:func:`next_entry` and stores the entry's canonical bytes; the verifier streams
a record through :func:`verify_chain`.  Both sides compute the same bytes:

* an entry is the RFC 8785 canonical JSON of
  ``{"v", "election", "index", "kind", "prev", "time", "payload"}``;
* ``prev`` is the RFC 9162 leaf hash of the previous entry's canonical bytes
  (32 zero bytes for entry 0), so the entries form a hash chain;
* the same leaf hashes are the leaves of an RFC 9162 Merkle tree
  (:mod:`evote.merkle`), whose heads the board signs (:class:`SignedTreeHead`)
  and proves consistent over time (:func:`verify_heads`);
* a voter's :class:`Receipt` is the board's signature over (entry index, entry
  hash, tracking code, signed tree head) plus an inclusion proof.

The exact byte layouts are specified in ``docs/board.md``.

Why one module of ~780 lines: entries, chain heads, tree heads and receipts
share one byte layout and one set of field checks (``docs/board.md``), and a
receipt is verified against a tree head and an entry; split, each part would
import the others' private checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evote import merkle
from evote.checkpoint import MAX_NOTE_BYTES, Checkpoint, Note
from evote.election import KINDS, ElectionState
from evote.encoding import (
    MAX_SAFE_INTEGER,
    Fields,
    b64decode,
    b64encode,
    canonical_json,
    parse_json,
)
from evote.errors import (
    BoardError,
    EncodingError,
    Equivocation,
    EvoteError,
    InvalidSignature,
    LifecycleError,
    RootMismatchError,
    SchemaError,
)
from evote.hashing import TAG_RECEIPT, TAG_TREE_HEAD
from evote.limits import MAX_ELECTION_ID as MAX_ELECTION_ID
from evote.limits import MAX_KIND as MAX_KIND
from evote.limits import MAX_PROOF_LENGTH as MAX_PROOF_LENGTH
from evote.limits import MAX_TRACKING_CODE as MAX_TRACKING_CODE
from evote.signing import SIGNATURE_BYTES, SigningKey, VerifyKey

__all__ = [
    "KINDS",
    "ChainHead",
    "ChainSummary",
    "ConsistencyProof",
    "Entry",
    "Receipt",
    "SignedTreeHead",
    "TreeHead",
    "detect_equivocation",
    "foreign_kind_header",
    "next_entry",
    "verify_chain",
    "link_faults",
    "LINK_FAULT_CHECKS",
    "verify_heads",
]

VERSION = 1
ZERO_HASH = bytes(merkle.HASH_SIZE)
"""The ``prev`` of entry 0: there is no previous entry."""


def _check_str(path: str, value: object, max_len: int) -> None:
    if not isinstance(value, str):
        raise SchemaError(f"{path}: expected a string")
    if not value or len(value) > max_len:
        raise SchemaError(f"{path}: must be 1 to {max_len} characters")


def _check_int(path: str, value: object, lo: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SchemaError(f"{path}: expected an integer")
    if not lo <= value <= MAX_SAFE_INTEGER:
        raise SchemaError(f"{path}: must be between {lo} and {MAX_SAFE_INTEGER}")


def _check_hash(path: str, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != merkle.HASH_SIZE:
        raise SchemaError(f"{path}: expected {merkle.HASH_SIZE} bytes")


def _check_version(f: Fields) -> None:
    v = f.raw("v")
    if not isinstance(v, int) or isinstance(v, bool) or v != VERSION:
        raise SchemaError(f"{f.sub('v')}: unsupported version {v!r}, expected {VERSION}")


def _hash_list(value: Any, path: str) -> tuple[bytes, ...]:
    if not isinstance(value, list) or len(value) > MAX_PROOF_LENGTH:
        raise SchemaError(f"{path}: expected a list of at most {MAX_PROOF_LENGTH} hashes")
    return tuple(
        b64decode(h, length=merkle.HASH_SIZE, what=f"{path}[{i}]") for i, h in enumerate(value)
    )


# --- entries and the hash chain -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One board entry.  Valid by construction: the fields are checked and the
    canonical bytes computed once, in ``__post_init__``.

    ``payload`` is the kind-specific JSON object (validated by the module that
    owns that kind); treat it as immutable, since the entry's hash was fixed
    when the entry was made.
    """

    election: str
    index: int
    kind: str
    prev: bytes
    time: int
    payload: dict[str, Any]
    _canonical: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_str("entry.election", self.election, MAX_ELECTION_ID)
        _check_int("entry.index", self.index)
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise SchemaError(f"entry.kind: unknown entry kind {self.kind!r}")
        _check_hash("entry.prev", self.prev)
        _check_int("entry.time", self.time)
        if not isinstance(self.payload, dict):
            raise SchemaError("entry.payload: expected an object")
        object.__setattr__(self, "_canonical", canonical_json(self.to_json()))

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "election": self.election,
            "index": self.index,
            "kind": self.kind,
            "prev": b64encode(self.prev),
            "time": self.time,
            "payload": self.payload,
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "entry") -> Entry:
        """Parse a decoded entry strictly: exact keys, version 1, known kind."""
        f = Fields(
            obj,
            path,
            required={"v", "election", "index", "kind", "prev", "time", "payload"},
        )
        _check_version(f)
        kind = f.str("kind", max_len=MAX_KIND)
        if kind not in KINDS:
            raise SchemaError(f"{f.sub('kind')}: unknown entry kind {kind!r}")
        payload = f.obj_of("payload")
        if not isinstance(payload, dict):
            raise SchemaError(f"{f.sub('payload')}: expected an object")
        return cls(
            election=f.str("election", max_len=MAX_ELECTION_ID),
            index=f.int("index"),
            kind=kind,
            prev=f.bytes("prev", length=merkle.HASH_SIZE),
            time=f.int("time"),
            payload=payload,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        """Parse stored entry bytes, which must already be canonical (RFC 8785).

        A non-canonical spelling is refused rather than silently re-hashed, so
        the bytes an auditor downloads are exactly the bytes that were hashed.
        """
        entry = cls.from_json(parse_json(data))
        if entry.canonical() != data:
            raise EncodingError(f"entry {entry.index} is not in canonical (RFC 8785) form")
        return entry

    def canonical(self) -> bytes:
        """The RFC 8785 bytes of :meth:`to_json`: what is stored, chained and hashed."""
        return self._canonical

    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash of the canonical bytes: the next entry's ``prev``."""
        return merkle.leaf_hash(self._canonical)


@dataclass(frozen=True, slots=True)
class ChainHead:
    """What :func:`next_entry` needs of the previous entry: its election, index,
    time and leaf hash.

    A server that appends keeps this rather than the last entry itself, so
    catching up with another process's appends reads four columns instead of
    re-parsing (and re-canonicalising) the entry.
    """

    election: str
    index: int
    time: int
    hash: bytes

    def __post_init__(self) -> None:
        _check_str("chain_head.election", self.election, MAX_ELECTION_ID)
        _check_int("chain_head.index", self.index)
        _check_int("chain_head.time", self.time)
        _check_hash("chain_head.hash", self.hash)

    @classmethod
    def of(cls, entry: Entry) -> ChainHead:
        return cls(entry.election, entry.index, entry.time, entry.leaf_hash())

    def leaf_hash(self) -> bytes:
        return self.hash


def foreign_kind_header(data: bytes) -> tuple[str, int, str, bytes, int] | None:
    """``(election, index, kind, prev, time)`` of stored entry bytes whose only fault
    is a ``kind`` that is not one of the registry's; None if anything else is wrong.

    Why: such a line is still a well-formed, chained entry (``docs/board.md`` §2):
    it breaks the phase table (R-PHASE-02), not the record format, so a verifier
    must read its header and hash it like any other.  :class:`Entry` itself keeps
    refusing unknown kinds (nothing else may build or read one); here every other
    field is checked by :meth:`Entry.from_json` itself, on the object with a known
    kind in place of the foreign one, and the bytes must be the canonical form of
    the object as stored.
    """
    try:
        obj = parse_json(data)
    except EvoteError:
        return None
    if not isinstance(obj, dict):
        return None
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind in KINDS or not 1 <= len(kind) <= MAX_KIND:
        return None
    try:
        entry = Entry.from_json({**obj, "kind": KINDS[0]})
    except EvoteError:
        return None
    if canonical_json(obj) != data:
        return None
    return entry.election, entry.index, kind, entry.prev, entry.time


def next_entry(
    prev: Entry | ChainHead | None,
    *,
    election: str,
    kind: str,
    time: int,
    payload: dict[str, Any],
) -> Entry:
    """Build the entry that follows ``prev`` (or entry 0 when ``prev`` is None).

    The one place entries are made, so index and ``prev`` can never be set by
    hand.  Refuses a different election or a time before ``prev.time`` with
    :class:`BoardError` (a server on several hosts should pass
    ``max(now, prev.time)``).  Lifecycle rules are checked separately by
    :meth:`evote.election.ElectionState.apply`.
    """
    if prev is None:
        return Entry(election, 0, kind, ZERO_HASH, time, payload)
    if election != prev.election:
        raise BoardError(f"entry {prev.index + 1}: election {election!r} is not {prev.election!r}")
    if isinstance(time, int) and time < prev.time:
        raise BoardError(f"entry {prev.index + 1}: time {time} is before the previous entry's")
    return Entry(election, prev.index + 1, kind, prev.leaf_hash(), time, payload)


@dataclass(frozen=True, slots=True)
class ChainSummary:
    """What :func:`verify_chain` learned from a whole board."""

    election: str
    size: int
    root: bytes  # RFC 9162 root over all entries
    head_hash: bytes  # leaf hash of the last entry (the next entry's prev)
    last_time: int
    state: ElectionState | None  # None when lifecycle checking was off


def _bad(index: int, message: str) -> BoardError:
    return BoardError(f"entry {index}: {message}", detail={"index": index})


#: Which check of ``docs/verifier.md`` each link fault fails (the verifier reports them all).
LINK_FAULT_CHECKS = {
    "wrong_index": "record-format",
    "wrong_election": "record-format",
    "broken_chain": "hash-chain",
    "time_goes_back": "hash-chain",
}


def link_faults(
    entry_election: str, entry_index: int, entry_prev: bytes, entry_time: int,
    *, election: str, index: int, prev: bytes, last_time: int,
) -> list[tuple[str, str, str]]:
    """Every way an entry's header breaks the chain where it stands: (code, check, message).

    The one statement of the link rules: the entry is at ``index``, of
    ``election``, its ``prev`` is the previous entry's leaf hash and its time is
    not before the previous entry's.  :func:`verify_chain` raises at the first
    fault; the verifier (which reports everything) records each against
    :data:`LINK_FAULT_CHECKS`.
    """
    faults = []
    if entry_index != index:
        faults.append(("wrong_index", f"index is {entry_index}, expected {index}"))
    if entry_election != election:
        faults.append(("wrong_election", f"election {entry_election!r} is not {election!r}"))
    if entry_prev != prev:
        faults.append(("broken_chain", "prev does not match the hash of the previous entry"))
    if entry_time < last_time:
        faults.append(("time_goes_back", f"time {entry_time} is before the previous entry's "
                                         f"{last_time}"))
    return [(code, LINK_FAULT_CHECKS[code], message) for code, message in faults]


def verify_chain(
    entries: Iterable[Entry],
    *,
    lifecycle: bool = True,
    expect: TreeHead | None = None,
) -> ChainSummary:
    """Check a whole board in one streaming pass; raise at the first bad entry.

    Checks, per entry ``i``: its index is ``i``; its election is that of
    ``expect`` (or of entry 0); its ``prev`` is the leaf hash of entry
    ``i - 1`` (zero for entry 0); its time is not before entry ``i - 1``'s;
    and (``lifecycle``) its kind is allowed by :mod:`evote.election`.  Each failure raises :class:`BoardError` whose
    message and ``detail["index"]`` name ``i``.  An empty board fails.

    Memory is ``O(log n)``: entries are not kept, leaf hashes go into a
    :class:`~evote.merkle.MerkleAccumulator`.  With ``expect`` (a tree head
    whose signature the caller has checked), the board must have exactly that
    size and root (:class:`RootMismatchError` otherwise) -- which also catches
    a change to the last entry, which no later ``prev`` covers.
    """
    acc = merkle.MerkleAccumulator()
    state: ElectionState | None = ElectionState() if lifecycle else None
    election = expect.election if expect is not None else None
    prev_hash = ZERO_HASH
    last_time = 0
    for i, entry in enumerate(entries):
        if not isinstance(entry, Entry):
            raise TypeError("verify_chain expects Entry objects")
        if election is None:
            election = entry.election
        faults = link_faults(entry.election, entry.index, entry.prev, entry.time,
                             election=election, index=i, prev=prev_hash, last_time=last_time)
        if faults:
            raise _bad(i, faults[0][2])
        if state is not None:
            try:
                state = state.apply(entry.kind)
            except LifecycleError as exc:
                raise _bad(i, exc.message) from exc
        prev_hash = entry.leaf_hash()
        last_time = entry.time
        acc.append(prev_hash)
    if election is None or acc.size == 0:
        raise BoardError("board has no entries")
    summary = ChainSummary(election, acc.size, acc.root(), prev_hash, last_time, state)
    if expect is not None:
        if expect.size != summary.size:
            raise BoardError(f"tree head has size {expect.size}, the board has {summary.size}")
        if expect.root != summary.root:
            raise RootMismatchError(
                f"board of {summary.size} entries does not hash to the signed root",
                expected=expect.root,
                computed=summary.root,
            )
    return summary


# --- tree heads -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The board's claim "election E had ``size`` entries with this root at ``time``".

    ``size`` is at least 1: a board exists from its ``election_created`` entry.
    """

    election: str
    size: int
    root: bytes
    time: int

    def __post_init__(self) -> None:
        _check_str("tree_head.election", self.election, MAX_ELECTION_ID)
        _check_int("tree_head.size", self.size, lo=1)
        _check_hash("tree_head.root", self.root)
        _check_int("tree_head.time", self.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "election": self.election,
            "size": self.size,
            "root": b64encode(self.root),
            "time": self.time,
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "tree_head") -> TreeHead:
        f = Fields(obj, path, required={"v", "election", "size", "root", "time"})
        _check_version(f)
        return cls(
            election=f.str("election", max_len=MAX_ELECTION_ID),
            size=f.int("size", lo=1),
            root=f.bytes("root", length=merkle.HASH_SIZE),
            time=f.int("time"),
        )

    def signed_fields(self) -> list[bytes]:
        """The transcript fields the board signs under ``TAG_TREE_HEAD``."""
        return [canonical_json(self.to_json())]

    def sign(self, key: SigningKey) -> SignedTreeHead:
        return SignedTreeHead(self, key.sign(TAG_TREE_HEAD, self.signed_fields()), key.verify_key)


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A tree head with the board key's Ed25519 signature over it."""

    head: TreeHead
    signature: bytes
    board_key: VerifyKey

    def __post_init__(self) -> None:
        if not isinstance(self.head, TreeHead):
            raise SchemaError("signed_tree_head.head: expected a TreeHead")
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise SchemaError(f"signed_tree_head.signature: expected {SIGNATURE_BYTES} bytes")
        if not isinstance(self.board_key, VerifyKey):
            raise SchemaError("signed_tree_head.board_key: expected a VerifyKey")

    @property
    def election(self) -> str:
        return self.head.election

    @property
    def size(self) -> int:
        return self.head.size

    @property
    def root(self) -> bytes:
        return self.head.root

    def verify(self, board_key: VerifyKey | None = None) -> None:
        """Raise :class:`InvalidSignature` unless the signature verifies.

        Pass the board key you trust: without it this only shows that the head
        is signed by the key it names, which anyone can produce.
        """
        _check_key(self.board_key, board_key, "tree head")
        self.board_key.verify(TAG_TREE_HEAD, self.head.signed_fields(), self.signature)

    def to_json(self) -> dict[str, Any]:
        return {
            "head": self.head.to_json(),
            "signature": b64encode(self.signature),
            "board_key": self.board_key.to_json(),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "signed_tree_head") -> SignedTreeHead:
        f = Fields(obj, path, required={"head", "signature", "board_key"})
        return cls(
            head=TreeHead.from_json(f.obj_of("head"), f.sub("head")),
            signature=f.bytes("signature", length=SIGNATURE_BYTES),
            board_key=_verify_key(f, "board_key"),
        )


def _verify_key(f: Fields, key: str) -> VerifyKey:
    try:
        return VerifyKey.from_json(f.raw(key))
    except EncodingError as exc:
        raise SchemaError(f"{f.sub(key)}: {exc.message}") from None


def _check_key(named: VerifyKey, trusted: VerifyKey | None, what: str) -> None:
    if trusted is not None and named.raw != trusted.raw:
        raise InvalidSignature(f"{what} is signed by {named!r}, not the trusted board key")


def detect_equivocation(
    first: SignedTreeHead, second: SignedTreeHead, *, board_key: VerifyKey | None = None
) -> None:
    """Raise :class:`Equivocation` if two validly signed heads disagree at one size.

    Both signatures are checked first (an unsigned head proves nothing).  Heads
    of different elections or sizes are not compared here; use
    :func:`verify_heads` for those.
    """
    first.verify(board_key)
    second.verify(board_key)
    if first.board_key.raw != second.board_key.raw:
        raise BoardError("tree heads are signed by different board keys")
    a, b = first.head, second.head
    if a.election == b.election and a.size == b.size and a.root != b.root:
        raise Equivocation(
            f"board signed two different roots for size {a.size} of election {a.election!r}",
            first=first.to_json(),
            second=second.to_json(),
        )


def verify_heads(
    older: SignedTreeHead,
    newer: SignedTreeHead,
    proof: Sequence[bytes],
    *,
    board_key: VerifyKey | None = None,
) -> None:
    """Check that the board of ``newer`` extends the board of ``older`` (RFC 9162 §2.1.4.2).

    Steps: (1) both signatures, by one key (``board_key`` when given);
    (2) same election; (3) equal sizes with different roots raise
    :class:`Equivocation`; (4) the consistency proof, where a failure raises
    :class:`RootMismatchError` whose ``detail`` also holds both signed heads,
    the evidence that the board was rewritten or forked.
    """
    detect_equivocation(older, newer, board_key=board_key)  # (1), (3)
    if older.election != newer.election:  # (2)
        raise BoardError(
            f"tree heads are for different elections: {older.election!r}, {newer.election!r}"
        )
    try:  # (4)
        merkle.verify_consistency(older.size, newer.size, proof, older.root, newer.root)
    except RootMismatchError as exc:
        fork = RootMismatchError(
            f"board forked: tree {newer.size} does not extend tree {older.size} ({exc.message})",
            expected=exc.expected,
            computed=exc.computed,
        )
        fork.detail.update(older=older.to_json(), newer=newer.to_json())
        raise fork from None


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Two signed heads and the RFC 9162 proof that the newer extends the older."""

    older: SignedTreeHead
    newer: SignedTreeHead
    proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "proof", tuple(self.proof))

    def verify(self, board_key: VerifyKey | None = None) -> None:
        verify_heads(self.older, self.newer, self.proof, board_key=board_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "older": self.older.to_json(),
            "newer": self.newer.to_json(),
            "proof": [b64encode(h) for h in self.proof],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "consistency") -> ConsistencyProof:
        f = Fields(obj, path, required={"older", "newer", "proof"})
        return cls(
            older=SignedTreeHead.from_json(f.obj_of("older"), f.sub("older")),
            newer=SignedTreeHead.from_json(f.obj_of("newer"), f.sub("newer")),
            proof=_hash_list(f.obj_of("proof"), f.sub("proof")),
        )


# --- receipts -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """The board's signed promise that an entry is at ``index`` of a signed tree.

    The voter keeps it; if the entry later goes missing, the receipt (signed
    by the board key) is the evidence.

    ``cosigned_checkpoint`` is attached, not signed: in an election with a
    witness policy, the latest checkpoint the witnesses had cosigned when the
    ballot was cast (a C2SP signed note, ``docs/witness.md``), or None.  It
    authenticates itself (board signature and witness cosignatures), so the
    receipt's signed statement stays the same with or without it.  It never
    includes the ballot (witnesses cosign after the append); ``evote receipt
    check`` shows it is a prefix of the receipt's tree and then looks for a
    later cosigned checkpoint that does include the ballot.
    """

    election: str
    index: int
    tracking_code: str
    entry_hash: bytes
    tree_head: SignedTreeHead
    inclusion_proof: tuple[bytes, ...]
    signature: bytes
    cosigned_checkpoint: str | None = None

    def __post_init__(self) -> None:
        _check_str("receipt.election", self.election, MAX_ELECTION_ID)
        _check_int("receipt.index", self.index)
        _check_str("receipt.tracking_code", self.tracking_code, MAX_TRACKING_CODE)
        _check_hash("receipt.entry_hash", self.entry_hash)
        if not isinstance(self.tree_head, SignedTreeHead):
            raise SchemaError("receipt.tree_head: expected a SignedTreeHead")
        proof = tuple(self.inclusion_proof)
        for i, h in enumerate(proof):
            _check_hash(f"receipt.inclusion_proof[{i}]", h)
        object.__setattr__(self, "inclusion_proof", proof)
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise SchemaError(f"receipt.signature: expected {SIGNATURE_BYTES} bytes")
        if self.cosigned_checkpoint is not None:
            _check_checkpoint_note(self.cosigned_checkpoint)

    @classmethod
    def issue(
        cls,
        *,
        entry: Entry,
        tracking_code: str,
        tree_head: SignedTreeHead,
        inclusion_proof: Sequence[bytes],
        key: SigningKey,
    ) -> Receipt:
        """Sign a receipt for ``entry``, after checking that the proof is right.

        Refusing to sign a receipt that would not verify keeps a server bug
        from handing voters evidence against an honest board.
        """
        if tree_head.board_key.raw != key.verify_key.raw:
            raise BoardError("tree head is signed by a different key than the receipt")
        if tree_head.election != entry.election:
            raise BoardError("tree head is for a different election than the entry")
        merkle.verify_inclusion(
            entry.index, tree_head.size, entry.leaf_hash(), inclusion_proof, tree_head.root
        )
        statement = _receipt_statement(
            entry.election, entry.index, tracking_code, entry.leaf_hash(), tree_head
        )
        return cls(
            election=entry.election,
            index=entry.index,
            tracking_code=tracking_code,
            entry_hash=entry.leaf_hash(),
            tree_head=tree_head,
            inclusion_proof=tuple(inclusion_proof),
            signature=key.sign(TAG_RECEIPT, [canonical_json(statement)]),
        )

    def statement(self) -> dict[str, Any]:
        """The JSON object whose canonical bytes the board signs under ``TAG_RECEIPT``."""
        return _receipt_statement(
            self.election, self.index, self.tracking_code, self.entry_hash, self.tree_head
        )

    def verify(self, board_key: VerifyKey) -> None:
        """Check the receipt against the board key the voter trusts.

        (1) the receipt and its tree head name ``board_key``; (2) the tree head
        signature; (3) the receipt signature; (4) the tree head is for this
        election; (5) the inclusion proof leads from ``entry_hash`` at
        ``index`` to the signed root.  Raises InvalidSignature, BoardError,
        MerkleError or RootMismatchError.
        """
        _check_key(self.tree_head.board_key, board_key, "receipt")  # (1)
        self.tree_head.verify(board_key)  # (2)
        board_key.verify(TAG_RECEIPT, [canonical_json(self.statement())], self.signature)  # (3)
        if self.tree_head.election != self.election:  # (4)
            raise BoardError("receipt's tree head is for a different election")
        merkle.verify_inclusion(  # (5)
            self.index,
            self.tree_head.size,
            self.entry_hash,
            self.inclusion_proof,
            self.tree_head.root,
        )

    def verify_entry(self, entry: Entry) -> None:
        """Raise :class:`BoardError` unless ``entry`` is the entry this receipt is for."""
        if entry.election != self.election or entry.index != self.index:
            raise BoardError(
                f"receipt is for entry {self.index} of {self.election!r}, "
                f"not entry {entry.index} of {entry.election!r}"
            )
        if entry.leaf_hash() != self.entry_hash:
            raise BoardError(f"entry {self.index} on the board is not the entry in the receipt")

    def to_json(self) -> dict[str, Any]:
        out = {
            **self.statement(),
            "inclusion_proof": [b64encode(h) for h in self.inclusion_proof],
            "signature": b64encode(self.signature),
        }
        if self.cosigned_checkpoint is not None:
            out["cosigned_checkpoint"] = self.cosigned_checkpoint
        return out

    @classmethod
    def from_json(cls, obj: Any, path: str = "receipt") -> Receipt:
        f = Fields(
            obj,
            path,
            required={
                "v",
                "election",
                "index",
                "tracking_code",
                "entry_hash",
                "tree_head",
                "inclusion_proof",
                "signature",
            },
            optional={"cosigned_checkpoint"},
        )
        _check_version(f)
        cosigned = None
        if f.has("cosigned_checkpoint"):
            cosigned = f.str("cosigned_checkpoint", max_len=MAX_NOTE_BYTES)
        return cls(
            election=f.str("election", max_len=MAX_ELECTION_ID),
            index=f.int("index"),
            tracking_code=f.str("tracking_code", max_len=MAX_TRACKING_CODE),
            entry_hash=f.bytes("entry_hash", length=merkle.HASH_SIZE),
            tree_head=SignedTreeHead.from_json(f.obj_of("tree_head"), f.sub("tree_head")),
            inclusion_proof=_hash_list(f.obj_of("inclusion_proof"), f.sub("inclusion_proof")),
            signature=f.bytes("signature", length=SIGNATURE_BYTES),
            cosigned_checkpoint=cosigned,
        )


def _check_checkpoint_note(text: object) -> None:
    """A receipt's attached checkpoint must at least be a well-formed C2SP checkpoint
    note; its signatures are checked by whoever knows the election's witness policy."""
    if not isinstance(text, str):
        raise SchemaError("receipt.cosigned_checkpoint: expected the note as text")
    try:
        Checkpoint.parse(Note.parse(text).text)
    except (EncodingError, SchemaError) as exc:
        raise SchemaError(f"receipt.cosigned_checkpoint: {exc.message}") from None


def _receipt_statement(
    election: str, index: int, tracking_code: str, entry_hash: bytes, head: SignedTreeHead
) -> dict[str, Any]:
    return {
        "v": VERSION,
        "election": election,
        "index": index,
        "tracking_code": tracking_code,
        "entry_hash": b64encode(entry_hash),
        "tree_head": head.to_json(),
    }
