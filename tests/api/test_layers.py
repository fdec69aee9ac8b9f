"""GeoJSON layer endpoints: bbox, paging, filters, area scope, roles, and bad input named by field."""

from __future__ import annotations

import pytest
from shapely.geometry import box as shapely_box
from shapely.geometry import shape

from layers.geojson import parse_bbox
from tests.api.conftest import make_building, make_departments, make_station

GEOJSON = "application/geo+json"


@pytest.fixture
def estate(session, district):
    """Three buildings and a station in community A (west), two buildings and two stations in B (east)."""
    a, b = district["A"], district["B"]
    for i in range(3):
        make_building(session, x=116.31 + i * 0.001, y=39.91, community=a, name=f"甲{i + 1}号楼")
    for i in range(2):
        make_building(session, x=116.37 + i * 0.001, y=39.91, community=b, name=f"乙{i + 1}号楼")
    make_station(session, x=116.32, y=39.92, community=a, name="甲社区党群服务站")
    make_station(session, x=116.38, y=39.92, community=b, name="乙社区警务室", kind="police_room")
    make_station(
        session,
        x=116.385,
        y=39.925,
        community=b,
        name="乙社区红心驿站",
        kind="red_heart_station",
        status="planned",
    )
    session.commit()
    return district


@pytest.fixture
def admin_header(user_factory, auth_header):
    return auth_header(user_factory("admin"))


def names(collection: dict) -> set[str]:
    return {f["properties"]["name"] for f in collection["features"]}


def test_layers_need_a_token(client):
    for path in (
        "/api/v1/areas",
        "/api/v1/buildings",
        "/api/v1/stations",
        "/api/v1/incidents",
        "/api/v1/layers",
    ):
        res = client.get(path)
        assert res.status_code == 401, path
        assert res.headers["www-authenticate"] == "Bearer"


@pytest.mark.usefixtures("estate")
def test_buildings_feature_collection(client, admin_header):
    res = client.get("/api/v1/buildings", headers=admin_header)
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith(GEOJSON)
    fc = res.json()
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == fc["numberReturned"] == 5
    assert [f["id"] for f in fc["features"]] == sorted(f["id"] for f in fc["features"])
    first = fc["features"][0]
    assert first["type"] == "Feature"
    assert first["geometry"]["type"] == "MultiPolygon"
    assert shape(first["geometry"]).equals(shapely_box(116.31, 39.91, 116.3105, 39.9105))
    assert first["properties"]["community_code"] == "110105001001"
    assert first["properties"]["entrance"] == [116.31025, 39.9101]
    assert [link["rel"] for link in fc["links"]] == ["self"]


@pytest.mark.usefixtures("estate")
def test_coordinates_have_at_most_seven_decimals(client, admin_header, session, district):
    make_building(session, x=116.3123456789, y=39.9312345678, community=district["A"], name="精度楼")
    session.commit()
    fc = client.get("/api/v1/buildings", params={"limit": 10}, headers=admin_header).json()
    ring = next(f for f in fc["features"] if f["properties"]["name"] == "精度楼")["geometry"]["coordinates"][
        0
    ][0]
    assert ring[0] == [116.3123457, 39.9312346]


@pytest.mark.usefixtures("estate")
def test_bbox_filter(client, admin_header):
    res = client.get("/api/v1/buildings", params={"bbox": "116.30,39.90,116.35,39.95"}, headers=admin_header)
    assert res.status_code == 200
    fc = res.json()
    assert names(fc) == {"甲1号楼", "甲2号楼", "甲3号楼"}
    assert fc["bbox"] == [116.30, 39.90, 116.35, 39.95]
    empty = client.get("/api/v1/buildings", params={"bbox": "100,20,101,21"}, headers=admin_header).json()
    assert empty["numberMatched"] == 0
    assert empty["features"] == []


@pytest.mark.usefixtures("estate")
def test_paging_with_next_and_prev_links(client, admin_header):
    p1 = client.get("/api/v1/buildings", params={"limit": 2}, headers=admin_header).json()
    assert (p1["numberMatched"], p1["numberReturned"], p1["nextOffset"]) == (5, 2, 2)
    next_href = next(link["href"] for link in p1["links"] if link["rel"] == "next")
    assert "offset=2" in next_href and "limit=2" in next_href
    p2 = client.get(next_href, headers=admin_header).json()
    p3 = client.get("/api/v1/buildings", params={"limit": 2, "offset": 4}, headers=admin_header).json()
    assert p3["numberReturned"] == 1
    assert p3["nextOffset"] is None
    assert "next" not in {link["rel"] for link in p3["links"]}
    assert "prev" in {link["rel"] for link in p3["links"]}
    ids = [f["id"] for page in (p1, p2, p3) for f in page["features"]]
    assert len(ids) == len(set(ids)) == 5


@pytest.mark.usefixtures("estate")
def test_patrol_sees_only_own_community(client, user_factory, auth_header, district):
    patrol_a = auth_header(user_factory("patrol", district["A"].code))
    fc = client.get("/api/v1/buildings", headers=patrol_a).json()
    assert names(fc) == {"甲1号楼", "甲2号楼", "甲3号楼"}
    assert fc["numberMatched"] == 3
    # even asking for B's box explicitly gives nothing
    fc_b = client.get(
        "/api/v1/buildings", params={"bbox": "116.36,39.90,116.40,39.95"}, headers=patrol_a
    ).json()
    assert fc_b["features"] == []
    stations = client.get("/api/v1/stations", headers=patrol_a).json()
    assert names(stations) == {"甲社区党群服务站"}
    # community B shares a border with A but is not A's: only A and its parents are visible
    areas = client.get("/api/v1/areas", headers=patrol_a).json()
    assert {f["properties"]["code"] for f in areas["features"]} == {
        "110105000000",
        "110105001000",
        "110105001001",
    }


@pytest.mark.usefixtures("estate")
def test_leader_scoped_to_district_sees_all(client, user_factory, auth_header, district):
    leader = auth_header(user_factory("leader", district["district"].code))
    assert client.get("/api/v1/buildings", headers=leader).json()["numberMatched"] == 5


@pytest.mark.usefixtures("estate")
def test_station_filters(client, admin_header):
    fc = client.get("/api/v1/stations", params={"kind": "police_room"}, headers=admin_header).json()
    assert names(fc) == {"乙社区警务室"}
    fc = client.get("/api/v1/stations", params={"status": "planned"}, headers=admin_header).json()
    assert names(fc) == {"乙社区红心驿站"}
    assert fc["features"][0]["geometry"] == {"type": "Point", "coordinates": [116.385, 39.925]}
    bad = client.get("/api/v1/stations", params={"kind": "teahouse"}, headers=admin_header)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "kind"


@pytest.mark.usefixtures("estate")
def test_areas_level_filter(client, admin_header):
    fc = client.get("/api/v1/areas", params={"level": "community"}, headers=admin_header).json()
    assert {f["properties"]["code"] for f in fc["features"]} == {"110105001001", "110105001002"}
    assert {f["properties"]["parent_code"] for f in fc["features"]} == {"110105001000"}


@pytest.mark.parametrize(
    ("bbox", "hint"),
    [
        ("1,2,3", "four"),
        ("a,b,c,d", "numbers"),
        ("116.4,39.9,116.3,40.0", "below"),
        ("39.90,116.30,39.95,116.35", "latitude came first"),  # lat/lon swapped, as for Beijing
        ("200,10,210,20", "longitude"),
        ("nan,1,2,3", "finite"),
    ],
)
def test_malformed_bbox_is_422_naming_bbox(client, admin_header, bbox, hint):
    res = client.get("/api/v1/buildings", params={"bbox": bbox}, headers=admin_header)
    assert res.status_code == 422
    error = res.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == "bbox"
    assert hint in error["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 5001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_paging_is_422_naming_the_field(client, admin_header, params, field):
    res = client.get("/api/v1/areas", params=params, headers=admin_header)
    assert res.status_code == 422
    assert res.json()["error"]["field"] == field


def test_incidents_are_not_for_planners(client, user_factory, auth_header, district):
    planner = auth_header(user_factory("planner", district["street"].code))
    dispatcher = auth_header(user_factory("dispatcher", district["street"].code))
    assert client.get("/api/v1/incidents", headers=planner).status_code == 403
    res = client.get("/api/v1/incidents", headers=dispatcher)
    assert res.status_code == 200
    assert res.json()["numberMatched"] == 0
    listed = {layer["name"] for layer in client.get("/api/v1/layers", headers=planner).json()}
    assert "incidents" not in listed and "buildings" in listed


def test_every_layer_answers_an_empty_collection(client, admin_header):
    layers = client.get("/api/v1/layers", headers=admin_header).json()
    assert {layer["name"] for layer in layers} == {
        "areas",
        "grids",
        "buildings",
        "complexes",
        "stations",
        "streets",
        "incidents",
    }
    for layer in layers:
        res = client.get(layer["href"], params={"bbox": "116,39,117,40"}, headers=admin_header)
        assert res.status_code == 200, (layer["name"], res.text)
        assert res.json()["features"] == []


def test_grids_current_only_by_default(client, admin_header, session, district):
    from datetime import UTC, datetime

    from geoalchemy2 import WKTElement

    from layers.models import Grid
    from tests.api.conftest import box

    geom = WKTElement(box(116.30, 39.90, 116.32, 39.92), srid=4326)
    session.add(
        Grid(
            code="110105001001001",
            version=1,
            community_id=district["A"].id,
            status="retired",
            valid_from=datetime(2023, 1, 1, tzinfo=UTC),
            valid_to=datetime(2024, 1, 1, tzinfo=UTC),
            geom=geom,
        )
    )
    session.add(
        Grid(
            code="110105001001001",
            version=2,
            community_id=district["A"].id,
            status="active",
            valid_from=datetime(2024, 1, 1, tzinfo=UTC),
            geom=geom,
        )
    )
    session.commit()
    current = client.get("/api/v1/grids", headers=admin_header).json()
    assert [f["properties"]["version"] for f in current["features"]] == [2]
    every = client.get("/api/v1/grids", params={"current": "false"}, headers=admin_header).json()
    assert sorted(f["properties"]["version"] for f in every["features"]) == [1, 2]


def test_parse_bbox_directly():
    assert parse_bbox(None) is None
    assert parse_bbox([116.3, 39.9, 116.4, 40.0]).as_list() == [116.3, 39.9, 116.4, 40.0]  # type: ignore[union-attr]


def test_department_sees_only_cases_assigned_or_whistled_to_it(
    client, session, user_factory, auth_header, district
):
    import json

    from sqlalchemy import text

    dept = make_departments(session, {"CG": "城管局", "SW": "水务局"})
    case = (
        "INSERT INTO incident (category_code, source, description, assignee_department_id, whistles, geom) "
        "VALUES ('06010', 'resident', :d, :a, CAST(:w AS jsonb), ST_SetSRID(ST_MakePoint(116.31, 39.91), 4326))"
    )
    whistle = [
        {
            "department_id": dept["CG"],
            "kind": "routine",
            "whistled_at": "2026-01-01T08:00:00+08:00",
            "due_at": "2026-01-01T08:30:00+08:00",
            "accepted_at": None,
            "flagged_at": None,
        }
    ]
    session.execute(text(case), {"d": "assigned to 城管", "a": dept["CG"], "w": "[]"})
    session.execute(text(case), {"d": "whistled to 城管", "a": None, "w": json.dumps(whistle)})
    session.execute(text(case), {"d": "assigned to 水务", "a": dept["SW"], "w": "[]"})
    session.execute(text(case), {"d": "nobody's yet", "a": None, "w": "[]"})
    user = user_factory("department", district["street"].code)
    user.department_id = dept["CG"]
    session.commit()

    res = client.get("/api/v1/incidents", headers=auth_header(user))
    assert res.status_code == 200
    seen = {f["properties"]["description"] for f in res.json()["features"]}
    assert seen == {"assigned to 城管", "whistled to 城管"}
    # a dispatcher of the same area sees all four
    dispatcher = auth_header(user_factory("dispatcher", district["street"].code))
    assert client.get("/api/v1/incidents", headers=dispatcher).json()["numberMatched"] == 4
