"""The browser session: a signed token in an HttpOnly cookie, CSRF protection for writes, login redirects.

A browser logs in at ``/login`` (``api/login.py``) and gets two cookies:

* ``gisgrid_session`` — the same signed JWT as ``/api/v1/auth/token`` gives (``api/security.py``),
  with one more claim, ``csrf``. ``HttpOnly`` (no page script can read it), ``SameSite=Lax``,
  ``Secure`` when ``GISGRID_ENVIRONMENT=production``, ``Path=/``, expiring with the token
  (``GISGRID_TOKEN_MINUTES``).
* ``gisgrid_csrf`` — the CSRF token in clear, readable by page scripts (not HttpOnly),
  ``SameSite=Strict``.

Every request that authenticates (``api.deps.get_current_user`` and the intake endpoint) takes the
``Authorization: Bearer`` header first — API clients are unchanged and need no CSRF token — and
otherwise the session cookie. A write (any method but GET, HEAD, OPTIONS) authenticated by the cookie
must send ``X-CSRF-Token`` equal to the session's ``csrf`` claim (a forged cross-site form cannot read
the csrf cookie, so it cannot send the header); otherwise 403.

A page (a path under :data:`PAGE_PREFIXES`) asked for without a session answers ``303 See Other`` to
``/login?next=<the page>`` (``expired=1`` when the session had expired) instead of the API's JSON 401.
"""

from __future__ import annotations

import hmac
import html
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security.utils import get_authorization_scheme_param

from api.security import TokenClaims, decode_access_token
from gisgrid.errors import AuthenticationError, GisgridError, PermissionDeniedError
from layers.settings import Settings

SESSION_COOKIE = "gisgrid_session"
CSRF_COOKIE = "gisgrid_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PAGE_PREFIXES: tuple[str, ...] = ("/map",)
"""Paths that are HTML pages: without a session they redirect to the login page rather than answer 401."""
LOGIN_PATH = "/login"
DEFAULT_NEXT = "/map"
EXPIRED_RULE = "token not expired"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request has one."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if token and scheme.lower() == "bearer" else None


def request_claims(request: Request, bearer: str | None, settings: Settings) -> TokenClaims:
    """The caller's token claims: the bearer token if sent, else the session cookie (CSRF-checked for writes).

    Raises :class:`AuthenticationError` (401) with neither, or an invalid or expired one, and
    :class:`PermissionDeniedError` (403) for a cookie-authenticated write without the right CSRF token.
    """
    if bearer:
        return decode_access_token(bearer, settings=settings)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthenticationError(
            "Not authenticated: send 'Authorization: Bearer <token>', or log in at /login in a browser.",
            field="Authorization",
            rule="a bearer token or a session cookie is required",
        )
    claims = decode_access_token(cookie, settings=settings)
    if claims.csrf is None:
        raise AuthenticationError(
            "The session cookie was not made by /login; log in again.",
            field=SESSION_COOKIE,
            rule="a session made by /login",
        )
    if request.method not in SAFE_METHODS:
        check_csrf(request.headers.get(CSRF_HEADER), claims.csrf)
    return claims


def check_csrf(sent: str | None, expected: str | None) -> None:
    """Refuse (403) a cookie-authenticated write whose CSRF token is missing or wrong."""
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PermissionDeniedError(
            f"A write with the session cookie needs the {CSRF_HEADER} header equal to the "
            f"{CSRF_COOKIE} cookie.",
            field=CSRF_HEADER,
            rule=f"equals the session's CSRF token (cookie {CSRF_COOKIE})",
        )


def safe_next(value: str | None) -> str:
    """``next`` if it is a path on this site (``/…``, not ``//host`` nor ``/\\host``), else ``/map``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return DEFAULT_NEXT
    if any(ord(c) < 0x20 or c == "\\" for c in value):
        return DEFAULT_NEXT
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return DEFAULT_NEXT
    return value


def is_page(request: Request) -> bool:
    """True for a GET/HEAD of an HTML page (a path under :data:`PAGE_PREFIXES`, below any root path)."""
    root, path = _root(request), request.url.path
    if root and path.startswith(root):
        path = path[len(root):]
    return request.method in ("GET", "HEAD") and any(
        path == p or path.startswith(p + "/") for p in PAGE_PREFIXES
    )


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def login_redirect(request: Request, exc: AuthenticationError) -> RedirectResponse:
    """303 to the login page, coming back to this page afterwards; an expired session says so."""
    here = request.url.path
    if request.url.query:
        here += "?" + request.url.query
    query = {"next": here}
    had_cookie = SESSION_COOKIE in request.cookies
    if had_cookie and exc.rule == EXPIRED_RULE:
        query["expired"] = "1"
    response = RedirectResponse(f"{_root(request)}{LOGIN_PATH}?{urlencode(query, quote_via=quote)}",
                                status_code=303)
    response.headers["Cache-Control"] = "no-store"
    if had_cookie:
        clear_session(response, request)
    return response


def page_error_response(request: Request, exc: GisgridError) -> Response | None:
    """The login redirect for a page asked for without a valid session; None for everything else.

    A client that sent a bearer token (valid or not) is an API client: it keeps its JSON 401.
    """
    if isinstance(exc, AuthenticationError) and is_page(request) and "authorization" not in request.headers:
        return login_redirect(request, exc)
    return None


def set_session(response: Response, request: Request, *, token: str, csrf: str, settings: Settings) -> None:
    secure = settings.environment == "production"
    age = settings.token_minutes * 60
    path = _root(request) + "/"
    response.set_cookie(SESSION_COOKIE, token, max_age=age, path=path, httponly=True, samesite="lax",
                        secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=age, path=path, httponly=False, samesite="strict",
                        secure=secure)


def clear_session(response: Response, request: Request) -> None:
    path = _root(request) + "/"
    response.delete_cookie(SESSION_COOKIE, path=path, httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, path=path, samesite="strict")


# ----------------------------------------------------------------------------------- logout bar

LOGOUT_LABEL = {"zh-CN": "退出登录", "en": "Log out"}
BAR_STYLE = (
    "position:fixed;right:10px;bottom:24px;z-index:1001;background:rgba(255,255,255,.93);padding:4px 8px;"
    "border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:13px system-ui,'PingFang SC',"
    "'Microsoft YaHei',sans-serif;display:flex;gap:6px;align-items:center;margin:0"
)


def logout_bar(username: str, csrf: str, language: str, root: str = "") -> str:
    """The 'user · log out' form a logged-in page gets, bottom right (a POST with the CSRF token)."""
    lang = language if language in LOGOUT_LABEL else "zh-CN"
    label = LOGOUT_LABEL[lang]
    return (
        f'<form id="gg-session" method="post" action="{html.escape(root)}/logout?lang={lang}" '
        f'style="{BAR_STYLE}">'
        f'<span class="gg-user">{html.escape(username)}</span>'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf)}">'
        f'<button type="submit">{html.escape(label)}</button></form>'
    )


class SessionBar:
    """ASGI middleware: a page served to a logged-in browser gets the logout form before ``</body>``.

    Only HTML answers to GET on :data:`PAGE_PREFIXES` with a valid session cookie are touched; the map
    builders stay free of sessions (and a saved page file has no logout button).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        claims = None
        app = scope.get("app")
        settings = getattr(app.state, "settings", None) if app is not None else None
        if any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES):
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie and settings is not None:
                try:
                    claims = decode_access_token(cookie, settings=settings)
                except AuthenticationError:
                    claims = None
        if claims is None or claims.csrf is None:
            await self.app(scope, receive, send)
            return
        language = str(request.query_params.get("lang") or getattr(settings, "language", "zh-CN"))
        bar = logout_bar(claims.username, claims.csrf, language, _root(request)).encode()
        await self.app(scope, receive, _InsertBeforeBody(send, bar))


class _InsertBeforeBody:
    """A ``send`` that buffers an HTML answer and inserts ``extra`` before its ``</body>``."""

    def __init__(self, send: Send, extra: bytes) -> None:
        self.send, self.extra = send, extra
        self.start: MutableMapping[str, Any] | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = dict((k.lower(), v) for k, v in message.get("headers", []))
            html_answer = headers.get(b"content-type", b"").startswith(b"text/html")
            if not html_answer or b"content-encoding" in headers:
                await self.send(message)
                self.extra = b""
                return
            self.start = message
            return
        if self.start is None:
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self.chunks)
        at = body.rfind(b"</body>")
        body = body[:at] + self.extra + body[at:] if at >= 0 else body + self.extra
        # the page now holds this user's name and CSRF token: never for a shared cache (the public
        # overview map is otherwise "public, max-age=60")
        kept = [(k, v) for k, v in self.start.get("headers", [])
                if k.lower() not in (b"content-length", b"cache-control")]
        kept += [(b"content-length", str(len(body)).encode()), (b"cache-control", b"private, no-store")]
        await self.send({**self.start, "headers": kept})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})
