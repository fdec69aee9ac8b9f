"""Building parts on PostGIS: a plan splits a big building and stores its parts with the grids; edits
move parts by the rule of ``gisgrid.grids.parts``; rollbacks bring them back; validation counts them."""

from __future__ import annotations

import itertools
from datetime import date, datetime

import geopandas as gpd
import pandas as pd
import pytest
from geoalchemy2 import WKTElement
from shapely.geometry import box
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ
from gisgrid.errors import InvalidInputError
from layers import grids as lg
from layers.grids.queries import load_parts
from layers.models import AdminArea, Barrier, Building

COMMUNITY = box(116.30, 39.90, 116.32, 39.91)
CC = "110105001002"
A, B = CC + "001", CC + "002"
T1 = datetime(2024, 1, 1, 9, 0, tzinfo=CHINA_TZ)
WINDOW = {"min_households": 500, "max_households": 1500}


def multi(g) -> str:
    return f"MULTIPOLYGON((({', '.join(f'{x} {y}' for x, y in g.exterior.coords)})))"


def add_building(db: Session, area: AdminArea, bid: int, footprint, households: int, **extra) -> None:
    c = footprint.centroid
    db.add(Building(id=bid, name=f"{bid}号楼", households=households, community_id=area.id,
                    geom=WKTElement(multi(footprint), srid=4326),
                    entrance=WKTElement(f"POINT({c.x} {c.y})", srid=4326), **extra))


def add_community(db: Session) -> AdminArea:
    area = AdminArea(code=CC, level="community", name="乙社区", geom=WKTElement(multi(COMMUNITY), srid=4326))
    db.add(area)
    db.flush()
    return area


def current_parts(db: Session, building: int) -> list[tuple]:
    return [tuple(r) for r in db.execute(text(
        "SELECT part_no, kind, coalesce(entrance_from, floor_from), coalesce(entrance_to, floor_to), households, "
        "grid_code FROM building_part WHERE building_id = :b AND valid_to IS NULL ORDER BY part_no"), {"b": building})]


def building_grid(db: Session, building: int) -> str | None:
    return db.execute(text("SELECT grid_code FROM building WHERE id = :b"), {"b": building}).scalar_one()


def stored_households(db: Session) -> dict[str, int]:
    return dict(db.execute(text("SELECT code, households FROM grid WHERE valid_to IS NULL AND code LIKE :p"),
                           {"p": CC + "%"}).all())


# ------------------------------------------------------------------------------------------ plan


@pytest.fixture
def planned_community(db: Session) -> AdminArea:
    """A 900-household building with six entrances, a 600-household 30-floor tower without entrances,
    fourteen buildings of 100, and a river across the community (2,200 households south of it, 700
    north)."""
    area = add_community(db)
    add_building(db, area, 1, box(116.305, 39.9045, 116.307, 39.9050), 900, units=6, levels=6)
    add_building(db, area, 2, box(116.315, 39.9050, 116.3153, 39.9053), 600, levels=30)
    for i in range(14):
        x, y = 116.3015 + (i % 7) * 0.0027, 39.9015 + (i // 7) * 0.006
        add_building(db, area, 10 + i, box(x, y, x + 0.0003, y + 0.0002), 100)
    db.add(Barrier(kind="river", name="小清河", source="manual",
                   geom=WKTElement("LINESTRING(116.30 39.906, 116.32 39.906)", srid=4326)))
    db.flush()
    return area


def test_plan_and_publish_store_the_parts_of_a_split_building(db: Session, planned_community) -> None:
    report = lg.plan_community(db, CC, publish=True)
    assert report.published is not None
    grids = stored_households(db)
    assert sum(grids.values()) == 2900 == sum(report.households.values())
    assert grids == report.published.households

    parts = current_parts(db, 1)
    assert len(parts) >= 2 and all(kind == "entrance" for _, kind, *_ in parts)
    assert [p[0] for p in parts] == list(range(1, len(parts) + 1))
    assert parts[0][2] == 1 and parts[-1][3] == 6
    assert all(b[2] == a[3] + 1 for a, b in itertools.pairwise(parts))  # consecutive entrances
    assert sum(p[4] for p in parts) == 900 and all(p[4] <= 500 for p in parts)
    assert {p[5] for p in parts} <= set(grids)
    per_grid: dict[str, int] = {}
    for p in parts:
        per_grid[p[5]] = per_grid.get(p[5], 0) + p[4]
    assert building_grid(db, 1) == min(per_grid, key=lambda c: (-per_grid[c], c))
    assert report.published.parts == len(parts) + len(current_parts(db, 2))
    assert next(p["label"] for p in report.parts if p["building"] == 1).endswith("单元")

    # the tower has no entrances: split by floor range, floors 1…30 in consecutive parts
    floors = current_parts(db, 2)
    assert floors and {kind for _, kind, *_ in floors} == {"floors"}
    assert floors[0][2] == 1 and floors[-1][3] == 30 and sum(p[4] for p in floors) == 600

    # validation counts the parts: no grid is out of range that the stored tallies call in range
    problems = lg.validate_community(db, CC)
    out = {c for p in problems if p.rule == "households_out_of_range" for c in p.grid_codes}
    assert out == {c for c, h in grids.items() if not 300 <= h <= 500}

    # publishing again replaces the parts: the old rows are closed, not deleted
    lg.plan_community(db, CC, publish=True, seed=1)
    closed = db.execute(text("SELECT count(*) FROM building_part WHERE building_id = 1 AND valid_to IS NOT NULL"))
    assert closed.scalar_one() == len(parts)


def test_plan_reads_the_barriers_and_floors(db: Session, planned_community) -> None:
    from layers.grids.queries import load_barriers, load_buildings

    barriers = load_barriers(db, CC)
    assert list(barriers["kind"]) == ["river"] and barriers.crs.to_epsg() == 4326
    assert load_buildings(db, CC).loc[2, "levels"] == 30


# ------------------------------------------------------------------------------------------ edits


def floor_and_entrance_parts() -> pd.DataFrame:
    rows = [(9, 1, "entrance", 1, 3, None, None, 450, A), (9, 2, "entrance", 4, 6, None, None, 450, B),
            (10, 1, "floors", None, None, 1, 15, 300, A), (10, 2, "floors", None, None, 16, 30, 300, B)]
    return pd.DataFrame(rows, columns=["building", "part_no", "kind", "entrance_from", "entrance_to", "floor_from",
                                       "floor_to", "households", "grid_code"])


@pytest.fixture
def published(db: Session) -> AdminArea:
    """Grids A (west of 116.31) and B: building 9 (900 households, six entrances) lies mostly in A with
    entrances 1–3 owned by A and 4–6 by B; building 10 (600, 30 floors) lies in A with floors 16–30 owned
    by B; two buildings of 100 in each grid."""
    area = add_community(db)
    add_building(db, area, 9, box(116.305, 39.905, 116.313, 39.9052), 900, units=6)
    add_building(db, area, 10, box(116.303, 39.903, 116.304, 39.9032), 600, levels=30)
    for bid, x, y in ((11, 116.3015, 39.907), (12, 116.3015, 39.902), (13, 116.316, 39.907), (14, 116.316, 39.902)):
        add_building(db, area, bid, box(x, y, x + 0.0003, y + 0.0002), 100)
    db.flush()
    plan = gpd.GeoDataFrame({"code": [A, B]}, geometry=[box(116.30, 39.90, 116.31, 39.91),
                                                         box(116.31, 39.90, 116.32, 39.91)], crs=4326)
    result = lg.publish_plan(db, CC, plan, user_id=None, when=T1, pieces=floor_and_entrance_parts(), **WINDOW)
    assert result.households == {A: 950, B: 950} and result.parts == 4
    return area


def test_publish_stores_floor_and_entrance_parts(db: Session, published) -> None:
    assert current_parts(db, 9) == [(1, "entrance", 1, 3, 450, A), (2, "entrance", 4, 6, 450, B)]
    assert current_parts(db, 10) == [(1, "floors", 1, 15, 300, A), (2, "floors", 16, 30, 300, B)]
    assert building_grid(db, 9) == A and building_grid(db, 10) == A  # ties: the lower code
    assert stored_households(db) == {A: 950, B: 950}
    assert lg.validate_community(db, CC, **WINDOW) == []
    # a re-import changes the tower's households: its parts no longer hold them, and validation says so
    db.execute(text("UPDATE building SET households = 640 WHERE id = 10"))
    (stale,) = lg.validate_community(db, CC, **WINDOW)
    assert stale.rule == "building_parts_mismatch" and stale.building == 10 and stale.grid_codes == (A, B)


def test_publish_refuses_parts_that_do_not_add_up(db: Session, published) -> None:
    plan = lg.current_grids(db, CC)[["code", "geometry"]]
    bad = floor_and_entrance_parts().assign(households=[450, 451, 300, 300])
    with pytest.raises(InvalidInputError) as err:
        lg.publish_plan(db, CC, plan, user_id=None, pieces=bad)
    assert err.value.field == "households" and "sum" in err.value.rule
    gap = floor_and_entrance_parts().assign(floor_from=[None, None, 1, 17])
    with pytest.raises(InvalidInputError) as err:
        lg.publish_plan(db, CC, plan, user_id=None, pieces=gap)
    assert err.value.field == "floor_from"
    stranger = floor_and_entrance_parts().assign(grid_code=[A, CC + "007", A, B])
    with pytest.raises(InvalidInputError) as err:
        lg.publish_plan(db, CC, plan, user_id=None, pieces=stranger)
    assert err.value.field == "grid_code"
    assert current_parts(db, 9) == [(1, "entrance", 1, 3, 450, A), (2, "entrance", 4, 6, 450, B)]


def test_merge_and_community_rollback_keep_the_parts(db: Session, published) -> None:
    dry = lg.merge_grids(db, A, B, expected_versions={A: 1, B: 1}, dry_run=True, **WINDOW)
    assert dry.households == {A: 1900}
    assert {(m["building"], m["part_no"], m["to"]) for m in dry.parts_moved} == {(9, 2, A), (10, 2, A)}
    assert current_parts(db, 9)[1][5] == B  # a dry run writes nothing

    merged = lg.merge_grids(db, A, B, expected_versions={A: 1, B: 1}, **WINDOW)
    assert merged.households == {A: 1900}
    assert [p[5] for p in current_parts(db, 9) + current_parts(db, 10)] == [A, A, A, A]
    assert stored_households(db) == {A: 1900}

    back = lg.rollback(db, CC, to_date=date(2024, 1, 1), user_id=None, **WINDOW)
    assert isinstance(back, lg.PublishResult) and back.parts == 4
    assert back.households == {A: 950, B: 950}
    assert current_parts(db, 9) == [(1, "entrance", 1, 3, 450, A), (2, "entrance", 4, 6, 450, B)]
    assert current_parts(db, 10) == [(1, "floors", 1, 15, 300, A), (2, "floors", 16, 30, 300, B)]
    assert len(load_parts(db, CC, when=date(2024, 1, 1))) == 4


def test_move_and_grid_rollback_keep_the_parts(db: Session, published) -> None:
    moved = lg.move_buildings(db, A, B, [9], expected_versions={A: 1, B: 1}, **WINDOW)
    # the building takes A's part (entrances 1–3) with it; B owned 4–6 already
    assert moved.households == {A: 500, B: 1400}
    assert current_parts(db, 9) == [(1, "entrance", 1, 3, 450, B), (2, "entrance", 4, 6, 450, B)]
    assert building_grid(db, 9) == B
    assert current_parts(db, 10)[1][5] == B  # the tower did not move
    assert stored_households(db) == {A: 500, B: 1400}

    # A gets its first boundary back: the cell with entrances 1–3 returns, and so does their part
    back = lg.rollback(db, A, to_version=1, user_id=None, expected_version=2, **WINDOW)
    assert back.households == {A: 950, B: 950}
    assert current_parts(db, 9) == [(1, "entrance", 1, 3, 450, A), (2, "entrance", 4, 6, 450, B)]
    assert stored_households(db) == {A: 950, B: 950}
    assert lg.validate_community(db, CC, **WINDOW) == []


def test_split_hands_the_new_grid_its_parts(db: Session, published) -> None:
    line = {"type": "LineString", "coordinates": [[116.309, 39.899], [116.309, 39.911]]}
    result = lg.split_grid(db, A, expected_version=1, line=line, **WINDOW)
    (new,) = set(result.versions) - {A}
    # the strip east of 116.309 has no anchor of A's parts (entrances 1–3 sit west of it): no part moves
    assert result.parts_moved == []
    assert sum(stored_households(db).values()) == 1900
    merged = lg.merge_grids(db, new, B, expected_versions={new: 1, B: 1}, keep=new, **WINDOW)
    assert {(m["building"], m["part_no"], m["from"], m["to"]) for m in merged.parts_moved} == {
        (9, 2, B, new), (10, 2, B, new)}
    assert sum(stored_households(db).values()) == 1900
