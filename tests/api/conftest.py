"""API test fixtures: an app on the test database, a client, small row factories and tokens.

The API opens its own connections, so these tests commit their rows (``clean_db`` empties the
schema before and after each test) instead of using the rolled-back ``db`` session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from geoalchemy2 import WKTElement
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.main import create_app
from api.security import create_access_token
from layers.accounts import create_user
from layers.models import AdminArea, Building, Station, User
from layers.settings import Settings

TEST_SECRET = "test-secret-key-for-the-api-tests-only-0123456789"
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", autouse=True)
def _database(db_url: str) -> str:
    """Every API test runs against the real PostGIS test database: brought up (and locked) once."""
    return db_url


def box(minx: float, miny: float, maxx: float, maxy: float) -> str:
    return f"MULTIPOLYGON((({minx} {miny}, {maxx} {miny}, {maxx} {maxy}, {minx} {maxy}, {minx} {miny})))"


def make_area(
    session: Session,
    *,
    code: str,
    level: str,
    name: str,
    bounds: tuple[float, float, float, float],
    parent: AdminArea | None = None,
) -> AdminArea:
    area = AdminArea(
        code=code,
        level=level,
        name=name,
        parent_id=parent.id if parent else None,
        geom=WKTElement(box(*bounds), srid=4326),
    )
    session.add(area)
    session.flush()
    return area


def make_building(
    session: Session,
    *,
    x: float,
    y: float,
    community: AdminArea | None = None,
    households: int = 24,
    name: str | None = None,
) -> Building:
    """A 0.0005° square footprint with its south-west corner at (x, y) and the entrance inside."""
    building = Building(
        name=name,
        households=households,
        community_id=community.id if community else None,
        geom=WKTElement(box(x, y, x + 0.0005, y + 0.0005), srid=4326),
        entrance=WKTElement(f"POINT({x + 0.00025} {y + 0.0001})", srid=4326),
    )
    session.add(building)
    session.flush()
    return building


def make_station(
    session: Session,
    *,
    x: float,
    y: float,
    kind: str = "service_station",
    status: str = "open",
    community: AdminArea | None = None,
    name: str = "站点",
) -> Station:
    station = Station(
        name=name,
        kind=kind,
        status=status,
        community_id=community.id if community else None,
        opened_on=date(2024, 5, 1) if status == "open" else None,
        building_since=date(2024, 1, 1) if status in ("open", "building") else None,
        geom=WKTElement(f"POINT({x} {y})", srid=4326),
    )
    session.add(station)
    session.flush()
    return station


def make_departments(session: Session, names: dict[str, str]) -> dict[str, int]:
    """Departments by code (code → name), handling no categories; their ids by code."""
    return {
        code: session.execute(
            text("INSERT INTO department (code, name, categories) VALUES (:c, :n, '{}') RETURNING id"),
            {"c": code, "n": name},
        ).scalar_one()
        for code, name in names.items()
    }


@pytest.fixture
def api_settings(db_url: str) -> Settings:
    return Settings(environment="test", database_url=db_url, secret_key=TEST_SECRET, db_pool_size=4)


@pytest.fixture
def client(api_settings: Settings, clean_db: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


@pytest.fixture
def session(clean_db: Engine) -> Iterator[Session]:
    """A session whose commits the API sees; the tables are truncated after the test."""
    with Session(clean_db, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def district(session: Session) -> dict[str, AdminArea]:
    """A district with one street and two side-by-side communities A (west) and B (east)."""
    d = make_area(
        session, code="110105000000", level="district", name="演示区", bounds=(116.30, 39.90, 116.40, 39.96)
    )
    s = make_area(
        session,
        code="110105001000",
        level="street",
        name="演示街道",
        bounds=(116.30, 39.90, 116.40, 39.96),
        parent=d,
    )
    a = make_area(
        session,
        code="110105001001",
        level="community",
        name="甲社区",
        bounds=(116.30, 39.90, 116.35, 39.96),
        parent=s,
    )
    b = make_area(
        session,
        code="110105001002",
        level="community",
        name="乙社区",
        bounds=(116.35, 39.90, 116.40, 39.96),
        parent=s,
    )
    session.commit()
    return {"district": d, "street": s, "A": a, "B": b}


@pytest.fixture
def user_factory(session: Session) -> Callable[..., User]:
    def make(role: str, scope_area_code: str | None = None, username: str | None = None) -> User:
        user = create_user(
            session,
            username=username or f"{role}_{scope_area_code or 'all'}",
            password=PASSWORD,
            role=role,
            scope_area_code=scope_area_code,
        )
        session.commit()
        return user

    return make


@pytest.fixture
def auth_header(api_settings: Settings, session: Session) -> Callable[[User], dict[str, str]]:
    def header(user: User) -> dict[str, str]:
        scope = session.get(AdminArea, user.scope_area_id).code if user.scope_area_id else None  # type: ignore[union-attr]
        token = create_access_token(
            username=user.username, role=user.role, scope=scope, settings=api_settings
        )
        return {"Authorization": f"Bearer {token}"}

    return header
