"""The signed commands of officials and trustees: creating an election, every lifecycle
and key-ceremony command, and registering voters.

A command (``POST .../commands/<kind>``) is parsed (R-REC-06), then checked by
:meth:`~evote.rules.BoardState.check` under the lock -- phase table, signature
and signer, then the kind's rules -- and refused with the broken rule's code.
What this module adds is what the board cannot know: the allow-list of
officials for ``election_created``, and that an ``election_opened``'s
``booth_sha256`` is the bundle this server serves (422 booth_mismatch).

Separate from casting (:mod:`ballot_server.cast_path`) because the two write
paths share nothing but the lock: commands are few, signed by a named party
and appended one per transaction; casts are many, anonymous on the board and
group-committed.  The functions take the :class:`~ballot_server.service.ElectionService`
whose methods call them, for its store, keys, clock and cached facts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ballot_server.auth import check_voter_id, issue_login_codes
from ballot_server.facts import ElectionFacts
from ballot_server.responses import Appended
from ballot_server.trustee_keys import refuse_reused_trustee_keys
from evote.commands import SignedCommand, check_election_id
from evote.election import Phase
from evote.encoding import Fields
from evote.errors import (
    AlreadyExists,
    BoothMismatch,
    LifecycleError,
    NotFound,
    SchemaError,
    UnauthorisedSigner,
)
from evote.kinds import ELECTION_CREATED, ELECTION_OPENED, TALLY_POSTED
from evote.limits import MAX_VOTERS_PER_REQUEST as MAX_VOTERS_PER_REQUEST
from evote.payloads import (
    COMMAND_KINDS,
    Command,
    ElectionCreated,
    ElectionOpened,
    TallyPosted,
    parse_ballot_cast,
)
from evote.ranked import MixInputs, mix_inputs, tally_ciphertexts, tally_shape
from evote.rules import ExpectedTally
from evote.tally import aggregate

if TYPE_CHECKING:
    from ballot_server.service import ElectionService

REGISTER_VOTERS = "register_voters"
"""Kind of the official's signed command registering voter logins (not a board entry)."""



#: ``register_voters``' ``id_kind`` for provider subjects (ballot_server/oidc.py).
OIDC_SUBJECT = "oidc_subject"

def create_election(svc: ElectionService, command_json: Any) -> Appended:
    """Entry 0.  The signer must be on the allow-list and be the body's official."""
    command = Command.parse(ELECTION_CREATED, command_json)
    created: ElectionCreated = command.body
    election_id = created.election_id
    command.signed.verify(election_id, ELECTION_CREATED)
    signer = command.signed.signer.raw
    if signer not in svc.officials:
        raise UnauthorisedSigner("election_created must be signed by an allowed official")
    if signer != created.official.raw:
        raise UnauthorisedSigner("election_created must be signed by the official it names")
    refuse_reused_trustee_keys(svc.store, created)  # 409 trustee_key_reused
    with svc.store.locked(election_id) as board:
        if board.head() is not None:
            raise AlreadyExists(f"election {election_id!r} already exists")
        entry = board.append(ELECTION_CREATED, command.signed.to_json(), svc.clock())
        head = board.sign_head(svc.board_key, entry.time)
    return Appended(entry, head)


def command(svc: ElectionService, election_id: str, kind: str, command_json: Any) -> Appended:
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
    parsed = Command.parse(kind, command_json)  # R-REC-06
    facts = svc.facts(election_id)
    facts.board.check_signer(parsed)  # R-SIG-*: refused before taking the lock
    expected = ExpectedTally(expected_tally(svc, facts)) if kind == TALLY_POSTED else None
    mixing_of(svc, facts)  # warms the cache outside the lock once the election is closed
    with svc.store.locked(election_id) as board:
        board.state.apply(kind)  # R-PHASE-*: 409 before any (costly) check
        facts = svc.facts(election_id)  # as of the lock
        facts.board.check(parsed, tally=expected, mixing=mixing_of(svc, facts))
        if kind == ELECTION_OPENED:
            check_booth(parsed.body, svc.booth_sha256)
        now = svc.clock()
        facts.board.check_time(kind, parsed.body, next_time(board, now))  # R-TIME-01/04
        entry = board.append(kind, parsed.signed.to_json(), now)
        head = board.sign_head(svc.board_key, entry.time)
    return Appended(entry, head)


def next_time(board: Any, now_ms: int) -> int:
    """The time the next entry will have: ``now_ms``, raised to the last entry's
    (the store never lets times go back), so a time rule judges the real time."""
    last = board.head()
    return now_ms if last is None else max(now_ms, last.time)


def check_booth(body: ElectionOpened, served: bytes | None) -> None:
    """The booth digest the official publishes must be ``served``, the bundle served here.

    Otherwise the board would vouch for a booth voters never get (or the
    voters would run one the official never vouched for).  A server that
    serves no booth has nothing to compare, and an ``election_opened``
    without a digest publishes none.
    """
    posted = body.booth_sha256
    if posted is None or served is None or posted == served:
        return
    raise BoothMismatch(
        f"booth_sha256 {posted.hex()} is not the SHA-256 of the booth bundle this "
        f"server serves ({served.hex()}): rebuild the booth, or open with the served "
        "bundle's digest (GET /booth/assets.json)",
        detail={"posted": posted.hex(), "served": served.hex()},
    )


def expected_tally(svc: ElectionService, facts: ElectionFacts) -> TallyPosted:
    """The tally of the counted set, computed before taking the lock.

    Safe because the counted set is final once the election is closed: no
    ballot may follow ``election_closed`` (re-checked under the lock).
    """
    facts.board.phase_state.apply(TALLY_POSTED)
    ctx = svc.context(facts.election_id)
    indices = svc.store.counted_ballot_indices(facts.election_id)
    manifest = ctx.manifest
    weights: list[int] = []

    def counted() -> Iterator[tuple[int, list[list[Any]]]]:
        for entry in svc.store.entries_at(facts.election_id, indices):
            ballot = parse_ballot_cast(entry, manifest)
            weight = ctx.credentials.weight_of(ballot.credential)
            weights.append(weight)
            yield weight, [list(a.choices) for a in ballot.answers]

    def tallied() -> Iterator[tuple[int, list[Any]]]:
        for weight, answers in counted():
            yield weight, tally_ciphertexts(manifest, answers)

    tally = aggregate(tally_shape(manifest), tallied())  # R-MIX-11: choice and score only
    return TallyPosted(tally, len(indices), sum(weights))


def mixing_of(svc: ElectionService, facts: ElectionFacts) -> MixInputs | None:
    """The mixnet's inputs (:func:`evote.ranked.mix_inputs`) once the election is closed.

    The counted set and ``election_closed`` never change after the close, so
    they are computed once per process and cached like the other facts; None
    before the close, when no mixnet command passes the phase table anyway.
    :func:`command` asks before taking the lock, so the one read of the
    counted ballots happens outside it.
    """
    if facts.closed is None:
        return None
    cached = svc.cache.mixing(facts.election_id)
    if cached is not None:
        return cached
    manifest = facts.created.manifest
    indices = svc.store.counted_ballot_indices(facts.election_id)
    if manifest.mixed_questions:
        rows = [
            (entry.index, [list(a.choices) for a in parse_ballot_cast(entry, manifest).answers])
            for entry in svc.store.entries_at(facts.election_id, indices)
        ]
    else:
        rows = []
    mixing = mix_inputs(manifest, rows, facts.closed)
    svc.cache.put_mixing(facts.election_id, mixing)
    return mixing


def register_voters(
    svc: ElectionService, election_id: str, command_json: Any
) -> list[tuple[str, str]]:
    """Create a login for each listed voter id; return ``(voter id, login code)``.

    The command is signed by the election's official (kind
    ``register_voters``, body ``{"voters": [id, ...]}``).  Only hashes of
    the codes are stored, so this is the one time they can be seen.
    Allowed until the election closes; a voter id already registered
    refuses the whole request (409), which also makes a replayed command
    harmless.
    """
    signed = SignedCommand.from_json(command_json, REGISTER_VOTERS)
    f = Fields(signed.body, f"{REGISTER_VOTERS}.body", required={"voters"}, optional={"id_kind"})
    voters = f.list("voters", check_voter_id, min_len=1, max_len=MAX_VOTERS_PER_REQUEST)
    oidc_subjects = f.has("id_kind") and f.str("id_kind", max_len=20) == OIDC_SUBJECT
    if f.has("id_kind") and not oidc_subjects:
        raise SchemaError(f"{REGISTER_VOTERS}.body.id_kind: expected {OIDC_SUBJECT!r}")
    if len(set(voters)) != len(voters):
        seen: set[str] = set()
        twice = next(v for v in voters if v in seen or seen.add(v))
        raise AlreadyExists(f"voter id {twice!r} is listed twice", detail={"voter_id": twice})
    facts = svc.facts(election_id)
    signed.verify(election_id, REGISTER_VOTERS)
    if signed.signer.raw != facts.created.official.raw:
        raise UnauthorisedSigner("voters are registered by the election's official")
    if facts.phase not in (Phase.SETUP, Phase.OPEN):
        raise LifecycleError(f"voters cannot be registered in phase {facts.phase.value}")
    if oidc_subjects:  # provider subjects, stored as keyed hashes (ballot_server/oidc.py)
        # Imported here: oidc is a blueprint module (Flask), which the service layer
        # must not load at import time (tests/server/test_server_wiring.py).
        from ballot_server.oidc import registered_voter_ids

        rows = registered_voter_ids(svc.authenticator, voters)
        if len({v for v, _ in rows}) != len(rows):
            raise AlreadyExists("a subject is listed twice")
        svc.store.add_voters(election_id, rows)
        return []
    issued = issue_login_codes(voters, svc.rng)
    try:
        svc.store.add_voters(election_id, [(v, h) for v, _, h in issued])
    except AlreadyExists:  # name one (only on this path: one lookup per listed id)
        taken = next((v for v in voters if svc.store.voter(election_id, v)), None)
        if taken is None:
            raise
        raise AlreadyExists(
            f"voter id {taken!r} is already registered for this election (nothing of "
            "this request was registered)", detail={"voter_id": taken}) from None
    return [(v, code) for v, code, _ in issued]
