"""Building parts where households are counted on PostGIS: coverage figures per grid and patrol plans
(a split building is a stop of every grid that owns a part of it)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.coverage import Thresholds
from gisgrid.patrol import PatrolRules
from layers import coverage as lc
from layers.grids import current_grids, publish_plan
from layers.patrol import my_area, plan_patrol_week, stored_plans
from layers.patrol.queries import grid_buildings
from tests.patrol_seed import CA, G1, G2, WEEK, seed


def split_first_building(db: Session, world) -> int:
    """Publish the seeded grids again with the first building of G1 split: entrance 1 (13 households) in
    G1, entrance 2 (12) in G2."""
    bid = world.buildings[G1][0]
    db.execute(text("UPDATE building SET units = 2 WHERE id = :b"), {"b": bid})
    parts = pd.DataFrame({"building": [bid, bid], "unit": [1, 2], "households": [13, 12], "grid_code": [G1, G2]})
    result = publish_plan(db, CA, current_grids(db, CA)[["code", "geometry"]], user_id=None, pieces=parts,
                          min_households=1, max_households=10_000)
    assert result.parts == 2
    return bid


def test_coverage_figures_per_grid_count_the_parts(db: Session) -> None:
    world = seed(db)
    before = {r["code"]: r for r in lc.figures(db, Thresholds(), level="grid", code=CA)["rows"]}
    bid = split_first_building(db, world)
    after = {r["code"]: r for r in lc.figures(db, Thresholds(), level="grid", code=CA)["rows"]}
    assert after[G1]["households"] == before[G1]["households"] - 12
    assert after[G2]["households"] == before[G2]["households"] + 12
    assert after[G1]["buildings"] == before[G1]["buildings"]  # the building counts once, in its own grid
    assert sum(r["households"] for r in after.values()) == sum(r["households"] for r in before.values())
    covered = "service_station_households_covered"
    assert after[G1][covered] + after[G2][covered] == before[G1][covered] + before[G2][covered]
    assert db.execute(text("SELECT grid_code FROM building WHERE id = :b"), {"b": bid}).scalar_one() == G1
    # the coverage map's buildings of G2 include the building G2 owns a part of
    page = lc.buildings_geojson(db, Thresholds(), kind="service_station", code=G2, limit=100).to_dict()
    assert bid in [f["id"] for f in page["features"]]


def test_patrol_plans_stop_at_a_split_building_in_every_owning_grid(db: Session) -> None:
    world = seed(db)
    bid = split_first_building(db, world)
    g1, g2 = grid_buildings(db, G1), grid_buildings(db, G2)
    assert g1.loc[bid, "households"] == 13 and g1.loc[bid, "parts"] == "1单元"
    assert g2.loc[bid, "households"] == 12 and g2.loc[bid, "parts"] == "2单元"
    assert g1["households"].sum() + g2["households"].sum() == 24 * 25

    plan_patrol_week(db, WEEK, rules=PatrolRules(), community_code=CA)
    rows = stored_plans(db, week=WEEK)
    for code in (G1, G2):
        seen = [b for day in rows[rows["grid_code"] == code]["building_ids"] for b in day]
        assert seen.count(bid) == 1  # each owning grid visits it once a week
    area = my_area(db, world.workers["w2"], on=WEEK + dt.timedelta(days=1))
    mine = [f["properties"] for f in area["features"] if f["properties"]["kind"] == "building"
            and f["properties"]["building_id"] == bid]
    assert mine == [{"kind": "building", "building_id": bid, "name": "1号楼", "households": 12, "parts": "2单元",
                     "grid_code": G2}]


def test_geojson_and_export_show_the_parts(clean_db, tmp_path) -> None:
    import json

    import geopandas as gpd

    from layers.export import export_layer
    from layers.geojson import fetch_buildings

    with Session(clean_db) as db:  # committed: the export reads through its own connection
        world = seed(db)
        bid = split_first_building(db, world)
        db.commit()
        page = json.loads(fetch_buildings(db, grid_code=G2, limit=100).to_json())
    split = [f for f in page["features"] if f["id"] == bid]
    assert len(split) == 1  # in G2's page too, though its own grid is G1
    assert [(p["label"], p["households"], p["grid_code"]) for p in split[0]["properties"]["parts"]] == [
        ("1单元", 13, G1), ("2单元", 12, G2)]
    assert all(f["properties"]["parts"] is None for f in page["features"] if f["id"] != bid)

    result = export_layer(clean_db, "building_parts", tmp_path / "parts.gpkg")
    assert result["features"] == 2
    back = gpd.read_file(tmp_path / "parts.gpkg", layer="building_parts", engine="pyogrio")
    assert list(back["label"]) == ["1单元", "2单元"] and list(back["grid_code"]) == [G1, G2]
    assert list(back["households"]) == [13, 12] and list(back["building_name"]) == ["1号楼", "1号楼"]
