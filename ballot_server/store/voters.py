"""The voter list: logins, their code hashes, and the login-to-credential binding.

A login is registered with the hash of its code (:func:`login_code_hash`),
authenticated in constant time (:meth:`VoterRegistry.authenticate`), and bound
to the credential of its first cast under the append lock
(:class:`LoginBindings`, the part of the locked handle that does it, and
:func:`binding_needed`, the rule).  It is separate from the board's own
tables because voters are not board entries: nothing here is public, and the
binding is the only row the store ever updates.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ballot_server import models as m
from ballot_server.store import sql
from ballot_server.store.connections import Connections
from evote.errors import (
    AlreadyExists,
    AuthenticationError,
    BindingError,
    BoardError,
    NotFound,
    SchemaError,
    ServiceUnavailable,
)
from evote.hashing import TAG_LOGIN_CODE, tagged_hash

LOGIN_HASH_BYTES = 32
CREDENTIAL_BYTES = 32


def login_code_hash(login_code: bytes) -> bytes:
    """What the server stores instead of a voter's login code.

    Login codes are 32 random bytes, so a plain domain-separated SHA-256 is
    enough: there is nothing to brute-force that a slow KDF would protect.
    """
    if not isinstance(login_code, bytes) or not login_code:
        raise TypeError("login_code must be non-empty bytes")
    return tagged_hash(TAG_LOGIN_CODE, login_code)


@dataclass(frozen=True, slots=True)
class Voter:
    """One login of one election, and the credential it is bound to (if any)."""

    election_id: str
    voter_id: str
    login_hash: bytes
    credential: bytes | None


def binding_needed(
    voter_id: str, credential: bytes, current: bytes | None, owner: str | None
) -> bool:
    """The credential-binding rule for one cast: True if the login must be bound now
    (its first cast), False for a re-vote with its own credential; BindingError when
    the login holds another credential (``current``) or the credential another login
    (``owner``).  Both are as read under the append lock, where bindings are made."""
    if current is not None:
        if current != credential:
            raise BindingError("this login has already cast with another credential")
        return False
    if owner is not None and owner != voter_id:
        raise BindingError("this credential is bound to another login")
    return True


def _check_credential(credential: object) -> None:
    if not isinstance(credential, bytes) or len(credential) != CREDENTIAL_BYTES:
        raise SchemaError(f"credential: expected {CREDENTIAL_BYTES} bytes")


class VoterRegistry(Connections):
    """The :class:`~ballot_server.store.Store`'s voter list: register, look up, log in."""

    def add_voters(self, election_id: str, voters: Iterable[tuple[str, bytes]]) -> int:
        """Register logins ``(voter id, login_code_hash(code))``; returns how many.

        All or nothing.  Raises :class:`~evote.errors.NotFound` for an unknown
        election and :class:`~evote.errors.AlreadyExists` if a voter id is
        already registered (or repeated).
        """
        rows = []
        for voter_id, login_hash in voters:
            if not isinstance(voter_id, str) or not 1 <= len(voter_id) <= 200:
                raise SchemaError("voter id: expected 1 to 200 characters")
            if not isinstance(login_hash, bytes) or len(login_hash) != LOGIN_HASH_BYTES:
                raise SchemaError(f"login hash: expected {LOGIN_HASH_BYTES} bytes")
            rows.append(
                {"election_id": election_id, "voter_id": voter_id, "login_hash": login_hash}
            )
        if not rows:
            return 0
        with self._write() as conn:
            if (
                conn.execute(
                    select(m.elections.c.id).where(m.elections.c.id == election_id)
                ).first()
                is None
            ):
                raise NotFound(f"no election {election_id!r}")
            try:
                conn.execute(insert(m.voters), rows)
            except IntegrityError:
                raise AlreadyExists("a voter id is already registered for this election") from None
        return len(rows)

    def voter(self, election_id: str, voter_id: str) -> Voter | None:
        """The registered login ``voter_id``, or None."""
        with self._read() as conn:
            row = sql.run(conn, sql.SQL_VOTER, {"e": election_id, "v": voter_id}).first()
        if row is None:
            return None
        cred = None if row.credential is None else bytes(row.credential)
        return Voter(election_id, voter_id, bytes(row.login_hash), cred)

    def authenticate(self, election_id: str, voter_id: str, login_code: bytes) -> Voter:
        """The voter whose login code this is; :class:`~evote.errors.AuthenticationError` otherwise.

        The hashes are compared in constant time, and an unknown voter id costs
        the same comparison, so timing tells nothing about either.
        """
        voter = self.voter(election_id, voter_id)
        presented = login_code_hash(login_code)
        expected = voter.login_hash if voter is not None else bytes(LOGIN_HASH_BYTES)
        if not hmac.compare_digest(presented, expected) or voter is None:
            raise AuthenticationError("unknown voter id or wrong login code")
        return voter


class LoginBindings:
    """The :class:`~ballot_server.store.BoardHandle`'s binding of logins to credentials.

    Bindings are made only inside the locked block, so what the block reads
    of them holds until it ends.  The handle provides ``conn``,
    ``election_id``, ``_check_open`` and ``_spoiled``.
    """

    election_id: str
    _spoiled: bool

    @property
    def conn(self) -> Connection:  # pragma: no cover - the handle overrides it
        raise NotImplementedError

    def _check_open(self) -> None:  # pragma: no cover - the handle overrides it
        raise NotImplementedError

    def bind_credential(
        self, voter_id: str, credential: bytes, *, known: Voter | None = None
    ) -> None:
        """Bind ``credential`` to the login ``voter_id`` on its first cast (one cast; the
        cast path checks a whole batch with :meth:`login_bindings` and
        :func:`binding_needed`, then binds with :meth:`bind_credentials`, as this does).

        A login keeps the first credential it cast with, and a credential
        belongs to the first login that used it (the Belenios split: neither
        the credential authority nor the server alone can vote for someone).
        Casting again with the same pair is fine (re-voting).  Raises
        :class:`~evote.errors.AuthenticationError` for an unknown login and
        :class:`~evote.errors.BindingError` when either binding disagrees.

        ``known`` is the login's row as read before the lock (when the voter
        logged in).  A binding, once made, never changes (the database
        refuses it), so a row already bound decides without a read; an
        unbound one is read again under the lock.
        """
        self._check_open()
        _check_credential(credential)
        if known is not None:
            if known.election_id != self.election_id or known.voter_id != voter_id:
                raise BoardError("the known voter row is for another login")
            if known.credential is not None:
                binding_needed(voter_id, credential, known.credential, None)
                return
        logins, owners = self.login_bindings([voter_id], [credential])
        if voter_id not in logins:
            raise AuthenticationError("unknown voter login for this election")
        if binding_needed(voter_id, credential, logins[voter_id], owners.get(credential)):
            self.bind_credentials([(voter_id, credential)])

    def login_bindings(
        self, voter_ids: Iterable[str], credentials: Iterable[bytes]
    ) -> tuple[dict[str, bytes | None], dict[bytes, str]]:
        """Under the lock, in one read: the credential each login of ``voter_ids`` is bound
        to now (None: unbound; absent: no such login), and the login each of
        ``credentials`` is bound to (absent: none).

        Bindings are made only under the append lock (:meth:`bind_credentials`,
        :meth:`bind_credential`), so what this returns holds until the block ends.
        """
        voters, creds = sorted(set(voter_ids)), sorted(set(credentials))
        if not voters and not creds:
            return {}, {}
        params: dict[str, Any] = {"e": self.election_id}
        params.update((f"v{k}", v) for k, v in enumerate(voters))
        params.update((f"c{k}", c) for k, c in enumerate(creds))
        # Two lookups, each answered by one index (the primary key, the credential's),
        # rather than one OR that a planner may answer by walking the election.
        parts = []
        if voters:
            parts.append(
                "SELECT voter_id, credential FROM voters WHERE election_id = :e "  # noqa: S608
                f"AND voter_id IN ({sql.placeholders('v', len(voters))})"
            )
        if creds:
            parts.append(
                "SELECT voter_id, credential FROM voters WHERE election_id = :e "  # noqa: S608
                f"AND credential IN ({sql.placeholders('c', len(creds))})"
            )
        rows = sql.run(self.conn, " UNION ALL ".join(parts), params).all()
        wanted = set(voters)
        logins: dict[str, bytes | None] = {}
        owners: dict[bytes, str] = {}
        for row in rows:
            cred = None if row.credential is None else bytes(row.credential)
            if row.voter_id in wanted:
                logins[row.voter_id] = cred
            if cred is not None:
                owners[cred] = row.voter_id
        return logins, owners

    def bind_credentials(self, bindings: Sequence[tuple[str, bytes]]) -> None:
        """Bind each unbound login to its credential, in one statement, after the caller
        checked every binding rule (:meth:`login_bindings`, under this lock).

        A binding the database refuses (a credential bound meanwhile, or a login no
        longer unbound) means a writer bypassed the lock: the block is spoiled and
        :class:`~evote.errors.ServiceUnavailable` raised.
        """
        self._check_open()
        if not bindings:
            return
        params: dict[str, Any] = {"e": self.election_id}
        cases, ids = [], []
        for k, (voter_id, credential) in enumerate(bindings):
            _check_credential(credential)
            params[f"v{k}"], params[f"c{k}"] = voter_id, credential
            cases.append(f"WHEN :v{k} THEN :c{k}")
            ids.append(f":v{k}")
        if len({v for v, _ in bindings}) != len(bindings):
            raise BoardError("a login appears twice in one binding statement")
        statement = (
            f"UPDATE voters SET credential = CASE voter_id {' '.join(cases)} END "  # noqa: S608
            f"WHERE election_id = :e AND voter_id IN ({', '.join(ids)}) "
            "AND credential IS NULL"
        )
        try:
            bound = sql.run(self.conn, statement, params).rowcount
        except IntegrityError as exc:
            self._spoiled = True
            raise ServiceUnavailable(
                "a credential was bound outside the append lock; nothing was written; retry"
            ) from exc
        if bound != len(bindings):
            self._spoiled = True
            raise ServiceUnavailable(
                "a login was bound outside the append lock; nothing was written; retry"
            )
