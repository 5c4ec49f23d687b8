"""Item 13 — privacy of the server's database.

Specter, Koppel and Weitzner ("The Ballot is Busted Before the Blockchain: A
Security Analysis of Voatz", USENIX Security 2020) found that the Voatz server,
used in U.S. federal elections in 2018, saw each voter's identity together with
their vote; in Estonia's I-voting the collection servers keep each ballot
signed with the voter's ID card until the tally, and privacy rests on the
operators keeping that link to themselves.  Whoever holds such a database —
an insider, an intruder, a court — can link a person to a vote.

evote's position, stated in docs/threat-model.md: ballot privacy rests on the
encryption and the trustees' threshold (as in Helios and Belenios), never on
the server forgetting things.  Still, the server stores as little as it can:
no IP address, no user agent, no session; the ``voters`` row that binds a login
to the credential it cast with is the only link from a person to a
ciphertext, it is never published, never exported in the record and has no
read endpoint.  Tested on both engines (SQLite and PostgreSQL).
"""

from __future__ import annotations

import io
import socket
import sqlite3
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from ballot_server import create_app, db
from evote.encoding import b64encode
from tests.support.api_election import ApiElection, build_election, server_config
from tests.support.databases import BoardDatabase

USER_AGENT = "Mozilla/5.0 (X11; EvoteProbe unique-ua-7f3a9c)"
FORWARDED_FOR = "203.0.113.77"  # the voter's address, as the reverse proxy reports it
PEER = "198.51.100.23"  # the proxy's own address (the TCP peer)
IP_MARKERS = (FORWARDED_FOR, PEER)
SUSPECT_WORDS = {"ip", "ipv4", "ipv6", "addr", "address", "agent", "useragent", "ua", "remote",
                 "host", "session", "cookie", "forwarded", "peer", "client"}


@pytest.fixture
def private_app(board_db: BoardDatabase, tmp_path: Path) -> Flask:
    app = create_app(server_config(board_db.url, str(tmp_path / "instance"), EVOTE_PROXY_HOPS=1))
    yield app
    with app.app_context():
        db.get_engine().dispose()


def _cast_from_browser(e: ApiElection, voter: int, choice: int) -> None:
    ballot, _ = e.ballot(voter, [[int(o == choice) for o in range(3)]])
    response = e.client.post(
        f"{e.url}/ballots",
        json=ballot.to_json(),
        headers={
            "Authorization": f"Bearer {e.login(voter)}",
            "User-Agent": USER_AGENT,
            "X-Forwarded-For": FORWARDED_FOR,
        },
        environ_base={"REMOTE_ADDR": PEER},
    )
    assert response.status_code == 201, response.get_json()


def _dump(board_db: BoardDatabase) -> tuple[bytes, dict[str, list[str]], dict]:
    """Every byte of every row of every table, every column name, and the rows
    per table, read with the database owner's rights."""
    engine = create_engine(board_db.admin_url, poolclass=NullPool)
    blob = io.BytesIO()
    columns: dict[str, list[str]] = {}
    rows_by_table: dict[str, list[tuple]] = {}
    try:
        insp = inspect(engine)
        with engine.connect() as conn:
            for table in insp.get_table_names():
                columns[table] = [c["name"] for c in insp.get_columns(table)]
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
                rows_by_table[table] = [tuple(r) for r in rows]
                blob.write(table.encode() + b"\n")
                for row in rows:
                    for value in row:
                        raw = bytes(value) if isinstance(value, bytes | memoryview) else str(
                            value).encode()
                        blob.write(raw + b"\x00")
    finally:
        engine.dispose()
    if board_db.kind == "sqlite":
        path = board_db.url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-journal"):
            if Path(path + suffix).exists():
                blob.write(Path(path + suffix).read_bytes())
        conn = sqlite3.connect(path)
        try:
            blob.write("\n".join(conn.iterdump()).encode())
        finally:
            conn.close()
    return blob.getvalue(), columns, rows_by_table


def _needles(value: str) -> list[bytes]:
    out = [value.encode(), value.encode("utf-16-le")]
    try:
        out.append(socket.inet_aton(value))
    except OSError:
        pass
    return out


def test_voatz_2020_database_dump_links_no_ballot_to_an_address_or_a_browser(
    private_app: Flask, board_db: BoardDatabase, tmp_path: Path
) -> None:
    """Voters cast from a browser behind a reverse proxy (user agent, forwarded
    address, peer address all set).  A full dump of the database — every table,
    every row, the raw SQLite file and its journal — contains none of them, and
    no column is named for them."""
    e = build_election(private_app.test_client(), seed=b"attacks-privacy")
    for voter, choice in [(0, 2), (1, 0), (2, 1), (0, 1)]:
        _cast_from_browser(e, voter, choice)
    blob, columns, _ = _dump(board_db)
    assert b"ballot_cast" in blob  # the dump really holds the ballots
    for marker in (*IP_MARKERS, USER_AGENT, "unique-ua-7f3a9c", "EvoteProbe"):
        for needle in _needles(marker):
            assert needle not in blob, (marker, board_db.kind)
    for table, names in columns.items():
        if table == "rate_buckets":
            continue  # checked below: it holds keyed hashes of addresses, nothing else
        for name in names:
            assert not set(name.lower().split("_")) & SUSPECT_WORDS, (table, name)
    _check_rate_buckets(private_app, board_db, columns)


def _check_rate_buckets(app: Flask, board_db: BoardDatabase, columns: dict[str, list[str]]) -> None:
    """The shared rate limit's table (ballot_server/ratelimit.py) is the one place that
    derives from an address: each row is (scope, HMAC-SHA256 of the address under a
    key derived from the board key -- which is not in the database --, tokens, time
    of the last request).  No election, ballot, login or credential is in it, and
    the address cannot be found from the dump alone: neither it nor its unkeyed
    hash is there; only a holder of the board key can test a guess
    (docs/threat-model.md §5)."""
    import hashlib
    import hmac

    from ballot_server.ratelimit import client_key

    assert sorted(columns["rate_buckets"]) == ["client", "scope", "tokens", "updated_ms"]
    _, _, rows = _dump(board_db)
    clients = {bytes(r[1]) for r in rows["rate_buckets"]}
    assert clients  # the casts did go through the limiter
    for marker in IP_MARKERS:
        assert hashlib.sha256(marker.encode()).digest() not in clients
    key = client_key(app.extensions["evote"].board_key.seed)
    # Behind one proxy hop the limiter keys the forwarded address, never the peer's.
    assert hmac.new(key, FORWARDED_FOR.encode(), hashlib.sha256).digest() in clients
    assert hmac.new(key, PEER.encode(), hashlib.sha256).digest() not in clients


def test_voatz_2020_login_credential_binding_is_only_in_voters_and_never_exported(
    private_app: Flask, board_db: BoardDatabase, tmp_path: Path
) -> None:
    """The voters table is the only place that holds a voter id (or a login
    hash) next to a credential.  The record export holds no voter id, no login
    code and no login hash; the binding has no read endpoint."""
    e = build_election(private_app.test_client(), seed=b"attacks-privacy-2")
    for voter in range(3):
        _cast_from_browser(e, voter, voter)
    _, columns, rows = _dump(board_db)
    voter_ids = list(e.logins)
    for table, table_rows in rows.items():
        flat = b"".join(
            bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
            for row in table_rows
            for v in row
        )
        holds_ids = any(v.encode() in flat for v in voter_ids)
        assert holds_ids == (table == "voters"), table
    assert {"voter_id", "login_hash", "credential"} <= set(columns["voters"])
    bound = {
        bytes(row[columns["voters"].index("credential")])
        for row in rows["voters"]
        if row[columns["voters"].index("credential")] is not None
    }
    assert len(bound) == 3  # the binding exists, in this table
    login_hashes = [bytes(row[columns["voters"].index("login_hash")]) for row in rows["voters"]]

    archive = e.client.get(f"{e.url}/record").get_data()
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        exported = b"".join(z.read(name) for name in z.namelist())
    for voter_id, code in e.logins.items():
        assert voter_id.encode() not in exported
        assert code.encode() not in exported
    for h in login_hashes:
        assert h not in exported and b64encode(h).encode() not in exported
    for marker in (*IP_MARKERS, "unique-ua-7f3a9c"):
        assert marker.encode() not in exported

    client = e.client
    assert client.get(f"{e.url}/voters").status_code in (404, 405)
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert all("get" not in ops for path, ops in paths.items() if "voters" in path)
