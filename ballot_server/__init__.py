"""The ballot server: the bulletin board and the casting rules behind a JSON API.

The app exists only through :func:`create_app` (as in Flask's tutorial): no
module-level app, so every test and every gunicorn worker builds its own.
Flask and the blueprints are imported inside :func:`create_app`, so that
importing one part (``ballot_server.store``, ``ballot_server.service``) does
not load the web app.  The app's shared state and the request helpers are
:mod:`ballot_server.context`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the server app: settings, board key, database, routes, error handlers.

    ``config`` overrides the environment (``EVOTE_*`` names, see
    :mod:`ballot_server.config`) and may also set Flask keys (``TESTING``) and,
    for tests, ``EVOTE_CLOCK`` (milliseconds), ``EVOTE_RNG``,
    ``EVOTE_AUTHENTICATOR`` and ``EVOTE_INSTANCE_PATH``.
    """
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from ballot_server import (
        api,
        board_explorer,
        booth_assets,
        booth_pages,
        db,
        oidc,
        public_pages,
        scheduler,
        site,
        witness_api,
    )
    from ballot_server.auth import LoginCodeAuthenticator
    from ballot_server.casting import CastQueue
    from ballot_server.config import load_or_create_board_key, load_settings, secure_data_dir
    from ballot_server.context import EXTENSION, ElectionIdConverter, ServerState
    from ballot_server.errors import register_error_handlers
    from ballot_server.ratelimit import SharedRateLimiter, client_key, limiter_engine
    from ballot_server.security import security_headers
    from ballot_server.service import BoardCache, now_ms

    config = dict(config or {})
    instance = config.get("EVOTE_INSTANCE_PATH") or os.environ.get("EVOTE_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance or None, instance_relative_config=True)
    settings = load_settings(app.instance_path, config, os.environ)
    secure_data_dir(app.instance_path, settings.database_url)
    app.config.from_mapping(
        EVOTE_DATABASE_URL=settings.database_url,
        MAX_CONTENT_LENGTH=settings.max_body,
    )
    app.config.from_mapping(
        {k: v for k, v in config.items() if not k.startswith("EVOTE_")}
    )

    board_key = load_or_create_board_key(settings.board_key_path)
    db.init_app(app)
    engine = limiter_engine(settings.database_url)
    secret = client_key(board_key.seed)
    app.extensions[EXTENSION] = ServerState(
        settings=settings,
        board_key=board_key,
        cache=BoardCache(),
        authenticator=config.get("EVOTE_AUTHENTICATOR") or LoginCodeAuthenticator(),
        limiters={
            "cast": SharedRateLimiter(
                engine, "cast", settings.cast_rate_per_minute / 60.0, settings.cast_burst, secret
            ),
            "command": SharedRateLimiter(
                engine,
                "command",
                settings.command_rate_per_minute / 60.0,
                settings.command_burst,
                secret,
            ),
        },
        clock=config.get("EVOTE_CLOCK") or now_ms,
        rng=config.get("EVOTE_RNG") or secrets.token_bytes,
        casts=CastQueue(),
    )
    # The booth's digests are taken once, now (ballot_server.booth_assets).
    assets = app.extensions[booth_assets.EXTENSION] = booth_assets.load_assets()
    if assets is None:
        app.logger.warning("the booth bundle %s is not built; run `make install`", booth_assets.BUNDLE)
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    app.url_map.converters["election"] = ElectionIdConverter  # before any route uses it
    oidc.init_app(app, config)  # the city's OpenID provider, if configured (docs/guide.md)
    register_error_handlers(app)
    app.after_request(security_headers(settings.hsts_max_age))
    app.register_blueprint(api.bp)
    app.register_blueprint(witness_api.bp)  # docs/witness.md
    app.register_blueprint(booth_pages.bp)  # the web voting booth (issue 6)
    app.register_blueprint(site.bp)  # the HTML list of elections at / and /booth/
    app.register_blueprint(public_pages.bp)  # an election's public page (issue 17)
    app.register_blueprint(board_explorer.bp)  # the board explorer (issue 17)
    scheduler.init_app(app, config)  # scheduled opens and closes (ballot_server/scheduler.py)
    return app


def __getattr__(name: str) -> Any:
    """``ballot_server.EXTENSION`` and ``ballot_server.ServerState`` (their home is
    :mod:`ballot_server.context`), loaded on first use (PEP 562) so that
    importing this package does not load Flask."""
    if name in ("EXTENSION", "ServerState"):
        from ballot_server import context

        return getattr(context, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
