"""Intake's decisions without a database: where a report lies (Reference over plain rows), its route,
level, assignee, deadline and first event (decide)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import shapely

from gisgrid.errors import InvalidInputError
from gisgrid.incidents.deadlines import deadline_for
from gisgrid.incidents.intake import (
    DEFAULT_OPTIONS,
    IntakeOptions,
    Route,
    decide,
    load_routes,
    outside_district,
    parse_input,
    place_for,
    route_for,
)
from gisgrid.incidents.reference import Place, Reference
from gisgrid.incidents.states import Actor
from gisgrid.incidents.workcal import default_calendar

CHINA = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2025, 9, 2, 10, 0, tzinfo=CHINA)  # a Tuesday
EDIT = dt.datetime(2025, 6, 1, tzinfo=CHINA)
PATROL = Actor(role="patrol", user_id=3, staff_id=5)
COMMUNITY, STREET = "370403002001", "370403002000"
G1, G2 = COMMUNITY + "001", COMMUNITY + "002"


def wkb(minx: float, miny: float, maxx: float, maxy: float) -> bytes:
    return shapely.to_wkb(shapely.box(minx, miny, maxx, maxy))


def reference() -> Reference:
    """A street with one community: grids G1 | G2 split at 117.33 since EDIT (at 117.325 before), a
    complex managed by company 40, a police room and officer, and a department for 09*."""
    rows: dict[str, list[dict[str, Any]]] = {
        "grids": [
            {"id": 1, "code": G1, "version": 1, "community_id": 20, "valid_from": dt.datetime(2025, 1, 1, tzinfo=CHINA),
             "valid_to": EDIT, "wkb": wkb(117.30, 34.90, 117.325, 34.96)},
            {"id": 2, "code": G2, "version": 1, "community_id": 20, "valid_from": dt.datetime(2025, 1, 1, tzinfo=CHINA),
             "valid_to": EDIT, "wkb": wkb(117.325, 34.90, 117.35, 34.96)},
            {"id": 3, "code": G1, "version": 2, "community_id": 20, "valid_from": EDIT, "valid_to": None,
             "wkb": wkb(117.30, 34.90, 117.33, 34.96)},
            {"id": 4, "code": G2, "version": 2, "community_id": 20, "valid_from": EDIT, "valid_to": None,
             "wkb": wkb(117.33, 34.90, 117.35, 34.96)},
        ],
        "areas": [
            {"id": 10, "code": STREET, "level": "street", "parent_id": None, "wkb": wkb(117.30, 34.90, 117.40, 34.96)},
            {"id": 20, "code": COMMUNITY, "level": "community", "parent_id": 10,
             "wkb": wkb(117.30, 34.90, 117.35, 34.96)},
        ],
        "workers": [{"target_kind": "grid", "target_ref": G1, "valid_from": dt.date(2024, 1, 1), "valid_to": None,
                     "staff_id": 7, "role": "grid_worker"}],
        "complexes": [{"id": 30, "property_company_id": 40, "wkb": wkb(117.305, 34.905, 117.315, 34.915)}],
        "rooms": [{"community_id": 20, "id": 50}],
        "officers": [{"community_id": 20, "id": 51}],
        "departments": [{"id": 60, "code": "370403-ZFJ", "categories": ["09006", "08001"]}],
    }
    return Reference(rows, instance="test", generation=1)


REF = reference()


def opened(lon: float, lat: float = 34.93, category: str = "06010", *, at: dt.datetime = AT,
           actor: Actor | None = PATROL, **extra: Any) -> Any:
    inp = parse_input({"lon": lon, "lat": lat, "category_code": category, "source": "patrol",
                       "description": "测试", **extra}, now=at)
    route = route_for(category)
    place = place_for(REF, inp, route, inp.reported_at or at)
    return decide(inp, route, place, at=at, actor=actor)


def test_a_grid_report_goes_to_the_grid_worker_with_the_dispatch_deadline() -> None:
    d = opened(117.31)
    state, event = d.opened.after, d.opened.event
    assert (state.status, state.level, state.grid_code, state.community_code, state.street_code) == (
        "reported", "grid", G1, COMMUNITY, STREET)
    assert d.place.grid_id == 3 and d.staff_id == 7 and d.target == "grid_worker" and d.note == ""
    assert state.deadline_at == deadline_for("06010", "grid", AT, default_calendar(), stage="dispatch")
    assert (event["action"], event["from_status"], event["to_status"]) == ("report", None, "reported")
    assert (event["actor_user_id"], event["actor_staff_id"], event["at"], event["note"]) == (3, 5, AT, "测试")
    assert event["data"] == {"actor_role": "patrol", "level": "grid", "deadline_at": state.deadline_at.isoformat(),
                             "route": "grid_worker", "boundary_flag": False}
    assert d.incident()["deadline_at"] == state.deadline_at.isoformat()
    assert d.assignment()["located_in"] == "grid" and d.assignment()["assignee_staff_id"] == 7


def test_the_grid_version_of_the_report_time() -> None:
    before = opened(117.327, reported_at=dt.datetime(2025, 3, 3, 10, tzinfo=CHINA).isoformat())
    after = opened(117.327)
    assert (before.place.grid_id, before.place.grid_code) == (2, G2)
    assert (after.place.grid_id, after.place.grid_code) == (3, G1)
    assert before.opened.after.reported_at == dt.datetime(2025, 3, 3, 10, tzinfo=CHINA)
    assert before.opened.event["at"] == AT  # the event is when intake took it


def test_near_a_boundary_is_flagged() -> None:
    metres_per_deg = 111_320.0 * 0.8202  # cos(34.93°)
    near = opened(117.33 - 2.0 / metres_per_deg)
    assert near.boundary_flag is True and near.assignment()["boundary_distance_m"] == pytest.approx(2.0, abs=0.05)
    assert near.opened.event["data"]["boundary_flag"] is True
    far = opened(117.33 - 50.0 / metres_per_deg)
    assert far.boundary_flag is False
    inp = parse_input({"lon": 117.33 - 50.0 / metres_per_deg, "lat": 34.93, "category_code": "06010",
                       "source": "patrol"}, now=AT)
    options = IntakeOptions(boundary_m=60.0)
    route = route_for("06010")
    flagged = decide(inp, route, place_for(REF, inp, route, AT, options), at=AT, actor=PATROL, options=options)
    assert flagged is not None and flagged.boundary_flag is True


def test_outside_the_grids_the_level_follows_the_place() -> None:
    street = opened(117.37)  # in the street, in no community
    assert street.opened.after.level == "street" and street.place.located_in == "street"
    assert street.staff_id is None and street.note == "a street-level case: the dispatcher picks the handler"


def test_outside_the_district_is_no_decision() -> None:
    assert opened(117.50) is None
    inp = parse_input({"lon": 117.5, "lat": 34.93, "category_code": "06010", "source": "patrol"}, now=AT)
    err = outside_district(inp)
    assert isinstance(err, InvalidInputError) and err.rule == "outside the district"


def test_routing_targets_and_levels() -> None:
    company = opened(117.31, 34.91, "04001")
    assert (company.target, company.company_id, company.opened.after.level) == ("property_company", 40, "community")
    loose = opened(117.31, 34.95, "04002")  # a property category outside any complex: the grid worker
    assert (loose.target, loose.staff_id, loose.company_id) == ("grid_worker", 7, None)
    assert "no property company" in loose.note and loose.opened.after.level == "grid"
    police = opened(117.31, category="10001")
    assert (police.station_id, police.staff_id, police.opened.after.level) == (50, 51, "community")
    dept = opened(117.31, category="09006")
    assert (dept.department_id, dept.staff_id, dept.opened.after.level) == (60, None, "district")
    unstaffed = opened(117.34)  # G2 has no grid worker
    assert unstaffed.staff_id is None and unstaffed.note == "no grid worker is assigned here: the dispatcher assigns"


def test_a_reporter_loaded_later_leaves_the_actor_to_the_writer() -> None:
    d = opened(117.31, actor=None)
    event = d.opened.event
    assert event["actor_user_id"] is None and event["actor_staff_id"] is None and "actor_role" not in event["data"]


def test_routes_file_rules(tmp_path: Any) -> None:
    assert route_for("09006") == Route("09*", "department")
    assert route_for("07003").label == "department:370403-ZFJ"
    bad = tmp_path / "routing.csv"
    bad.write_text("category,target\n06010,grid_worker\n", encoding="utf-8")
    with pytest.raises(Exception, match="no '\\*' row"):
        load_routes(str(bad))


def test_place_asks_only_what_the_route_needs() -> None:
    inp = parse_input({"lon": 117.31, "lat": 34.91, "category_code": "06010", "source": "patrol"}, now=AT)
    place = place_for(REF, inp, route_for("06010"), AT, DEFAULT_OPTIONS)
    assert isinstance(place, Place) and place.worker_id == 7
    assert place.company_id is None and place.station_id is None and place.department_id is None
