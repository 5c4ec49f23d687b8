"""What every blueprint asks of the app: its shared state and the request helpers.

One app is one :class:`ServerState` (built by :func:`ballot_server.create_app`,
kept in ``app.extensions[EXTENSION]``) plus the booth digests
(:mod:`ballot_server.booth_assets`).  The blueprints -- the JSON API
(:mod:`ballot_server.api`), the witnesses' checkpoints
(:mod:`ballot_server.witness_api`), the booth pages
(:mod:`ballot_server.booth_pages`) and the site (:mod:`ballot_server.site`) --
reach them only through the functions here, and read requests only through the
helpers here, so a body is parsed, a query integer checked, a rate limit spent
and an election id in a URL checked the same way on every route.  So no
blueprint needs another's helpers (the site only reuses the booth page's view
for ``/booth/<id>/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType
from werkzeug.exceptions import NotFound as NoRoute
from werkzeug.routing import BaseConverter

from ballot_server import booth_assets
from ballot_server.auth import Authenticator
from ballot_server.bodies import LargeBody, read_body
from ballot_server.casting import CastQueue
from ballot_server.config import Settings
from ballot_server.db import get_store
from ballot_server.ratelimit import SharedRateLimiter
from ballot_server.service import BoardCache, ElectionService
from evote.commands import check_election_id
from evote.encoding import MAX_SAFE_INTEGER, parse_json
from evote.errors import SchemaError, ServiceUnavailable
from evote.group import Rng
from evote.signing import SigningKey

#: The ``app.extensions`` key of this app's :class:`ServerState`.
EXTENSION = "evote"


@dataclass(frozen=True)
class ServerState:
    """What one app shares between its requests (``app.extensions["evote"]``)."""

    settings: Settings
    board_key: SigningKey
    cache: BoardCache
    authenticator: Authenticator
    #: Shared rate limits by scope ("cast", "command"): :mod:`ballot_server.ratelimit`.
    limiters: dict[str, SharedRateLimiter]
    casts: CastQueue
    clock: Callable[[], int]
    rng: Rng


def server_state() -> ServerState:
    """What :func:`ballot_server.create_app` set up for this app (settings, keys, caches)."""
    return current_app.extensions[EXTENSION]


def served_assets() -> booth_assets.BoothAssets | None:
    """The booth digests taken at startup (None: the bundle was not built)."""
    return current_app.extensions.get(booth_assets.EXTENSION)


def require_assets() -> booth_assets.BoothAssets:
    """As :func:`served_assets`, for a page that cannot work without the booth: 503."""
    found = served_assets()
    if found is None:
        raise ServiceUnavailable("the voting booth is not built on this server (make install)")
    return found


def served_booth_sha256() -> bytes | None:
    """SHA-256 of the booth bundle this app serves (None: no bundle was built)."""
    assets = served_assets()
    return None if assets is None else bytes.fromhex(assets.js_sha256)


def get_service() -> ElectionService:
    """The election service of this request, over the request's store."""
    if "evote_service" not in g:
        state = server_state()
        g.evote_service = ElectionService(
            get_store(),
            board_key=state.board_key,
            officials=state.settings.officials,
            cache=state.cache,
            authenticator=state.authenticator,
            clock=state.clock,
            rng=state.rng,
            booth_sha256=served_booth_sha256(),
            casts=state.casts,
        )
    return g.evote_service


# --- URLs ---------------------------------------------------------------------------


class ElectionIdConverter(BaseConverter):
    """``<election:election_id>``: a path segment that is a well-formed election id.

    An id that could never exist (:func:`evote.commands.check_election_id`, whose
    ``MAX_ELECTION_ID`` is the one limit) is a 404 ``no election '...'``, like an
    unknown election.  It is raised as Werkzeug's NotFound rather than
    ``ValidationError`` so that the message names the id; Werkzeug converts
    only once the rule and its method have matched, so a wrong method is still
    a 405.
    """

    def to_python(self, value: str) -> str:
        try:
            return check_election_id(value)
        except SchemaError:
            raise NoRoute(f"no election {value!r}") from None


# --- request bodies and queries -----------------------------------------------------


def require_json() -> None:
    """415 unless the request says its body is JSON (a header: checked before anything)."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")


def json_body(large_body: LargeBody | None = None) -> Any:
    """The request body as strict JSON, read by :func:`ballot_server.bodies.read_body`.

    415 unless ``Content-Type: application/json`` (checked before reading);
    413 above the route's cap -- ``EVOTE_MAX_BODY``, or for a ``large_body``
    route with a valid ``Evote-Body-Signature`` ``EVOTE_MAX_COMMAND_BODY``;
    408 if the body does not arrive within ``EVOTE_BODY_TIMEOUT``; 400 for an
    empty or malformed body (duplicate keys, NaN, invalid UTF-8, integers of
    more than 4300 digits, deep nesting included).
    """
    settings = server_state().settings
    require_json()
    request.max_content_length = max(settings.max_body, settings.max_command_body)
    data = read_body(
        small=settings.max_body,
        large=settings.max_command_body,
        timeout=settings.body_timeout,
        large_body=large_body,
    )
    if not data:
        raise BadRequest("the request body is empty; expected a JSON document")
    return parse_json(data)


def int_arg(name: str, *, required: bool = False, lo: int = 0, hi: int = MAX_SAFE_INTEGER) -> int | None:
    """A non-negative decimal query parameter (400 for anything else)."""
    raw = request.args.get(name)
    if raw is None:
        if required:
            raise BadRequest(f"query parameter {name!r} is required")
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 16:
        raise BadRequest(f"query parameter {name!r} must be a non-negative integer")
    value = int(raw)
    if not lo <= value <= hi:
        raise BadRequest(f"query parameter {name!r} must be between {lo} and {hi}")
    return value


# --- rate limits --------------------------------------------------------------------


def rate_limited(scope: str | Callable[..., Any]) -> Any:
    """Spend one token of the client address's ``scope`` bucket (429 when empty).

    The buckets live in the board database (:mod:`ballot_server.ratelimit`), so
    the limit holds across every worker and host; it is checked before the
    body is read.  ``@rate_limited`` without a scope is ``@rate_limited("cast")``
    (the voter's routes: casting, auditing, the booth's login check)."""
    if callable(scope):
        return rate_limited("cast")(scope)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            server_state().limiters[scope].take(request.remote_addr or "unknown")
            return view(*args, **kwargs)

        return wrapped

    return decorate
