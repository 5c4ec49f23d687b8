"""Server configuration: environment variables, test overrides, the board key.

Every setting has one name, used both in the environment and in the mapping
passed to ``create_app(config)`` (the mapping wins, so tests never touch
``os.environ``).  Values are parsed and checked once, at start-up, so that a
typo in an allow-list stops the server instead of silently locking officials
out.

=========================  ==============================================  ==========================
name                       meaning                                          default
=========================  ==============================================  ==========================
EVOTE_DATABASE_URL         SQLAlchemy URL of the board database             SQLite file in instance/
EVOTE_BOARD_KEY            path of the board's Ed25519 key file              instance/board-key
EVOTE_OIDC_ISSUER          the city's OpenID provider (issuer URL); unset:   (none)
                           login codes only (ballot_server/oidc.py)
EVOTE_OIDC_CLIENT_ID       this server's client id at that provider          (none)
EVOTE_OIDC_CLIENT_SECRET   its client secret                                 (none)
EVOTE_OIDC_NAME            the provider's name on the booth's button         "the city"
EVOTE_OFFICIALS            comma-separated official public keys (b64url)    empty (nobody may create)
EVOTE_MAX_BODY             request body cap in bytes (413 above): every     1 MiB
                           ballot, audit and command
EVOTE_MAX_COMMAND_BODY     cap for a credential list, voter registration   64 MiB
                           or new election sent with a valid
                           Evote-Body-Signature (ballot_server/bodies.py)
EVOTE_BODY_TIMEOUT         seconds a request body may take to arrive (408)  10
EVOTE_CAST_RATE            casts per minute per client IP (token refill),   60
                           shared by all workers and hosts (ratelimit.py)
EVOTE_CAST_BURST           token-bucket size per client IP                  20
EVOTE_COMMAND_RATE         commands (and voter registrations, new           600
                           elections) per minute per client IP
EVOTE_COMMAND_BURST        token-bucket size for commands                   600
EVOTE_PROXY_HOPS           trusted reverse proxies in front (X-Forwarded)   0
EVOTE_HSTS_MAX_AGE         Strict-Transport-Security max-age, 0 = off       63072000 (two years)
=========================  ==============================================  ==========================

The board key file holds the 32-byte Ed25519 seed as one line of unpadded
base64url.  If it does not exist it is generated on first start with mode
0600; generation is race-free across the workers of one server because the
finished file is linked into place, so every worker ends up with the same key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evote.encoding import b64decode, b64encode
from evote.errors import EncodingError
from evote.limits import DEFAULT_MAX_BODY as DEFAULT_MAX_BODY
from evote.limits import DEFAULT_MAX_COMMAND_BODY as DEFAULT_MAX_COMMAND_BODY
from evote.signing import SEED_BYTES, SigningKey, VerifyKey

DEFAULT_CAST_RATE = 60.0
DEFAULT_CAST_BURST = 20
DEFAULT_BODY_TIMEOUT = 10.0
DEFAULT_COMMAND_RATE = 600.0
DEFAULT_COMMAND_BURST = 600
DEFAULT_HSTS_MAX_AGE = 63_072_000
BOARD_KEY_FILE = "board-key"
DATABASE_FILE = "evote.sqlite"


class ConfigError(ValueError):
    """A setting that cannot be used; the server refuses to start."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The parsed settings one app runs with (``app.extensions["evote"].settings``)."""

    database_url: str
    board_key_path: str
    officials: tuple[VerifyKey, ...]
    max_body: int
    max_command_body: int
    cast_rate_per_minute: float
    cast_burst: int
    body_timeout: float
    command_rate_per_minute: float
    command_burst: int
    proxy_hops: int
    hsts_max_age: int


def _int(name: str, value: Any, *, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if isinstance(value, bool) or not lo <= n <= hi:
        raise ConfigError(f"{name} must be an integer between {lo} and {hi}")
    return n


def _float(name: str, value: Any, *, lo: float, hi: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not lo <= x <= hi:
        raise ConfigError(f"{name} must be a number between {lo} and {hi}")
    return x


def parse_officials(value: Any) -> tuple[VerifyKey, ...]:
    """Comma-separated base64url Ed25519 keys (or, from a test mapping, a list of them)."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    keys = []
    for item in items:
        if isinstance(item, VerifyKey):
            keys.append(item)
            continue
        text = item.strip() if isinstance(item, str) else item
        try:
            keys.append(VerifyKey.from_json(text))
        except EncodingError as exc:
            raise ConfigError(f"EVOTE_OFFICIALS: {text!r} is not a public key ({exc})") from None
    return tuple(keys)


def load_settings(
    instance_path: str, overrides: Mapping[str, Any] | None, environ: Mapping[str, str]
) -> Settings:
    """Merge defaults, the environment and the test mapping (in that order) and check them."""
    raw: dict[str, Any] = {
        "EVOTE_DATABASE_URL": "sqlite:///" + os.path.join(instance_path, DATABASE_FILE),
        "EVOTE_BOARD_KEY": os.path.join(instance_path, BOARD_KEY_FILE),
        "EVOTE_OFFICIALS": "",
        "EVOTE_MAX_BODY": DEFAULT_MAX_BODY,
        "EVOTE_MAX_COMMAND_BODY": DEFAULT_MAX_COMMAND_BODY,
        "EVOTE_CAST_RATE": DEFAULT_CAST_RATE,
        "EVOTE_CAST_BURST": DEFAULT_CAST_BURST,
        "EVOTE_BODY_TIMEOUT": DEFAULT_BODY_TIMEOUT,
        "EVOTE_COMMAND_RATE": DEFAULT_COMMAND_RATE,
        "EVOTE_COMMAND_BURST": DEFAULT_COMMAND_BURST,
        "EVOTE_PROXY_HOPS": 0,
        "EVOTE_HSTS_MAX_AGE": DEFAULT_HSTS_MAX_AGE,
    }
    for name in raw:
        if environ.get(name):
            raw[name] = environ[name]
    for name, value in (overrides or {}).items():
        if name in raw:
            raw[name] = value
    return Settings(
        database_url=str(raw["EVOTE_DATABASE_URL"]),
        board_key_path=str(raw["EVOTE_BOARD_KEY"]),
        officials=parse_officials(raw["EVOTE_OFFICIALS"]),
        max_body=_int("EVOTE_MAX_BODY", raw["EVOTE_MAX_BODY"], lo=1024, hi=1 << 30),
        max_command_body=_int(
            "EVOTE_MAX_COMMAND_BODY", raw["EVOTE_MAX_COMMAND_BODY"], lo=1024, hi=1 << 32
        ),
        cast_rate_per_minute=_float("EVOTE_CAST_RATE", raw["EVOTE_CAST_RATE"], lo=0.01, hi=1e9),
        cast_burst=_int("EVOTE_CAST_BURST", raw["EVOTE_CAST_BURST"], lo=1, hi=1 << 30),
        body_timeout=_float("EVOTE_BODY_TIMEOUT", raw["EVOTE_BODY_TIMEOUT"], lo=0.5, hi=3600),
        command_rate_per_minute=_float(
            "EVOTE_COMMAND_RATE", raw["EVOTE_COMMAND_RATE"], lo=0.01, hi=1e9
        ),
        command_burst=_int("EVOTE_COMMAND_BURST", raw["EVOTE_COMMAND_BURST"], lo=1, hi=1 << 30),
        proxy_hops=_int("EVOTE_PROXY_HOPS", raw["EVOTE_PROXY_HOPS"], lo=0, hi=10),
        hsts_max_age=_int("EVOTE_HSTS_MAX_AGE", raw["EVOTE_HSTS_MAX_AGE"], lo=0, hi=1 << 31),
    )


def secure_data_dir(directory: str, database_url: str) -> None:
    """Make ``directory`` 0700 and the SQLite board file in it 0600, before first use.

    The SQLite file holds the login <-> credential binding and the board key
    file the server's signing key: neither may be readable by other local
    users.  A directory that already exists with group or world access is
    tightened to 0700 if this process owns it, refused otherwise; the SQLite
    file is created 0600 before SQLite opens it (SQLite gives its -wal and
    -shm files the database file's mode), and an existing one is set to 0600.
    """
    os.makedirs(directory, mode=0o700, exist_ok=True)
    st = os.stat(directory)
    if st.st_mode & 0o077:
        if st.st_uid != os.geteuid():
            raise ConfigError(
                f"data directory {directory} is readable by other users (mode "
                f"{st.st_mode & 0o777:o}) and not ours to fix: chmod 700 it"
            )
        os.chmod(directory, 0o700)
    prefix = "sqlite:///"
    if database_url.startswith(prefix):
        path = os.path.abspath(database_url[len(prefix):])
        if os.path.dirname(path) == os.path.abspath(directory):
            for name in (path, path + "-wal", path + "-shm"):
                if os.path.exists(name):
                    os.chmod(name, 0o600)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def load_or_create_board_key(
    path: str, rng: Callable[[int], bytes] = secrets.token_bytes
) -> SigningKey:
    """Read the board key at ``path``; create it (0600) if it does not exist yet.

    The new key is written to a private temporary file in the same directory
    and hard-linked to ``path``: linking fails if another worker got there
    first, in which case that worker's key is read instead.
    """
    if not os.path.exists(path):
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".board-key-", dir=directory)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(b64encode(SigningKey.generate(rng).seed) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return read_board_key(path)


def read_board_key(path: str) -> SigningKey:
    """The key in ``path``: one line of base64url (a 32-byte Ed25519 seed)."""
    try:
        with open(path, encoding="ascii") as fh:
            text = fh.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"EVOTE_BOARD_KEY: cannot read {path}: {exc}") from None
    try:
        return SigningKey.from_bytes(b64decode(text, length=SEED_BYTES, what="board key"))
    except EncodingError as exc:
        raise ConfigError(f"EVOTE_BOARD_KEY: {path} does not hold a key ({exc})") from None


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """The city's OpenID provider (docs/guide.md): issuer URL, client id and secret."""

    issuer: str
    client_id: str
    client_secret: str
    name: str


OIDC_KEYS = ("EVOTE_OIDC_ISSUER", "EVOTE_OIDC_CLIENT_ID", "EVOTE_OIDC_CLIENT_SECRET", "EVOTE_OIDC_NAME")


def load_oidc_settings(
    overrides: Mapping[str, Any], environ: Mapping[str, str]
) -> OidcSettings | None:
    """None unless ``EVOTE_OIDC_ISSUER`` is set; then all of id and secret are required.

    The issuer must be ``https://`` (``http://`` only on 127.0.0.1/localhost, for
    tests): discovery and the JWKS are what the ID tokens are checked against."""
    raw = {k: str(overrides.get(k) or environ.get(k) or "") for k in OIDC_KEYS}
    issuer = raw["EVOTE_OIDC_ISSUER"]
    if not issuer:
        return None
    local = issuer.startswith(("http://127.0.0.1:", "http://localhost:"))
    if not (issuer.startswith("https://") or local) or any(c.isspace() for c in issuer):
        raise ConfigError("EVOTE_OIDC_ISSUER: expected an https:// issuer URL")
    for key in ("EVOTE_OIDC_CLIENT_ID", "EVOTE_OIDC_CLIENT_SECRET"):
        if not raw[key]:
            raise ConfigError(f"{key}: required when EVOTE_OIDC_ISSUER is set")
    return OidcSettings(
        issuer=issuer,
        client_id=raw["EVOTE_OIDC_CLIENT_ID"],
        client_secret=raw["EVOTE_OIDC_CLIENT_SECRET"],
        name=raw["EVOTE_OIDC_NAME"][:60] or "the city",
    )
