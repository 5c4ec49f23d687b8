"""The board database: tables, and the triggers that keep them append-only.

SQLAlchemy Core tables (no ORM): the store writes rows it has built from
:mod:`evote.board` objects and reads them back as bytes, so an identity map
would only add work.  Every table except ``voters`` is append-only: rows are
inserted once and never updated or deleted, by any code path.  The database
enforces that too, so a bug, an injected statement or a compromised server
process cannot quietly rewrite history:

* every engine gets ``BEFORE UPDATE`` / ``BEFORE DELETE`` triggers that abort
  (PostgreSQL also refuses ``TRUNCATE``);
* on PostgreSQL the server logs in as a role that only has ``SELECT`` and
  ``INSERT`` on these tables (see :func:`ballot_server.db.setup_server_role`).

``voters`` is the one table with an update: binding a credential to a voter,
once.  Its trigger refuses any other change (rebinding, changing the login
hash) and any delete.

The tables, in the order an entry is written:

* ``elections`` -- one row per board, inserted with its entry 0;
* ``board_entries`` -- each entry's RFC 8785 bytes and RFC 9162 leaf hash,
  keyed ``(election_id, idx)`` so two appends can never share an index;
* ``merkle_nodes`` -- the perfect subtrees each entry completes, its own
  leaf hash at level 0 included (:func:`evote.merkle.completed_subtrees`),
  from which every proof and historical root is served in ``O(log n)``
  primary-key lookups in one compact table (:mod:`evote.merkle`);
* ``tree_heads`` -- every signed tree head the server issued, so that a
  head it once signed can always be proven consistent with later ones;
* ``ballots`` / ``ballot_ciphertexts`` -- tracking code → entry index, and
  the hash of every ciphertext, UNIQUE per election: a copied ciphertext is
  refused even if the application check were bypassed;
* ``voters`` -- login id, hashed login code, bound credential (UNIQUE per
  election: one credential, one login).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ELECTION_ID = String(200)  # wider than evote.limits.MAX_ELECTION_ID (64); kept, no migration
HASH = LargeBinary(32)

elections = Table(
    "elections",
    metadata,
    Column("id", ELECTION_ID, primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
)

board_entries = Table(
    "board_entries",
    metadata,
    Column("election_id", ELECTION_ID, ForeignKey("elections.id"), primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("leaf_hash", HASH, nullable=False),
    Column("entry", LargeBinary, nullable=False),
    CheckConstraint("idx >= 0", name="board_entries_idx_nonnegative"),
)

merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("election_id", ELECTION_ID, ForeignKey("elections.id"), primary_key=True),
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", HASH, nullable=False),
    CheckConstraint("level >= 0 AND level < 64", name="merkle_nodes_level_range"),
    # Small fixed-size rows looked up by their key: clustered on the key in SQLite.
    sqlite_with_rowid=False,
)

tree_heads = Table(
    "tree_heads",
    metadata,
    Column("election_id", ELECTION_ID, ForeignKey("elections.id"), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("time_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("root", HASH, nullable=False),
    Column("signed", LargeBinary, nullable=False),  # canonical SignedTreeHead JSON
)

ballots = Table(
    "ballots",
    metadata,
    Column("election_id", ELECTION_ID, primary_key=True),
    Column("tracking_code", String(200), primary_key=True),
    Column("idx", BigInteger, nullable=False),
    Column("credential", LargeBinary(32), nullable=True),
    ForeignKeyConstraint(
        ["election_id", "idx"], ["board_entries.election_id", "board_entries.idx"]
    ),
    UniqueConstraint("election_id", "idx", name="ballots_one_per_entry"),
    Index("ballots_by_credential", "election_id", "credential", "idx"),
)

# Keys that a cast looks up lead with the looked-up column, not the election: on a
# table that has grown since PostgreSQL last analysed it, an index led by
# election_id matches the election alone as well as any other, and the planner
# may then walk every row of the election (it did: 0.8 ms per ciphertext lookup
# at 1,500 ballots, 0.2 ms per login).  Led by the hash or the credential, the
# lookup has one index and uses all of it.
ballot_ciphertexts = Table(
    "ballot_ciphertexts",
    metadata,
    Column("election_id", ELECTION_ID, nullable=False),
    Column("ciphertext_hash", HASH, nullable=False),
    Column("idx", BigInteger, nullable=False),
    PrimaryKeyConstraint("ciphertext_hash", "election_id", name="ballot_ciphertexts_pkey"),
    ForeignKeyConstraint(
        ["election_id", "idx"], ["board_entries.election_id", "board_entries.idx"]
    ),
)

voters = Table(
    "voters",
    metadata,
    Column("election_id", ELECTION_ID, ForeignKey("elections.id"), primary_key=True),
    Column("voter_id", String(200), primary_key=True),
    Column("login_hash", HASH, nullable=False),
    Column("credential", LargeBinary(32), nullable=True),
    # NULLs are distinct in a UNIQUE constraint (both engines): unbound voters coexist.
    UniqueConstraint("credential", "election_id", name="voters_one_login_per_credential"),
)

# --- witness cosignatures (ballot_server/witness_api.py, docs/witness.md) --------
# One row per (election, checkpoint size, witness key): the cosignature line a
# witness posted, checked against the manifest's witness policy before insert.
witness_cosignatures = Table(
    "witness_cosignatures",
    metadata,
    Column("election_id", ELECTION_ID, ForeignKey("elections.id"), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(256), primary_key=True),
    Column("key_id", LargeBinary(4), primary_key=True),
    Column("root", HASH, nullable=False),
    Column("cosigned_at", BigInteger, nullable=False),  # POSIX seconds, from the signature
    Column("line", String(512), nullable=False),  # "— <name> <base64>" without newline
)

# --- scheduled commands (ballot_server/scheduler.py, docs/guide.md "weekly polls") --
# The official's election_opened / election_closed, signed in advance; the
# scheduler appends each when its time comes.  Append-only: scheduling again adds
# a row with the next ``seq`` (the newest counts), and whether one is still to do
# is read from the board (its kind is there or not), never from this table.
scheduled_commands = Table(
    "scheduled_commands",
    metadata,
    Column("election_id", ELECTION_ID, ForeignKey("elections.id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("due_ms", BigInteger, nullable=False),
    Column("command", Text, nullable=False),  # the SignedCommand's canonical JSON
)

# --- shared rate limit (ballot_server/ratelimit.py) ------------------------------
# One token bucket per (scope, keyed hash of the client address), shared by every
# worker and host on this database.  Not append-only: rows are updated on each
# request and deleted once their bucket is full again (minutes at most), so the
# table never holds a history of who sent what when.
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("client", LargeBinary(32), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# --- used provider-login states (ballot_server/oidc.py, store/oidc_states.py) -------
# A keyed hash of each ``state`` whose callback was accepted, shared by every worker
# so a replay to another worker is refused as a replay.  Rows are inserted once and
# never updated (a trigger and the PostgreSQL role refuse UPDATE); they are deleted
# once expired (the pending-login window), lazily, by the next insert.
oidc_states = Table(
    "oidc_states",
    metadata,
    Column("state_hash", HASH, primary_key=True),
    Column("expires_ms", BigInteger, nullable=False),
)

INSERT_ONCE: tuple[str, ...] = ("oidc_states",)
"""Tables whose rows are never updated, but deleted once expired."""

APPEND_ONLY: tuple[str, ...] = (
    "elections",
    "board_entries",
    "merkle_nodes",
    "tree_heads",
    "ballots",
    "ballot_ciphertexts",
    "witness_cosignatures",
    "scheduled_commands",
)
"""Tables whose rows are never updated or deleted."""

BINDING_COLUMN = "credential"
"""The one column of ``voters`` the server may update (once, from NULL)."""


# --- triggers -------------------------------------------------------------------

APPEND_ONLY_MESSAGE = "append-only table: {op} refused"


def _keys(table: Table) -> list[list[str]]:
    """Column lists of the table's primary key and UNIQUE constraints."""
    keys = [[c.name for c in table.primary_key.columns]]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keys.append([c.name for c in constraint.columns])
    return keys


def sqlite_triggers() -> list[tuple[str, str]]:
    """``(name, CREATE TRIGGER ...)`` for SQLite, each safe to run again.

    Besides UPDATE and DELETE, an INSERT that collides with an existing key is
    refused *before* conflict resolution runs: ``INSERT OR REPLACE`` would
    otherwise delete the old row without firing the delete trigger (SQLite
    fires it only under ``PRAGMA recursive_triggers``, which a connection
    other than the server's need not set).
    """
    out = []
    for name in (*APPEND_ONLY, "voters"):
        table = metadata.tables[name]
        # Names come from this module's own tables, never from input.
        collisions = " OR ".join(
            f"EXISTS (SELECT 1 FROM {name} WHERE "  # noqa: S608
            + " AND ".join(f"{col} = NEW.{col}" for col in key)
            + ")"
            for key in _keys(table)
        )
        out.append(
            (
                f"{name}_no_replace",
                f"CREATE TRIGGER IF NOT EXISTS {name}_no_replace BEFORE INSERT ON {name} "
                f"WHEN {collisions} "
                f"BEGIN SELECT RAISE(ABORT, '{name}: a row with this key exists'); END",
            )
        )
    for name in APPEND_ONLY:
        for op in ("UPDATE", "DELETE"):
            trigger = f"{name}_no_{op.lower()}"
            msg = f"{name}: " + APPEND_ONLY_MESSAGE.format(op=op)
            out.append(
                (
                    trigger,
                    f"CREATE TRIGGER IF NOT EXISTS {trigger} BEFORE {op} ON {name} "
                    f"BEGIN SELECT RAISE(ABORT, '{msg}'); END",
                )
            )
    for name in INSERT_ONCE:
        out.append(
            (
                f"{name}_no_update",
                f"CREATE TRIGGER IF NOT EXISTS {name}_no_update BEFORE UPDATE ON {name} "
                f"BEGIN SELECT RAISE(ABORT, '{name}: UPDATE refused'); END",
            )
        )
    out.append(
        (
            "voters_bind_once",
            "CREATE TRIGGER IF NOT EXISTS voters_bind_once BEFORE UPDATE ON voters "
            "WHEN OLD.credential IS NOT NULL "
            "OR NEW.election_id IS NOT OLD.election_id "
            "OR NEW.voter_id IS NOT OLD.voter_id "
            "OR NEW.login_hash IS NOT OLD.login_hash "
            "BEGIN SELECT RAISE(ABORT, 'voters: only binding an unbound credential is allowed'); END",
        )
    )
    out.append(
        (
            "voters_no_delete",
            "CREATE TRIGGER IF NOT EXISTS voters_no_delete BEFORE DELETE ON voters "
            "BEGIN SELECT RAISE(ABORT, 'voters: DELETE refused'); END",
        )
    )
    return out


PG_FUNCTIONS: tuple[str, ...] = (
    """
    CREATE OR REPLACE FUNCTION evote_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '%: append-only table: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION evote_voter_bind_once() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'UPDATE'
         OR OLD.credential IS NOT NULL
         OR NEW.election_id IS DISTINCT FROM OLD.election_id
         OR NEW.voter_id IS DISTINCT FROM OLD.voter_id
         OR NEW.login_hash IS DISTINCT FROM OLD.login_hash THEN
        RAISE EXCEPTION 'voters: only binding an unbound credential is allowed (% refused)', TG_OP
          USING ERRCODE = 'restrict_violation';
      END IF;
      RETURN NEW;
    END
    $$
    """,
)


def postgres_triggers() -> list[tuple[str, str, str]]:
    """``(table, trigger name, CREATE TRIGGER ...)`` for PostgreSQL.

    The caller creates each one only if ``pg_trigger`` does not list it yet,
    so that :func:`ballot_server.db.init_db` stays idempotent without
    ``CREATE OR REPLACE TRIGGER`` (PostgreSQL 14+).
    """
    out = []
    for table in APPEND_ONLY:
        out.append(
            (
                table,
                f"{table}_append_only",
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION evote_append_only()",
            )
        )
        out.append(
            (
                table,
                f"{table}_no_truncate",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION evote_append_only()",
            )
        )
    for table in INSERT_ONCE:
        out.append(
            (
                table,
                f"{table}_no_update",
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION evote_append_only()",
            )
        )
    out.append(
        (
            "voters",
            "voters_bind_once",
            "CREATE TRIGGER voters_bind_once BEFORE UPDATE OR DELETE ON voters "
            "FOR EACH ROW EXECUTE FUNCTION evote_voter_bind_once()",
        )
    )
    out.append(
        (
            "voters",
            "voters_no_truncate",
            "CREATE TRIGGER voters_no_truncate BEFORE TRUNCATE ON voters "
            "FOR EACH STATEMENT EXECUTE FUNCTION evote_append_only()",
        )
    )
    return out
