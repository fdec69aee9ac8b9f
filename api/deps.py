"""Request dependencies as ``Annotated`` aliases: settings, a session per request, the current user, roles,
the incident runtime (intake writer and settings, made by the lifespan)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from api.background import IncidentRuntime
from api.session import request_claims
from gisgrid import vocab
from gisgrid.errors import AuthenticationError, ConfigurationError, PermissionDeniedError
from gisgrid.incidents.states import Actor
from layers.accounts import Account, accounts
from layers.settings import Settings

TOKEN_URL = "/api/v1/auth/token"

# auto_error=False: a missing token becomes our AuthenticationError (same body as every other 401)
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _sessionmaker(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] | None = getattr(request.app.state, "sessionmaker", None)
    if factory is None:
        raise ConfigurationError("The database is not set up: the app was not started through its lifespan.")
    return factory


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back on any error.

    The connection is taken lazily, at the endpoint's first query, inside the endpoint's thread.
    """
    with _sessionmaker(request)() as session, session.begin():
        yield session


def incident_runtime(request: Request) -> IncidentRuntime:
    """The app's incident settings, intake options and intake writer (``api.background``).

    The intake endpoint calls it directly rather than through ``Depends``: FastAPI's dependency
    solving was a sixth of that endpoint's time.
    """
    found: IncidentRuntime | None = getattr(request.app.state, "incidents", None)
    if found is None:
        raise ConfigurationError("Incident intake is not set up: the app was not started through its lifespan.")
    return found


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the transaction ends (commits) before the response is sent, so a failed commit
# is reported to the client instead of being lost after a 200
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


# The authenticated caller: who, which role, and the area they are limited to (None = everything).
CurrentUser = Account


def load_current_user(session: Session, username: str) -> CurrentUser:
    found = accounts(session, username=username)
    if not found or not found[0].active:
        raise AuthenticationError(
            "The account of this token no longer exists or is disabled.",
            field="Authorization",
            rule="active user",
        )
    return found[0]


def get_current_user(request: Request, token: TokenDep, settings: SettingsDep) -> CurrentUser:
    # the bearer token if sent (API clients; no CSRF token needed), else the browser's session cookie
    # (writes need the X-CSRF-Token header): api/session.py
    claims = request_claims(request, token, settings)
    # A short session of its own, not the request's: its connection goes back to the pool before this
    # thread ends, so no request holds a connection while it waits for a worker thread (which could
    # deadlock once as many requests wait for threads as there are connections).
    with _sessionmaker(request)() as session:
        return load_current_user(session, claims.username)


CurrentUserDep = Annotated[CurrentUser, Depends(get_current_user)]


def scope_of(user: CurrentUser) -> str | None:
    """The area code a user's reads and actions are limited to: ``None`` (everywhere) for an admin."""
    return None if user.role == "admin" else user.scope_area_code


def actor_of(user: CurrentUser) -> Actor:
    """The user as the incident state machine's actor."""
    return Actor(role=user.role, user_id=user.id, staff_id=user.staff_id, department_id=user.department_id,
                 scope_code=scope_of(user))


def require_roles(*roles: str) -> Callable[[CurrentUser], CurrentUser]:
    """A dependency that lets only these roles through (403 otherwise); the user is its value."""
    unknown = [r for r in roles if r not in vocab.USER_ROLES]
    if unknown or not roles:
        raise ValueError(f"require_roles needs roles from {vocab.USER_ROLES}; got {roles}")

    def check(user: CurrentUserDep) -> CurrentUser:
        if user.role not in roles:
            raise PermissionDeniedError(
                f"The role {user.role!r} may not do this; it needs one of: {', '.join(roles)}.",
                field="role",
                rule="role in (" + ", ".join(roles) + ")",
            )
        return user

    check.__name__ = "require_" + "_or_".join(roles)
    return check


AdminDep = Annotated[CurrentUser, Depends(require_roles("admin"))]
INCIDENT_READERS = ("admin", "leader", "dispatcher", "department", "patrol")
IncidentReaderDep = Annotated[CurrentUser, Depends(require_roles(*INCIDENT_READERS))]
