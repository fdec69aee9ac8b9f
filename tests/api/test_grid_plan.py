"""POST /api/v1/grids/plan: the flow ``gisgrid grids plan`` runs, for one community, with roles and scope."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from layers import grids as lg
from layers.models import AuditLog, Grid
from tests.api.conftest import make_building

CC = "110105001001"  # community A of the `district` fixture: 116.30–116.35 × 39.90–39.96
PLAN = "/api/v1/grids/plan"


@pytest.fixture
def housed(session: Session, district) -> None:
    """12 buildings × 100 households in community A: a plan has 3 or 4 grids."""
    for i in range(12):
        make_building(session, x=116.305 + (i % 6) * 0.007, y=39.91 + (i // 6) * 0.02, community=district["A"],
                      households=100, name=f"b{i}")
    session.commit()


def _without_timing(report: dict) -> dict:
    report["stats"].pop("seconds")
    return report


@pytest.mark.usefixtures("housed")
def test_plan_reports_and_publishes_through_the_shared_flow(client, session, user_factory,
                                                             auth_header) -> None:
    planner = user_factory("planner", CC)
    headers = auth_header(planner)
    res = client.post(PLAN, json={"community_code": CC, "seed": 3}, headers=headers)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["community_code"] == CC and body["k"] in (3, 4) and body["k_range"] == [3, 4]
    assert sum(body["households"].values()) == 1200 and "published" not in body
    assert session.execute(select(func.count()).select_from(Grid)).scalar_one() == 0  # nothing written
    # the same function the command line calls gives the same report
    direct = lg.plan_community(session, CC, seed=3).to_dict()
    session.rollback()
    assert _without_timing(direct) == _without_timing(body)

    res = client.post(PLAN, json={"community_code": CC, "seed": 3, "publish": True}, headers=headers)
    assert res.status_code == 200, res.text
    published = res.json()["published"]
    assert published["versions"] == {code: 1 for code in body["households"]}
    assert published["households"] == body["households"]
    current = lg.current_grids(session, CC)
    assert sorted(current["code"]) == sorted(body["households"])
    audit = session.execute(select(AuditLog.action, AuditLog.user_id, AuditLog.entity_id)).all()
    assert audit == [("publish_plan", planner.id, CC)]


@pytest.mark.usefixtures("housed")
def test_plan_needs_an_editor_inside_their_area(client, user_factory, auth_header) -> None:
    body = {"community_code": CC}
    for role in ("leader", "patrol"):
        res = client.post(PLAN, json=body, headers=auth_header(user_factory(role, CC)))
        assert res.status_code == 403, (role, res.text)
    other = auth_header(user_factory("planner", "110105001002"))  # community B's planner
    res = client.post(PLAN, json=body, headers=other)
    assert res.status_code == 403 and res.json()["error"]["rule"] == "only grids inside the user's area"
    assert client.post(PLAN, json=body).status_code == 401


@pytest.mark.usefixtures("housed")
def test_plan_input_errors(client, user_factory, auth_header) -> None:
    admin = auth_header(user_factory("admin"))
    res = client.post(PLAN, json={"community_code": "110105001009"}, headers=admin)
    assert res.status_code == 404 and res.json()["error"]["field"] == "community_code"
    res = client.post(PLAN, json={"community_code": "110105001002"}, headers=admin)  # no buildings
    assert res.status_code == 200 and res.json() == {"community_code": "110105001002", "k": 0,
                                                     "skipped": "no buildings"}
    for bad in ({"community_code": "1101"}, {"community_code": CC, "min_households": 600},
                {"community_code": CC, "seed": -1}, {"community_code": CC, "min_households": 0}):
        assert client.post(PLAN, json=bad, headers=admin).status_code == 422, bad


def test_a_split_building_is_stored_and_shown_per_grid(client, session, district, user_factory,
                                                       auth_header) -> None:
    for i in range(12):
        make_building(session, x=116.305 + (i % 6) * 0.007, y=39.91 + (i // 6) * 0.02, community=district["A"],
                      households=100, name=f"b{i}")
    big = make_building(session, x=116.33, y=39.93, community=district["A"], households=900, name="3号楼")
    big.units = 6
    session.commit()
    planner = auth_header(user_factory("planner", CC))
    res = client.post(PLAN, json={"community_code": CC, "publish": True}, headers=planner)
    assert res.status_code == 200, res.text
    body = res.json()
    mine = [p for p in body["parts"] if p["building"] == big.id]
    assert len(mine) >= 2 and sum(p["households"] for p in mine) == 900
    assert body["published"]["parts"] == len(body["parts"])

    owned: dict[str, list] = {}
    for code in body["households"]:
        res = client.get(f"/api/v1/grids/{code}", params={"geometry": False},
                         headers=auth_header(user_factory("leader", CC, username=f"l{code}")))
        assert res.status_code == 200, res.text
        grid = res.json()
        assert grid["code"] == code and "geometry" not in grid
        owned[code] = grid["parts"]
        assert grid["parts_households"] == sum(p["households"] for p in grid["parts"])
    listed = sorted((p["part_no"], p["label"]) for parts in owned.values() for p in parts if p["building"] == big.id)
    assert listed == sorted((p["part_no"], p["label"]) for p in mine)
    assert all(p["label"].endswith("单元") for p in mine)
    assert {p["building_name"] for parts in owned.values() for p in parts} == {"3号楼"}

    page = client.get("/map/grids", params={"community": CC})
    assert page.status_code == 200
    tooltip = f"3号楼 {mine[0]['label']} ({mine[0]['households']}户)"  # in the owning grid's tooltip
    assert json.dumps(tooltip)[1:-1] in page.text  # folium writes the GeoJSON with ASCII escapes
    assert client.get(f"/api/v1/grids/{CC}999", headers=planner).status_code == 404
