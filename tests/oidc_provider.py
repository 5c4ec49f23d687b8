"""A real OpenID provider for the tests: panva's ``oidc-provider`` (npm), in tests/oidc/.

:func:`start_provider` runs ``node tests/oidc/provider.mjs`` on a free port of
127.0.0.1 with the given clients and test accounts and waits for it to listen;
:func:`login_at_provider` signs a test account in the way a browser would
(follow the redirects, post the login form) and returns the callback URL the
provider sends the browser back to.  Its node packages are installed by
``make install`` (``npm ci`` in tests/oidc), so no network is needed here.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc"


@dataclass(frozen=True)
class RunningProvider:
    issuer: str
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def start_provider(
    clients: list[dict[str, Any]], accounts: list[str], port: int | None = None
) -> Iterator[RunningProvider]:
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("tests/oidc is not installed: run `make install` (npm ci in tests/oidc)", pytrace=False)
    port = port or free_port()
    config = json.dumps({"clients": clients, "accounts": accounts})
    process = subprocess.Popen(
        [node, str(PROVIDER_DIR / "provider.mjs"), str(port), config],
        cwd=PROVIDER_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("ready "):
            pytest.fail(f"the OpenID provider did not start: {line!r}", pytrace=False)
        yield RunningProvider(line.split()[1], process)
    finally:
        process.terminate()
        process.wait(timeout=10)


def login_at_provider(authorize_url: str, issuer: str, account: str) -> str:
    """Sign ``account`` in at the provider, starting from the start route's redirect;
    return the URL the provider redirects back to (the relying party's callback)."""
    session = requests.Session()
    url = authorize_url
    for _ in range(10):
        answer = session.get(url, allow_redirects=False, timeout=10)
        if answer.is_redirect:
            url = urljoin(url, answer.headers["Location"])
            if not url.startswith(issuer):
                return url
            continue
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        action = re.search(r'<form method="post" action="([^"]+)"', answer.text)
        assert action, answer.text[:300]
        posted = session.post(urljoin(url, action.group(1)), data={"login": account},
                              allow_redirects=False, timeout=10)
        assert posted.is_redirect, (posted.status_code, posted.text[:300])
        url = urljoin(url, posted.headers["Location"])
        if not url.startswith(issuer):
            return url
    raise AssertionError("the provider did not send the browser back")
