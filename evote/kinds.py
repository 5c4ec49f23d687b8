"""The one registry of board entry kinds: who signs each, what its payload is, where it may stand.

Every module that needs to know something *per kind* asks :data:`SPECS`
instead of keeping its own table keyed by kind strings (h12): the phase table
(:mod:`evote.election`) is derived from ``phase``/``then``, the signer check
(:mod:`evote.payloads`) from ``role``/``speaks_for``, the body parser from
``body``, and the verifier's "which check fails an unreadable body" from
``check``.  The rules that decide whether an entry may stand where it stands
are :mod:`evote.rules`' (the projection), with ids from :mod:`evote.rulebook`.

This module imports nothing of evote's but :mod:`enum`-level definitions, so
that everything else may import it.  Payload types are named ``module:Class``
and resolved on first use (:meth:`KindSpec.parser`), which is what keeps the
import graph acyclic (payloads -> board -> election -> kinds).
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any


class Phase(enum.Enum):
    """Where an election stands; each board entry may move it forward, never back."""

    SETUP = "setup"  # created; trustee key ceremony and credential list
    OPEN = "open"  # accepting ballots
    CLOSED = "closed"  # no more ballots; tally and partial decryptions
    TALLIED = "tallied"  # result published; the board is final
    ABANDONED = "abandoned"  # given up in setup (election_abandoned); the board is final


OFFICIAL = "official"
CREDENTIAL_AUTHORITY = "credential_authority"
TRUSTEE = "trustee"
CREDENTIAL = "credential"
MIXER = "mixer"
"""Roles.  ``mixer``: the manifest's mixer whose 1-based index the body names
(the trustees when the manifest lists none, docs/protocol-mixnet.md §4).  ``credential``: a ballot, signed inside by a listed voter credential
(not a :class:`~evote.commands.SignedCommand`)."""


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One entry kind.

    ``phase`` is the phase in which it may be appended (``None``: the empty
    board) and ``then`` the phase after it (docs/rules.md R-PHASE-03).
    ``speaks_for`` names the body field holding the trustee index a trustee
    message speaks for (its signer must be that trustee, R-SIG-02).
    ``check`` is the verifier check (docs/verifier.md) that owns the kind's
    body: it fails when the body cannot be read.
    """

    kind: str
    role: str
    body: str
    phase: Phase | None
    then: Phase
    check: str
    speaks_for: str | None = None

    @property
    def is_command(self) -> bool:
        return self.role != CREDENTIAL

    def parser(self) -> Callable[[Any, str], Any]:
        """``from_json(obj, path)`` of the payload type (the body of a command,
        the whole payload's inner object of a ballot kind)."""
        return _resolve(self.body)


@cache
def _resolve(name: str) -> Callable[[Any, str], Any]:
    module, _, cls = name.partition(":")
    return getattr(importlib.import_module(module), cls).from_json


_S, _O, _C, _T = Phase.SETUP, Phase.OPEN, Phase.CLOSED, Phase.TALLIED
_P = "evote.payloads:"

REGISTRY: tuple[KindSpec, ...] = (
    KindSpec("election_created", OFFICIAL, _P + "ElectionCreated", None, _S, "manifest"),
    KindSpec("trustee_announced", TRUSTEE, "evote.dkg.messages:Announcement", _S, _S, "key-ceremony",
             "trustee"),
    KindSpec("trustee_shares", TRUSTEE, "evote.dkg.messages:EncryptedShares", _S, _S, "key-ceremony",
             "dealer"),
    KindSpec("trustee_complaint", TRUSTEE, "evote.dkg.messages:Complaint", _S, _S, "key-ceremony",
             "accuser"),
    KindSpec("trustee_complaint_answer", TRUSTEE, "evote.dkg.messages:ComplaintAnswer", _S, _S,
             "key-ceremony", "dealer"),
    # GJKR's cut (docs/protocol-trustees.md §5.8): QUAL is fixed before any Feldman value.
    KindSpec("ceremony_qualified", OFFICIAL, "evote.dkg.messages:Qualified", _S, _S, "key-ceremony"),
    KindSpec("trustee_committed", TRUSTEE, "evote.dkg.messages:Commitments", _S, _S, "key-ceremony",
             "trustee"),
    KindSpec("ceremony_reconstruct", OFFICIAL, "evote.dkg.messages:Reconstruct", _S, _S,
             "key-ceremony"),
    KindSpec("trustee_reconstruction", TRUSTEE, "evote.dkg.messages:Reconstruction", _S, _S,
             "key-ceremony", "trustee"),
    KindSpec("key_published", OFFICIAL, _P + "KeyPublished", _S, _S, "key-ceremony"),
    KindSpec("credentials_published", CREDENTIAL_AUTHORITY, _P + "CredentialsPublished", _S, _S,
             "credentials"),
    KindSpec("election_opened", OFFICIAL, _P + "ElectionOpened", _S, _O, "manifest"),
    KindSpec("ballot_cast", CREDENTIAL, "evote.ballot:Ballot", _O, _O, "ballots"),
    KindSpec("ballot_audited", CREDENTIAL, "evote.ballot:AuditedBallot", _O, _O,
             "audited-ballots"),
    KindSpec("election_closed", OFFICIAL, _P + "ElectionClosed", _O, _C, "lifecycle"),
    KindSpec("tally_posted", OFFICIAL, _P + "TallyPosted", _C, _C, "aggregation"),
    KindSpec("partial_decryption", TRUSTEE, "evote.tally:PartialDecryption", _C, _C,
             "partial-decryptions", "trustee"),
    # --- the mixnet of ranked and graded questions (docs/protocol-mixnet.md, R-MIX-*) ---
    KindSpec("mix_posted", MIXER, "evote.mixnet:Mix", _C, _C, "mixes", "mixer"),
    KindSpec("mix_decryption", TRUSTEE, "evote.mixdecryption:RowsPartialDecryption", _C, _C,
             "mixed-decryptions", "trustee"),
    KindSpec("ranked_result", OFFICIAL, "evote.mix_payloads:RankedResult", _C, _C,
             "ranked-count"),
    # --- end of the mixnet kinds ---
    KindSpec("result_published", OFFICIAL, _P + "ResultPublished", _C, _T, "result"),
    # Off the main line: an election that never opened may be given up (R-PHASE-07).
    KindSpec("election_abandoned", OFFICIAL, _P + "ElectionAbandoned", _S, Phase.ABANDONED,
             "lifecycle"),
)
"""Every kind a board may hold, in lifecycle order.  Add a kind here (and its
rule in :mod:`evote.rules`); nothing else keys a table by kind."""

SPECS: dict[str, KindSpec] = {s.kind: s for s in REGISTRY}
KINDS: tuple[str, ...] = tuple(s.kind for s in REGISTRY)
COMMAND_KINDS: frozenset[str] = frozenset(s.kind for s in REGISTRY if s.is_command)
BALLOT_KINDS: frozenset[str] = frozenset(s.kind for s in REGISTRY if not s.is_command)

# The kinds other modules name in code (a typo is then an ImportError, not a silent miss).
ELECTION_CREATED = "election_created"
TRUSTEE_ANNOUNCED = "trustee_announced"
TRUSTEE_COMMITTED = "trustee_committed"
TRUSTEE_SHARES = "trustee_shares"
TRUSTEE_COMPLAINT = "trustee_complaint"
TRUSTEE_COMPLAINT_ANSWER = "trustee_complaint_answer"
CEREMONY_QUALIFIED = "ceremony_qualified"
CEREMONY_RECONSTRUCT = "ceremony_reconstruct"
TRUSTEE_RECONSTRUCTION = "trustee_reconstruction"
KEY_PUBLISHED = "key_published"
CREDENTIALS_PUBLISHED = "credentials_published"
ELECTION_OPENED = "election_opened"
BALLOT_CAST = "ballot_cast"
BALLOT_AUDITED = "ballot_audited"
ELECTION_CLOSED = "election_closed"
TALLY_POSTED = "tally_posted"
PARTIAL_DECRYPTION = "partial_decryption"
RESULT_PUBLISHED = "result_published"
MIX_POSTED = "mix_posted"
MIX_DECRYPTION = "mix_decryption"
RANKED_RESULT = "ranked_result"
MIX_KINDS: tuple[str, ...] = (MIX_POSTED, MIX_DECRYPTION, RANKED_RESULT)
"""The kinds of the mixnet (counted ranked and graded questions), in protocol order."""
ELECTION_ABANDONED = "election_abandoned"
CEREMONY_KINDS: tuple[str, ...] = tuple(
    s.kind for s in REGISTRY if s.role == TRUSTEE and s.phase is Phase.SETUP
)
"""The trustee messages of the key ceremony, in protocol order."""


if sorted(k for k, v in globals().items() if k.isupper() and isinstance(v, str)
          and v in SPECS) != sorted(
    k.upper() for k in SPECS
):  # pragma: no cover - a constant above is missing or misspelt
    raise AssertionError("evote.kinds: a kind constant does not match the registry")


def spec(kind: str) -> KindSpec | None:
    return SPECS.get(kind)


def speaks_for(kind: str, body: Any) -> int | None:
    """The trustee index a trustee message speaks for (None for other roles)."""
    s = SPECS.get(kind)
    if s is None or s.speaks_for is None:
        return None
    return getattr(body, s.speaks_for, None)
