"""Signed access tokens (JWT, HS256) for the OAuth2 password flow.

The token carries ``sub`` (username), ``role`` and ``scope`` (the 12-digit code of the user's area, or
null), and expires after ``settings.token_minutes``. It is signed with ``settings.secret_key``, which
the settings refuse to leave at the development default in production. The role and scope in the
token are informational: every request reloads the user, so a deactivated user or a changed role
takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt

from gisgrid.errors import AuthenticationError
from layers.settings import Settings

ALGORITHM = "HS256"
ISSUER = "gisgrid"


@dataclass(frozen=True)
class TokenClaims:
    username: str
    role: str
    scope: str | None
    expires_at: datetime
    csrf: str | None = None
    """The CSRF token a browser session's writes must echo (only in tokens made by ``/login``)."""


def create_access_token(
    *,
    username: str,
    role: str,
    scope: str | None,
    settings: Settings,
    now: datetime | None = None,
    minutes: int | None = None,
    csrf: str | None = None,
) -> str:
    """A signed token for this user, valid for ``minutes`` (default ``settings.token_minutes``).

    ``csrf`` makes it a browser session's token (``api/session.py``): the value a write sent with the
    session cookie must carry in ``X-CSRF-Token``.
    """
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(minutes=settings.token_minutes if minutes is None else minutes)
    payload: dict[str, Any] = {
        "sub": username,
        "role": role,
        "scope": scope,
        "iss": ISSUER,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    if csrf is not None:
        payload["csrf"] = csrf
    return jwt.encode(payload, settings.secret_key, algorithm=ALGORITHM)


def decode_access_token(token: str, *, settings: Settings) -> TokenClaims:
    """The claims of a valid token; :class:`AuthenticationError` if it is expired, forged or malformed.

    A client sends the same token with every request until it expires, so a token whose signature
    has been checked once is remembered (keyed by token and secret; only valid ones; the expiry is
    checked again on every use): the signature check was a tenth of the intake endpoint's time.
    """
    claims = _verified(token, settings.secret_key)
    if claims.expires_at <= datetime.now(UTC):
        raise AuthenticationError(
            "The access token has expired; log in again.", field="Authorization", rule="token not expired"
        )
    return claims


@lru_cache(maxsize=4096)
def _verified(token: str, secret_key: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError(
            "The access token has expired; log in again.", field="Authorization", rule="token not expired"
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(
            "The access token is not valid.", field="Authorization", rule="a token signed by this server"
        ) from exc
    username = payload.get("sub")
    if not isinstance(username, str) or not username:
        raise AuthenticationError("The access token names no user.", field="Authorization", rule="sub claim")
    return TokenClaims(
        username=username,
        role=str(payload.get("role", "")),
        scope=payload.get("scope"),
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        csrf=payload["csrf"] if isinstance(payload.get("csrf"), str) else None,
    )
