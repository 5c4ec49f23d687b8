"""Every error leaves the server as ``{"code": ..., "message": ...}``.

Three handlers, from most to least specific:

* :class:`evote.errors.EvoteError` — the input or the protocol state is wrong;
  its class fixes the HTTP status and the stable ``code``.
* :class:`werkzeug.exceptions.HTTPException` — routing and transport (404 for an
  unknown path, 405, 413 for a body over the cap, 415) with a snake_case code.
* anything else is a bug: it is logged with its traceback and answered with a
  bare JSON 500 that reveals nothing about the code.

Errors are raised before anything is committed (the service writes inside one
locked transaction that rolls back on any exception), so no error path leaves a
partial write behind.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from evote.errors import EvoteError, RateLimited

# Stable codes for the HTTP statuses Werkzeug raises on its own.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "body_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    429: "rate_limited",
    431: "headers_too_large",
    501: "not_implemented",
}


def error_response(
    status: int, code: str, message: str, detail: dict | None = None, rule: str | None = None
) -> Response:
    body: dict = {"code": code, "message": message}
    if rule is not None:  # the broken rule of docs/rules.md (evote.errors.RuleViolation)
        body["rule"] = rule
    if detail:
        body["detail"] = detail
    response = jsonify(body)
    response.status_code = status
    return response


def handle_evote_error(exc: EvoteError) -> Response:
    response = error_response(
        exc.http_status, exc.code, exc.message, exc.detail, getattr(exc, "rule", None)
    )
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    if exc.http_status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="evote"'
    return response


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    response = error_response(status, code, message)
    # Keep the headers Werkzeug attaches (Allow on a 405, Retry-After, ...).
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unexpected(exc: Exception) -> Response:
    """A bug, not a verdict on the input: log it, say nothing about it."""
    current_app.logger.error("unhandled exception", exc_info=exc)
    return error_response(500, "internal", "internal server error")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(EvoteError, handle_evote_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
