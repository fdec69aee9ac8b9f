"""The one table from :mod:`gisgrid.errors` classes to HTTP statuses, and the handlers that use it.

Every error response has the same body::

    {"error": {"code": "invalid_input", "message": "...", "field": "bbox", "rule": "...", ...}}

``code`` is stable and machine-readable; ``message`` is for people. A 401 also carries
``WWW-Authenticate: Bearer``. A page (``/map…``) asked for without a session is the one exception:
it answers 303 to the login page (``api/session.py``).
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette import status
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.error_pages import error_page, wants_page
from api.session import page_error_response
from gisgrid import errors

log = logging.getLogger("gisgrid.api")

DEFAULT_STATUS_CODES: dict[type[errors.GisgridError], int] = {
    errors.GisgridError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    errors.InvalidInputError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    errors.GeometryError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    errors.CRSError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    errors.NotFoundError: status.HTTP_404_NOT_FOUND,
    errors.ConflictError: status.HTTP_409_CONFLICT,
    errors.AuthenticationError: status.HTTP_401_UNAUTHORIZED,
    errors.PermissionDeniedError: status.HTTP_403_FORBIDDEN,
    errors.ConfigurationError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    errors.DatabaseUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
}

# codes for HTTP errors raised by Starlette/FastAPI themselves (unknown route, wrong method, …)
HTTP_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: errors.AuthenticationError.code,
    403: errors.PermissionDeniedError.code,
    404: errors.NotFoundError.code,
    405: "method_not_allowed",
    409: errors.ConflictError.code,
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: errors.InvalidInputError.code,
    429: "too_many_requests",
    503: errors.DatabaseUnavailableError.code,
}


def status_for(exc: errors.GisgridError) -> int:
    """The HTTP status of ``exc``: its own class's row, else the nearest ancestor's."""
    for cls in type(exc).__mro__:
        if cls in DEFAULT_STATUS_CODES:
            return DEFAULT_STATUS_CODES[cls]
    return status.HTTP_500_INTERNAL_SERVER_ERROR


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}


def _headers(status_code: int) -> dict[str, str] | None:
    return {"WWW-Authenticate": "Bearer"} if status_code == status.HTTP_401_UNAUTHORIZED else None


def gisgrid_error_response(exc: errors.GisgridError) -> JSONResponse:
    code = status_for(exc)
    if code >= 500:
        log.error("%s: %s", type(exc).__name__, exc.message)
    return JSONResponse({"error": exc.to_dict()}, status_code=code, headers=_headers(code))


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """``("query", "limit")`` → ``"limit"``; ``("body", "user", "name")`` → ``"user.name"``."""
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header", "cookie", "form")]
    return ".".join(parts) or None


async def _gisgrid_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.GisgridError)
    # a page asked for without a session goes to the login page instead of a JSON 401
    redirect = page_error_response(request, exc)
    if redirect is not None:
        return redirect
    if wants_page(request, status_for(exc)):  # a map page in a browser: a readable page, same status
        return error_page(request, status_for(exc), exc.to_dict())
    return gisgrid_error_response(exc)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": _field_of(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    message = "; ".join(f"{p['field'] or 'request'}: {p['message']}" for p in problems) or "Invalid request."
    body = error_body(
        errors.InvalidInputError.code,
        message,
        field=first["field"],
        details=problems if len(problems) > 1 else None,
    )
    if wants_page(request, status.HTTP_422_UNPROCESSABLE_CONTENT):
        return error_page(request, status.HTTP_422_UNPROCESSABLE_CONTENT, body["error"])
    return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_STATUS_CODES.get(exc.status_code, "http_error")
    if wants_page(request, exc.status_code):
        return error_page(request, exc.status_code, error_body(code, str(exc.detail))["error"])
    headers = dict(exc.headers or {})
    headers.update(_headers(exc.status_code) or {})
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers or None
    )


async def _database_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", exc)
    return gisgrid_error_response(
        errors.DatabaseUnavailableError(
            "The database cannot be reached; try again shortly.", rule="the database must answer"
        )
    )


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "An unexpected error occurred; it has been logged."),
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _is_connection_error(exc: DBAPIError) -> bool:
    return bool(getattr(exc, "connection_invalidated", False)) or isinstance(exc, OperationalError)


async def _dbapi_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if _is_connection_error(exc):
        return await _database_handler(request, exc)
    return await _unhandled_handler(request, exc)


def add_exception_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the ``{"error": {...}}`` body."""
    app.add_exception_handler(errors.GisgridError, _gisgrid_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(DBAPIError, _dbapi_handler)
    app.add_exception_handler(PoolTimeoutError, _database_handler)
    # the async intake path talks to PostgreSQL through asyncpg, not SQLAlchemy: a refused or dropped
    # connection (OSError's ConnectionError) or asyncpg's own connection errors are 503s as well
    app.add_exception_handler(ConnectionError, _database_handler)
    app.add_exception_handler(asyncpg.PostgresConnectionError, _database_handler)
    app.add_exception_handler(asyncpg.InterfaceError, _database_handler)
    app.add_exception_handler(Exception, _unhandled_handler)
