"""The booth's server side (ballot_server/booth_pages.py, booth_assets.py) and its bundle's build.

The page must load only this origin's code, pinned by Subresource Integrity to
the bundle the server started with; ``election.json`` must give exactly what
the election fingerprint is made of (the booth recomputes it and refuses to
run on a mismatch); the login check must tell a wrong login code before the
voter starts; the bundle must build to the same bytes wherever it is built.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ballot_server.booth_assets import BUNDLE, STYLES, bundle_sha256, load_assets
from evote.credentials import CredentialList
from evote.encoding import b64decode
from evote.fingerprint import election_fingerprint
from evote.group import Point
from evote.manifest import Manifest
from tests import api_election
from tests.api_election import build_election

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election

ROOT = Path(__file__).resolve().parent.parent
BOOTH_SRC = ROOT / "ballot_server" / "booth"
NODE = shutil.which("node")


def sri(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def test_page_pins_the_bundle_and_has_no_inline_code(election) -> None:
    response = election.client.get(f"/booth/{election.election_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == [
        f'<script defer src="/static/booth.js" integrity="{sri(BUNDLE)}"></script>'[:-len("</script>")]
    ]
    assert f'href="/static/booth.css" integrity="{sri(STYLES)}"' in html
    assert "<style" not in html and " style=" not in html and "javascript:" not in html
    assert [body.strip() for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)] == [""]
    assert f'data-booth-sha256="{bundle_sha256()}"' in html
    assert f'data-election="{election.election_id}"' in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "connect-src 'self'" in csp
    # and the bundle is served as it was digested
    served = election.client.get("/static/booth.js")
    assert served.status_code == 200 and served.data == BUNDLE.read_bytes()


def test_election_json_is_what_the_fingerprint_is_made_of(election) -> None:
    body = election.client.get(f"/booth/{election.election_id}/election.json").get_json()
    assert body["phase"] == "open" and body["election_id"] == election.election_id
    manifest = Manifest.from_json(body["manifest"])
    commitments = [[Point.from_json(c) for c in row] for row in body["trustee_commitments"]]
    fingerprint = election_fingerprint(
        manifest.digest(), Point.from_json(body["joint_key"]), commitments,
        b64decode(body["credentials_digest"], length=32),
    )
    assert fingerprint == election.ctx.fingerprint
    assert b64decode(body["fingerprint"], length=32) == fingerprint
    assert isinstance(election.credential_list, CredentialList)
    assert body["credentials_digest"] == base64.urlsafe_b64encode(
        election.credential_list.digest()).rstrip(b"=").decode()
    assert body["board_key"] == election.board_key.to_json()


def test_election_json_before_the_set_up_is_done(api_client) -> None:
    e = build_election(api_client, stop_before="credentials_published")
    response = api_client.get(f"/booth/{e.election_id}/election.json")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    assert api_client.get("/booth/no-such-election/election.json").status_code == 404
    assert api_client.get("/booth/Not_An_Id!/election.json").status_code == 404
    assert api_client.get("/booth/-bad").status_code == 404


def test_login_check(election) -> None:
    url = f"/booth/{election.election_id}/login"
    good = election.client.post(url, headers={"Authorization": f"Bearer {election.login(0)}"})
    assert good.status_code == 204 and good.data == b""
    wrong = election.login(0)[:-4] + ("AAAA" if not election.login(0).endswith("AAAA") else "BBBB")
    bad = election.client.post(url, headers={"Authorization": f"Bearer {wrong}"})
    assert bad.status_code == 401 and bad.get_json()["code"] == "unauthenticated"
    missing = election.client.post(url)
    assert missing.status_code == 401
    other = election.client.post("/booth/no-such-election/login",
                                 headers={"Authorization": f"Bearer {election.login(0)}"})
    assert other.status_code == 404


def test_assets_json_and_a_missing_bundle(election, tmp_path) -> None:
    body = election.client.get("/booth/assets.json").get_json()
    assert body == {"booth_sha256": bundle_sha256(), "js_integrity": sri(BUNDLE),
                    "css_integrity": sri(STYLES)}
    assert load_assets(tmp_path) is None


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_bundle_builds_to_the_same_bytes_anywhere(tmp_path) -> None:
    """Build from a copy of the sources in another directory: the same bytes as ours."""
    check = subprocess.run([NODE, "build.mjs", "--check"], cwd=BOOTH_SRC, capture_output=True,
                           text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    copy = tmp_path / "elsewhere" / "ballot_server"
    shutil.copytree(BOOTH_SRC / "src", copy / "booth" / "src")
    for name in ("build.mjs", "package.json", "package-lock.json"):
        shutil.copy(BOOTH_SRC / name, copy / "booth" / name)
    (copy / "booth" / "node_modules").symlink_to(BOOTH_SRC / "node_modules")
    shutil.copytree(ROOT / "ballot_server" / "static" / "i18n", copy / "static" / "i18n")
    shutil.copy(STYLES, copy / "static" / "booth.css")
    built = subprocess.run([NODE, "build.mjs"], cwd=copy / "booth", capture_output=True,
                           text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    assert (copy / "static" / "booth.js").read_bytes() == BUNDLE.read_bytes()
