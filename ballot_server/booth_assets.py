"""The booth bundle's files and their digests (no Flask: a digest is file hashing).

The booth's code is one bundle, ``static/booth.js``, built reproducibly from
``ballot_server/booth/`` (``make install`` runs ``npm ci`` and the build).
:func:`ballot_server.create_app` digests it once, at startup, and keeps the
:class:`BoothAssets` in ``app.extensions[EXTENSION]`` (None when the bundle is
not built): the booth pages (:mod:`ballot_server.booth_pages`), the site's
stylesheet link (:mod:`ballot_server.site`) and the election service (which
compares the digest the official publishes with the one served) all read it
from there, through :mod:`ballot_server.context`.

* SHA-384, as the page's Subresource Integrity hash, so the browser runs the
  bundle only if it is exactly the file the server started with (the CSS too);
* SHA-256, shown in the booth's footer and meant to be published on the board
  when the election opens (``booth_sha256``), so that anyone can rebuild the
  bundle from the sources and compare.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
BUNDLE = STATIC / "booth.js"
STYLES = STATIC / "booth.css"
#: The ``app.extensions`` key of this app's :class:`BoothAssets` (or None).
EXTENSION = "evote_booth"


@dataclass(frozen=True)
class BoothAssets:
    """The digests of the booth's files, fixed when the app starts."""

    js_integrity: str  # "sha384-<base64>" (Subresource Integrity)
    css_integrity: str
    js_sha256: str  # hex, as published on the board


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def bundle_sha256(path: Path = BUNDLE) -> str:
    """Hex SHA-256 of the built bundle: the ``booth_sha256`` of ``election_opened``.

    Raises FileNotFoundError when the bundle has not been built (``make install``).
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_assets(static: Path = STATIC) -> BoothAssets | None:
    """Digest the bundle and the stylesheet; None when the bundle is not built."""
    try:
        js = (static / "booth.js").read_bytes()
        css = (static / "booth.css").read_bytes()
    except FileNotFoundError:
        return None
    return BoothAssets(_sri(js), _sri(css), hashlib.sha256(js).hexdigest())
