"""gisgrid.grids.validate: every rule found with the right grid code(s) and the geometry of the problem."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box, shape

from gisgrid.errors import CRSError, InvalidInputError
from gisgrid.grids import (
    GridProblem,
    format_problems,
    grid_households,
    problems_to_geojson,
    validate_grids,
)
from gisgrid.grids.problems import RULES

# a community of about 1.7 km × 1.1 km, cut at x = 116.31 into a west grid A and an east grid B
COMMUNITY = box(116.30, 39.90, 116.32, 39.91)
WEST, EAST = box(116.30, 39.90, 116.31, 39.91), box(116.31, 39.90, 116.32, 39.91)
A, B = "110105001001001", "110105001001002"
D = 0.0002  # a building's side in degrees (about 17 m × 22 m)


def grids(rows: list[tuple[str, shapely.Geometry]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs=4326)


def buildings(rows: list[tuple[float, float, int] | tuple[float, float, int, int | None]]) -> gpd.GeoDataFrame:
    """Buildings with ids 1, 2, … at (x, y) (south-west corner), households and an optional complex id."""
    data = {
        "households": [r[2] for r in rows],
        "complex_id": [r[3] if len(r) > 3 else None for r in rows],  # type: ignore[misc]
    }
    geoms = [box(r[0], r[1], r[0] + D, r[1] + D) for r in rows]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=4326, index=pd.Index(range(1, len(rows) + 1), name="id"))


def balanced() -> gpd.GeoDataFrame:
    """400 households in each half."""
    return buildings([(116.303, 39.905, 200), (116.306, 39.905, 200), (116.313, 39.905, 200), (116.316, 39.905, 200)])


def only(problems: list[GridProblem], rule: str) -> list[GridProblem]:
    return [p for p in problems if p.rule == rule]


def test_a_clean_plan_has_no_problems() -> None:
    problems = validate_grids(grids([(A, WEST), (B, EAST)]), balanced(), COMMUNITY)
    assert problems == []
    assert format_problems(problems) == "no problems"
    assert grid_households(grids([(A, WEST), (B, EAST)]), balanced()) == [400, 400]


def test_households_out_of_range_names_the_grid_and_its_polygon() -> None:
    homes = buildings([(116.303, 39.905, 250), (116.313, 39.905, 300), (116.316, 39.905, 260)])
    problems = validate_grids(grids([(A, WEST), (B, EAST)]), homes, COMMUNITY)
    found = only(problems, "households_out_of_range")
    assert [(p.grid_code, p.details["households"]) for p in found] == [(A, 250), (B, 560)]
    assert found[0].geometry.equals(WEST) and found[1].geometry.equals(EAST)
    assert "below the minimum of 300" in found[0].message
    assert "above the maximum of 500" in found[1].message
    assert len(problems) == 2


def test_bounds_are_inclusive_and_configurable() -> None:
    homes = buildings([(116.303, 39.905, 150), (116.313, 39.905, 300)])
    assert validate_grids(grids([(A, WEST), (B, EAST)]), homes, COMMUNITY, min_households=150,
                          max_households=300) == []


def test_non_contiguous_reports_the_cut_off_piece() -> None:
    island = box(116.315, 39.902, 116.317, 39.904)
    problems = validate_grids(
        grids([(A, WEST.union(island)), (B, EAST.difference(island))]), balanced(), COMMUNITY
    )
    found = only(problems, "non_contiguous")
    assert len(found) == 1 and found[0].grid_code == A
    assert found[0].geometry.equals(island)
    assert only(problems, "gap") == [] and only(problems, "overlap") == []


def test_overlap_names_both_grids_and_the_shared_area() -> None:
    strip = box(116.31, 39.90, 116.311, 39.91)
    problems = validate_grids(grids([(A, WEST.union(strip)), (B, EAST)]), balanced(), COMMUNITY)
    found = only(problems, "overlap")
    assert len(found) == 1
    assert found[0].grid_codes == (A, B)
    assert found[0].geometry.equals(strip)
    assert found[0].details["area_m2"] == pytest.approx(85.3 * 1111.9, rel=0.02)


def test_gap_names_the_grids_around_it() -> None:
    gap = box(116.309, 39.90, 116.31, 39.91)
    problems = validate_grids(grids([(A, WEST.difference(gap)), (B, EAST)]), balanced(), COMMUNITY)
    found = only(problems, "gap")
    assert len(found) == 1
    assert found[0].grid_codes == (A, B)
    assert found[0].geometry.equals(gap)


def test_spill_outside_the_community() -> None:
    spill = box(116.299, 39.90, 116.30, 39.91)
    problems = validate_grids(grids([(A, WEST.union(spill)), (B, EAST)]), balanced(), COMMUNITY)
    found = only(problems, "outside_community")
    assert len(found) == 1 and found[0].grid_code == A
    assert found[0].geometry.equals(spill)
    assert len(problems) == 1


def test_building_in_no_grid_and_in_two_grids() -> None:
    gap = box(116.300, 39.900, 116.302, 39.902)
    overlap = box(116.31, 39.905, 116.3105, 39.9055)
    homes = buildings(
        [(116.303, 39.905, 200), (116.306, 39.905, 100), (116.313, 39.905, 200), (116.316, 39.905, 200),
         (116.3005, 39.9005, 100), (116.3101, 39.9051, 100)]
    )
    problems = validate_grids(
        grids([(A, WEST.difference(gap).union(overlap)), (B, EAST)]), homes, COMMUNITY
    )
    unassigned = only(problems, "building_unassigned")
    assert [(p.building, p.grid_codes) for p in unassigned] == [(5, ())]
    assert unassigned[0].geometry.equals(homes.geometry.loc[5])
    several = only(problems, "building_in_several")
    assert [(p.building, p.grid_codes) for p in several] == [(6, (A, B))]
    assert several[0].geometry.equals(homes.geometry.loc[6])
    # the building in the overlap counts once, in the first grid
    assert grid_households(grids([(A, WEST.difference(gap).union(overlap)), (B, EAST)]), homes) == [400, 400]


def test_complex_split_uses_the_complex_polygon_or_the_buildings_hull() -> None:
    homes = buildings(
        [(116.303, 39.905, 200), (116.308, 39.905, 200, 7), (116.312, 39.905, 200, 7), (116.316, 39.905, 200)]
    )
    estate = box(116.307, 39.904, 116.313, 39.906)
    complexes = gpd.GeoDataFrame({"complex_id": [7]}, geometry=[estate], crs=4326)
    found = only(validate_grids(grids([(A, WEST), (B, EAST)]), homes, COMMUNITY, complexes=complexes),
                 "complex_split")
    assert len(found) == 1
    assert found[0].grid_codes == (A, B) and found[0].complex == 7 and found[0].severity == "error"
    assert found[0].geometry.equals(estate)
    assert found[0].details["per_grid"] == {A: 200, B: 200}
    hull = only(validate_grids(grids([(A, WEST), (B, EAST)]), homes, COMMUNITY), "complex_split")[0].geometry
    assert hull.covers(homes.geometry.loc[2]) and hull.covers(homes.geometry.loc[3])


def test_a_complex_too_big_for_one_grid_is_only_a_warning() -> None:
    homes = buildings([(116.303, 39.905, 400, 7), (116.313, 39.905, 400, 7)])
    found = only(validate_grids(grids([(A, WEST), (B, EAST)]), homes, COMMUNITY), "complex_split")
    assert found[0].severity == "warning" and "unavoidable" in found[0].message


def test_sliver_tiny_or_elongated() -> None:
    thin = box(116.3099, 39.90, 116.31, 39.91)  # 8.5 m × 1.1 km
    homes = buildings([(116.303, 39.905, 400), (116.313, 39.905, 400)])
    problems = validate_grids(
        grids([(A, WEST.difference(thin)), ("110105001001003", thin), (B, EAST)]), homes, COMMUNITY
    )
    slivers = only(problems, "sliver")
    assert [p.grid_code for p in slivers] == ["110105001001003"]
    assert slivers[0].severity == "warning" and slivers[0].geometry.equals(thin)
    tiny = box(116.3, 39.9, 116.3002, 39.9002)
    problems = validate_grids(
        grids([(A, WEST.difference(tiny)), ("110105001001003", tiny), (B, EAST)]), homes, COMMUNITY,
        sliver_area_m2=1000,
    )
    assert [p.grid_code for p in only(problems, "sliver")] == ["110105001001003"]
    assert "only" in only(problems, "sliver")[0].message


def test_invalid_geometry_is_located_and_the_rest_still_checked() -> None:
    # a bow-tie over the west half: self-intersection at its centre
    bowtie = Polygon([(116.30, 39.90), (116.31, 39.91), (116.31, 39.90), (116.30, 39.91), (116.30, 39.90)])
    problems = validate_grids(grids([(A, bowtie), (B, EAST)]), balanced(), COMMUNITY)
    invalid = only(problems, "invalid_geometry")
    assert len(invalid) == 1 and invalid[0].grid_code == A
    assert invalid[0].geometry.geom_type == "Point"
    assert invalid[0].geometry.distance(shapely.Point(116.305, 39.905)) < 1e-9
    assert only(problems, "gap")  # the bow-tie's valid version leaves two triangles uncovered


def test_duplicate_code() -> None:
    problems = validate_grids(grids([(A, WEST), (A, EAST)]), balanced(), COMMUNITY)
    found = only(problems, "duplicate_code")
    assert len(found) == 1 and found[0].grid_code == A and found[0].details["count"] == 2
    assert found[0].geometry.equals(COMMUNITY)


def test_every_problem_is_collected_at_once() -> None:
    """One bad plan breaks every rule; all are reported together, in rule order."""
    gap = box(116.300, 39.900, 116.301, 39.901)
    spill = box(116.299, 39.905, 116.300, 39.906)
    island = box(116.315, 39.902, 116.317, 39.904)
    overlap = box(116.31, 39.907, 116.311, 39.908)
    thin = box(116.3099, 39.900, 116.31, 39.907)
    west = WEST.difference(gap).difference(thin).union(spill).union(island).union(overlap)
    bowtie = Polygon([(116.318, 39.908), (116.319, 39.909), (116.319, 39.908), (116.318, 39.909),
                      (116.318, 39.908)])
    rows = [
        (A, west),
        (B, EAST.difference(island)),
        ("110105001001003", thin),
        ("110105001001004", bowtie),
        ("110105001001004", box(116.3185, 39.9005, 116.3186, 39.9006)),
    ]
    homes = buildings(
        [(116.303, 39.905, 100, 9), (116.313, 39.905, 600, 9), (116.3003, 39.9003, 10),
         (116.3101, 39.9071, 10), (116.306, 39.903, 50)]
    )
    homes["grid_code"] = [B, None, None, None, None]  # building 1 recorded in B, lies in A
    # building 5 was split when it had 40 households
    stale = pd.DataFrame({"building": [5, 5], "households": [20, 20], "grid_code": [A, B]})
    problems = validate_grids(grids(rows), homes, COMMUNITY, check_recorded=True, pieces=stale)
    assert {p.rule for p in problems} == set(RULES)
    assert [p.rule for p in problems] == sorted((p.rule for p in problems), key=RULES.index)
    text = format_problems(problems)
    assert text.count("\n") == len(problems)
    for rule in RULES:
        assert rule in text

    fc = problems_to_geojson(problems)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(problems)
    json.dumps(fc)  # serialisable as is
    for feature, problem in zip(fc["features"], problems, strict=True):
        assert feature["properties"]["rule"] == problem.rule
        assert feature["properties"]["grid_codes"] == list(problem.grid_codes)
        assert shape(feature["geometry"]).equals(problem.geometry)
    json.dumps([p.to_dict() for p in problems])


def test_pieces_credit_split_buildings_per_grid() -> None:
    homes = buildings([(116.3099, 39.905, 800)])
    pieces = pd.DataFrame({"building": [1, 1], "unit": [1, 2], "households": [400, 400], "grid_code": [A, B]})
    assert grid_households(grids([(A, WEST), (B, EAST)]), homes, pieces=pieces) == [400, 400]
    assert validate_grids(grids([(A, WEST), (B, EAST)]), homes, COMMUNITY, pieces=pieces) == []
    orphan = pieces.assign(grid_code=[A, "110105001001009"])
    (found,) = validate_grids(grids([(A, WEST), (B, EAST)]), homes, COMMUNITY, pieces=orphan,
                              min_households=0, max_households=800)
    assert found.rule == "building_parts_mismatch" and found.building == 1 and found.grid_codes == (A,)
    assert "110105001001009" in found.message


def test_other_crs_is_reprojected_and_no_crs_is_an_error() -> None:
    plan = grids([(A, WEST), (B, EAST)])
    assert validate_grids(plan.to_crs(32650), balanced().to_crs(32650), COMMUNITY) == []
    with pytest.raises(CRSError) as exc:
        validate_grids(gpd.GeoDataFrame(plan, crs=None).set_crs(None, allow_override=True), balanced(),
                       COMMUNITY)
    assert exc.value.field == "grids"
    with pytest.raises(InvalidInputError):
        validate_grids(plan, balanced(), COMMUNITY, min_households=600, max_households=500)


def test_building_outside_its_recorded_grid_is_named_by_its_source_id_and_name() -> None:
    homes = buildings([(116.303, 39.905, 300), (116.313, 39.905, 300)])
    homes["grid_code"] = [B, B]  # the first moved into A after the grids were published
    homes["label"] = ["osm:way/77 3号楼", None]
    plan = grids([(A, WEST), (B, EAST)])
    assert not [p for p in validate_grids(plan, homes, COMMUNITY) if p.rule == "building_outside_grid"]
    found = [p for p in validate_grids(plan, homes, COMMUNITY, check_recorded=True)
             if p.rule == "building_outside_grid"]
    assert len(found) == 1
    assert found[0].grid_codes == (B, A)
    assert "osm:way/77 3号楼" in found[0].message and f"recorded in grid {B}" in found[0].message
    assert found[0].details == {"recorded": B, "lies_in": [A]}
