"""User accounts: bcrypt password hashes, creating users with a role and an area scope, logging in.

A user's ``scope_area_id`` limits what they see (see :mod:`layers.geojson`); NULL means the whole
system and is meant for admins. ``create_demo_users`` makes one login per role for the demo district.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import bcrypt
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gisgrid import vocab
from gisgrid.errors import AuthenticationError, ConflictError, InvalidInputError
from layers.models import AdminArea, Department, User

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt only reads the first 72 bytes; bcrypt>=5 refuses longer input
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
DEMO_PREFIX = "demo_"


@dataclass(frozen=True)
class Account:
    """A user with the code, name and level of their area scope (``None`` = the whole system)."""

    id: int
    username: str
    display_name: str
    role: str
    scope_area_id: int | None
    scope_area_code: str | None
    scope_area_name: str | None
    scope_level: str | None
    department_id: int | None
    staff_id: int | None
    active: bool


def accounts(session: Session, *, username: str | None = None) -> list[Account]:
    """Every account (or the one named ``username``), ordered by username."""
    query = (
        select(User, AdminArea.code, AdminArea.name, AdminArea.level)
        .outerjoin(AdminArea, AdminArea.id == User.scope_area_id)
        .order_by(User.username)
    )
    if username is not None:
        query = query.where(User.username == username)
    return [
        Account(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            scope_area_id=user.scope_area_id,
            scope_area_code=code,
            scope_area_name=name,
            scope_level=level,
            department_id=user.department_id,
            staff_id=user.staff_id,
            active=user.active,
        )
        for user, code, name, level in session.execute(query).all()
    ]


@lru_cache(maxsize=1)
def _dummy_hash() -> bytes:
    """A hash of a random password, checked when the username is unknown: a wrong username then takes
    as long as a wrong password, so response times do not reveal which usernames exist."""
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=12))


def hash_password(password: str, *, rounds: int = 12) -> str:
    """A salted bcrypt hash of ``password`` (as text, ``$2b$…``).

    Raises :class:`InvalidInputError` for a password shorter than 8 characters or longer than
    bcrypt's 72 bytes (UTF-8), rather than silently ignoring the tail.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"The password is too short: it needs at least {MIN_PASSWORD_LENGTH} characters.",
            field="password",
            rule=f"at least {MIN_PASSWORD_LENGTH} characters",
        )
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidInputError(
            f"The password is too long: at most {MAX_PASSWORD_BYTES} bytes (UTF-8) are allowed.",
            field="password",
            rule=f"at most {MAX_PASSWORD_BYTES} bytes",
        )
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches the bcrypt ``password_hash``; False for anything malformed."""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


def _check_role(role: str) -> None:
    if role not in vocab.USER_ROLES:
        raise InvalidInputError(
            f"Unknown role {role!r}: use one of {', '.join(vocab.USER_ROLES)}.",
            field="role",
            rule="role must be one of " + ", ".join(vocab.USER_ROLES),
        )


def _check_username(username: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise InvalidInputError(
            f"Invalid username {username!r}: 2–64 characters of letters, digits and _ . @ -.",
            field="username",
            rule="2–64 characters of [A-Za-z0-9_.@-]",
        )


def area_by_code(session: Session, code: str, *, field: str = "scope_area_code") -> AdminArea:
    """The admin area with this 12-digit code, or :class:`InvalidInputError` naming ``field``."""
    area = session.scalar(select(AdminArea).where(AdminArea.code == code))
    if area is None:
        raise InvalidInputError(
            f"No administrative area has the code {code!r}.",
            field=field,
            feature=code,
            rule="the scope must be an existing admin_area code",
        )
    return area


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    scope_area_code: str | None = None,
    display_name: str = "",
    staff_id: int | None = None,
    department_id: int | None = None,
) -> User:
    """Create (and flush) a user; the caller commits.

    Raises :class:`InvalidInputError` for an unknown role, a malformed username or password, or an
    unknown scope area, and :class:`ConflictError` when the username is taken.
    """
    _check_role(role)
    _check_username(username)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(
            f"The username {username!r} is already taken.",
            field="username",
            feature=username,
            rule="usernames are unique",
        )
    scope_id = area_by_code(session, scope_area_code).id if scope_area_code is not None else None
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        scope_area_id=scope_id,
        display_name=display_name or username,
        staff_id=staff_id,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials, else :class:`AuthenticationError` (same message either way)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        bcrypt.checkpw(b"timing-equaliser", _dummy_hash())
        ok = False
    else:
        ok = verify_password(password, user.password_hash) and bool(user.active)
    if not ok or user is None:
        raise AuthenticationError(
            "Incorrect username or password.", field="password", rule="valid credentials"
        )
    return user


# ----------------------------------------------------------------------------------- demo users


def _first_area(session: Session, levels: tuple[str, ...], within: AdminArea | None) -> AdminArea | None:
    """The first area (by code) of one of ``levels``, preferring one whose parent chain reaches ``within``."""
    query = select(AdminArea).where(AdminArea.level.in_(levels)).order_by(AdminArea.code)
    if within is not None:
        child = session.scalar(query.where(AdminArea.parent_id == within.id))
        if child is not None:
            return child
    return session.scalar(query)


def _demo_grid_worker(session: Session, community: AdminArea | None) -> int | None:
    """The grid worker the demo patrol login stands for: in its community, one with a grid if any.

    A worker gets a grid when the community's grids are published (``layers.patrol.staffing``), so the
    link holds whether the users are made before or after the grids are planned.
    """
    if community is None:
        return None
    found = session.execute(text(
        "SELECT s.id FROM staff s WHERE s.community_id = :cid AND s.role = 'grid_worker' AND s.active "
        "ORDER BY EXISTS (SELECT 1 FROM assignment a WHERE a.staff_id = s.id AND a.target_kind = 'grid' "
        "AND a.valid_to IS NULL) DESC, s.id LIMIT 1"
    ), {"cid": community.id}).scalar_one_or_none()
    return int(found) if found is not None else None


def create_demo_users(session: Session) -> list[dict[str, Any]]:
    """One ``demo_<role>`` user per role, with fresh random passwords; existing demo users are replaced.

    Scopes follow the admin areas present: the leader gets the district, the planner and the
    dispatcher a street (or town) of it, the patrol user a community of that street, the department
    user the district (and the first department, if any); the patrol user is linked to a grid worker of
    its community (``staff_id``). Without an area of the wanted level the
    user gets the nearest broader one found; the admin has no scope. Returns, per user, what to print:
    ``username``, ``password``, ``role``, ``scope_area_code``, ``scope_area_name``, ``scope_level``.
    The caller commits.
    """
    district = _first_area(session, ("district",), None)
    street = _first_area(session, ("street", "town"), district) or district
    community = _first_area(session, ("community",), street) or street
    department = session.scalar(select(Department).order_by(Department.code))
    patrol_staff = _demo_grid_worker(session, community if community is not None and community.level == "community"
                                     else None)

    plan: list[tuple[str, AdminArea | None, str]] = [
        ("admin", None, "演示管理员"),
        ("planner", street, "演示网格规划员"),
        ("leader", district, "演示领导"),
        ("dispatcher", street, "演示调度员"),
        ("patrol", community, "演示网格员"),
        ("department", district, "演示部门人员"),
    ]
    out: list[dict[str, Any]] = []
    for role, area, display_name in plan:
        username = f"{DEMO_PREFIX}{role}"
        password = secrets.token_urlsafe(12)
        department_id = department.id if role == "department" and department is not None else None
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username)
            session.add(user)
        # replaced in place, so the audit trail of an earlier demo user stays attached to it
        user.password_hash = hash_password(password)
        user.role = role
        user.scope_area_id = area.id if area is not None else None
        user.display_name = display_name
        user.department_id = department_id
        user.staff_id = patrol_staff if role == "patrol" else None
        user.active = True
        out.append(
            {
                "username": username,
                "password": password,
                "role": role,
                "display_name": display_name,
                "scope_area_code": area.code if area is not None else None,
                "scope_area_name": area.name if area is not None else None,
                "scope_level": area.level if area is not None else None,
                "department": department.name
                if department_id is not None and department is not None
                else None,
                "staff_id": user.staff_id,
            }
        )
    session.flush()
    return out
