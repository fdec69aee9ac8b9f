"""The reading half of real-file imports, without a database: unknown columns, ids, mixed geometry types,
street lines cut into a network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box, mapping

from gisgrid.errors import GeometryError
from gisgrid.readers import read_layer
from gisgrid.readers.streets import street_network
from gisgrid.readers.values import json_value


def geojson(path: Path, rows: list[tuple[dict[str, Any], Any]]) -> Path:
    features = [{"type": "Feature", "properties": p, "geometry": mapping(g)} for p, g in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


B = box(117.256, 34.796, 117.2563, 34.7962)


def test_unknown_columns_of_kinds_without_attributes_are_dropped_and_listed(tmp_path: Path) -> None:
    path = geojson(tmp_path / "a.geojson", [({"code": "370403001001", "name": "社区", "人口": 3000}, B)])
    gdf = read_layer(path, kind="areas")
    assert "人口" not in gdf.columns and "attributes" not in gdf.columns
    assert gdf.attrs["unknown_columns"] == {"columns": ["人口"], "kept": False}


def test_attributes_hold_json_values_without_missing_ones(tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "b.geojson",
        [
            ({"id": "B1", "备注": "x", "n": 2.0, "f": 2.5}, B),
            ({"id": "B2", "备注": None, "n": None, "f": None}, B),
        ],
    )
    gdf = read_layer(path, kind="buildings")
    assert gdf["attributes"].tolist() == [{"备注": "x", "n": 2, "f": 2.5}, {}]
    assert json_value(float("nan")) is None and json_value("  ") is None


@pytest.mark.parametrize(
    ("ids", "reason"),
    [
        (None, "the file has no id column"),
        (["", ""], "the id column is empty"),
        ([7, 7], "every feature has the same id '7'"),
    ],
)
def test_ids_are_generated_and_the_reason_given(tmp_path: Path, ids: list[Any] | None, reason: str) -> None:
    rows = [({} if ids is None else {"id": ids[i]}, B) for i in range(2)]
    gdf = read_layer(geojson(tmp_path / "x.geojson", rows), kind="buildings")
    assert gdf["id"].tolist() == ["x-1", "x-2"]
    assert gdf.attrs["ids"]["reason"] == reason


def test_a_single_feature_keeps_its_id(tmp_path: Path) -> None:
    gdf = read_layer(geojson(tmp_path / "x.geojson", [({"id": 7}, B)]), kind="buildings")
    assert gdf["id"].tolist() == ["7"] and gdf.attrs["ids"] == {"generated": False, "column": "id"}


def test_lines_in_a_buildings_file_are_set_aside_and_a_lines_only_file_refused(tmp_path: Path) -> None:
    line = LineString([(117.25, 34.79), (117.26, 34.8)])
    gdf = read_layer(
        geojson(tmp_path / "b.geojson", [({"id": "B1"}, B), ({"id": "L1"}, line)]), kind="buildings"
    )
    assert gdf["id"].tolist() == ["B1"]
    assert gdf.attrs["set_aside"] == [
        {"feature": "L1", "type": "LineString", "action": "skipped", "building": None}
    ]
    with pytest.raises(GeometryError) as info:
        read_layer(geojson(tmp_path / "l.geojson", [({"id": "L1"}, line)]), kind="buildings")
    assert (info.value.field, info.value.rule, info.value.feature) == (
        "geometry",
        "buildings are polygons",
        "L1",
    )
    barriers = read_layer(
        geojson(
            tmp_path / "r.geojson",
            [({"id": "L1"}, line), ({"id": "W1"}, B), ({"id": "P"}, Point(117.25, 34.8))],
        ),
        kind="barriers",
    )
    assert barriers["id"].tolist() == ["L1", "W1"] and len(barriers.attrs["set_aside"]) == 1


def test_street_lines_meet_at_shared_vertices_only() -> None:
    lines = gpd.GeoDataFrame(
        {"id": ["a", "b", "ring"], "name": ["甲", None, None], "highway": [None, "footway", None]},
        geometry=[
            LineString([(117.0, 34.0), (117.001, 34.0), (117.002, 34.0)]),
            LineString([(117.001, 33.999), (117.001, 34.001)]),  # crosses a's vertex without sharing it
            LineString([(117.01, 34.0), (117.011, 34.0), (117.011, 34.001), (117.01, 34.0)]),  # a closed loop
        ],
        crs=4326,
    )
    nodes, edges = street_network(lines)
    # a: one edge (its middle vertex is used once); b: one edge; the ring: two edges, cut at its middle vertex
    assert edges["source_ref"].tolist() == ["a/0", "b/0", "ring/0", "ring/1"]
    assert len(nodes) == 6 and sorted(nodes["component"].tolist()) == [0, 0, 1, 1, 2, 2]
    assert (edges["source_node_ref"] != edges["target_node_ref"]).all()
    assert edges["length_m"].round().tolist()[:2] == [185.0, 222.0]
    # sharing the vertex joins them into one component cut at the junction
    lines.geometry = [lines.geometry[0], LineString([(117.001, 34.0), (117.001, 34.001)]), lines.geometry[2]]
    nodes, edges = street_network(lines)
    assert edges["source_ref"].tolist() == ["a/0", "a/1", "b/0", "ring/0", "ring/1"]
    assert sorted(nodes["component"].tolist()) == [0, 0, 0, 0, 1, 1]
