"""The patrol API over real PostGIS: who may plan and read what, idempotent check-in uploads, 422s that
name the field and the rule, compliance as JSON and CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from layers.accounts import create_user
from layers.models import User
from tests.api.conftest import PASSWORD
from tests.patrol_seed import CA, CB, G1, WEEK, X0, Y0, World, seed


def _world(session: Session) -> World:
    world = seed(session)
    session.commit()
    return world


def _user(session: Session, role: str, scope: str | None, staff_id: int | None = None, name: str = "") -> User:
    user = create_user(session, username=name or f"{role}_{scope or 'all'}_{staff_id or 0}", password=PASSWORD,
                       role=role, scope_area_code=scope, staff_id=staff_id)
    session.commit()
    return user


def test_plan_then_read_own_route_only(client: TestClient, session: Session,
                                       auth_header: Callable[[User], dict[str, str]]) -> None:
    world = _world(session)
    planner = _user(session, "planner", "110105001000")
    answer = client.post("/api/v1/patrol/plans", json={"week": "2026-12-01", "community_code": CA},
                         headers=auth_header(planner))
    assert answer.status_code == 200, answer.text
    assert answer.json()["week"] == WEEK.isoformat() and len(answer.json()["plans"]) == 2
    w1 = _user(session, "patrol", CA, world.workers["w1"])
    route = client.get("/api/v1/me/route", params={"date": WEEK.isoformat()}, headers=auth_header(w1))
    assert route.status_code == 200
    body = route.json()
    assert body["plans"][0]["grid_code"] == G1 and any(f["properties"]["kind"] == "leg" for f in body["features"])
    other = client.get("/api/v1/me/route", params={"date": WEEK.isoformat(), "staff_id": world.workers["w2"]},
                       headers=auth_header(w1))
    assert other.status_code == 403 and other.json()["error"]["field"] == "staff_id"
    area = client.get("/api/v1/me/area", headers=auth_header(w1))
    assert area.status_code == 200 and area.json()["staff"]["id"] == world.workers["w1"]


def test_leaders_read_their_area_only(client: TestClient, session: Session,
                                      auth_header: Callable[[User], dict[str, str]]) -> None:
    world = _world(session)
    own = _user(session, "leader", CA)
    other = _user(session, "leader", CB)
    q = {"staff_id": world.workers["w1"], "date": WEEK.isoformat()}
    assert client.get("/api/v1/me/route", params=q, headers=auth_header(own)).status_code == 200
    assert client.get("/api/v1/me/route", params=q, headers=auth_header(other)).status_code == 403
    assert client.get("/api/v1/me/area", params={"staff_id": 999_999}, headers=auth_header(other)).status_code == 403
    missing = client.get("/api/v1/me/route", headers=auth_header(own))
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "staff_id"
    department = _user(session, "department", None)
    assert client.get("/api/v1/me/area", params={"staff_id": q["staff_id"]},
                      headers=auth_header(department)).status_code == 403
    patrol = _user(session, "patrol", CA)  # a patrol login not linked to staff
    assert client.get("/api/v1/me/area", headers=auth_header(patrol)).status_code == 403
    assert client.post("/api/v1/patrol/plans", json={"week": "2026-12-01", "community_code": CA},
                       headers=auth_header(other)).status_code == 403
    assert client.post("/api/v1/patrol/plans", json={"week": "2026-12-01"},
                       headers=auth_header(patrol)).status_code == 403


def test_checkin_batch_twice_and_bad_input(client: TestClient, session: Session,
                                           auth_header: Callable[[User], dict[str, str]]) -> None:
    world = _world(session)
    w1 = _user(session, "patrol", CA, world.workers["w1"])
    now = dt.datetime.now(dt.UTC)
    batch = {"checkins": [
        {"id": f"batch-one-{k}", "at": (now - dt.timedelta(minutes=10 - k)).isoformat(), "lon": X0 + 0.0005,
         "lat": Y0 + 0.0002, "accuracy_m": 6} for k in range(3)]}
    first = client.post("/api/v1/patrol/checkins", json=batch, headers=auth_header(w1))
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == 3
    second = client.post("/api/v1/patrol/checkins", json=batch, headers=auth_header(w1))
    assert second.json()["stored"] == 0 and second.json()["already_stored"] == 3
    bad = {"checkins": [*batch["checkins"], {"id": "batch-one-9", "at": now.isoformat(), "lon": X0, "lat": Y0,
                                             "crs": "bd09"}]}
    refused = client.post("/api/v1/patrol/checkins", json=bad, headers=auth_header(w1))
    assert refused.status_code == 422
    err = refused.json()["error"]
    assert err["field"] == "checkins[3].crs" and err["rule"] == "crs is wgs84 or gcj02"
    leader = _user(session, "leader", CA)
    assert client.post("/api/v1/patrol/checkins", json=batch, headers=auth_header(leader)).status_code == 403


def test_compliance_json_and_csv(client: TestClient, session: Session,
                                 auth_header: Callable[[User], dict[str, str]]) -> None:
    world = _world(session)
    leader = _user(session, "leader", CA)
    client.post("/api/v1/patrol/plans", json={"week": WEEK.isoformat()}, headers=auth_header(leader))
    data = client.get("/api/v1/patrol/compliance", params={"week": WEEK.isoformat()}, headers=auth_header(leader))
    assert data.status_code == 200 and {r["grid_code"] for r in data.json()["rows"]} == {G1, CA + "002"}
    csv = client.get("/api/v1/patrol/compliance.csv", params={"week": WEEK.isoformat()}, headers=auth_header(leader))
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbfstaff_id,staff_name,grid_code")
    assert csv.content.count(b"\r\n") == 3
    w1 = _user(session, "patrol", CA, world.workers["w1"])
    own = client.get("/api/v1/patrol/compliance", params={"week": WEEK.isoformat()}, headers=auth_header(w1))
    assert [r["staff_id"] for r in own.json()["rows"]] == [world.workers["w1"]]
