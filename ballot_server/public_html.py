"""What the public HTML pages share: language, catalogue, assets and the HTML error page.

The election pages (:mod:`ballot_server.public_pages`) and the board explorer
(:mod:`ballot_server.board_explorer`) are for residents and observers, not
programs: a wrong address or a hostile query string must give a page a person
can read (with the right status), not the API's JSON error.  So each of their
blueprints registers :func:`html_error` for :class:`~evote.errors.EvoteError`
and Werkzeug's HTTP errors; the rest of the server keeps its JSON answers.

Assets: the booth's stylesheet, ``site.css`` and the in-browser check
``site.js`` (built by ``ballot_server/booth/build.mjs`` from
``src/site_check.js``), each with its Subresource Integrity hash computed once
when the app starts.  The pages carry no inline script or style (the server's
CSP is ``script-src 'self'``; ``style-src 'self'``); inline SVG is markup, so
the charts need no exception.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, make_response, render_template, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from ballot_server.booth_assets import STATIC
from ballot_server.site import LANGUAGE_NAMES, LANGUAGES, catalogue, chosen_language
from evote.commands import check_election_id
from evote.errors import EvoteError, NotFound, SchemaError

EXTENSION = "evote_public"


@dataclass(frozen=True)
class PublicAssets:
    """SRI hashes of the public pages' files (None: that file is not built)."""

    booth_css: str | None
    site_css: str | None
    site_js: str | None


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def _sri_of(path: Path) -> str | None:
    try:
        return sri(path.read_bytes())
    except FileNotFoundError:
        return None


def load_assets(static: Path = STATIC) -> PublicAssets:
    return PublicAssets(
        _sri_of(static / "booth.css"), _sri_of(static / "site.css"), _sri_of(static / "site.js")
    )


def digest_at_startup(state: BlueprintSetupState) -> None:
    """``record_once`` hook: hash the assets once per app (both blueprints call it)."""
    app: Flask = state.app
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = load_assets()
        if app.extensions[EXTENSION].site_js is None:
            app.logger.warning("static/site.js is not built; the in-browser proof check is off")


def assets() -> PublicAssets:
    return current_app.extensions.get(EXTENSION) or load_assets()


def election_id_or_404(election_id: str) -> str:
    """An id that could never exist is the same "no such election" page as an unknown one."""
    try:
        return check_election_id(election_id)
    except SchemaError:
        raise NotFound(f"no election {election_id!r}") from None


def utc(ms: int) -> dict[str, str]:
    """A board time (milliseconds) as the ``datetime`` attribute and the text shown."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return {
        "iso": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "text": moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


#: The query parameters the language switch carries over (each cut to 200 characters,
#: so a hostile query is not echoed back at length).
KEPT_PARAMS = ("start", "limit", "kind", "tracking_code")
KEPT_LENGTH = 200


def language_links(lang: str) -> list[dict[str, Any]]:
    """The language switch: this page's own query (:data:`KEPT_PARAMS`) in each language."""
    kept = [(k, request.args[k][:KEPT_LENGTH]) for k in KEPT_PARAMS if k in request.args]
    return [
        {"code": code, "name": LANGUAGE_NAMES[code], "current": code == lang,
         "href": request.path + "?" + urlencode([*kept, ("lang", code)])}
        for code in LANGUAGES
    ]


def render_page(template: str, *, status: int = 200, **context: Any) -> Response:
    """Render ``template`` in the request's language with the shared page context."""
    lang = chosen_language()
    a = assets()
    html = render_template(
        template,
        lang=lang,
        t=catalogue(lang),
        languages=language_links(lang),
        booth_css=a.booth_css,
        site_css=a.site_css,
        site_js=a.site_js,
        **context,
    )
    response = make_response(html, status)
    response.headers["Content-Language"] = lang
    response.vary.add("Accept-Language")
    return response


def html_error(exc: Exception) -> Response:
    """An error as a page in the reader's language, with the error's own status."""
    if isinstance(exc, EvoteError):
        status, code, message = exc.http_status, exc.code, exc.message
    elif isinstance(exc, HTTPException):
        status, code, message = exc.code or 500, "http_error", exc.description or exc.name
    else:  # pragma: no cover - only registered for the two classes above
        raise exc
    return render_page("public_error.html", status=status, code=code, message=message,
                       http_status=status)


def register_html_errors(bp: Any) -> None:
    bp.register_error_handler(EvoteError, html_error)
    bp.register_error_handler(HTTPException, html_error)
