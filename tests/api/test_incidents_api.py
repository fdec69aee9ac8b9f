"""The incident API: intake with idempotency, the lifecycle with roles and scope, merge, the tick."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from api.main import create_app
from layers.models import Department, Incident, IncidentEvent, User
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


# a department account reads only the cases assigned or whistled to its department (the map layer's and
# Open311's rule); any other case gets the answer of a case outside the account's area
@pytest.fixture
def department_cases(
    api: TestClient, headers: dict[str, dict[str, str]], world: World, session: Session,
    user_factory: Callable[..., User], auth_header: Callable[[User], dict[str, str]],
) -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    """Cases assigned or whistled to 执法局 (ZFJ, ``world.enforcement``) or 水务局 (SW), and their accounts."""
    water = Department(code="110105-SWJ", name="水务局", categories=[])
    session.add(water)
    session.commit()  # before intake: it reads the reference data on its own connection
    dept = {"ZFJ": world.enforcement.id, "SW": water.id}

    def whistle(department: str) -> dict[str, Any]:
        return {"department_id": dept[department], "kind": "routine", "whistled_at": "2026-01-01T08:00:00+08:00",
                "due_at": "2026-01-01T08:30:00+08:00", "accepted_at": None, "flagged_at": None}

    ids: dict[str, int] = {}
    for name, assignee, whistled in (  # name, assigned department, whistled departments
        ("assigned_zfj", "ZFJ", []),
        ("whistled_zfj", "SW", ["ZFJ"]),  # assigned to SW, but ZFJ was whistled for it
        ("assigned_sw", "SW", []),
        ("whistled_sw", None, ["SW"]),
        ("nobody", None, []),
    ):
        res = api.post(URL, json=body(description=name), headers=headers["patrol"])
        assert res.status_code == 201, res.text
        ids[name] = res.json()["incident"]["id"]
        session.execute(
            text("UPDATE incident SET status = 'registered', assignee_department_id = :a,"
                 " whistles = CAST(:w AS jsonb) WHERE id = :id"),
            {"a": dept[assignee] if assignee else None, "w": json.dumps([whistle(w) for w in whistled]),
             "id": ids[name]},
        )
    accounts: dict[str, dict[str, str]] = {}
    for username, department in (("dept_zfj", "ZFJ"), ("dept_sw", "SW"), ("dept_none", None)):
        user = user_factory("department", "110105000000", username=username)
        user.department_id = dept[department] if department else None
        session.commit()
        accounts[username] = auth_header(user)
    session.commit()
    return accounts, ids


def test_department_reads_only_cases_assigned_or_whistled_to_it(
    api: TestClient, headers: dict[str, dict[str, str]],
    department_cases: tuple[dict[str, dict[str, str]], dict[str, int]],
) -> None:
    accounts, ids = department_cases
    zfj = accounts["dept_zfj"]
    for name in ("assigned_zfj", "whistled_zfj"):
        got = api.get(f"{URL}/{ids[name]}", headers=zfj)
        assert got.status_code == 200, got.text
        assert got.json()["id"] == ids[name] and got.json()["events"][0]["action"] == "report"
    for name in ("assigned_sw", "whistled_sw", "nobody"):  # another department's, or no department's
        got = api.get(f"{URL}/{ids[name]}", headers=zfj)
        # exactly the answer of a case outside the account's area (dispatcher of community B)
        outside = api.get(f"{URL}/{ids[name]}", headers=headers["dispatcher_b"])
        assert got.status_code == outside.status_code == 403, got.text
        assert got.json() == outside.json()
        assert got.json()["error"]["rule"] == "scope"
        assert api.get(f"{URL}/{ids[name]}", headers=headers["dispatcher"]).status_code == 200
    assert {n for n in ids if api.get(f"{URL}/{ids[n]}", headers=accounts["dept_sw"]).status_code == 200} == {
        "whistled_zfj", "assigned_sw", "whistled_sw"}
    # an account bound to no department reads none; a missing case is 404 as for everyone
    assert api.get(f"{URL}/{ids['assigned_zfj']}", headers=accounts["dept_none"]).status_code == 403
    assert api.get(f"{URL}/999999", headers=zfj).status_code == 404


def test_department_cannot_act_on_a_case_not_its_own(
    api: TestClient, department_cases: tuple[dict[str, dict[str, str]], dict[str, int]],
) -> None:
    """A case the department may not read it may not act on either — and the refusal is the scope's
    403, before the state machine's 409 could tell the case's status."""
    accounts, ids = department_cases
    zfj = accounts["dept_zfj"]
    for case, action in (("whistled_sw", "department_accept"), ("assigned_sw", "dispatch"),
                         ("assigned_sw", "close"), ("nobody", "close")):
        res = act(api, zfj, ids[case], action)
        assert res.status_code == 403 and res.json()["error"]["rule"] == "scope", (case, action, res.json())
        assert "registered" not in res.text  # nothing about the case's state
    res = api.post(f"/api/v1/incidents/{ids['assigned_sw']}/merge", json={"merge_ids": [ids["nobody"]]},
                   headers=zfj)
    assert res.status_code == 403 and res.json()["error"]["rule"] == "scope"
    # its own cases: the state machine decides (a whistle it may answer; a step its role may not take)
    assert act(api, zfj, ids["whistled_zfj"], "department_accept").status_code == 200
    res = act(api, zfj, ids["assigned_zfj"], "dispatch")
    assert res.status_code == 403 and res.json()["error"]["rule"] == "role table"


def test_intake_uses_the_incident_settings_the_app_started_with(
    api_settings: Settings, headers: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GISGRID_INCIDENTS_DUPLICATE_M", "250")
    monkeypatch.setenv("GISGRID_INCIDENTS_INTAKE_BATCH", "3")
    settings = Settings(**api_settings.model_dump(exclude={"incidents"}))  # GISGRID_INCIDENTS_* read here …
    monkeypatch.setenv("GISGRID_INCIDENTS_DUPLICATE_M", "10")  # … and only here
    app = create_app(settings)
    with TestClient(app) as c:
        first = c.post(URL, json=body(), headers=headers["patrol"]).json()
        near = c.post(URL, json=body(lon=116.31 + 200 / 85_390), headers=headers["patrol"]).json()  # 200 m east
        runtime = app.state.incidents
        assert runtime.options.duplicate_m == 250 and runtime.settings.intake_batch == 3
        assert [d["id"] for d in near["possible_duplicates"]] == [first["incident"]["id"]]
    assert not hasattr(app.state, "incidents")  # the lifespan closed the intake pool and took it away
