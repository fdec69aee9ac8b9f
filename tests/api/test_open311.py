"""Open311 GeoReport v2: field names exactly as the spec, the open/closed mapping, errors as lists, reporting.

Spec: http://wiki.open311.org/GeoReport_v2/ — services (GET services.json), service requests (GET
requests.json, GET requests/{id}.json) and POST requests.json.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.main import create_app
from gisgrid.catalog import categories
from layers.models import AdminArea, User
from layers.settings import Settings
from tests.api.conftest import make_departments

SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
POST_FIELDS = {"service_request_id", "service_notice", "account_id"}
INTAKE_KEY = "k-intake-0123456789"
READER_KEY = "k-reader-community-a"
PLANNER_KEY = "k-planner"
BASE = "/open311/v2"


@pytest.fixture
def o311(
    api_settings: Settings,
    district: dict[str, AdminArea],
    user_factory: Callable[..., User],
) -> Iterator[TestClient]:
    user_factory("dispatcher", "110105000000", username="open311_intake")
    user_factory("dispatcher", "110105001001", username="open311_reader_a")
    user_factory("planner", None, username="open311_planner")
    settings = api_settings.model_copy(
        update={
            "open311_keys": f"{INTAKE_KEY}:open311_intake,{READER_KEY}:open311_reader_a,"
            f"{PLANNER_KEY}:open311_planner"
        }
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield client


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def seeded(session: Session, district: dict[str, AdminArea]) -> dict[str, int]:
    """Three cases in community A (open, rated, rejected) and one in community B."""
    a, b, street = district["A"], district["B"], district["street"]
    now = _now()
    rows = [
        ("open", "06010", "in_progress", a.id, 116.32, 39.93, now - dt.timedelta(days=2), None, []),
        ("rated", "09006", "rated", a.id, 116.33, 39.92, now - dt.timedelta(days=10), now - dt.timedelta(days=9),
         ["https://example.org/photo/1.jpg"]),
        ("rejected", "06010", "rejected", a.id, 116.34, 39.94, now - dt.timedelta(days=5), None, []),
        ("other", "04002", "registered", b.id, 116.37, 39.93, now - dt.timedelta(days=1), None, []),
    ]
    ids: dict[str, int] = {}
    for name, code, status, community_id, x, y, reported, closed, photos in rows:
        new_id = session.execute(
            text(
                "INSERT INTO incident (category_code, source, description, photos, reported_at, community_id,"
                " street_id, level, status, deadline_at, closed_at, satisfaction, geom) VALUES"
                " (:code, 'resident', :desc, CAST(:photos AS jsonb), :reported, :community, :street, 'community',"
                " :status, :deadline, :closed, :sat, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
            ),
            {
                "code": code, "desc": f"{name} 案件", "photos": json.dumps(photos),
                "reported": reported, "community": community_id, "street": street.id, "status": status,
                "deadline": reported + dt.timedelta(days=3), "closed": closed,
                "sat": 5 if status == "rated" else None, "x": x, "y": y,
            },
        ).scalar_one()
        ids[name] = new_id
        session.execute(
            text(
                "INSERT INTO incident_event (incident_id, action, from_status, to_status, at, note)"
                " VALUES (:i, 'report', NULL, 'reported', :at, '上报'),"
                " (:i, :action, 'reported', :status, :later, :note)"
            ),
            {
                "i": new_id, "at": reported, "later": reported + dt.timedelta(hours=5), "status": status,
                "action": "reject" if status == "rejected" else "register",
                "note": "不属于受理范围" if status == "rejected" else "处理",
            },
        )
    session.commit()
    return ids


def get(client: TestClient, path: str, key: str | None = READER_KEY, **params: Any) -> Any:
    if key is not None:
        params["api_key"] = key
    return client.get(f"{BASE}{path}", params=params)


def assert_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"code", "description"} and body[0]["code"] == status
    return str(body[0]["description"])


# --------------------------------------------------------------------------------------- services


def test_services_list_has_the_spec_fields(o311: TestClient) -> None:
    got = o311.get(f"{BASE}/services.json")  # public: no key
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/json")
    services = got.json()
    assert [s["service_code"] for s in services] == sorted(categories())
    for s in services:
        assert set(s) == SERVICE_FIELDS
        assert s["metadata"] is False and s["type"] == "realtime"
    by_code = {s["service_code"]: s for s in services}
    assert by_code["06010"]["service_name"] == "暴露垃圾" and by_code["06010"]["group"] == "市容环境"

    definition = o311.get(f"{BASE}/services/06010.json")
    assert definition.json() == {"service_code": "06010", "attributes": []}
    assert_error(o311.get(f"{BASE}/services/99999.json"), 404)


# --------------------------------------------------------------------------------------- requests


def test_requests_list_has_the_spec_fields(o311: TestClient, seeded: dict[str, int]) -> None:
    got = get(o311, "/requests.json")
    assert got.status_code == 200, got.text
    items = got.json()
    assert {r["service_request_id"] for r in items} == {str(seeded[k]) for k in ("open", "rated", "rejected")}
    for r in items:
        assert set(r) == REQUEST_FIELDS
        assert isinstance(r["service_request_id"], str)
        assert isinstance(r["lat"], float) and isinstance(r["long"], float)
        assert dt.datetime.fromisoformat(r["requested_datetime"]).utcoffset() == dt.timedelta(hours=8)
        assert r["address"] == "演示街道 甲社区" and r["agency_responsible"] == "甲社区"
    by_id = {r["service_request_id"]: r for r in items}
    open_one = by_id[str(seeded["open"])]
    assert open_one["status"] == "open" and open_one["status_notes"].startswith("处置中")
    assert (open_one["service_code"], open_one["service_name"]) == ("06010", "暴露垃圾")
    assert (open_one["lat"], open_one["long"]) == (39.93, 116.32)
    assert open_one["media_url"] == "" and open_one["address_id"] is None and open_one["zipcode"] is None
    rated = by_id[str(seeded["rated"])]
    assert rated["status"] == "closed" and rated["media_url"] == "https://example.org/photo/1.jpg"
    rejected = by_id[str(seeded["rejected"])]
    assert rejected["status"] == "closed" and "不属于受理范围" in rejected["status_notes"]
    # newest first
    assert [r["requested_datetime"] for r in items] == sorted((r["requested_datetime"] for r in items), reverse=True)


def test_requests_filters(o311: TestClient, seeded: dict[str, int]) -> None:
    def ids(**params: Any) -> set[str]:
        got = get(o311, "/requests.json", **params)
        assert got.status_code == 200, got.text
        return {r["service_request_id"] for r in got.json()}

    assert ids(status="closed") == {str(seeded["rated"]), str(seeded["rejected"])}
    assert ids(status="open") == {str(seeded["open"])}
    assert ids(service_code="09006") == {str(seeded["rated"])}
    start = (_now() - dt.timedelta(days=6)).isoformat()
    assert ids(start_date=start) == {str(seeded["open"]), str(seeded["rejected"])}
    assert ids(start_date="2000-01-01T00:00:00Z", end_date=(_now() - dt.timedelta(days=7)).isoformat()) == {
        str(seeded["rated"])
    }
    # ids take precedence over every other filter; a case outside the key's area is not there
    assert ids(service_request_id=f"{seeded['open']},{seeded['rated']},{seeded['other']}", status="closed") == {
        str(seeded["open"]),
        str(seeded["rated"]),
    }
    assert "status" in assert_error(get(o311, "/requests.json", status="pending"), 400)
    assert "service_code" in assert_error(get(o311, "/requests.json", service_code="123"), 400)
    assert "start_date" in assert_error(get(o311, "/requests.json", start_date="yesterday"), 400)
    assert_error(get(o311, "/requests.json", service_request_id="abc"), 400)


def test_single_request_and_404(o311: TestClient, seeded: dict[str, int]) -> None:
    got = get(o311, f"/requests/{seeded['rated']}.json")
    assert got.status_code == 200
    body = got.json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == REQUEST_FIELDS
    assert body[0]["service_request_id"] == str(seeded["rated"]) and body[0]["status"] == "closed"
    assert_error(get(o311, "/requests/987654321.json"), 404)
    assert_error(get(o311, "/requests/not-a-number.json"), 404)
    assert_error(get(o311, f"/requests/{seeded['other']}.json"), 404)  # community B: outside the key's area
    # the district-wide key sees it
    assert get(o311, f"/requests/{seeded['other']}.json", key=INTAKE_KEY).status_code == 200


# a department account reads only the cases assigned or whistled to its department (as on the map layer)
CG_KEY = "k-department-cg"
CG_A_KEY = "k-department-cg-community-a"
SW_KEY = "k-department-sw"
NO_DEPT_KEY = "k-department-none"
DISTRICT_KEY = "k-dispatcher-district"


@pytest.fixture
def departments(
    api_settings: Settings,
    session: Session,
    district: dict[str, AdminArea],
    user_factory: Callable[..., User],
) -> Iterator[tuple[TestClient, dict[str, int]]]:
    """Departments 城管 (CG) and 水务 (SW), five cases, and keys for department accounts and a dispatcher."""
    dept = make_departments(session, {"CG": "城管局", "SW": "水务局"})

    def whistle(department: str) -> dict[str, Any]:
        return {
            "department_id": dept[department], "kind": "routine", "whistled_at": "2026-01-01T08:00:00+08:00",
            "due_at": "2026-01-01T08:30:00+08:00", "accepted_at": None, "flagged_at": None,
        }

    a, b, street = district["A"], district["B"], district["street"]
    rows = [  # name, community, assigned department, whistled departments
        ("assigned_cg", a, "CG", []),
        ("whistled_cg", b, "SW", ["CG"]),  # assigned to SW, but CG was whistled for it
        ("assigned_sw", a, "SW", []),
        ("whistled_sw", a, None, ["SW"]),
        ("nobody", a, None, []),
    ]
    ids: dict[str, int] = {}
    for n, (name, community, assignee, whistled) in enumerate(rows):
        ids[name] = session.execute(
            text(
                "INSERT INTO incident (category_code, source, description, reported_at, community_id, street_id,"
                " assignee_department_id, whistles, geom) VALUES ('06010', 'resident', :d, :reported, :community,"
                " :street, :assignee, CAST(:w AS jsonb), ST_SetSRID(ST_MakePoint(:x, 39.93), 4326)) RETURNING id"
            ),
            {
                "d": name, "reported": _now() - dt.timedelta(days=1, hours=n), "community": community.id,
                "street": street.id, "assignee": dept[assignee] if assignee else None,
                "w": json.dumps([whistle(w) for w in whistled]),
                "x": 116.32 if community is a else 116.37,
            },
        ).scalar_one()
    for username, department, scope in (
        ("dept_cg", "CG", "110105000000"),
        ("dept_cg_a", "CG", "110105001001"),
        ("dept_sw", "SW", "110105000000"),
        ("dept_none", None, "110105000000"),
    ):
        user = user_factory("department", scope, username=username)
        user.department_id = dept[department] if department else None
    user_factory("dispatcher", "110105000000", username="dispatcher_district")
    session.commit()
    keys = {
        CG_KEY: "dept_cg", CG_A_KEY: "dept_cg_a", SW_KEY: "dept_sw", NO_DEPT_KEY: "dept_none",
        DISTRICT_KEY: "dispatcher_district",
    }
    settings = api_settings.model_copy(update={"open311_keys": keys})
    with TestClient(create_app(settings)) as client:
        yield client, ids


def _listed(client: TestClient, key: str, **params: Any) -> set[str]:
    got = get(client, "/requests.json", key=key, **params)
    assert got.status_code == 200, got.text
    return {r["service_request_id"] for r in got.json()}


def test_department_lists_only_cases_assigned_or_whistled_to_it(
    departments: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = departments

    def named(*names: str) -> set[str]:
        return {str(ids[n]) for n in names}

    assert _listed(client, CG_KEY) == named("assigned_cg", "whistled_cg")
    assert _listed(client, SW_KEY) == named("whistled_cg", "assigned_sw", "whistled_sw")
    # the rule holds when ids are asked for explicitly, too
    every = ",".join(str(i) for i in ids.values())
    assert _listed(client, CG_KEY, service_request_id=every) == named("assigned_cg", "whistled_cg")
    # the area scope still applies on top: the CG account of community A does not see the case in B
    assert _listed(client, CG_A_KEY) == named("assigned_cg")
    # a department account bound to no department sees nothing; a dispatcher of the district sees all
    assert _listed(client, NO_DEPT_KEY) == set()
    assert _listed(client, DISTRICT_KEY) == named(*ids)


def test_department_single_request_not_theirs_is_404(departments: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = departments
    for name in ("assigned_cg", "whistled_cg"):
        got = get(client, f"/requests/{ids[name]}.json", key=CG_KEY)
        assert got.status_code == 200, got.text
        assert got.json()[0]["service_request_id"] == str(ids[name])
    for name in ("assigned_sw", "whistled_sw", "nobody"):  # another department's, or no department's
        assert_error(get(client, f"/requests/{ids[name]}.json", key=CG_KEY), 404)
        assert get(client, f"/requests/{ids[name]}.json", key=DISTRICT_KEY).status_code == 200
    assert_error(get(client, f"/requests/{ids['whistled_cg']}.json", key=CG_A_KEY), 404)  # outside its area
    assert_error(get(client, f"/requests/{ids['assigned_cg']}.json", key=NO_DEPT_KEY), 404)


def test_keys_and_formats(o311: TestClient, seeded: dict[str, int]) -> None:
    assert "api_key" in assert_error(get(o311, "/requests.json", key=None), 403)
    assert_error(get(o311, "/requests.json", key="wrong"), 403)
    assert_error(get(o311, "/requests.json", key=PLANNER_KEY), 403)
    assert "JSON" in assert_error(o311.get(f"{BASE}/requests.xml"), 400)
    assert_error(o311.get(f"{BASE}/discovery.json"), 404)


# --------------------------------------------------------------------------------------- reporting


FORM = {
    "api_key": INTAKE_KEY,
    "service_code": "06010",
    "lat": "39.925",
    "long": "116.325",
    "description": "小区门口有暴露垃圾",
    "first_name": "小明",
    "last_name": "王",
    "phone": "13800000000",
    "media_url": "https://example.org/p/2.jpg",
    "device_id": "device-1",
    "account_id": "acct-7",
    "attribute[WHISPER]": "ignored",
}


def test_post_creates_an_incident(o311: TestClient, session: Session, district: dict[str, AdminArea]) -> None:
    got = o311.post(f"{BASE}/requests.json", data=FORM)
    assert got.status_code == 201, got.text
    body = got.json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == POST_FIELDS
    assert body[0]["account_id"] == "acct-7" and body[0]["service_notice"]
    new_id = body[0]["service_request_id"]

    row = session.execute(
        text(
            "SELECT i.category_code, i.source, i.status, i.description, i.photos, i.reporter_contact,"
            " c.code AS community, ST_X(i.geom) AS x, ST_Y(i.geom) AS y,"
            " (SELECT count(*) FROM incident_event e WHERE e.incident_id = i.id) AS events"
            " FROM incident i LEFT JOIN admin_area c ON c.id = i.community_id WHERE i.id = :id"
        ),
        {"id": int(new_id)},
    ).one()
    assert (row.category_code, row.source, row.status, row.community) == ("06010", "app", "reported", "110105001001")
    assert row.description == "小区门口有暴露垃圾" and row.photos == ["https://example.org/p/2.jpg"]
    assert row.reporter_contact == "王 小明 / 13800000000" and row.events == 1
    assert (row.x, row.y) == pytest.approx((116.325, 39.925))

    shown = get(o311, f"/requests/{new_id}.json", key=INTAKE_KEY).json()[0]
    assert (shown["status"], shown["service_code"], shown["lat"], shown["long"]) == ("open", "06010", 39.925, 116.325)

    # the same form again (same device and account): the same case, not a second one
    again = o311.post(f"{BASE}/requests.json", data=FORM)
    assert again.status_code == 200 and again.json()[0]["service_request_id"] == new_id
    assert session.execute(text("SELECT count(*) FROM incident")).scalar_one() == 1


def test_post_json_and_idempotency_header(o311: TestClient) -> None:
    payload = {"api_key": INTAKE_KEY, "service_code": "09006", "lat": 39.93, "long": 116.37, "description": "占道"}
    headers = {"Idempotency-Key": "retry-1"}
    first = o311.post(f"{BASE}/requests.json", json=payload, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()[0]["account_id"] is None
    second = o311.post(f"{BASE}/requests.json", json=payload, headers=headers)
    assert second.status_code == 200
    assert second.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
    assert_error(o311.post(f"{BASE}/requests.json", json={**payload, "description": "别的"}, headers=headers), 409)
    # no header and no device/account id: two reports are two cases
    third = o311.post(f"{BASE}/requests.json", json=payload)
    assert third.status_code == 201 and third.json()[0]["service_request_id"] != first.json()[0]["service_request_id"]


def test_post_errors(o311: TestClient, district: dict[str, AdminArea]) -> None:
    url = f"{BASE}/requests.json"
    assert "api_key" in assert_error(o311.post(url, data={**FORM, "api_key": ""}), 403)
    assert_error(o311.post(url, data={**FORM, "api_key": PLANNER_KEY}), 403)  # a planner may not report
    assert "lat" in assert_error(o311.post(url, data={k: v for k, v in FORM.items() if k != "lat"}), 400)
    assert "service_code" in assert_error(o311.post(url, data={**FORM, "service_code": "99999"}), 400)
    assert_error(o311.post(url, data={**FORM, "long": "east"}), 400)
    assert_error(o311.post(url, data={**FORM, "media_url": "ftp://x"}), 400)
    outside = assert_error(o311.post(url, data={**FORM, "lat": "31.2", "long": "121.4", "device_id": "d2"}), 400)
    assert "outside" in outside
    assert_error(o311.post(url, content=b"[1, 2]", headers={"content-type": "application/json"}), 400)
