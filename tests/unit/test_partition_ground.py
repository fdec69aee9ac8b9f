"""gisgrid.grids.partition on the ground as it is: big buildings split by entrance or floor range, rivers
and bridges, water, barriers, boundaries on streets, problems that name the building and say what to do."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisgrid.errors import InvalidInputError
from gisgrid.grids import building_adjacency, plan_grids
from gisgrid.grids.membership import grid_households
from gisgrid.synth.hard import generate_hard_district
from tests.unit.test_partition import CODE, at, check_plan, community_polygon, random_district, square

PIECE_COLUMNS = ["building", "part_no", "kind", "entrance_from", "entrance_to", "floor_from", "floor_to",
                 "households", "grid_code"]


def with_big(big: dict[str, object], seed: int = 4, n: int = 30) -> tuple[gpd.GeoDataFrame, shapely.Polygon]:
    buildings, community = random_district(seed, n, hh_range=(20, 40))
    row = gpd.GeoDataFrame({k: [v] for k, v in big.items()}, geometry=[square(300, 250, 40)], crs=4326,
                           index=pd.Index(["tower"], name="building_id"))
    return pd.concat([buildings, row]), community


def check_pieces(plan: object, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    pieces = plan.pieces  # type: ignore[attr-defined]
    assert list(pieces.columns) == PIECE_COLUMNS
    for bid, rows in pieces.groupby("building", sort=False):
        assert rows["households"].sum() == buildings.loc[bid, "households"]
        assert rows["part_no"].tolist() == list(range(1, len(rows) + 1))
        assert rows["kind"].nunique() == 1
        lo, hi = ("entrance_from", "entrance_to") if rows["kind"].iloc[0] == "entrance" else ("floor_from", "floor_to")
        other = ["floor_from", "floor_to"] if lo == "entrance_from" else ["entrance_from", "entrance_to"]
        assert rows[other].isna().all().all()
        # consecutive ranges from 1, without gaps or overlaps
        assert rows[lo].iloc[0] == 1
        assert (rows[lo].to_numpy()[1:] == rows[hi].to_numpy()[:-1] + 1).all()
        assert (rows[lo].to_numpy() <= rows[hi].to_numpy()).all()
    return pieces


# -- big buildings ------------------------------------------------------------------------------------------


def test_building_without_entrances_is_split_by_floor_range() -> None:
    buildings, community = with_big({"households": 900, "levels": 30, "name": "金桥大厦", "source_ref": "way/77"})
    plan = plan_grids(buildings, community, community_code=CODE)
    pieces = check_pieces(plan, buildings)
    assert pieces[["kind", "floor_from", "floor_to", "households"]].values.tolist() == [
        ["floors", 1, 15, 450], ["floors", 16, 30, 450]]
    assert pieces["grid_code"].nunique() == 2
    assert plan.stats["in_range_share"] == 1.0 and plan.stats["buildings_split"] == 1
    assert not [p for p in plan.problems if p.rule not in ("complex split",)]
    # grid households credit the building part by part
    assert grid_households(plan.grids, buildings, pieces=pieces) == plan.grids["households"].tolist()


def test_entrances_first_floors_when_entrances_cannot_fit() -> None:
    # three entrances of 400: entrance runs fit
    buildings, community = with_big({"households": 1200, "units": 3, "levels": 24})
    plan = plan_grids(buildings, community, community_code=CODE)
    assert check_pieces(plan, buildings)[["kind", "entrance_from", "entrance_to"]].values.tolist() == [
        ["entrance", 1, 1], ["entrance", 2, 2], ["entrance", 3, 3]]
    # two entrances of 600 each cannot fit: floor ranges of the whole building instead
    buildings, community = with_big({"households": 1200, "units": 2, "levels": 24})
    plan = plan_grids(buildings, community, community_code=CODE)
    pieces = check_pieces(plan, buildings)
    assert set(pieces["kind"]) == {"floors"} and len(pieces) == 3
    assert pieces["households"].max() <= 500
    assert plan.stats["in_range_share"] == 1.0


def test_unsplittable_building_is_named_with_cause_and_fix() -> None:
    buildings, community = with_big({"households": 620, "units": 1, "levels": 1, "name": "农贸市场",
                                     "source_ref": "way/123"})
    plan = plan_grids(buildings, community, community_code=CODE)
    check_plan(plan, buildings, community)
    assert plan.pieces.empty
    [problem] = [p for p in plan.problems if p.rule == "indivisible building over maximum"]
    assert problem.feature == "way/123"
    assert "农贸市场 (way/123)" in problem.message and "1 floor(s) and 1 entrance(s) with 620" in problem.message
    assert "record its entrances (units) or floors (levels)" in problem.message
    # it is a grid of its own; every other grid is in the window
    tower_grid = plan.assignment["tower"]
    assert (plan.assignment == tower_grid).sum() == 1
    others = plan.grids[plan.grids["code"] != tower_grid]
    assert others["households"].between(300, 500).all()
    [window] = [p for p in plan.problems if p.rule == "window not met"]
    assert window.feature == CODE
    assert f"community {CODE}: 1 of {plan.k} grid(s) outside 300–500" in window.message
    assert "农贸市场 (way/123)" in window.message and "To fix: record their entrances" in window.message


def test_unknown_floors_and_entrances_are_said_so() -> None:
    buildings, community = with_big({"households": 700, "units": None, "levels": None})
    plan = plan_grids(buildings, community, community_code=CODE)
    [problem] = [p for p in plan.problems if p.rule == "indivisible building over maximum"]
    assert problem.feature == "tower"
    assert "building 'tower' has no recorded floors and no recorded entrances with 700" in problem.message


def test_bad_levels_name_the_building() -> None:
    buildings, community = with_big({"households": 700, "levels": 2.5})
    with pytest.raises(InvalidInputError) as err:
        plan_grids(buildings, community, community_code=CODE)
    assert err.value.field == "levels" and err.value.feature == "tower"


# -- rivers, bridges, water, barriers ----------------------------------------------------------------------


def two_banks(bridge: bool) -> dict[str, object]:
    """A 600 × 500 m community with a river line across it at y = 250 and buildings on both banks."""
    buildings, community = random_district(8, 60, hh_range=(20, 60))
    pts = buildings.geometry.representative_point()
    near_river = np.abs(pts.y.to_numpy() - at(0, 250)[1]) < 12 / 110_574
    buildings = buildings[~near_river]
    river = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[shapely.LineString([at(-10, 250), at(610, 250)])],
                             crs=4326)
    streets = None
    if bridge:
        streets = gpd.GeoDataFrame({"highway": ["residential"]},
                                   geometry=[shapely.LineString([at(300, 200), at(300, 300)])], crs=4326)
    return {"buildings": buildings, "community": community, "barriers": river, "streets": streets}


def bank(buildings: gpd.GeoDataFrame) -> pd.Series:
    return pd.Series(buildings.geometry.representative_point().y > at(0, 250)[1], index=buildings.index)


def test_no_grid_spans_a_river_without_a_bridge() -> None:
    case = two_banks(bridge=False)
    buildings = case["buildings"]
    plan = plan_grids(community_code=CODE, seed=2, **case)  # type: ignore[arg-type]
    north = bank(buildings)
    for code in plan.grids["code"]:
        members = plan.assignment.index[plan.assignment == code]
        assert north[members].nunique() == 1, f"grid {code} spans the river"
    graph = building_adjacency(buildings, case["community"], barriers=case["barriers"])
    assert not any(north[a] != north[b] for a, b in graph.edges)


def test_a_bridge_joins_the_banks_near_it_only() -> None:
    case = two_banks(bridge=True)
    buildings = case["buildings"]
    graph = building_adjacency(buildings, case["community"], case["streets"], barriers=case["barriers"])
    north = bank(buildings)
    across = [(a, b) for a, b in graph.edges if north[a] != north[b]]
    assert across, "the bridge joins the banks"
    xs = buildings.geometry.representative_point().x
    for a, b in across:  # only cells near the bridge (x = 300 m) are joined
        mid = (xs[a] + xs[b]) / 2
        assert abs(mid - at(300, 0)[0]) < 200 / 91_000
        assert graph.edges[a, b]["weight"] == pytest.approx(0.1 * graph.edges[a, b]["length_m"])


def test_water_goes_whole_to_one_grid_and_the_grids_still_tile() -> None:
    buildings, community = random_district(3, 60, hh_range=(20, 60))
    lake = shapely.Polygon([at(200, 150), at(400, 150), at(400, 330), at(200, 330)])
    buildings = buildings[~buildings.intersects(lake.buffer(0.0001))]
    barriers = gpd.GeoDataFrame({"kind": ["water"]}, geometry=[lake], crs=4326)
    plan = plan_grids(buildings, community, community_code=CODE, barriers=barriers, seed=1)
    check_plan(plan, buildings, community)
    holders = [g for g in plan.grids.geometry if g.intersection(lake).area > 0.01 * lake.area]
    assert len(holders) == 1 and holders[0].intersection(lake).area == pytest.approx(lake.area, rel=1e-6)


def test_barrier_kinds_are_checked() -> None:
    buildings, community = random_district(0, 20)
    bad = gpd.GeoDataFrame({"kind": ["canal"]}, geometry=[shapely.LineString([at(0, 0), at(100, 100)])], crs=4326)
    with pytest.raises(InvalidInputError) as err:
        plan_grids(buildings, community, community_code=CODE, barriers=bad)
    assert err.value.field == "barriers.kind" and "river|water|railway|wall|other" in err.value.rule
    with pytest.raises(InvalidInputError) as err:
        plan_grids(buildings, community, community_code=CODE, barriers=bad.drop(columns="kind"))
    assert err.value.field == "barriers.kind"


def test_boundary_on_street_share_is_reported() -> None:
    # four quarters of 400 households, streets along the two centre lines: the grids end at the streets
    rng = np.random.default_rng(5)
    geoms, hh = [], []
    for qx in (0, 1):
        for qy in (0, 1):
            for _ in range(8):
                geoms.append(square(40 + 300 * qx + rng.uniform(0, 220), 40 + 250 * qy + rng.uniform(0, 170)))
                hh.append(50)
    buildings = gpd.GeoDataFrame({"households": hh}, geometry=geoms, crs=4326)
    community = community_polygon(600, 500)
    streets = gpd.GeoDataFrame({"highway": ["residential", "residential"]},
                               geometry=[shapely.LineString([at(300, -10), at(300, 510)]),
                                         shapely.LineString([at(-10, 250), at(610, 250)])], crs=4326)
    plan = plan_grids(buildings, community, community_code=CODE, streets=streets)
    check_plan(plan, buildings, community, streets=streets)
    assert plan.k == 4
    assert plan.stats["boundary_on_street_share"] == pytest.approx(1.0, abs=0.02)
    alone = plan_grids(buildings, community, community_code=CODE)
    assert 0.0 <= alone.stats["boundary_on_street_share"] < 0.5


# -- hard districts -------------------------------------------------------------------------------------------


def test_hard_district_is_deterministic_and_hard() -> None:
    a, b = generate_hard_district(seed=4, buildings=300), generate_hard_district(seed=4, buildings=300)
    assert a.buildings.equals(b.buildings) and a.streets.equals(b.streets) and a.barriers.equals(b.barriers)
    assert not a.buildings.equals(generate_hard_district(seed=5, buildings=300).buildings)
    buildings = a.buildings
    assert {"households", "levels", "units", "name", "source_ref", "complex_key"} <= set(buildings.columns)
    assert len(buildings) == 300 and buildings.index.is_unique
    assert (buildings["households"] > 500).any()  # tall buildings over the maximum
    assert buildings["levels"].isna().any() and buildings["units"].isna().any()
    assert set(a.barriers["kind"]) == {"water", "river", "railway", "wall"}
    assert a.streets["bridge"].sum() == 2
    river = a.barriers.geometry[a.barriers["name"] == "river"].iloc[0]
    crossing = a.streets[a.streets.intersects(river)]
    assert crossing["bridge"].all() and len(crossing) == 2  # only the bridges cross the river
    assert not buildings.intersects(a.park).any() and not buildings.intersects(river).any()
    assert a.community.covers(shapely.union_all(buildings.geometry.to_numpy()))


def test_hard_district_plans_in_range_with_splits() -> None:
    d = generate_hard_district(seed=1, buildings=300, bridges=1, indivisible=1)
    plan = plan_grids(d.buildings, d.community, community_code=CODE, streets=d.streets, barriers=d.barriers, seed=0)
    check_plan(plan, d.buildings, d.community, streets=d.streets)
    check_pieces(plan, d.buildings)
    over = d.buildings.index[d.buildings["households"] > 500]
    b = d.buildings
    hall = b.index[b["levels"].eq(1) & b["units"].eq(1) & (b["households"] > 500)]
    assert len(hall) == 1
    assert set(plan.pieces["building"]) == set(over) - set(hall)
    grids_in = plan.grids["households"].between(300, 500)
    assert (~grids_in).sum() == 1  # only the hall's grid
    assert [p.feature for p in plan.problems if p.rule == "indivisible building over maximum"] == \
        [d.buildings.loc[hall[0], "source_ref"]]
    assert 0.3 < plan.stats["boundary_on_street_share"] <= 1.0


def test_hard_district_arguments_are_checked() -> None:
    with pytest.raises(InvalidInputError) as err:
        generate_hard_district(buildings=10)
    assert err.value.field == "buildings"
    with pytest.raises(InvalidInputError) as err:
        generate_hard_district(bridges=3)
    assert err.value.field == "bridges"


def test_plan_geometries_are_mended_to_valid_multipolygons() -> None:
    """Two grid pieces that touch along an edge (or a ring crossed by the transform back to lon/lat) make an
    invalid MultiPolygon that publishing refuses; the plan hands over the valid union instead."""
    import shapely

    from gisgrid.grids.partition.tessellation import valid_multi

    touching = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    assert not touching.is_valid
    mended = valid_multi(touching)
    assert mended.is_valid and mended.geom_type == "MultiPolygon" and abs(mended.area - 2.0) < 1e-12
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # a ring crossing itself
    fixed = valid_multi(bowtie)
    assert fixed.is_valid and abs(fixed.area - 2.0) < 1e-12
    apart = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(3, 0, 4, 1)])
    assert valid_multi(apart).equals(apart)
