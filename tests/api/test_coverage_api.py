"""GET/POST /api/v1/coverage/suggestions, GET /api/v1/complexes/indicators and the coverage, rollout and
complex map pages: roles, scope, bad input, JSON and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gisgrid.synth import generate_district
from layers.demo import load_district
from layers.models import User

TODAY = dt.date(2026, 11, 23)
Header = Callable[[User], dict[str, str]]


@pytest.fixture
def areas(clean_db: Engine, session: Session) -> dict[str, str]:
    load_district(clean_db, generate_district(seed=5, households=8_000, today=TODAY))
    rows = session.execute(text("SELECT code, level FROM admin_area ORDER BY code")).all()
    streets = [c for c, lv in rows if lv == "street"]
    communities = [c for c, lv in rows if lv == "community"]
    return {"district": next(c for c, lv in rows if lv == "district"), "street": streets[0],
            "other_street": streets[-1], "community": next(c for c in communities if c.startswith(streets[0][:9]))}


def test_suggestions_by_role_and_scope(client: TestClient, areas: dict[str, str], user_factory: Callable[..., User],
                                       auth_header: Header) -> None:
    planner = auth_header(user_factory("planner", areas["street"]))
    url = "/api/v1/coverage/suggestions"
    got = client.get(url, params={"kind": "service_station", "count": 2, "date": TODAY.isoformat()}, headers=planner)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["area"]["code"] == areas["street"] and body["method"] == "mclp" and body["threshold_m"] == 500
    assert 1 <= len(body["suggestions"]) <= 2
    assert all(s["adds_households"] > 0 for s in body["suggestions"])
    assert body["households"]["covered_after"] == body["households"]["covered_before"] + sum(
        s["adds_households"] for s in body["suggestions"])
    full = client.get(url, params={"kind": "service_station", "method": "lscp"}, headers=planner).json()
    assert full["households"]["covered_after"] + full["households"]["unreachable"] == full["households"]["total"]

    # POST: the planner's own candidate points, and nothing else
    pick = body["suggestions"][0]
    posted = client.post(url, headers=planner, json={
        "kind": "service_station", "count": 1, "date": TODAY.isoformat(),
        "candidates": [{"lon": pick["lon"], "lat": pick["lat"], "name": "空置门面"}, {"lon": 0.0, "lat": 0.0}],
    })
    assert posted.status_code == 200, posted.text
    assert posted.json()["candidates"] == {"given": 2}
    assert [s["name"] for s in posted.json()["suggestions"]] == ["空置门面"]

    # outside the planner's street, a role that may not, a count missing or out of range
    assert client.get(url, params={"count": 1, "area": areas["other_street"]}, headers=planner).status_code == 403
    dispatcher = auth_header(user_factory("dispatcher", areas["street"]))
    assert client.get(url, params={"count": 1}, headers=dispatcher).status_code == 403
    assert client.get(url, params={"count": 1}).status_code == 401
    missing = client.get(url, params={"kind": "service_station"}, headers=planner)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "count"
    assert client.get(url, params={"count": 0}, headers=planner).status_code == 422
    # every kind has a walking threshold in the coverage settings (police rooms 500 m); a threshold out of range
    # or an unknown kind is refused naming the field
    assert client.get(url, params={"kind": "police_room", "count": 1}, headers=planner).status_code == 200
    too_far = client.get(url, params={"count": 1, "threshold_m": 50_000}, headers=planner)
    assert too_far.status_code == 422 and too_far.json()["error"]["field"] == "threshold_m"
    unknown = client.get(url, params={"count": 1, "kind": "kiosk"}, headers=planner)
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "kind"
    bad_point = client.post(url, headers=planner, json={"count": 1, "candidates": [{"lon": 200, "lat": 0}]})
    assert bad_point.status_code == 422


def test_indicators_json_and_csv(client: TestClient, areas: dict[str, str], user_factory: Callable[..., User],
                                 auth_header: Header) -> None:
    leader = auth_header(user_factory("leader", areas["district"]))
    url = "/api/v1/complexes/indicators"
    by_street = client.get(url, params={"level": "street"}, headers=leader)
    assert by_street.status_code == 200, by_street.text
    body = by_street.json()
    assert body["totals"]["complexes"] == sum(r["complexes"] for r in body["rows"]) > 0
    assert body["owners_committee_target"] == 0.9
    assert all(r["name"] for r in body["rows"])
    as_csv = client.get(url, params={"level": "community", "code": areas["street"], "format": "csv"}, headers=leader)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[-1]["code"] == "total" and all(r["code"].startswith(areas["street"][:9]) for r in rows[:-1])
    assert int(rows[-1]["complexes"]) == sum(int(r["complexes"]) for r in rows[:-1])
    wrong = client.get(url, params={"level": "street", "code": areas["community"]}, headers=leader)
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "level"
    planner = auth_header(user_factory("planner", areas["street"]))
    assert client.get(url, params={"code": areas["other_street"]}, headers=planner).status_code == 403


def test_map_pages(client: TestClient, areas: dict[str, str], user_factory: Callable[..., User],
                   auth_header: Header) -> None:
    leader = auth_header(user_factory("leader", areas["district"]))
    coverage = client.get("/map/coverage", params={"kind": "service_station", "suggest": 2}, headers=leader)
    assert coverage.status_code == 200, coverage.text
    assert "gg-isochrone" in coverage.text and "gg-suggestion" in coverage.text
    assert "/static/vendor/leaflet.heat/leaflet-heat.js" in coverage.text
    rollout = client.get("/map/rollout", params={"lang": "en"}, headers=leader)
    assert rollout.status_code == 200 and "Red heart station: rollout" in rollout.text
    assert "/static/vendor/leaflet.timedimension/leaflet.timedimension.min.js" in rollout.text
    choropleth = client.get("/map/complexes", params={"indicator": "professional"}, headers=leader)
    assert choropleth.status_code == 200 and "gg-choropleth" in choropleth.text
    # a page without a session goes to the login page (api/session.py), not a JSON 401
    no_login = client.get("/map/coverage", follow_redirects=False)
    assert no_login.status_code == 303 and no_login.headers["location"] == "/login?next=%2Fmap%2Fcoverage"
    patrol = auth_header(user_factory("patrol", areas["community"]))
    assert client.get("/map/rollout", headers=patrol).status_code == 403
