"""Patrol plans, check-ins and compliance against PostGIS: every building once a week on connected walks,
shift limits reported, open incidents first, re-planning replaces, idempotent and judged check-ins."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ
from gisgrid.crs import gcj02_from_wgs84
from gisgrid.errors import InvalidInputError
from gisgrid.patrol import PatrolRules
from layers.accounts import create_demo_users
from layers.patrol import compliance_rows, day_route, my_area, plan_patrol_week, record_checkins, stored_plans
from tests.patrol_seed import CA, G1, G2, WEEK, X0, Y0, seed

RULES = PatrolRules()


def test_every_building_once_a_week_on_connected_walks(db: Session) -> None:
    world = seed(db)
    report = plan_patrol_week(db, WEEK + dt.timedelta(days=2), rules=RULES, community_code=CA)
    assert report["week"] == WEEK.isoformat() and report["dates"] == ["2026-11-30", "2026-12-02", "2026-12-04"]
    plans = {p["grid_code"]: p for p in report["plans"]}
    assert set(plans) == {G1, G2}
    assert plans[G1]["stats"]["stops"] == plans[G1]["stats"]["buildings"] - 1  # two doors, one street point
    assert plans[G1]["base"]["station_id"] == world.station_id
    rows = stored_plans(db, week=WEEK)
    for code, ids in world.buildings.items():
        mine = rows[rows["grid_code"] == code]
        seen = [b for day in mine["building_ids"] for b in day]
        assert sorted(seen) == sorted(ids)  # each building exactly once in the week
        assert set(mine["plan_date"].astype(str)) <= set(report["dates"])
    for _, row in rows.iterrows():
        legs = list(row.geometry.geoms)
        assert len(legs) == len(row["stops"]) + 1 == len(row["legs_m"])
        for a, b in itertools.pairwise(legs):
            assert shapely.Point(a.coords[-1]).distance(shapely.Point(b.coords[0])) < 1e-9
        assert shapely.Point(legs[0].coords[0]).distance(shapely.Point(legs[-1].coords[-1])) < 1e-9
        assert row["minutes"] <= RULES.shift_minutes and not row["over_shift"]
        assert row["length_m"] == pytest.approx(row["street_m"] + row["access_m"], abs=0.2)
    # each leg runs on the streets: every vertex lies on a street edge
    on_street = db.execute(text(
        "SELECT bool_and(EXISTS (SELECT 1 FROM street_edge e WHERE ST_DWithin(e.geom, p.geom, 1e-7))) FROM "
        "(SELECT (ST_DumpPoints(route)).geom FROM patrol_plan) p")).scalar()
    assert on_street


def test_replanning_replaces_the_week(db: Session) -> None:
    seed(db)
    plan_patrol_week(db, WEEK, rules=RULES)
    first = set(db.execute(text("SELECT id FROM patrol_plan")).scalars())
    plan_patrol_week(db, WEEK, rules=RULES)
    second = set(db.execute(text("SELECT id FROM patrol_plan")).scalars())
    assert len(first) == len(second) and not first & second
    assert db.execute(text("SELECT count(DISTINCT week) FROM patrol_plan")).scalar() == 1


def test_shift_limit_violations_are_reported(db: Session) -> None:
    seed(db)
    report = plan_patrol_week(db, WEEK, rules=PatrolRules(shift_minutes=15, minutes_per_household=1))
    assert all(p["over_shift_days"] == len(p["days"]) for p in report["plans"])
    assert db.execute(text("SELECT bool_and(over_shift) FROM patrol_plan")).scalar()


def test_open_incidents_are_first_day_stops(db: Session) -> None:
    seed(db)
    grid_id = db.execute(text("SELECT id FROM grid WHERE code = :c"), {"c": G1}).scalar()
    ids = [db.execute(text(
        "INSERT INTO incident (category_code, source, grid_id, grid_code, status, geom, deadline_at) VALUES "
        "('06001', 'resident', :g, :c, :st, ST_SetSRID(ST_MakePoint(:x, :y), 4326), now() + interval '2 days') "
        "RETURNING id"), {"g": grid_id, "c": G1, "st": st, "x": X0 + 0.0021, "y": Y0 + 0.0032}).scalar()
        for st in ("dispatched", "closed")]
    plan_patrol_week(db, WEEK, rules=RULES, community_code=CA)
    days = db.execute(text("SELECT day_index, stops FROM patrol_plan WHERE grid_code = :c ORDER BY day_index"),
                      {"c": G1}).all()
    first = [i for s in days[0].stops for i in s["incident_ids"]]
    later = [i for d in days[1:] for s in d.stops for i in s["incident_ids"]]
    assert first == [ids[0]] and later == []  # the open one on day one, the closed one nowhere


def _checkin(n: int, lon: float, lat: float, minute: int, **kw: object) -> dict[str, object]:
    at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=CHINA_TZ) + dt.timedelta(minutes=minute)
    return {"id": f"w1-phone-{n:04d}", "at": at.isoformat(), "lon": lon, "lat": lat, "accuracy_m": 5, **kw}


def test_checkins_match_buildings_and_flag_implausible_tracks(db: Session) -> None:
    world = seed(db)
    plan_patrol_week(db, WEEK, rules=RULES)
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=CHINA_TZ)
    batch = [
        _checkin(1, X0 + 0.0005, Y0 + 0.0002, 0),  # on building 1
        _checkin(2, X0 + 0.0005, Y0 + 0.00045, 3),  # on building 2, behind building 1
        _checkin(3, X0 + 0.0300, Y0 + 0.0002, 4),  # 2.5 km in a minute, and far outside the grid
        _checkin(4, X0 + 0.0025, Y0 + 0.0002, 8),  # building 3, judged from building 2's fix, not 3's
        _checkin(5, X0 + 0.0025, Y0 + 0.0002, 60 * 30),  # tomorrow afternoon: in the future
        _checkin(6, X0 + 0.0020, Y0 + 0.0025, 12),  # between buildings: no match
    ]
    out = record_checkins(db, world.workers["w1"], batch, rules=RULES, now=now)
    assert out["stored"] == 6 and out["visits"] == 3 and out["already_stored"] == 0
    flags = {f["id"]: f["flags"] for f in out["flagged"]}
    assert set(flags["w1-phone-0003"]) == {"too_fast", "far_outside"} and flags["w1-phone-0005"] == ["future"]
    stored = db.execute(text(
        "SELECT client_id, building_id, is_visit, grid_code FROM patrol_checkin ORDER BY client_id")).all()
    assert [r.is_visit for r in stored] == [True, True, False, True, False, False]
    assert stored[0].building_id == world.buildings[G1][0] and stored[0].grid_code == G1
    again = record_checkins(db, world.workers["w1"], batch, rules=RULES, now=now)
    assert again["stored"] == 0 and again["already_stored"] == 6
    assert db.execute(text("SELECT count(*) FROM patrol_checkin")).scalar() == 6
    # GCJ-02 positions are converted before matching
    lon, lat = gcj02_from_wgs84(X0 + 0.0005, Y0 + 0.0012)
    gcj = record_checkins(db, world.workers["w1"], [_checkin(7, float(lon), float(lat), 20, crs="gcj02")],
                          rules=RULES, now=now)
    assert gcj["visits"] == 1


def test_bad_batch_changes_nothing(db: Session) -> None:
    world = seed(db)
    batch = [_checkin(1, X0 + 0.0005, Y0 + 0.0002, 0), _checkin(2, 200.0, Y0, 1)]
    with pytest.raises(InvalidInputError) as err:
        record_checkins(db, world.workers["w1"], batch, rules=RULES)
    assert err.value.field == "checkins[1].lon" and err.value.rule == "-180 ≤ lon ≤ 180"
    assert db.execute(text("SELECT count(*) FROM patrol_checkin")).scalar() == 0


def test_compliance_counts_the_week(db: Session) -> None:
    world = seed(db)
    plan_patrol_week(db, WEEK, rules=RULES)
    now = dt.datetime(2026, 12, 5, 12, 0, tzinfo=CHINA_TZ)
    batch = [_checkin(1, X0 + 0.0005, Y0 + 0.0002, 0), _checkin(2, X0 + 0.0005, Y0 + 0.00045, 3),
             _checkin(3, X0 + 0.0005, Y0 + 0.0002, 60 * 24 * 2)]
    record_checkins(db, world.workers["w1"], batch, rules=RULES, now=now)
    rows = {r["grid_code"]: r for r in compliance_rows(db, WEEK, rules=RULES)}
    r = rows[G1]
    assert r["staff_id"] == world.workers["w1"] and r["days_present"] == 2 and r["days_required"] == 3
    assert r["buildings_visited"] == 2 and r["buildings_total"] == len(world.buildings[G1])
    assert r["households_visited"] == 50 and r["planned_m"] > 0
    assert r["walked_m"] == pytest.approx(27.8, abs=0.5)  # 0.00025° of latitude
    assert r["longest_unvisited_building"] not in world.buildings[G1][:2]
    assert rows[G2]["buildings_visited"] == 0 and rows[G2]["days_present"] == 0


def test_area_and_route_of_a_worker(db: Session) -> None:
    world = seed(db)
    plan_patrol_week(db, WEEK, rules=RULES)
    area = my_area(db, world.workers["w1"], on=WEEK)
    kinds = [f["properties"]["kind"] for f in area["features"]]
    assert kinds.count("grid") == 1 and kinds.count("building") == len(world.buildings[G1])
    route = day_route(db, world.workers["w1"], WEEK)
    legs = [f for f in route["features"] if f["properties"]["kind"] == "leg"]
    stops = [f for f in route["features"] if f["properties"]["kind"] == "stop"]
    assert legs and len(legs) == len(stops) + 1 and legs[0]["properties"]["from"] == "base"
    assert [s["properties"]["order"] for s in stops] == list(range(1, len(stops) + 1))


def test_publishing_staffs_new_grids_and_demo_patrol_is_linked(db: Session) -> None:
    world = seed(db)
    grids = dict(db.execute(text(
        "SELECT staff_id, target_ref FROM assignment WHERE target_kind = 'grid' AND valid_to IS NULL")).all())
    assert grids == {world.workers["w1"]: G1, world.workers["w2"]: G2}
    logins = {u["role"]: u for u in create_demo_users(db)}
    assert logins["patrol"]["scope_area_code"] == CA and logins["patrol"]["staff_id"] == world.workers["w1"]
