"""Incident intake against PostGIS: assignment at boundaries and across grid versions, CRS, routing,
duplicates and idempotency under concurrent retries.

The world (:func:`build_world`): one district = one street = communities A (west, two grids) and B
(east, no grids). Grid 001 moved its east edge on 2025-06-01 (version 2), taking 116.325–116.33
from grid 002 (also version 2 from then on).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from geoalchemy2 import WKTElement
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from gisgrid.crs import bd09_from_wgs84, gcj02_from_wgs84
from gisgrid.errors import ConflictError, InvalidInputError
from gisgrid.incidents.intake import parse_input
from gisgrid.incidents.states import Actor
from layers.incidents.bulk import assign_bulk
from layers.incidents.intake import IntakeResult, intake
from layers.models import (
    AdminArea,
    Assignment,
    Complex,
    Department,
    Grid,
    Incident,
    IncidentEvent,
    PropertyCompany,
    Staff,
    Station,
)

UTC8 = dt.timezone(dt.timedelta(hours=8))
EDIT = dt.datetime(2025, 6, 1, tzinfo=UTC8)
BEFORE = dt.datetime(2025, 3, 3, 10, 0, tzinfo=UTC8)
AFTER = dt.datetime(2025, 9, 2, 10, 0, tzinfo=UTC8)
LAT = 39.93
M_PER_DEG_LON = 111_320.0 * 0.76666  # cos(39.93°)
A_CODE, B_CODE = "110105001001", "110105001002"
G1, G2 = A_CODE + "001", A_CODE + "002"
PATROL = Actor(role="patrol", user_id=None)


def box(minx: float, miny: float, maxx: float, maxy: float) -> WKTElement:
    return WKTElement(
        f"MULTIPOLYGON((({minx} {miny}, {maxx} {miny}, {maxx} {maxy}, {minx} {maxy}, {minx} {miny})))", srid=4326
    )


def point(x: float, y: float) -> WKTElement:
    return WKTElement(f"POINT({x} {y})", srid=4326)


@dataclass
class World:
    district: AdminArea
    street: AdminArea
    a: AdminArea
    b: AdminArea
    worker: Staff
    officer: Staff
    room: Station
    company: PropertyCompany
    complex: Complex
    enforcement: Department
    grid_ids: dict[tuple[str, int], int]


def area(s: Session, code: str, level: str, bounds: tuple[float, float, float, float],
         parent: AdminArea | None = None) -> AdminArea:
    a = AdminArea(code=code, level=level, name=code, parent_id=parent.id if parent else None, geom=box(*bounds))
    s.add(a)
    s.flush()
    return a


def grid(s: Session, code: str, version: int, community: AdminArea, bounds: tuple[float, float, float, float],
         valid_from: dt.datetime, valid_to: dt.datetime | None) -> Grid:
    g = Grid(code=code, version=version, community_id=community.id, status="retired" if valid_to else "active",
             valid_from=valid_from, valid_to=valid_to, geom=box(*bounds))
    s.add(g)
    s.flush()
    return g


def build_world(s: Session) -> World:
    """The district above, with staff, a police room, a managed complex and an enforcement department."""
    d = area(s, "110105000000", "district", (116.30, 39.90, 116.40, 39.96))
    st = area(s, "110105001000", "street", (116.30, 39.90, 116.40, 39.96), d)
    a = area(s, A_CODE, "community", (116.30, 39.90, 116.35, 39.96), st)
    b = area(s, B_CODE, "community", (116.35, 39.90, 116.40, 39.96), st)
    start = dt.datetime(2025, 1, 1, tzinfo=UTC8)
    ids = {
        (G1, 1): grid(s, G1, 1, a, (116.30, 39.90, 116.325, 39.96), start, EDIT).id,
        (G2, 1): grid(s, G2, 1, a, (116.325, 39.90, 116.35, 39.96), start, EDIT).id,
        (G1, 2): grid(s, G1, 2, a, (116.30, 39.90, 116.33, 39.96), EDIT, None).id,
        (G2, 2): grid(s, G2, 2, a, (116.33, 39.90, 116.35, 39.96), EDIT, None).id,
    }
    worker = Staff(name="网格员甲", role="grid_worker", community_id=a.id)
    officer = Staff(name="民警甲", role="police", community_id=a.id)
    s.add_all([worker, officer])
    s.flush()
    s.add(Assignment(staff_id=worker.id, target_kind="grid", target_ref=G1, valid_from=date(2024, 1, 1)))
    room = Station(name="甲社区警务室", kind="police_room", status="open", community_id=a.id,
                   building_since=date(2024, 1, 1), opened_on=date(2024, 2, 1), geom=point(116.31, 39.95))
    company = PropertyCompany(name="甲物业", contact_name="张经理", contact_phone="010-1")
    s.add_all([room, company])
    s.flush()
    cx = Complex(name="甲小区", community_id=a.id, property_company_id=company.id, management="professional",
                 geom=box(116.305, 39.905, 116.315, 39.915))
    dept = Department(code="110105-ZFJ", name="综合行政执法局", categories=["09001", "09006"])
    s.add_all([cx, dept])
    s.flush()
    s.commit()
    return World(d, st, a, b, worker, officer, room, company, cx, dept, ids)


@pytest.fixture
def world(clean_db: Engine) -> Iterator[World]:
    with Session(clean_db, expire_on_commit=False) as s:
        yield build_world(s)


def report(engine: Engine, *, lon: float, lat: float = LAT, category: str = "06010", crs: str = "wgs84",
           at: dt.datetime = AFTER, key: str | None = None, **extra: Any) -> IntakeResult:
    data = {"lon": lon, "lat": lat, "crs": crs, "category_code": category, "source": "patrol",
            "description": "测试", "reported_at": at.isoformat(), **extra}
    with Session(engine) as s, s.begin():
        return intake(s, data, actor=PATROL, idempotency_key=key, now=max(at, AFTER) + dt.timedelta(hours=1))


def test_point_inside_a_grid_goes_to_its_worker(world: World, clean_db: Engine) -> None:
    r = report(clean_db, lon=116.31)
    a = r.to_dict()["assignment"]
    assert (a["grid_code"], a["grid_version"], a["grid_id"]) == (G1, 2, world.grid_ids[(G1, 2)])
    assert a["community_code"] == A_CODE and a["street_code"] == "110105001000"
    assert a["assignee_staff_id"] == world.worker.id and a["target"] == "grid_worker"
    assert a["boundary_flag"] is False
    with Session(clean_db) as s:
        inc = s.get(Incident, r.incident_id)
        assert inc is not None and inc.status == "reported" and inc.level == "grid"
        assert inc.deadline_at is not None and inc.deadline_at > AFTER
        events = s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == inc.id)).all()
        assert [(e.action, e.from_status, e.to_status) for e in events] == [("report", None, "reported")]


def test_two_metres_from_a_boundary_is_flagged(world: World, clean_db: Engine) -> None:
    x = 116.33 - 2.0 / M_PER_DEG_LON  # 2 m west of the G1|G2 boundary (version 2)
    a = report(clean_db, lon=x).to_dict()["assignment"]
    assert a["grid_code"] == G1 and a["boundary_flag"] is True
    assert a["boundary_distance_m"] == pytest.approx(2.0, abs=0.1)
    far = report(clean_db, lon=116.33 - 50.0 / M_PER_DEG_LON).to_dict()["assignment"]
    assert far["boundary_flag"] is False and far["grid_code"] == G1


def test_grid_version_at_report_time(world: World, clean_db: Engine) -> None:
    x = 116.327  # in G2 before the edit, in G1 after it
    before = report(clean_db, lon=x, at=BEFORE).to_dict()["assignment"]
    after = report(clean_db, lon=x, at=AFTER).to_dict()["assignment"]
    assert (before["grid_code"], before["grid_id"]) == (G2, world.grid_ids[(G2, 1)])
    assert (after["grid_code"], after["grid_id"]) == (G1, world.grid_ids[(G1, 2)])
    # the same, in bulk
    import geopandas as gpd
    import pandas as pd
    import shapely

    pts = gpd.GeoDataFrame(
        {"reported_at": pd.to_datetime([BEFORE, AFTER, AFTER, BEFORE], utc=True)},
        geometry=shapely.points([x, x, 116.36, 116.45], [LAT] * 4), crs=4326,
    )
    got = assign_bulk(clean_db, pts)
    assert got.tolist() == [world.grid_ids[(G2, 1)], world.grid_ids[(G1, 2)], -1, -1]


def test_outside_grids_inside_a_community_is_community_level(world: World, clean_db: Engine) -> None:
    r = report(clean_db, lon=116.37)
    d = r.to_dict()
    assert d["assignment"]["located_in"] == "community" and d["assignment"]["grid_code"] is None
    assert d["assignment"]["community_code"] == B_CODE and d["incident"]["level"] == "community"


def test_outside_the_district_is_rejected(world: World, clean_db: Engine) -> None:
    with pytest.raises(InvalidInputError) as err:
        report(clean_db, lon=116.50)
    assert err.value.rule == "outside the district" and "outside the district" in err.value.message
    with Session(clean_db) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0


@pytest.mark.parametrize("crs,forward", [("gcj02", gcj02_from_wgs84), ("bd09", bd09_from_wgs84)])
def test_shifted_input_lands_on_the_wgs84_truth(world: World, clean_db: Engine, crs: str, forward: Any) -> None:
    truth = (116.3123, 39.9311)
    lon, lat = forward(*truth)
    assert abs(lon - truth[0]) > 1e-3  # really shifted (hundreds of metres)
    r = report(clean_db, lon=float(lon), lat=float(lat), crs=crs)
    with Session(clean_db) as s:
        metres = s.scalar(
            text("SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) "
                 "FROM incident WHERE id = :id"),
            {"x": truth[0], "y": truth[1], "id": r.incident_id},
        )
    assert metres < 0.5


def test_routing_rules(world: World, clean_db: Engine) -> None:
    prop = report(clean_db, lon=116.31, lat=39.91, category="04001").to_dict()
    assert prop["assignment"]["assignee_property_company_id"] == world.company.id
    assert prop["assignment"]["target"] == "property_company" and prop["incident"]["level"] == "community"
    # property category outside any complex: the grid worker
    loose = report(clean_db, lon=116.31, lat=39.95, category="04002").to_dict()["assignment"]
    assert loose["target"] == "grid_worker" and loose["assignee_staff_id"] == world.worker.id
    police = report(clean_db, lon=116.31, category="10001").to_dict()["assignment"]
    assert police["assignee_station_id"] == world.room.id and police["assignee_staff_id"] == world.officer.id
    enforce = report(clean_db, lon=116.31, category="09006").to_dict()
    assert enforce["assignment"]["assignee_department_id"] == world.enforcement.id
    assert enforce["incident"]["level"] == "district" and enforce["assignment"]["assignee_staff_id"] is None


def test_nearby_open_duplicates_are_returned(world: World, clean_db: Engine) -> None:
    first = report(clean_db, lon=116.31)
    near = report(clean_db, lon=116.31 + 60.0 / M_PER_DEG_LON).to_dict()["possible_duplicates"]
    assert [d["id"] for d in near] == [first.incident_id]
    assert near[0]["distance_m"] == pytest.approx(60.0, abs=1.0)
    far = report(clean_db, lon=116.31 + 150.0 / M_PER_DEG_LON).to_dict()["possible_duplicates"]
    assert first.incident_id not in [d["id"] for d in far]
    other = report(clean_db, lon=116.31, category="06011").to_dict()["possible_duplicates"]
    assert other == []
    late = report(clean_db, lon=116.31, at=AFTER + dt.timedelta(days=10)).to_dict()["possible_duplicates"]
    assert late == []


def test_concurrent_retries_make_exactly_one_incident(world: World, clean_db: Engine) -> None:
    results: list[IntakeResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        try:
            barrier.wait()
            results.append(report(clean_db, lon=116.31, key="app-retry-0001"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.incident_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert all(r.to_dict() == results[0].to_dict() for r in results)  # the same answer every time
    with Session(clean_db) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        assert s.scalar(select(func.count()).select_from(IncidentEvent)) == 1


def test_same_key_different_report_is_a_conflict(world: World, clean_db: Engine) -> None:
    report(clean_db, lon=116.31, key="k1")
    with pytest.raises(ConflictError) as err:
        report(clean_db, lon=116.32, key="k1")
    assert err.value.rule == "one key, one report"


def test_a_retry_matches_an_answer_stored_before_0003(world: World, clean_db: Engine) -> None:
    first = report(clean_db, lon=116.31, key="old")
    data = {"lon": 116.31, "lat": LAT, "crs": "wgs84", "category_code": "06010", "source": "patrol",
            "description": "测试", "reported_at": AFTER.isoformat()}
    legacy = parse_input(data, now=AFTER + dt.timedelta(hours=1)).legacy_fingerprint()
    with clean_db.begin() as conn:  # the answer as the earlier release stored it
        conn.execute(text("UPDATE incident SET intake = jsonb_set(intake, '{fingerprint}', to_jsonb(CAST(:f AS text)))"
                          " WHERE id = :id"), {"f": legacy, "id": first.incident_id})
    again = report(clean_db, lon=116.31, key="old")
    assert (again.incident_id, again.created) == (first.incident_id, False)
    with pytest.raises(ConflictError):
        report(clean_db, lon=116.32, key="old")


def test_bad_fields_are_listed_together(world: World, clean_db: Engine) -> None:
    with pytest.raises(InvalidInputError) as err:
        report(clean_db, lon=116.31, category="99999", crs="mars", photos=["ftp://x"])
    fields = {p["field"] for p in err.value.details}
    assert {"category_code", "crs", "photos"} <= fields
