"""The incident API: intake with idempotency, the lifecycle with roles and scope, merge, the tick."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.main import create_app
from layers.models import Incident, IncidentEvent, User
from layers.settings import Settings
from tests.integration.test_incident_intake import A_CODE, B_CODE, G1, World, build_world

URL = "/api/v1/incidents"


@pytest.fixture
def api(api_settings: Settings, clean_db: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def headers(
    world: World, user_factory: Callable[..., User], auth_header: Callable[[User], dict[str, str]],
    session: Session,
) -> dict[str, dict[str, str]]:
    patrol = user_factory("patrol", A_CODE)
    patrol.staff_id = world.worker.id
    session.commit()
    return {
        "patrol": auth_header(patrol),
        "dispatcher": auth_header(user_factory("dispatcher", "110105001000")),
        "dispatcher_b": auth_header(user_factory("dispatcher", B_CODE, username="dispatcher_b")),
        "admin": auth_header(user_factory("admin")),
        "planner": auth_header(user_factory("planner")),
    }


def body(**extra: Any) -> dict[str, Any]:
    return {"lon": 116.31, "lat": 39.93, "category_code": "06010", "source": "patrol",
            "description": "暴露垃圾", "photos": ["https://example.org/p/1.jpg"], **extra}


def act(api: TestClient, h: dict[str, str], incident_id: int, action: str, note: str = "",
        **params: Any) -> Any:
    return api.post(f"{URL}/{incident_id}/actions/{action}", json={"note": note, "params": params}, headers=h)


def test_created_then_the_same_answer_on_retry(api: TestClient, headers: dict[str, dict[str, str]],
                                                clean_db: Engine) -> None:
    h = {**headers["patrol"], "Idempotency-Key": "phone-7f3a"}
    first = api.post(URL, json=body(), headers=h)
    assert first.status_code == 201, first.text
    again = api.post(URL, json=body(), headers=h)
    assert again.status_code == 200 and again.json() == first.json()
    data = first.json()
    assert data["assignment"]["grid_code"] == G1 and data["incident"]["status"] == "reported"
    with Session(clean_db) as s:
        assert len(s.scalars(select(Incident)).all()) == 1
    # the key in the body works the same way
    third = api.post(URL, json=body(idempotency_key="phone-7f3a"), headers=headers["patrol"])
    assert third.status_code == 200 and third.json() == first.json()


def test_intake_errors(api: TestClient, headers: dict[str, dict[str, str]]) -> None:
    assert api.post(URL, json=body()).status_code == 401
    outside = api.post(URL, json=body(lon=116.6), headers=headers["patrol"])
    assert outside.status_code == 422 and outside.json()["error"]["rule"] == "outside the district"
    assert api.post(URL, json=body(), headers=headers["planner"]).status_code == 403
    naive = api.post(URL, json=body(reported_at="2025-09-01T10:00:00"), headers=headers["patrol"])
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "reported_at"


def test_full_happy_path_writes_every_event(api: TestClient, headers: dict[str, dict[str, str]],
                                            world: World, clean_db: Engine) -> None:
    r = api.post(URL, json=body(), headers=headers["patrol"])
    iid = r.json()["incident"]["id"]
    d, p = headers["dispatcher"], headers["patrol"]
    steps = [(d, "register", ""), (d, "dispatch", "请网格员处理"), (p, "accept", ""), (p, "start", "到场"),
             (p, "resolve", "已清理"), (d, "verify", "核查通过"), (d, "close", "")]
    for h, action, note in steps:
        res = act(api, h, iid, action, note)
        assert res.status_code == 200, (action, res.text)
    assert res.json()["assignee_staff_id"] == world.worker.id  # dispatch took the proposed assignee
    rated = act(api, d, iid, "rate", "回访满意", satisfaction=5)
    assert rated.status_code == 200 and rated.json()["status"] == "rated"
    got = api.get(f"{URL}/{iid}", headers=d).json()
    assert [e["action"] for e in got["events"]] == ["report"] + [s[1] for s in steps] + ["rate"]
    with Session(clean_db) as s:
        events = s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == iid)
                           .order_by(IncidentEvent.id)).all()
        assert all(e.actor_user_id is not None and e.at is not None for e in events)
        assert [e.note for e in events if e.action == "resolve"] == ["已清理"]
        assert events[-1].data["satisfaction"] == 5


def test_illegal_transition_is_409_with_the_allowed_actions(api: TestClient,
                                                            headers: dict[str, dict[str, str]]) -> None:
    iid = api.post(URL, json=body(), headers=headers["patrol"]).json()["incident"]["id"]
    res = act(api, headers["dispatcher"], iid, "close")
    assert res.status_code == 409
    err = res.json()["error"]
    assert err["rule"] == "illegal transition"
    assert set(err["details"]["allowed"]) >= {"register", "reject"}


def test_role_and_scope_are_403(api: TestClient, headers: dict[str, dict[str, str]]) -> None:
    iid = api.post(URL, json=body(), headers=headers["patrol"]).json()["incident"]["id"]
    res = act(api, headers["patrol"], iid, "register")
    assert res.status_code == 403 and res.json()["error"]["rule"] == "role table"
    res = act(api, headers["dispatcher_b"], iid, "register")
    assert res.status_code == 403 and res.json()["error"]["rule"] == "scope"
    assert api.get(f"{URL}/{iid}", headers=headers["dispatcher_b"]).status_code == 403
    assert api.get(f"{URL}/999999", headers=headers["admin"]).status_code == 404


def test_tick_escalates_an_overdue_case(api: TestClient, headers: dict[str, dict[str, str]],
                                        clean_db: Engine) -> None:
    iid = api.post(URL, json=body(), headers=headers["patrol"]).json()["incident"]["id"]
    d = headers["dispatcher"]
    assert act(api, d, iid, "register").status_code == 200
    assert act(api, d, iid, "dispatch").status_code == 200
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    res = api.post(f"{URL}/tick", json={"now": later}, headers=headers["admin"])
    assert res.status_code == 200, res.text
    assert res.json()["escalated"] == 1 and res.json()["incident_ids"] == [iid]
    got = api.get(f"{URL}/{iid}", headers=d).json()
    assert got["level"] == "community" and got["status"] == "dispatched" and got["escalations"] == 1
    last = got["events"][-1]
    assert last["action"] == "escalate" and last["actor_user_id"] is None and last["data"]["actor_role"] == "system"
    assert api.post(f"{URL}/tick", json={}, headers=d).status_code == 403


def test_dispatcher_merges_duplicates(api: TestClient, headers: dict[str, dict[str, str]]) -> None:
    first = api.post(URL, json=body(), headers=headers["patrol"]).json()
    second = api.post(URL, json=body(lon=116.3102), headers=headers["patrol"]).json()
    assert [d["id"] for d in second["possible_duplicates"]] == [first["incident"]["id"]]
    keep, dup = first["incident"]["id"], second["incident"]["id"]
    res = api.post(f"{URL}/{keep}/merge", json={"merge_ids": [dup]}, headers=headers["dispatcher"])
    assert res.status_code == 200, res.text
    merged = api.get(f"{URL}/{dup}", headers=headers["dispatcher"]).json()
    assert merged["status"] == "rejected" and merged["merged_into_id"] == keep
    assert merged["events"][-1]["action"] == "merge"
    # a merged case is no longer offered as a duplicate
    third = api.post(URL, json=body(lon=116.3101), headers=headers["patrol"]).json()
    assert [d["id"] for d in third["possible_duplicates"]] == [keep]
