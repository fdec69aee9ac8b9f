"""/api/v1/stations writes and /api/v1/coverage reads: roles and areas, bad input (422 naming field and rule,
nothing written), illegal transitions (409), history, figures and rollout as JSON and CSV, the building layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.models import AdminArea, User
from tests.coverage_world import World, build_world

Header = Callable[[User], dict[str, str]]


@pytest.fixture
def world(session: Session, district: dict[str, AdminArea]) -> World:
    a, b = district["A"], district["B"]
    w = build_world(session, origin=(116.35, 39.93), community={"A": (a.id, a.code), "B": (b.id, b.code)})
    session.commit()
    return w


@pytest.fixture
def headers(user_factory: Callable[..., User], auth_header: Header) -> dict[str, dict[str, str]]:
    return {
        "admin": auth_header(user_factory("admin")),
        "planner_a": auth_header(user_factory("planner", "110105001001")),
        "leader": auth_header(user_factory("leader", "110105001000")),
        "patrol_b": auth_header(user_factory("patrol", "110105001002")),
    }


def body(world: World, spot: str = "row_a", **extra: Any) -> dict[str, Any]:
    lon, lat = world.spots[spot]
    return {"name": "幸福红心驿站", "kind": "red_heart_station", "lon": lon, "lat": lat, **extra}


def count(session: Session, table: str) -> int:
    return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_who_may_write(client: TestClient, world: World, headers: dict[str, dict[str, str]]) -> None:
    assert client.post("/api/v1/stations", json=body(world)).status_code == 401
    denied = client.post("/api/v1/stations", json=body(world), headers=headers["leader"])
    assert denied.status_code == 403 and denied.json()["error"]["field"] == "role"
    elsewhere = client.post("/api/v1/stations", json=body(world, "row_b"), headers=headers["planner_a"])
    assert elsewhere.status_code == 403 and elsewhere.json()["error"]["code"] == "permission_denied"
    made = client.post("/api/v1/stations", json=body(world, opened_on="2025-04-01"), headers=headers["planner_a"])
    assert made.status_code == 201, made.text
    station = made.json()
    assert (station["status"], station["community_code"], station["opened_on"]) == ("open", "110105001001",
                                                                                     "2025-04-01")
    assert station["history"][0]["recorded_by"] == "planner_110105001001"
    assert station["coverage"][0]["kind"] == "red_heart_station"
    # reading: everyone logged in, inside their area
    assert client.get(f"/api/v1/stations/{station['id']}", headers=headers["leader"]).status_code == 200
    assert client.get(f"/api/v1/stations/{station['id']}", headers=headers["patrol_b"]).status_code == 403
    assert client.get("/api/v1/stations/99999", headers=headers["admin"]).status_code == 404


BAD = [
    ({"kind": "teahouse"}, "kind", "kind in ("),
    ({"planned_on": "2025-05-01", "building_since": "2025-03-01"}, "building_since", "dates in order"),
    ({"status": "open"}, "opened_on", "status open has its date"),
    ({"opened_on": "2999-01-01"}, "opened_on", "a status date is not in the future"),
    ({"lon": 120.5, "lat": 30.2}, "location", "a station stands inside a community of the district"),
    ({"lon": 39.93, "lat": 116.34}, "lat", "longitude first"),
    ({"crs": "EPSG:3857"}, "crs", "crs in ("),
    ({"service_radius_m": 0}, "service_radius_m", "≤ service_radius_m ≤"),
]


def test_bad_input_names_field_and_rule_and_writes_nothing(
    client: TestClient, session: Session, world: World, headers: dict[str, dict[str, str]]
) -> None:
    before = (count(session, "station"), count(session, "station_status"), count(session, "audit_log"))
    for change, field, rule in BAD:
        answer = client.post("/api/v1/stations", json={**body(world), **change}, headers=headers["admin"])
        assert answer.status_code == 422, (change, answer.text)
        error = answer.json()["error"]
        assert error["field"] == field and rule in error["rule"], (change, error)
        assert (count(session, "station"), count(session, "station_status"), count(session, "audit_log")) == before


def test_unknown_body_fields_and_types_are_422(client: TestClient, world: World,
                                               headers: dict[str, dict[str, str]]) -> None:
    answer = client.post("/api/v1/stations", json={**body(world), "colour": "red"}, headers=headers["admin"])
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "colour"
    answer = client.post("/api/v1/stations", json={**body(world), "lon": "east"}, headers=headers["admin"])
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "lon"


def test_status_changes_edits_and_history(client: TestClient, session: Session, world: World,
                                          headers: dict[str, dict[str, str]]) -> None:
    h = headers["planner_a"]
    sid = client.post("/api/v1/stations", json=body(world, planned_on="2025-01-10"), headers=h).json()["id"]
    url = f"/api/v1/stations/{sid}"
    building = client.post(f"{url}/status", json={"status": "building", "since": "2025-02-01"}, headers=h)
    assert building.status_code == 200 and building.json()["coverage"] == []  # nothing opened or closed
    early = client.post(f"{url}/status", json={"status": "open", "since": "2025-01-31"}, headers=h)
    assert early.status_code == 422 and early.json()["error"]["field"] == "since"
    assert client.get("/api/v1/coverage/figures", headers=h).status_code == 200  # the stored table is current
    opened = client.post(f"{url}/status", json={"status": "open", "since": "2025-03-15", "note": "剪彩"}, headers=h)
    assert opened.status_code == 200 and opened.json()["coverage"][0]["mode"] == "incremental"
    back = client.post(f"{url}/status", json={"status": "building", "since": "2025-04-01"}, headers=h)
    assert back.status_code == 409 and back.json()["error"]["details"]["current_status"] == "open"
    moved = client.patch(url, json={"lon": world.spots["u90"][0], "lat": world.spots["u90"][1], "name": "新址"},
                         headers=h)
    assert moved.status_code == 200 and moved.json()["name"] == "新址"
    assert client.patch(url, json={"lon": world.spots["row_b"][0], "lat": world.spots["row_b"][1]},
                        headers=h).status_code == 403  # into community B: outside the planner's area
    assert client.patch(url, json={"lon": 116.3}, headers=h).json()["error"]["field"] == "lat"
    got = client.get(f"{url}/history", headers=headers["leader"]).json()
    assert [(e["status"], e["since"]) for e in got] == [("planned", "2025-01-10"), ("building", "2025-02-01"),
                                                         ("open", "2025-03-15")]
    assert got[-1]["note"] == "剪彩"
    assert session.execute(text("SELECT count(*) FROM audit_log WHERE entity = 'station'")).scalar() == 4


def test_coverage_figures_rollout_and_buildings(client: TestClient, world: World,
                                                headers: dict[str, dict[str, str]]) -> None:
    h = headers["admin"]
    assert client.post("/api/v1/stations", json=body(world, opened_on="2025-04-01"), headers=h).status_code == 201
    fig = client.get("/api/v1/coverage/figures", params={"level": "grid", "code": "110105001001"},
                     headers=headers["leader"])
    assert fig.status_code == 200, fig.text
    data = fig.json()
    assert data["totals"]["red_heart_station_households_covered"] == 3 * 50 + 30
    assert sum(r["households"] for r in data["rows"]) == data["totals"]["households"]
    past = client.get("/api/v1/coverage/figures", params={"as_of": "2025-03-31"}, headers=h).json()
    assert past["source"] == "history" and past["totals"]["red_heart_station_households_covered"] == 0
    csv = client.get("/api/v1/coverage/figures", params={"format": "csv", "level": "street"}, headers=h)
    assert csv.headers["content-type"].startswith("text/csv") and csv.content.startswith(b"\xef\xbb\xbfcode,name")
    # a patrol of community B sees B by default, and not A
    mine = client.get("/api/v1/coverage/figures", headers=headers["patrol_b"]).json()
    assert mine["code"] == "110105001002" and [r["code"] for r in mine["rows"]] == ["110105001002"]
    assert client.get("/api/v1/coverage/figures", params={"code": "110105001001"},
                      headers=headers["patrol_b"]).status_code == 403
    bad = client.get("/api/v1/coverage/figures", params={"as_of": "2999-01-01"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "as_of"
    assert client.get("/api/v1/coverage/figures", params={"level": "planet"}, headers=h).status_code == 422
    curve = client.get("/api/v1/coverage/rollout", params={"from": "2025-01-01"}, headers=h).json()
    assert curve["months"][2]["stations_open"] == 0 and curve["months"][3]["stations_open"] == 1
    assert curve["target"]["complexes_share"] == 1.0 and "message" in curve["projection"]
    bad = client.get("/api/v1/coverage/rollout", params={"kind": "teahouse"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "kind"
    layer = client.get("/api/v1/coverage/buildings", params={"kind": "red_heart_station", "limit": 5},
                       headers=headers["patrol_b"])
    assert layer.headers["content-type"] == "application/geo+json"
    fc = layer.json()
    assert fc["numberMatched"] == 6 and len(fc["features"]) == 5  # B: "far", "island" and four of the row
    assert all(f["properties"]["community_code"] == "110105001002" for f in fc["features"])
    assert client.get("/api/v1/coverage/buildings").status_code == 401
