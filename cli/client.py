"""The CLI's one way to talk to a ballot server: JSON over HTTP with httpx.

The CLI never opens the server's database; everything it does goes through
the documented API under ``/api/v1`` (docs/api.md), exactly as a third-party
client would.

Errors come back as typed exceptions:

* a JSON error body ``{"code": ..., "message": ...}`` becomes the
  :mod:`evote.errors` class with that ``code`` (``wrong_phase`` →
  :class:`~evote.errors.LifecycleError`, ``bad_credential`` →
  :class:`~evote.errors.CredentialError`, ...), so callers catch the same
  classes whether a rule was broken locally or on the server;
* an answer that is not the API's JSON (a proxy's HTML page, a 502) becomes
  :class:`ServerError`;
* a server that cannot be reached at all becomes :class:`ServerUnreachable`,
  naming the URL.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import httpx

from cli.console import warn
from evote import errors
from evote.encoding import parse_json
from evote.errors import EncodingError, EvoteError
from evote.rulebook import RULES

API_PREFIX = "/api/v1"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_TIMEOUT = 60.0


class ServerError(EvoteError):
    """The server answered, but not with the API's JSON (a 5xx, a proxy page)."""

    code = "server_error"
    http_status = 502


class ServerUnreachable(EvoteError):
    """No answer at all: wrong URL, server down, connection refused or timed out."""

    code = "server_unreachable"
    http_status = 503


def _error_classes() -> dict[str, type[EvoteError]]:
    """Every ``code`` in :mod:`evote.errors`, mapped to its class."""
    found: dict[str, type[EvoteError]] = {}
    pending: list[type[EvoteError]] = [EvoteError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == errors.__name__:
            found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


_BY_CODE = _error_classes()


def error_from_body(status: int, body: Any) -> EvoteError:
    """The typed exception for a JSON error body (or :class:`ServerError`)."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return ServerError(f"server answered HTTP {status} without an error message")
    code = body.get("code")
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
    cls = _BY_CODE.get(code) if isinstance(code, str) else None
    if cls is None:
        if status >= 500:
            return ServerError(f"server error (HTTP {status}): {body['message']}", detail=detail)
        exc = EvoteError(body["message"], detail=detail)
        exc.code = code if isinstance(code, str) else "invalid"
        exc.http_status = status
        return _with_rule(exc, body)
    # Some classes take extra constructor arguments (RateLimited's retry_after,
    # RootMismatchError's roots); the server's JSON carries them in ``detail``,
    # so build every class the same way and keep the detail.
    exc = cls.__new__(cls)
    EvoteError.__init__(exc, body["message"], detail=detail)
    if isinstance(exc, errors.RateLimited):
        retry = detail.get("retry_after")
        exc.retry_after = retry if isinstance(retry, int) else 1
    return _with_rule(exc, body)


def _with_rule(exc: EvoteError, body: dict) -> EvoteError:
    """Keep the id of the broken rule (docs/rules.md) the server named, and say it."""
    rule = body.get("rule")
    if isinstance(rule, str) and rule in RULES:
        exc.rule = rule  # type: ignore[attr-defined]
        exc.message = f"{exc.message} [{rule}]"
    return exc


def normalise_server(url: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash; :class:`ServerUnreachable`
    for anything else, since nothing could ever be reached there."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServerUnreachable(
            f"server URL {url!r} must start with http:// or https:// and name a host"
        )
    if parts.query or parts.fragment:
        raise ServerUnreachable(f"server URL {url!r} must not have a query or fragment")
    return text


class Client:
    """A JSON client for one ballot server.  Use as a context manager, or call :meth:`close`.

    ``transport`` lets tests run the client against a Flask app in-process
    (``httpx.WSGITransport``); the CLI always uses the network.
    """

    def __init__(
        self,
        server: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = normalise_server(server)
        host = urlsplit(self.server).hostname or ""
        if self.server.startswith("http://") and host not in LOOPBACK_HOSTS:
            warn(f"{self.server} is plain http: use https:// for a real election")
        self._http = httpx.Client(
            base_url=self.server + API_PREFIX,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "evote-cli"},
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON answer (None for 204).

        ``token`` is sent as ``Authorization: Bearer <token>`` (the voter login).
        """
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        content = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(
                method, path, content=content, params=params, headers=headers
            )
        except httpx.TimeoutException:
            raise ServerUnreachable(f"the server at {self.server} did not answer in time") from None
        except httpx.RequestError as exc:
            reason = str(exc) or type(exc).__name__
            raise ServerUnreachable(f"cannot reach the server at {self.server}: {reason}") from None
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 204 or (not response.content and status < 300):
            return None
        try:
            body = parse_json(response.content)
        except EncodingError:
            body = None
        if 200 <= status < 300:
            if body is None:
                raise ServerError(
                    f"server answered HTTP {status} with something that is not JSON "
                    f"({response.request.method} {response.request.url.path})"
                )
            return body
        raise error_from_body(status, body)

    def get(
        self, path: str, *, params: dict[str, Any] | None = None, token: str | None = None
    ) -> Any:
        return self.request("GET", path, params=params, token=token)

    def post(self, path: str, body: Any, *, token: str | None = None) -> Any:
        return self.request("POST", path, body=body, token=token)

    def download(self, path: str, target: BinaryIO, *, params: dict[str, Any] | None = None) -> int:
        """Stream a binary resource (a record archive) into ``target``; returns its size."""
        size = 0
        try:
            with self._http.stream("GET", path, params=params) as response:
                if response.status_code >= 300:
                    response.read()
                    try:
                        body = parse_json(response.content)
                    except EncodingError:
                        body = None
                    raise error_from_body(response.status_code, body)
                for chunk in response.iter_bytes():
                    target.write(chunk)
                    size += len(chunk)
        except httpx.TimeoutException:
            raise ServerUnreachable(f"the server at {self.server} did not answer in time") from None
        except httpx.RequestError as exc:
            raise ServerUnreachable(
                f"cannot reach the server at {self.server}: {exc or type(exc).__name__}"
            ) from None
        return size
