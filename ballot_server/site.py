"""The server's HTML front door: ``/`` and ``/booth/`` list the elections on this
server (state, ballots cast, a link to each booth), in English and Russian.

``docs/guide.md`` sends voters to the site root, so it must be a page a person
can use, not a JSON 404.  It is plain server-rendered HTML -- no script, the
booth's stylesheet (with its Subresource Integrity hash) -- so it works before
any JavaScript loads, and for screen readers: ``lang`` on the page, one ``h1``,
a heading per election, landmarks, a labelled language switch.

The language is ``?lang=en|ru`` if given, else the browser's
``Accept-Language``, else English.  The strings live in
``static/i18n/site-<lang>.json`` next to the booth's catalogues (same keys in
both, checked by the tests).

``/booth/<id>/`` (trailing slash) is the booth page itself, as ``/booth/<id>``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from flask import Blueprint, Response, make_response, render_template, request

from ballot_server import booth_pages
from ballot_server.booth_assets import STATIC
from ballot_server.context import get_service, served_assets
from evote.kinds import BALLOT_CAST

bp = Blueprint("site", __name__)

LANGUAGES = ("en", "ru")
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The page's strings in ``lang`` (read once per process)."""
    path = STATIC / "i18n" / f"site-{lang}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def chosen_language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def election_rows(lang: str) -> list[dict[str, Any]]:
    """One row per election: id, title in ``lang``, phase and ballots cast."""
    service = get_service()
    rows = []
    for election_id in service.elections():
        facts = service.facts(election_id)
        rows.append(
            {
                "id": election_id,
                "title": facts.created.manifest.label(lang),
                "phase": facts.phase.value,
                "ballots": facts.counts.get(BALLOT_CAST, 0),
            }
        )
    return rows


@bp.get("/")
@bp.get("/booth/")
def elections() -> Response:
    """The list of elections (HTML)."""
    lang = chosen_language()
    assets = served_assets()
    html = render_template(
        "elections.html",
        lang=lang,
        t=catalogue(lang),
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        elections=election_rows(lang),
        css_integrity=None if assets is None else assets.css_integrity,
    )
    response = make_response(html)
    response.headers["Content-Language"] = lang
    response.vary.add("Accept-Language")
    return response


@bp.get("/booth/<election:election_id>/")
def booth_page(election_id: str) -> str:
    """The booth, also under its address with a trailing slash."""
    return booth_pages.page(election_id)
