"""The grid edits as pure geometry (gisgrid.grids.edit): no database, only polygons and building frames."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, box, mapping

from gisgrid.errors import ConflictError, GeometryError, InvalidInputError, NotFoundError
from gisgrid.grids import edit

CC = "110105001001"
A, B, C = CC + "001", CC + "002", CC + "003"
COMMUNITY = box(116.30, 39.90, 116.33, 39.91)
# three grids side by side, 0.01° wide
GRIDS = {A: box(116.30, 39.90, 116.31, 39.91), B: box(116.31, 39.90, 116.32, 39.91),
         C: box(116.32, 39.90, 116.33, 39.91)}
# two buildings per grid: (id, x of the footprint's west edge, households)
HOUSES = [(1, 116.302, 200), (2, 116.306, 150), (3, 116.312, 200), (4, 116.317, 100), (5, 116.322, 250),
          (6, 116.327, 50)]


def buildings(rows=HOUSES) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"households": [h for _, _, h in rows]},
        geometry=[box(x, 39.905, x + 0.0003, 39.9053) for _, x, _ in rows],
        index=pd.Index([i for i, _, _ in rows], name="id"),
        crs=4326,
    )


def assert_tiles(parts, whole) -> None:
    """``parts`` cover ``whole`` with no gap and no overlap (to overlay noise)."""
    union = shapely.union_all(list(parts))
    assert shapely.symmetric_difference(union, whole).area < 1e-12
    assert sum(p.area for p in parts) == pytest.approx(whole.area, rel=1e-9)


# ------------------------------------------------------------------------------------------ tallies


def test_tally_counts_households_per_resulting_grid() -> None:
    assert edit.tally(GRIDS, buildings()) == {A: 350, B: 300, C: 300}
    # counted independently: a drawn boundary overlapping a neighbour counts its buildings too
    assert edit.tally({"drawn": box(116.30, 39.90, 116.315, 39.91)}, buildings()) == {"drawn": 550}
    assert edit.tally(GRIDS, buildings([])) == {A: 0, B: 0, C: 0}


def test_tally_credits_split_buildings_per_piece() -> None:
    pieces = pd.DataFrame({"building": [3, 3], "unit": [1, 2], "households": [120, 80], "grid_code": [A, B]})
    assert edit.tally(GRIDS, buildings(), pieces=pieces) == {A: 470, B: 180, C: 300}


def test_assign_gives_each_building_the_lowest_covering_code() -> None:
    overlapping = {**GRIDS, A: box(116.30, 39.90, 116.315, 39.91)}
    assigned = edit.assign(overlapping, buildings())
    assert assigned.to_dict() == {1: A, 2: A, 3: A, 4: B, 5: C, 6: C}
    assert edit.assign({A: GRIDS[A]}, buildings()).to_dict()[6] is None


# ------------------------------------------------------------------------------------------ pieces


def test_cells_tile_the_grid_one_building_each() -> None:
    b = buildings()
    points = list(shapely.point_on_surface(b.geometry.values))
    cells = edit.cells(COMMUNITY, points)
    assert len(cells) == len(points)
    assert_tiles(cells, COMMUNITY)
    for i, cell in enumerate(cells):
        assert [j for j, p in enumerate(points) if cell.covers(p)] == [i]
    assert edit.cells(GRIDS[A], points[:1]) == [GRIDS[A]]


def test_give_away_hands_each_piece_to_the_longest_border() -> None:
    grids = {A: GRIDS[A], B: GRIDS[B]}
    strip = box(116.31, 39.90, 116.311, 39.91)  # borders A along 0.01°, nobody else
    island = box(116.35, 39.90, 116.36, 39.91)  # borders nobody: stays with the keeper
    out = edit.give_away(shapely.union(strip, island), grids, B)
    assert shapely.equals(out[A], shapely.union(GRIDS[A], strip))
    assert shapely.equals(out[B], shapely.union(GRIDS[B], island))
    assert grids[A] is GRIDS[A]  # the input is not changed


def test_neighbours_share_a_border_of_some_length() -> None:
    edit.check_neighbours(A, GRIDS[A], B, GRIDS[B])
    with pytest.raises(InvalidInputError) as exc:
        edit.check_neighbours(A, GRIDS[A], C, GRIDS[C], field="codes")
    assert exc.value.field == "codes" and exc.value.rule == "the two grids share a border"


def test_clean_polygon_names_the_field_and_rule() -> None:
    assert edit.clean_polygon(mapping(GRIDS[A])).geom_type == "MultiPolygon"
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    for bad, rule in ((bowtie, "a valid polygon (OGC)"), ({"type": "Polygon"}, "a GeoJSON Polygon or MultiPolygon"),
                      (LineString([(0, 0), (1, 1)]), "a Polygon or MultiPolygon"),
                      (None, "a non-empty Polygon or MultiPolygon")):
        with pytest.raises(GeometryError) as exc:
            edit.clean_polygon(bad, feature=A)
        assert exc.value.field == "geometry" and exc.value.feature == A and exc.value.rule == rule


def test_building_ids_and_grid_codes_are_checked() -> None:
    assert edit.building_ids(["3", 4], "building_ids") == [3, 4]
    for bad in (["x"], [], [1, 1]):
        with pytest.raises(InvalidInputError) as exc:
            edit.building_ids(bad, "building_ids")
        assert exc.value.field == "building_ids"
    assert edit.check_grid_code(A, CC) == A
    for bad in ("110105001002001", CC + "01", CC + "0x1"):
        with pytest.raises(InvalidInputError) as exc:
            edit.check_grid_code(bad, CC, field="new_code")
        assert exc.value.field == "new_code" and exc.value.feature == bad


# ------------------------------------------------------------------------------------------ boundary


def test_taking_area_from_a_neighbour_gives_it_exactly_the_complement() -> None:
    change = edit.replace_boundary(GRIDS, A, box(116.30, 39.90, 116.314, 39.91), COMMUNITY)
    assert set(change.grids) == {A, B} and change.retired == ()  # C is untouched, so not listed
    assert shapely.equals(change.grids[A], box(116.30, 39.90, 116.314, 39.91))
    assert shapely.equals(change.grids[B], shapely.difference(GRIDS[B], change.grids[A]))
    assert_tiles(change.after(GRIDS).values(), COMMUNITY)
    assert edit.tally(change.grids, buildings()) == {A: 550, B: 100}


def test_area_given_up_goes_to_the_neighbour_and_a_covered_neighbour_is_retired() -> None:
    shrink = edit.replace_boundary(GRIDS, B, box(116.313, 39.90, 116.32, 39.91), COMMUNITY)
    assert shapely.equals(shrink.grids[A], box(116.30, 39.90, 116.313, 39.91))
    assert_tiles(shrink.after(GRIDS).values(), COMMUNITY)
    swallow = edit.replace_boundary(GRIDS, A, box(116.30, 39.90, 116.32, 39.91), COMMUNITY)
    assert swallow.retired == (B,) and set(swallow.grids) == {A}
    assert_tiles(swallow.after(GRIDS).values(), COMMUNITY)


def test_a_boundary_is_clipped_to_the_community_and_must_overlap_it() -> None:
    change = edit.replace_boundary(GRIDS, A, box(116.29, 39.89, 116.31, 39.92), COMMUNITY)
    assert change.grids == {}  # clipped, it is the old boundary: nothing changes
    with pytest.raises(GeometryError) as exc:
        edit.replace_boundary(GRIDS, A, box(117.0, 40.0, 117.1, 40.1), COMMUNITY)
    assert exc.value.rule == "inside the community" and CC in exc.value.message


def test_a_retired_code_can_be_given_a_boundary_again() -> None:
    two = {A: GRIDS[A], B: shapely.union(GRIDS[B], GRIDS[C])}
    change = edit.replace_boundary(two, C, GRIDS[C], COMMUNITY)
    assert shapely.equals(change.grids[C], GRIDS[C]) and shapely.equals(change.grids[B], GRIDS[B])


# ------------------------------------------------------------------------------------------ move


def test_moving_buildings_moves_their_cells_and_exactly_their_households() -> None:
    change = edit.move_buildings(GRIDS, A, B, buildings(), [2])
    assert change.moved == (2,) and set(change.grids) == {A, B}
    assert edit.tally(change.grids, buildings()) == {A: 200, B: 450}
    assert_tiles(change.after(GRIDS).values(), COMMUNITY)


def test_a_move_of_buildings_not_in_the_source_grid_is_refused() -> None:
    with pytest.raises(InvalidInputError) as exc:
        edit.move_buildings(GRIDS, A, B, buildings(), [2, 3])
    assert exc.value.field == "building_ids" and exc.value.feature == [3]
    with pytest.raises(InvalidInputError) as exc:
        edit.move_buildings(GRIDS, A, B, buildings(), [1, 2])
    assert exc.value.rule == "the source grid keeps at least one building"
    with pytest.raises(InvalidInputError) as exc:
        edit.move_buildings(GRIDS, A, C, buildings(), [2])
    assert "not neighbours" in exc.value.message and exc.value.field == "to_code"
    with pytest.raises(InvalidInputError) as exc:
        edit.move_buildings(GRIDS, A, A, buildings(), [2])
    assert exc.value.rule == "two different grids"
    with pytest.raises(NotFoundError):
        edit.move_buildings(GRIDS, A, CC + "009", buildings(), [2])


# ------------------------------------------------------------------------------------------ split


def test_a_split_along_a_line_yields_two_grids_that_tile_the_original() -> None:
    line = {"type": "LineString", "coordinates": [[116.304, 39.89], [116.304, 39.92]]}
    change = edit.split_grid(GRIDS, A, CC + "004", buildings(), line=line)
    assert set(change.grids) == {A, CC + "004"} and change.retired == ()
    assert_tiles(change.grids.values(), GRIDS[A])
    # the part with more households (building 1, 200) keeps the code
    assert edit.tally(change.grids, buildings()) == {A: 200, CC + "004": 150}


def test_a_split_by_building_sets_gives_each_side_its_cells() -> None:
    change = edit.split_grid(GRIDS, B, CC + "004", buildings(), building_sets=([4], [3]))
    assert_tiles(change.grids.values(), GRIDS[B])
    assert edit.tally(change.grids, buildings()) == {B: 200, CC + "004": 100}
    with pytest.raises(InvalidInputError) as exc:
        edit.split_grid(GRIDS, B, CC + "004", buildings(), building_sets=([3], [3, 4]))
    assert exc.value.field == "building_sets"


def test_bad_splits_are_refused() -> None:
    twice = LineString([(116.303, 39.89), (116.303, 39.92), (116.307, 39.92), (116.307, 39.89)])
    with pytest.raises(InvalidInputError) as exc:
        edit.split_grid(GRIDS, A, CC + "004", buildings(), line=twice)
    assert exc.value.rule == "exactly two parts"
    with pytest.raises(GeometryError):
        edit.split_grid(GRIDS, A, CC + "004", buildings(), line=mapping(GRIDS[B]))
    with pytest.raises(InvalidInputError) as exc:
        edit.split_grid(GRIDS, A, CC + "004", buildings())
    assert exc.value.rule == "exactly one of line, building_sets"
    with pytest.raises(ConflictError):
        edit.split_grid(GRIDS, A, B, buildings(), building_sets=([1], [2]))
    with pytest.raises(InvalidInputError) as exc:
        edit.split_grid(GRIDS, A, "110105001002004", buildings(), building_sets=([1], [2]))
    assert exc.value.field == "new_code"


# ------------------------------------------------------------------------------------------ merge


def test_a_merge_keeps_the_lower_code_and_retires_the_other() -> None:
    change = edit.merge_grids(GRIDS, C, B)
    assert set(change.grids) == {B} and change.retired == (C,)
    assert shapely.equals(change.grids[B], box(116.31, 39.90, 116.33, 39.91))
    assert edit.merge_grids(GRIDS, B, C, keep=C).retired == (B,)
    assert_tiles(change.after(GRIDS).values(), COMMUNITY)


def test_a_merge_of_non_neighbours_is_refused() -> None:
    with pytest.raises(InvalidInputError) as exc:
        edit.merge_grids(GRIDS, A, C)
    assert exc.value.field == "codes" and "not neighbours" in exc.value.message
    with pytest.raises(InvalidInputError) as exc:
        edit.merge_grids(GRIDS, A, A)
    assert exc.value.rule == "two different grids"
    with pytest.raises(InvalidInputError) as exc:
        edit.merge_grids(GRIDS, A, B, keep=C)
    assert exc.value.field == "keep"
