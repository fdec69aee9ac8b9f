"""A community account's layers are scoped by code, not by intersection: the neighbours' grids and
buildings that touch its outline by a sliver of floating-point noise are not its own."""

from __future__ import annotations

from datetime import UTC, datetime

from geoalchemy2 import WKTElement

from layers.models import Building, Grid
from tests.api.conftest import box, make_building

# community A is 116.30–116.35, B is 116.35–116.40 (tests/api/conftest.py); B's grids and a building of B
# reach 0.00000001° (≈ 1 mm × 6 km ≈ 0.7 m² of grid) over the line into A
SLIVER = 1e-8


def _grid(code: str, community_id: int, bounds: tuple[float, float, float, float]) -> Grid:
    return Grid(code=code, version=1, community_id=community_id, status="active",
                valid_from=datetime(2024, 1, 1, tzinfo=UTC), geom=WKTElement(box(*bounds), srid=4326))


def test_a_community_sees_its_own_grids_only(client, user_factory, auth_header, session, district) -> None:
    a, b = district["A"], district["B"]
    session.add(_grid(a.code + "001", a.id, (116.30, 39.90, 116.35, 39.96)))
    for n, y in enumerate((39.90, 39.92, 39.94), start=1):  # three grids of B, each overlapping A by a sliver
        session.add(_grid(f"{b.code}{n:03d}", b.id, (116.35 - SLIVER, y, 116.40, y + 0.02)))
    # a building of B over the line, and a building without a community whose footprint lies in A
    make_building(session, x=116.35 - 0.0001, y=39.93, community=b, name="乙跨界楼")
    session.add(Building(name="无社区楼", households=10,
                         geom=WKTElement(box(116.32, 39.93, 116.3205, 39.9305), srid=4326),
                         entrance=WKTElement("POINT(116.3202 39.9301)", srid=4326)))
    session.commit()

    header_a = auth_header(user_factory("leader", a.code))
    grids = client.get("/api/v1/grids", headers=header_a).json()
    assert [f["properties"]["code"] for f in grids["features"]] == [a.code + "001"]
    assert grids["numberMatched"] == 1
    buildings = client.get("/api/v1/buildings", headers=header_a).json()
    assert {f["properties"]["name"] for f in buildings["features"]} == {"无社区楼"}

    header_b = auth_header(user_factory("leader", b.code))
    assert client.get("/api/v1/grids", headers=header_b).json()["numberMatched"] == 3
    assert {f["properties"]["name"] for f in client.get("/api/v1/buildings", headers=header_b).json()["features"]} \
        == {"乙跨界楼"}
    # the street (and district) above both sees all of them
    street = auth_header(user_factory("leader", district["street"].code))
    assert client.get("/api/v1/grids", headers=street).json()["numberMatched"] == 4
    areas = client.get("/api/v1/areas", headers=header_b).json()
    assert {f["properties"]["code"] for f in areas["features"]} == {"110105000000", "110105001000", b.code}
