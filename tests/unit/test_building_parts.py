"""Building parts in the core: from a plan's pieces (either format), the rules, tallies, owners, labels,
and who owns a part after an edit."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from gisgrid.errors import InvalidInputError
from gisgrid.grids.parts import (
    PART_COLUMNS,
    check_parts,
    owners,
    part_label,
    part_tallies,
    parts_after_edit,
    parts_from_pieces,
)

A, B, C = "110105001001001", "110105001001002", "110105001001003"


def entrance_pieces() -> pd.DataFrame:
    # building 7: six entrances of 150; the plan put 1–3 in A and 4–6 in B
    return pd.DataFrame({"building": [7] * 6, "unit": [4, 5, 6, 1, 2, 3], "households": [150] * 6,
                         "grid_code": [B, B, B, A, A, A]})


def test_entrance_pieces_become_consecutive_parts() -> None:
    parts = parts_from_pieces(entrance_pieces())
    assert list(parts.columns) == list(PART_COLUMNS)
    assert parts[["part_no", "entrance_from", "entrance_to", "households", "grid_code"]].values.tolist() == [
        [1, 1, 3, 450, A], [2, 4, 6, 450, B]]
    assert set(parts["kind"]) == {"entrance"}
    assert part_tallies(parts) == {A: 450, B: 450}
    assert owners(parts) == {7: A}  # a tie goes to the lower code
    check_parts(parts, {7: 900})
    with pytest.raises(InvalidInputError) as err:
        check_parts(parts, {7: 901})
    assert err.value.field == "households"


def test_part_rows_pass_through_and_bad_ranges_are_refused() -> None:
    rows = pd.DataFrame([
        {"building": 9, "part_no": 1, "kind": "floors", "entrance_from": None, "entrance_to": None,
         "floor_from": 1, "floor_to": 15, "households": 300, "grid_code": A},
        {"building": 9, "part_no": 2, "kind": "floors", "entrance_from": None, "entrance_to": None,
         "floor_from": 16, "floor_to": 30, "households": 300, "grid_code": C},
    ])
    parts = parts_from_pieces(rows)
    assert part_tallies(parts) == {A: 300, C: 300}
    assert [part_label(p) for p in parts.to_dict("records")] == ["1–15层", "16–30层"]
    assert part_label(parts.iloc[0].to_dict(), "en") == "floors 1–15"
    gap = rows.assign(floor_from=[1, 17])
    with pytest.raises(InvalidInputError) as err:
        parts_from_pieces(gap)
    assert err.value.field == "floor_from" and "consecutive" in err.value.rule
    with pytest.raises(InvalidInputError) as err:
        parts_from_pieces(rows.assign(part_no=[1, 3]))
    assert err.value.field == "part_no"


def test_parts_after_split_merge_and_move() -> None:
    # a long building along x from 0.0 to 0.01; entrances 1–3 on the west half, 4–6 on the east half
    buildings = gpd.GeoDataFrame({"households": [900]}, geometry=[box(0.0, 0.0, 0.01, 0.001)], index=[7],
                                 crs=4326)
    parts = parts_from_pieces(entrance_pieces())
    whole = {A: box(-0.01, -0.01, 0.02, 0.01)}
    both = {A: box(-0.01, -0.01, 0.005, 0.01), B: box(0.005, -0.01, 0.02, 0.01)}
    # a split of A hands the new grid B the part on its side
    split = parts.assign(grid_code=[A, A])
    assert list(parts_after_edit(split, whole, both, buildings)["grid_code"]) == [A, B]
    # a merge gives the survivor the retired grid's parts
    merged = parts_after_edit(parts, both, {A: whole[A]}, buildings)
    assert list(merged["grid_code"]) == [A, A]
    # a boundary edit that leaves the anchors where they were keeps the owners
    nudged = {A: box(-0.01, -0.01, 0.004, 0.01), B: box(0.004, -0.01, 0.02, 0.01)}
    assert list(parts_after_edit(parts, both, nudged, buildings)["grid_code"]) == [A, B]
    # moving the building from A to B takes A's part along
    moved = parts_after_edit(parts, both, both, buildings, moved=[7], move=(A, B))
    assert list(moved["grid_code"]) == [B, B]
    # a retired grid whose part's anchor is elsewhere: its heir is the grid covering most of its area
    third = {A: both[A], B: box(0.005, -0.01, 0.02, 0.0), C: box(0.005, 0.0, 0.02, 0.01)}
    far = parts.assign(grid_code=[A, C])
    out = parts_after_edit(far, third, {A: both[A], B: box(0.005, -0.01, 0.02, 0.01)}, buildings)
    assert list(out["grid_code"]) == [A, B]
