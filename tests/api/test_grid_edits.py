"""Grid editing API: dry runs, tallies + validation in every answer, roles, stale versions, concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping, shape
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from api.main import create_app
from layers import grids as lg
from layers.models import AuditLog, Building, Grid
from layers.settings import Settings
from tests.api.conftest import make_building

CC = "110105001001"  # community A of the `district` fixture: 116.30–116.35 × 39.90–39.96
G1, G2, G3 = CC + "001", CC + "002", CC + "003"
CUTS = (116.30, 116.32, 116.335, 116.35)


@pytest.fixture
def grid_client(api_settings: Settings, clean_db: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as client:
        yield client


@pytest.fixture
def planned(session: Session, district) -> dict[str, int]:
    """Three grids side by side in community A (400, 400, 300 households); returns building ids by name."""
    a = district["A"]
    ids = {}
    for name, x, hh in (("b1", 116.305, 200), ("b2", 116.31, 200), ("b3", 116.325, 200), ("b4", 116.33, 200),
                        ("b5", 116.34, 150), ("b6", 116.345, 150)):
        ids[name] = make_building(session, x=x, y=39.93, community=a, households=hh, name=name).id
    plan = gpd.GeoDataFrame(
        {"code": [G1, G2, G3]},
        geometry=[box(CUTS[i], 39.90, CUTS[i + 1], 39.96) for i in range(3)],
        crs=4326,
    )
    lg.publish_plan(session, CC, plan, user_id=None)
    session.commit()
    return ids


@pytest.fixture
def planner(user_factory, auth_header) -> dict[str, str]:
    return auth_header(user_factory("planner", CC))


def state(session: Session) -> tuple[list[tuple[str, int]], dict[int, str | None], int]:
    session.expire_all()
    rows = session.execute(select(Grid.code, Grid.version).order_by(Grid.code, Grid.version)).all()
    codes = dict(session.execute(select(Building.id, Building.grid_code)).all())
    audits = session.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    return [tuple(r) for r in rows], codes, audits


def west(x: float) -> dict:
    return mapping(box(116.30, 39.90, x, 39.96))


@pytest.mark.usefixtures("planned")
def test_dry_run_returns_tallies_and_changes_nothing(grid_client, planner, session) -> None:
    before = state(session)
    res = grid_client.post(
        f"/api/v1/grids/{G1}/boundary",
        json={"geometry": west(116.327), "expected_version": 1, "dry_run": True},
        headers=planner,
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["dry_run"] is True and body["when"] is None
    assert body["households"] == {G1: 600, G2: 200}
    assert body["versions"] == {G1: 2, G2: 2} and body["previous_versions"] == {G1: 1, G2: 1}
    assert {(p["rule"], p["grid_code"]) for p in body["problems"]} == {
        ("households_out_of_range", G1), ("households_out_of_range", G2)
    }
    assert body["valid"] is False
    assert len(body["problem_locations"]["features"]) == 2
    assert state(session) == before


@pytest.mark.usefixtures("planned")
def test_every_edit_returns_tallies_versions_and_validation(grid_client, planner, session, planned) -> None:
    # replace a boundary: G1 takes b3 from G2
    res = grid_client.post(f"/api/v1/grids/{G1}/boundary",
                           json={"geometry": west(116.327), "expected_version": 1}, headers=planner)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["households"] == {G1: 600, G2: 200} and body["versions"] == {G1: 2, G2: 2}
    features = {f["id"]: f for f in body["grids"]["features"]}
    assert shape(features[G1]["geometry"]).equals(box(116.30, 39.90, 116.327, 39.96))
    assert session.get(Building, planned["b3"]).grid_code == G1

    # move b3 back (with its cell)
    res = grid_client.post("/api/v1/grids/move-buildings", headers=planner, json={
        "from_code": G1, "to_code": G2, "building_ids": [planned["b3"]], "expected_versions": {G1: 2, G2: 2}})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["households"] == {G1: 400, G2: 400} and body["versions"] == {G1: 3, G2: 3}
    assert body["problems"] == [] and body["valid"] is True

    # split G3 by a line between b5 and b6
    line = {"type": "LineString", "coordinates": [[116.3435, 39.89], [116.3435, 39.97]]}
    res = grid_client.post(f"/api/v1/grids/{G3}/split", headers=planner,
                           json={"expected_version": 1, "line": line, "dry_run": False})
    assert res.status_code == 200, res.text
    body = res.json()
    new = CC + "004"
    assert body["households"] == {G3: 150, new: 150} and body["versions"] == {G3: 2, new: 1}
    assert {p["grid_code"] for p in body["problems"] if p["rule"] == "households_out_of_range"} == {G3, new}

    # merge them back
    res = grid_client.post("/api/v1/grids/merge", headers=planner,
                           json={"codes": [G3, new], "expected_versions": {G3: 2, new: 1}})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["households"] == {G3: 300} and body["retired"] == [new] and body["versions"] == {G3: 3}
    assert body["problems"] == []

    # roll G1 back to version 2 (the boundary at 116.327)
    res = grid_client.post(f"/api/v1/grids/{G1}/rollback", headers=planner,
                           json={"to_version": 2, "expected_version": 3})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["households"] == {G1: 600, G2: 200} and body["versions"] == {G1: 4, G2: 4}

    res = grid_client.get(f"/api/v1/grids/{G1}/history", headers=planner)
    assert res.status_code == 200
    versions = res.json()["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3, 4]
    assert shape(versions[3]["geometry"]).equals(shape(versions[1]["geometry"]))
    assert [v["status"] for v in versions] == ["retired", "retired", "retired", "active"]
    actions = session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars().all()
    assert actions == ["publish_plan", "replace_boundary", "move_buildings", "split_grid", "merge_grids",
                       "rollback"]


@pytest.mark.usefixtures("planned")
def test_validation_and_as_of(grid_client, planner) -> None:
    res = grid_client.get(f"/api/v1/grids/validation?community={CC}&min_households=350", headers=planner)
    assert res.status_code == 200, res.text
    body = res.json()
    assert [(p["rule"], p["grid_code"]) for p in body["problems"]] == [("households_out_of_range", G3)]
    assert body["problem_locations"]["features"][0]["properties"]["grid_code"] == G3
    assert shape(body["problem_locations"]["features"][0]["geometry"]).equals(box(116.335, 39.90, 116.35, 39.96))
    assert "households_out_of_range" in body["text"]

    res = grid_client.get(f"/api/v1/grids/as-of?on=2999-01-01&community={CC}", headers=planner)
    assert res.status_code == 200, res.text
    fc = res.json()
    assert sorted(f["properties"]["code"] for f in fc["features"]) == [G1, G2, G3]
    res = grid_client.get(f"/api/v1/grids/as-of?on=2001-01-01&community={CC}", headers=planner)
    assert res.json()["features"] == []


@pytest.mark.usefixtures("planned")
def test_roles_and_area_scope(grid_client, user_factory, auth_header) -> None:
    edit = {"geometry": west(116.327), "expected_version": 1, "dry_run": True}
    for role in ("leader", "patrol"):
        headers = auth_header(user_factory(role, CC))
        res = grid_client.post(f"/api/v1/grids/{G1}/boundary", json=edit, headers=headers)
        assert res.status_code == 403, (role, res.text)
        assert res.json()["error"]["code"] == "permission_denied"
    leader = auth_header(user_factory("leader", CC, username="leader2"))
    assert grid_client.get(f"/api/v1/grids/{G1}/history", headers=leader).status_code == 200
    patrol = auth_header(user_factory("patrol", CC, username="patrol2"))
    assert grid_client.get(f"/api/v1/grids/{G1}/history", headers=patrol).status_code == 403
    other = auth_header(user_factory("planner", "110105001002"))  # community B's planner
    res = grid_client.post(f"/api/v1/grids/{G1}/boundary", json=edit, headers=other)
    assert res.status_code == 403 and res.json()["error"]["rule"] == "only grids inside the user's area"
    street = auth_header(user_factory("planner", "110105001000"))  # the street above A
    assert grid_client.post(f"/api/v1/grids/{G1}/boundary", json=edit, headers=street).status_code == 200
    assert grid_client.post(f"/api/v1/grids/{G1}/boundary", json=edit).status_code == 401


@pytest.mark.usefixtures("planned")
def test_stale_version_is_409_with_the_current_version(grid_client, planner, session) -> None:
    ok = grid_client.post(f"/api/v1/grids/{G1}/boundary",
                          json={"geometry": west(116.327), "expected_version": 1}, headers=planner)
    assert ok.status_code == 200
    before = state(session)
    for dry_run in (True, False):
        res = grid_client.post(f"/api/v1/grids/{G1}/boundary",
                               json={"geometry": west(116.31), "expected_version": 1, "dry_run": dry_run},
                               headers=planner)
        assert res.status_code == 409, res.text
        error = res.json()["error"]
        assert error["code"] == "conflict" and error["field"] == "expected_version"
        assert error["details"]["current_version"] == 2 and error["details"]["expected_version"] == 1
    res = grid_client.post("/api/v1/grids/move-buildings", headers=planner, json={
        "from_code": G2, "to_code": G3, "building_ids": [1], "expected_versions": {G2: 1, G3: 1}})
    assert res.status_code == 409 and res.json()["error"]["details"]["current_version"] == 2
    assert state(session) == before


@pytest.mark.usefixtures("planned")
def test_bad_input_is_422_and_changes_nothing(grid_client, planner, session, planned) -> None:
    before = state(session)
    bowtie = {"type": "Polygon", "coordinates": [[[116.30, 39.90], [116.31, 39.96], [116.31, 39.90],
                                                   [116.30, 39.96], [116.30, 39.90]]]}
    res = grid_client.post(f"/api/v1/grids/{G1}/boundary", json={"geometry": bowtie, "expected_version": 1},
                           headers=planner)
    assert res.status_code == 422 and res.json()["error"]["field"] == "geometry"
    res = grid_client.post("/api/v1/grids/move-buildings", headers=planner, json={
        "from_code": G1, "to_code": G3, "building_ids": [planned["b1"]], "expected_versions": {G1: 1, G3: 1}})
    assert res.status_code == 422 and "not neighbours" in res.json()["error"]["message"]
    res = grid_client.post("/api/v1/grids/move-buildings", headers=planner, json={
        "from_code": G1, "to_code": G2, "building_ids": [planned["b3"]], "expected_versions": {G1: 1, G2: 1}})
    assert res.status_code == 422 and res.json()["error"]["field"] == "building_ids"
    res = grid_client.post(f"/api/v1/grids/{CC}009/boundary", json={"geometry": west(116.31),
                           "expected_version": 1}, headers=planner)
    assert res.status_code == 404
    assert state(session) == before


def _post_concurrently(client: TestClient, headers: dict[str, str], bodies: list[dict]) -> list:
    results: list = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def run(i: int) -> None:
        start.wait()
        results[i] = client.post(f"/api/v1/grids/{G1}/boundary", json=bodies[i], headers=headers)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    return threads, results  # type: ignore[return-value]


def _check_one_winner(results: list, session: Session) -> None:
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["error"]["details"]["current_version"] == 2
    versions = session.execute(select(Grid.version).where(Grid.code == G1).order_by(Grid.version)).scalars().all()
    assert versions == [1, 2]
    winner = next(r for r in results if r.status_code == 200).json()
    current = lg.current_grids(session, CC).set_index("code")
    assert current.geometry[G1].equals(shape(winner["grids"]["features"][0]["geometry"]))


@pytest.mark.usefixtures("planned")
def test_concurrent_edits_of_one_version_one_wins_one_conflicts(grid_client, planner, session) -> None:
    bodies = [{"geometry": west(116.327), "expected_version": 1}, {"geometry": west(116.31), "expected_version": 1}]
    threads, results = _post_concurrently(grid_client, planner, bodies)
    for t in threads:
        t.join(timeout=60)
    _check_one_winner(results, session)


@pytest.mark.usefixtures("planned")
def test_concurrent_edits_really_overlap_and_wait_for_the_lock(grid_client, planner, session, clean_db) -> None:
    """Hold the community's row lock while both requests arrive, so both are provably in flight together."""
    bodies = [{"geometry": west(116.327), "expected_version": 1}, {"geometry": west(116.31), "expected_version": 1}]
    waiting_sql = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE '%FROM admin_area%FOR NO KEY UPDATE%' "
        "AND pid <> :holder"
    )
    with clean_db.connect() as holder, clean_db.connect() as watcher:
        holder.execute(text("SELECT id FROM admin_area WHERE code = :c FOR NO KEY UPDATE"), {"c": CC})
        holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
        threads, results = _post_concurrently(grid_client, planner, bodies)
        deadline = time.monotonic() + 20
        waiting = 0
        while waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            waiting = watcher.execute(waiting_sql, {"holder": holder_pid}).scalar_one()
            watcher.rollback()  # pg_stat_activity is a snapshot per transaction
        assert waiting == 2, "both edits should be waiting for the community lock"
        assert all(r is None for r in results)
        holder.rollback()  # release: the two edits now run one after the other
    for t in threads:
        t.join(timeout=60)
    _check_one_winner(results, session)
