"""A real election, built step by step through the ballot server's HTTP API.

Reusable by any test that needs a live server with an election in it (the CLI
and verifier tests too): bind the fixtures in the test module, e.g.

    from tests import api_election

    api_db = api_election.api_db
    api_app = api_election.api_app
    api_client = api_election.api_client
    election = api_election.election

:func:`build_election` drives the whole set-up the way the real parties do,
each message signed by its own key and posted to ``/api/v1``: the official
creates the election (its key is on the server's allow-list), three trustees
run the t=2 key ceremony with the :mod:`evote.dkg` step functions, the
official publishes the joint key, the credential authority the credential
list, the official registers voter logins and opens the election.
``stop_before=kind`` stops just before posting ``kind`` with every artefact
needed to post it ready, so tests can post a tampered one instead.

Everything is deterministic from ``seed`` except the board key, the login
codes and entry times (server-side).

Fixtures: ``api_db`` is one fresh board database per test module (SQLite, and
PostgreSQL as the restricted server role), ``api_app`` one server on it, and
``election`` a new open election with its own id for every test -- elections
are independent boards, so tests share the database without sharing state,
and the suite does not pay for a new PostgreSQL database per test.
"""

from __future__ import annotations

import itertools
import os
import secrets as pysecrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url, text

from ballot_server import create_app, db
from ballot_server.db import init_db, make_engine, setup_server_role, sqlite_url
from evote.ballot import AuditedBallot, Ballot, BallotSecrets, encrypt_ballot
from evote.board import Entry, Receipt
from evote.commands import sign_command
from evote.credentials import CredentialList, issue_credentials
from evote.dkg import (
    Announcement,
    Commitments,
    EncryptedShares,
    JointKey,
    Qualified,
    trustee_commitments,
)
from evote.dkg.trustee import (
    TrusteeState,
    finalize,
    step1_announce,
    step2_shares,
    step3_receive,
    step5_reveal,
)
from evote.drbg import SeededRng
from evote.encoding import b64encode
from evote.fingerprint import ElectionContext
from evote.manifest import Manifest
from evote.payloads import parse_ballot_cast
from evote.signing import SigningKey, VerifyKey
from evote.tally import (
    EncryptedTally,
    PartialDecryption,
    Result,
    aggregate,
    combine,
    partial_decrypt,
)

API = "/api/v1"

OFFICIAL = SigningKey.generate(SeededRng(b"api-election official"))
"""The official every test app allows (EVOTE_OFFICIALS)."""

MANIFEST = {
    "election_id": "city-poll",
    "title": {"en": "City poll", "ru": "Городской опрос"},
    "questions": [
        {
            "id": "park",
            "title": "Which park should be renovated first?",
            "options": ["North", "South", "East"],
            "kind": "choice",
            "min": 1,
            "max": 1,
        }
    ],
}

SETUP_KINDS = (
    "election_created",
    "trustee_announced",
    "trustee_shares",
    "ceremony_qualified",
    "trustee_committed",
    "key_published",
    "credentials_published",
    "register_voters",
    "election_opened",
)


def server_config(db_url: str, instance: str, **extra: Any) -> dict[str, Any]:
    """The create_app mapping of a test server on ``db_url``."""
    config = {
        "TESTING": True,
        "EVOTE_INSTANCE_PATH": instance,
        "EVOTE_DATABASE_URL": db_url,
        "EVOTE_OFFICIALS": OFFICIAL.verify_key.to_json(),
        "EVOTE_CAST_BURST": 100_000,
        "EVOTE_CAST_RATE": 1_000_000,
        # The limit is shared through the database, which every test server of a
        # module shares: without this, a module's ceremonies together hit it.
        "EVOTE_COMMAND_BURST": 100_000,
        "EVOTE_COMMAND_RATE": 1_000_000,
    }
    config.update(extra)
    return config


@dataclass
class ApiElection:
    """An election on a test server, with every party's keys and secrets."""

    client: FlaskClient
    election_id: str
    manifest: Manifest
    official: SigningKey
    authority: SigningKey
    trustee_keys: list[SigningKey]
    threshold: int
    rng: SeededRng
    states: list[TrusteeState] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    commitments: list[Commitments] = field(default_factory=list)
    shares: list[EncryptedShares] = field(default_factory=list)
    qualified: tuple[int, ...] = ()
    joint_key: JointKey | None = None
    credentials: list[SigningKey] = field(default_factory=list)
    credential_list: CredentialList | None = None
    ctx: ElectionContext | None = None
    logins: dict[str, str] = field(default_factory=dict)

    # -- HTTP --

    @property
    def url(self) -> str:
        return f"{API}/elections/{self.election_id}"

    @property
    def board_key(self) -> VerifyKey:
        return VerifyKey.from_json(self.client.get(f"{API}/board-key").get_json()["board_key"])

    @property
    def voter_ids(self) -> list[str]:
        return list(self.logins)

    def size(self) -> int:
        """Entries on the board, straight from the entries endpoint."""
        return self.client.get(f"{self.url}/entries?limit=1").get_json()["size"]

    def entries(self) -> list[Entry]:
        out: list[Entry] = []
        while True:
            page = self.client.get(f"{self.url}/entries?start={len(out)}&limit=1000").get_json()
            out += [Entry.from_json(e) for e in page["entries"]]
            if page["next"] is None:
                return out

    def post(self, kind: str, key: SigningKey, body: dict[str, Any]) -> Any:
        """Sign ``body`` as a ``kind`` command with ``key`` and post it (no status check)."""
        command = sign_command(key, self.election_id, kind, body).to_json()
        if kind == "election_created":
            return self.client.post(f"{API}/elections", json=command)
        if kind == "register_voters":
            return self.client.post(f"{self.url}/voters", json=command)
        return self.client.post(f"{self.url}/commands/{kind}", json=command)

    def ok(self, kind: str, key: SigningKey, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(kind, key, body)
        assert response.status_code == 201, (kind, response.get_json())
        return response.get_json()

    # -- voters --

    def login(self, voter: int) -> str:
        return self.logins[self.voter_ids[voter]]

    def ballot(
        self, voter: int, selections: Sequence[Sequence[int]] | None = None
    ) -> tuple[Ballot, BallotSecrets]:
        """A fresh ballot of voter ``voter`` (credential ``voter``); default: option voter % k."""
        assert self.ctx is not None
        if selections is None:
            selections = [
                [1 if o == voter % len(q.options) else 0 for o in range(len(q.options))]
                for q in self.manifest.questions
            ]
        return encrypt_ballot(self.ctx, self.credentials[voter], selections, self.rng)

    def cast(
        self, ballot: Ballot | dict[str, Any], *, login: str | None, **kwargs: Any
    ) -> Any:
        body = ballot.to_json() if isinstance(ballot, Ballot) else ballot
        headers = {"Authorization": f"Bearer {login}"} if login is not None else {}
        return self.client.post(f"{self.url}/ballots", json=body, headers=headers, **kwargs)

    def cast_ok(self, voter: int, selections: Sequence[Sequence[int]] | None = None) -> Receipt:
        ballot, _ = self.ballot(voter, selections)
        response = self.cast(ballot, login=self.login(voter))
        assert response.status_code == 201, response.get_json()
        return Receipt.from_json(response.get_json())

    def audit(self, audited: AuditedBallot, *, login: str | None) -> Any:
        headers = {"Authorization": f"Bearer {login}"} if login is not None else {}
        return self.client.post(f"{self.url}/audits", json=audited.to_json(), headers=headers)

    # -- closing and tallying --

    def close(self) -> None:
        self.ok("election_closed", self.official, {})

    def counted_tally(self) -> tuple[EncryptedTally, int, int]:
        """(tally, counted, total weight) of the board's counted set, recomputed here."""
        assert self.ctx is not None and self.credential_list is not None
        last: dict[bytes, Ballot] = {}
        for entry in self.entries():
            if entry.kind == "ballot_cast":
                ballot = parse_ballot_cast(entry, self.manifest)
                last[ballot.credential.raw] = ballot
        rows = [
            (self.credential_list.weight_of(b.credential), [list(a.choices) for a in b.answers])
            for b in last.values()
        ]
        shape = [len(q.options) for q in self.manifest.questions]
        return aggregate(shape, rows), len(rows), sum(w for w, _ in rows)

    def partials(self, tally: EncryptedTally, trustees: Sequence[int]) -> list[PartialDecryption]:
        assert self.ctx is not None
        by_index = {s.trustee: s for s in self.states}
        return [
            partial_decrypt(self.ctx.fingerprint, j, by_index[j].share, tally, self.rng)
            for j in trustees
        ]

    def tally(self) -> Result:
        """Close (if open), post the tally, t partial decryptions and the result."""
        assert self.ctx is not None and self.joint_key is not None
        summary = self.client.get(self.url).get_json()
        if summary["phase"] == "open":
            self.close()
        tally, counted, total = self.counted_tally()
        self.ok(
            "tally_posted",
            self.official,
            {"tally": tally.to_json(), "counted": counted, "total_weight": total},
        )
        partials = self.partials(tally, [s.trustee for s in self.states][: self.threshold])
        for p in partials:
            self.ok("partial_decryption", self.trustee_keys[p.trustee - 1], p.to_json())
        bounds = [[total * q.max_score] * len(q.options) for q in self.manifest.questions]
        result = combine(self.ctx.fingerprint, tally, partials, self.joint_key, bounds)
        self.ok("result_published", self.official, {"result": result.to_json()})
        return result


_ids = itertools.count(1)


def unique_election_id(prefix: str = "poll") -> str:
    """A new election id (elections of one test database must not collide)."""
    return f"{prefix}-{next(_ids)}"


def build_election(
    client: FlaskClient,
    *,
    election_id: str | None = None,
    voters: int = 4,
    trustees: int = 3,
    threshold: int = 2,
    seed: bytes = b"api-election",
    manifest: dict[str, Any] | None = None,
    stop_before: str | None = None,
) -> ApiElection:
    """Set an election up through the API, stopping before ``stop_before`` (a kind in
    :data:`SETUP_KINDS`) or after opening it.

    ``election_id`` (default: a new unique id) replaces the manifest's."""
    if stop_before is not None and stop_before not in SETUP_KINDS:
        raise ValueError(f"stop_before must be one of {SETUP_KINDS}")
    election_id = election_id or unique_election_id()
    rng = SeededRng(seed + b"/" + election_id.encode())
    m = Manifest.from_json({**(manifest or MANIFEST), "election_id": election_id})
    e = ApiElection(
        client=client,
        election_id=m.election_id,
        manifest=m,
        official=OFFICIAL,
        authority=SigningKey.generate(rng),
        trustee_keys=[SigningKey.generate(rng) for _ in range(trustees)],
        threshold=threshold,
        rng=rng,
    )

    def step(kind: str) -> bool:
        return stop_before != kind

    if not step("election_created"):
        return e
    e.ok(
        "election_created",
        e.official,
        {
            "manifest": m.to_json(),
            "official": e.official.verify_key.to_json(),
            "credential_authority": e.authority.verify_key.to_json(),
            "trustees": [k.verify_key.to_json() for k in e.trustee_keys],
            "threshold": threshold,
        },
    )
    eid = e.election_id
    started = [
        step1_announce(eid, i, trustees, threshold, rng, signing_key=e.trustee_keys[i - 1])
        for i in range(1, trustees + 1)
    ]
    e.states = [s for s, _ in started]
    e.announcements = [a for _, a in started]
    if not step("trustee_announced"):
        return e
    for a in e.announcements:
        e.ok("trustee_announced", e.trustee_keys[a.trustee - 1], a.to_json())
    e.shares = [step2_shares(s, e.announcements, rng) for s in e.states]
    if not step("trustee_shares"):
        return e
    for s in e.shares:
        e.ok("trustee_shares", e.trustee_keys[s.dealer - 1], s.to_json())
    for s in e.states:
        received = step3_receive(s, e.announcements, e.shares)
        assert not isinstance(received, list), "an honest ceremony has no complaints"
    e.qualified = tuple(range(1, trustees + 1))
    if not step("ceremony_qualified"):
        return e
    e.ok("ceremony_qualified", e.official, Qualified(e.qualified).to_json())
    e.commitments = [step5_reveal(s, rng) for s in e.states]
    if not step("trustee_committed"):
        return e
    for c in e.commitments:
        e.ok("trustee_committed", e.trustee_keys[c.trustee - 1], c.to_json())
    finished = [
        finalize(s, e.announcements, e.shares, [], [], e.commitments) for s in e.states
    ]
    e.joint_key = finished[0][0]
    e.states = [s for _, s in finished]
    if not step("key_published"):
        return e
    e.ok("key_published", e.official, {"joint_key": e.joint_key.to_json()})
    e.credentials = issue_credentials(voters, rng)
    e.credential_list = CredentialList.of(k.verify_key for k in e.credentials)
    if not step("credentials_published"):
        return e
    e.ok("credentials_published", e.authority, {"credentials": e.credential_list.to_json()})
    e.ctx = ElectionContext.build(
        m,
        e.joint_key.joint_key,
        trustee_commitments({c.trustee: c.coefficients for c in e.commitments}),
        e.credential_list,
    )
    if not step("register_voters"):
        return e
    ids = [f"voter-{i:03d}" for i in range(voters)]
    e.logins = e.ok("register_voters", e.official, {"voters": ids})["logins"]
    if not step("election_opened"):
        return e
    e.ok("election_opened", e.official, {"fingerprint": b64encode(e.ctx.fingerprint)})
    return e


# --- pytest fixtures ------------------------------------------------------------------

POSTGRES_ENV = "EVOTE_TEST_POSTGRES_URL"


def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """A new, initialised board database; yields the URL the server connects with.

    The same set-up as ``tests/conftest.py``'s ``board_db`` (PostgreSQL: a new
    database, tables made by the owner, the server on the restricted role),
    for fixtures wider than one test.
    """
    if kind == "sqlite":
        url = sqlite_url(str(directory / "board.sqlite"))
        engine = make_engine(url)
        init_db(engine)
        engine.dispose()
        yield url
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.fail(
            f"{POSTGRES_ENV} is not set: run inside `bash scripts/with-postgres.sh ...`",
            pytrace=False,
        )
    from tests.conftest import _admin_engine

    name = "evote_api_" + pysecrets.token_hex(6)
    role = name + "_server"
    admin = _admin_engine(server)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin_url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        owner = make_engine(admin_url)
        init_db(owner)
        owner.dispose()
        yield setup_server_role(admin_url, role, pysecrets.token_hex(16))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One board database per test module and engine (URL the server uses)."""
    yield from fresh_database(request.param, tmp_path_factory.mktemp("api-db"))


@pytest.fixture(scope="module")
def api_app(api_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """A server app on the module's database (the official is :data:`OFFICIAL`)."""
    app = create_app(server_config(api_db, str(tmp_path_factory.mktemp("instance"))))
    yield app
    with app.app_context():
        db.get_engine().dispose()


@pytest.fixture
def api_client(api_app: Flask) -> FlaskClient:
    return api_app.test_client()


@pytest.fixture
def election(api_client: FlaskClient) -> ApiElection:
    """A new open election (own id) with 4 registered voters who have not voted."""
    return build_election(api_client)
