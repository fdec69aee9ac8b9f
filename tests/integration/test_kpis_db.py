"""KPIs from PostGIS: a year of demo incidents (about 20,000 households) whose figures add up.

The demo district is loaded with :func:`layers.demo.load_district`; a few whistles, department
arrivals and escalations are added by hand (the generator makes none) so those columns are exercised
too. Then: community and street groups per month add up to the district, every rate lies in [0, 1],
the database round trip gives the same figures as the pure core on the generator's frames, and the
CSV (and the API's JSON and CSV) carry the same numbers behind a UTF-8 BOM.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.errors import add_exception_handlers
from api.routers import kpis as kpi_router
from api.security import create_access_token
from gisgrid.incidents.kpi import COUNT_COLUMNS, SUM_COLUMNS, compute_kpis, rollup
from gisgrid.synth import DemoDistrict, generate_district
from layers import kpis as lk
from layers.accounts import create_user
from layers.db import make_sessionmaker
from layers.demo import load_district
from layers.settings import Settings

TZ = "Asia/Shanghai"
TODAY = dt.date(2026, 11, 23)
HOUSEHOLDS = 20_000
START = TODAY - dt.timedelta(days=365)
NOW = pd.Timestamp(TODAY, tz=TZ).to_pydatetime()
RATES = ("completion_rate", "on_time_rate", "satisfaction_rate")
ADDITIVE = [*COUNT_COLUMNS, *SUM_COLUMNS]
N_WHISTLED = 30  # incidents that get a whistle for two departments and one timed arrival
N_ESCALATED = 12
SECRET = "test-secret-key-for-the-kpi-tests-only-0123456789"


@pytest.fixture(scope="module")
def district() -> DemoDistrict:
    return generate_district(seed=7, households=HOUSEHOLDS, today=TODAY)


@pytest.fixture
def loaded(clean_db: Engine, district: DemoDistrict) -> Engine:
    load_district(clean_db, district)
    with clean_db.begin() as conn:
        rated = conn.execute(
            text("SELECT id, reported_at FROM incident WHERE status = 'rated' ORDER BY id LIMIT :n"),
            {"n": N_WHISTLED + N_ESCALATED},
        ).all()
        for k, (incident_id, reported_at) in enumerate(rated[:N_WHISTLED]):
            conn.execute(
                text(
                    "INSERT INTO incident_event (incident_id, action, from_status, to_status, at, data) VALUES"
                    " (:i, 'whistle', 'in_progress', 'in_progress', :w, CAST(:wd AS jsonb)),"
                    " (:i, 'department_accept', 'in_progress', 'in_progress', :a, CAST(:ad AS jsonb))"
                ),
                {
                    "i": incident_id,
                    "w": reported_at + dt.timedelta(hours=1),
                    "wd": json.dumps({"departments": ["370403-CG", "370403-ZJ"], "kind": "routine"}),
                    "a": reported_at + dt.timedelta(hours=1, minutes=10 + k),
                    "ad": json.dumps({"department_id": 1, "arrival_minutes": 10 + k}),
                },
            )
        for incident_id, reported_at in rated[N_WHISTLED:]:
            conn.execute(
                text(
                    "INSERT INTO incident_event (incident_id, action, from_status, to_status, at)"
                    " VALUES (:i, 'escalate', 'dispatched', 'dispatched', :at)"
                ),
                {"i": incident_id, "at": reported_at + dt.timedelta(minutes=30)},
            )
    return clean_db


def _compute(
    engine: Engine, by: str, period: str | None = "M", scope: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    with Session(engine) as session:
        return lk.compute(session, by=by, period=period, scope_code=scope, start=START, end=TODAY, now=NOW)


def _by_period(table: pd.DataFrame) -> pd.DataFrame:
    return table[ADDITIVE].groupby(level="period").sum()


def test_groups_add_up_to_the_district(loaded: Engine, district: DemoDistrict) -> None:
    by_community, totals = _compute(loaded, "community")
    by_street, _ = _compute(loaded, "street")
    by_district, _ = _compute(loaded, "district")

    assert int(by_community["received"].sum()) == len(district.incidents) == 2_000
    assert set(by_district.index.get_level_values("district")) == {"370403000000"}
    assert "unassigned" not in by_community.index.get_level_values("community")
    periods = sorted(by_district.index.get_level_values("period").unique())
    assert len(periods) in (12, 13)  # 365 days touch 12 or 13 calendar months
    expected = by_district.droplevel("district")[ADDITIVE].sort_index()
    for name, table in (("community", by_community), ("street", by_street)):
        sums = _by_period(table).sort_index()
        pd.testing.assert_frame_equal(sums[list(COUNT_COLUMNS)], expected[list(COUNT_COLUMNS)], obj=name)
        np.testing.assert_allclose(sums[list(SUM_COLUMNS)], expected[list(SUM_COLUMNS)], rtol=1e-9)
    # rollup's totals per period are the district rows, rates recomputed from the counts
    pd.testing.assert_frame_equal(
        totals.sort_index(), by_district.droplevel("district").sort_index(), check_names=False, rtol=1e-9
    )
    # streets are sums of their communities, row by row
    street_of = by_community.reset_index()
    street_of["street"] = street_of["community"].str[:9] + "000"
    regrouped = street_of.groupby(["street", "period"])[list(COUNT_COLUMNS)].sum()
    pd.testing.assert_frame_equal(regrouped, by_street[list(COUNT_COLUMNS)], check_names=False)

    whole = rollup(by_community)
    assert int(whole["whistles"].iloc[0]) == 2 * N_WHISTLED
    assert int(whole["department_arrivals"].iloc[0]) == N_WHISTLED
    assert whole["mean_department_arrival_minutes"].iloc[0] == pytest.approx(10 + (N_WHISTLED - 1) / 2)
    assert int(whole["escalations"].iloc[0]) == N_ESCALATED
    by_status = district.incidents["status"].value_counts()
    assert int(whole["closed"].iloc[0]) == by_status.get("closed", 0) + by_status.get("rated", 0)
    assert int(whole["rejected"].iloc[0]) == by_status.get("rejected", 0)
    assert int(whole["backlog"].iloc[0]) == by_status.get("backlog", 0)
    assert int(whole["rated"].iloc[0]) == by_status.get("rated", 0)


def test_rates_are_fractions(loaded: Engine) -> None:
    for by in ("community", "street"):
        table, totals = _compute(loaded, by)
        for frame in (table, totals):
            for col in RATES:
                values = frame[col].dropna()
                assert ((values >= 0) & (values <= 1)).all(), (by, col)
            assert (frame["mean_hours_to_close"].dropna() > 0).all()
        # the demo's headline figures look like the reports' (98 % completion, 99 % satisfaction)
        whole = rollup(table)
        assert 0.8 < whole["completion_rate"].iloc[0] <= 1
        assert 0.8 < whole["satisfaction_rate"].iloc[0] <= 1


def test_database_round_trip_matches_the_core(loaded: Engine, district: DemoDistrict) -> None:
    """The same figures from PostGIS as from the generator's frames (the hand-made events aside)."""
    from_db, _ = _compute(loaded, "community")
    frames = pd.DataFrame(district.incidents.drop(columns="geom"))
    events = district.incident_events.rename(columns={"incident_key": "incident_id"})
    core = compute_kpis(
        frames.rename(columns={"incident_key": "id"}), events, by="community", period="M", now=NOW
    )
    same = [c for c in COUNT_COLUMNS if c not in ("whistles", "department_arrivals", "timed_arrivals", "escalations")]
    pd.testing.assert_frame_equal(from_db[same].sort_index(), core[same].sort_index(), check_names=False)
    np.testing.assert_allclose(
        from_db["hours_to_close_sum"].sort_index(), core["hours_to_close_sum"].sort_index(), rtol=1e-9
    )


def test_scope_limits_to_a_street(loaded: Engine) -> None:
    street = "370403002000"
    scoped, _ = _compute(loaded, "community", period=None, scope=street)
    everything, _ = _compute(loaded, "community", period=None)
    communities = set(scoped.index)
    assert communities and all(c.startswith(street[:9]) for c in communities)
    pd.testing.assert_frame_equal(scoped, everything.loc[sorted(communities)])


def _read_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "the CSV must start with a UTF-8 BOM for Excel"
    return list(csv.DictReader(io.StringIO(body[3:].decode("utf-8"))))


def test_csv_has_a_bom_and_the_same_numbers(loaded: Engine) -> None:
    table, _ = _compute(loaded, "street")
    with Session(loaded) as session:
        names = lk.area_names(session, [str(c) for c in table.index.get_level_values(0).unique()])
    records = lk.kpis_to_records(table, names=names)
    rows = _read_csv(lk.kpis_to_csv(records))
    assert len(rows) == len(table)
    assert list(rows[0])[:3] == ["code", "name", "period"]
    assert {r["name"] for r in rows} >= {"康城街道", "新阳街道"}
    for row, rec in zip(rows, records, strict=True):
        for col in COUNT_COLUMNS:
            assert int(row[col]) == rec[col], col
        for col in RATES:
            assert (row[col] == "" and rec[col] is None) or float(row[col]) == pytest.approx(rec[col], abs=1e-6)
    assert sum(int(r["received"]) for r in rows) == int(table["received"].sum())


# --------------------------------------------------------------------------------------- the API


@pytest.fixture
def client(loaded: Engine, db_url: str) -> Iterator[TestClient]:
    """The KPI router on its own app (api/main.py includes it the same way), on the loaded demo."""
    settings = Settings(environment="test", database_url=db_url, secret_key=SECRET)
    app = FastAPI()
    add_exception_handlers(app)
    app.include_router(kpi_router.router)
    app.mount("/static", StaticFiles(directory="api/static"), name="static")
    app.state.settings = settings
    app.state.sessionmaker = make_sessionmaker(loaded)
    with Session(loaded) as session:
        for username, role, scope in (
            ("leader_street", "leader", "370403002000"),
            ("admin_all", "admin", None),
            ("planner_all", "planner", None),
        ):
            create_user(session, username=username, password="correct-horse-battery", role=role,
                        scope_area_code=scope)
        session.commit()
    client = TestClient(app)

    def login(username: str, role: str, scope: str | None) -> dict[str, str]:
        token = create_access_token(username=username, role=role, scope=scope, settings=settings)
        return {"Authorization": f"Bearer {token}"}

    client.headers_for = login  # type: ignore[attr-defined]
    yield client


PARAMS = {"from": START.isoformat(), "to": (TODAY - dt.timedelta(days=1)).isoformat()}


def test_api_json_and_csv_agree(client: TestClient, loaded: Engine) -> None:
    admin = client.headers_for("admin_all", "admin", None)  # type: ignore[attr-defined]
    got = client.get("/api/v1/kpis", params={**PARAMS, "by": "community", "period": "Q"}, headers=admin)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["by"] == "community" and body["period"] == "Q" and body["scope"] is None
    assert body["from"] == PARAMS["from"] and body["to"] == PARAMS["to"]
    total_received = sum(r["received"] for r in body["totals"])
    assert total_received == sum(r["received"] for r in body["rows"]) == 2_000
    assert all(r["name"] for r in body["rows"])
    assert {"completion_rate", "on_time_rate", "mean_hours_to_close", "satisfaction_rate", "backlog",
            "whistles", "mean_department_arrival_minutes"} <= set(body["columns"])

    got_csv = client.get("/api/v1/kpis.csv", params={**PARAMS, "by": "community", "period": "Q"}, headers=admin)
    assert got_csv.status_code == 200
    assert got_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in got_csv.headers["content-disposition"]
    rows = _read_csv(got_csv.content)
    data_rows = [r for r in rows if r["code"] != "total"]
    assert len(data_rows) == len(body["rows"])
    for row, rec in zip(data_rows, body["rows"], strict=True):
        assert (row["code"], row["name"], row["period"]) == (rec["code"], rec["name"], rec["period"])
        assert int(row["closed"]) == rec["closed"] and int(row["satisfied"]) == rec["satisfied"]
    assert sum(int(r["received"]) for r in rows if r["code"] == "total") == 2_000


def test_api_scope_and_roles(client: TestClient) -> None:
    leader = client.headers_for("leader_street", "leader", "370403002000")  # type: ignore[attr-defined]
    got = client.get("/api/v1/kpis", params={**PARAMS, "by": "community"}, headers=leader)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["scope"] == {"code": "370403002000", "name": "新阳街道"}
    assert body["rows"] and all(r["code"].startswith("370403002") for r in body["rows"])
    assert body["period"] is None and "period" not in body["rows"][0]  # one row per community

    planner = client.headers_for("planner_all", "planner", None)  # type: ignore[attr-defined]
    assert client.get("/api/v1/kpis", headers=planner).status_code == 403
    assert client.get("/api/v1/kpis").status_code == 401
    bad = client.get("/api/v1/kpis", params={"by": "building"}, headers=leader)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "by"
    empty = client.get("/api/v1/kpis", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=leader)
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "to"


def test_heatmap_page_uses_local_assets(client: TestClient) -> None:
    leader = client.headers_for("leader_street", "leader", "370403002000")  # type: ignore[attr-defined]
    page = client.get("/map/incidents", params={**PARAMS, "category": "06", "lang": "en"}, headers=leader)
    assert page.status_code == 200, page.text
    html = page.text
    assert "/static/vendor/leaflet.heat/leaflet-heat.js" in html
    assert "cdn.jsdelivr" not in html and "unpkg" not in html and "cdnjs" not in html
    assert "L.heatLayer" in html and "Synthetic demo data" in html
    assert json.dumps("06 市容环境")[1:-1] in html  # the panel's HTML is embedded as a JSON string
    assert client.get("/map/incidents", headers=leader, params={"category": "6"}).status_code == 422
    no_login = client.get("/map/incidents", follow_redirects=False)  # the login page, not a JSON 401
    assert no_login.status_code == 303 and no_login.headers["location"].startswith("/login?next=")
