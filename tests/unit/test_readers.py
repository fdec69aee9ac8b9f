"""gisgrid.readers without a database: formats, field mapping, CRS normalisation, per-feature rules."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon, box

from gisgrid.codes import division_level
from gisgrid.crs import from_wgs84
from gisgrid.errors import CRSError, InvalidInputError
from gisgrid.readers import (
    BUILTIN_ALIASES,
    SCHEMAS,
    load_field_mapping,
    parse_field_options,
    read_layer,
    split_source_id,
    validate_features,
)

B = box(117.256, 34.796, 117.2563, 34.7962)


def geojson(path: Path, rows: list[tuple[dict, object]]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": p,
            "geometry": json.loads(gpd.GeoSeries([g]).to_json())["features"][0]["geometry"],
        }
        for p, g in rows
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


def test_builtin_aliases_cover_the_common_chinese_columns() -> None:
    for zh, field in {
        "户数": "households",
        "楼层": "levels",
        "层数": "levels",
        "小区名称": "name",
        "名称": "name",
        "编码": "code",
        "类型": "kind",
        "状态": "status",
        "单元数": "units",
        "物业公司": "property_company",
        "高度": "height",
        "来源": "source",
    }.items():
        assert BUILTIN_ALIASES[zh] == field


def test_chinese_columns_and_values_are_mapped(tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "s.geojson",
        [
            (
                {
                    "编号": 7,
                    "站点名称": "驿站",
                    "类型": "红心驿站",
                    "状态": "已运行",
                    "启用日期": "2024/03/01",
                },
                Point(117.26, 34.8),
            )
        ],
    )
    gdf = read_layer(path, kind="stations")
    assert list(gdf.columns) == ["id", "name", "kind", "status", "opened_on", "geometry", "attributes"]
    assert gdf["attributes"].tolist() == [{}] * len(gdf)
    assert gdf["id"].tolist() == ["7"]
    clean, problems = validate_features(gdf, "stations")
    assert problems == []
    assert (clean["kind"][0], clean["status"][0], str(clean["opened_on"][0])) == (
        "red_heart_station",
        "open",
        "2024-03-01",
    )


def test_type_alias_means_building_type_for_buildings(tmp_path: Path) -> None:
    gdf = read_layer(geojson(tmp_path / "b.geojson", [({"id": "B", "类型": "villa"}, B)]), kind="buildings")
    assert "building_type" in gdf.columns


def test_csv_coordinates_are_detected_and_gcj02_is_shifted(tmp_path: Path) -> None:
    truth = gpd.GeoDataFrame(geometry=[Point(117.2581234, 34.7983456)], crs=4326)
    p = from_wgs84(truth, "gcj02").geometry[0]
    path = tmp_path / "s.csv"
    path.write_text(f"id,name,kind,经度,纬度\nS1,站,police_room,{p.x:.9f},{p.y:.9f}\n", encoding="utf-8")
    gdf = read_layer(path, kind="stations", crs="gcj02")
    assert gdf.crs.to_epsg() == 4326
    assert gdf.to_crs(32650).distance(truth.to_crs(32650))[0] < 0.01


def test_csv_explicit_columns_and_gbk(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes("编号,名称,类型,E,N\nS1,站,police_room,117.26,34.8\n".encode("gb18030"))
    gdf = read_layer(path, kind="stations", crs="wgs84", x="E", y="N")
    assert gdf.geometry[0].equals(Point(117.26, 34.8))


def test_csv_needs_a_crs(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,name,kind,lon,lat\nS1,站,police_room,117.26,34.8\n")
    with pytest.raises(CRSError) as info:
        read_layer(path, kind="stations")
    assert info.value.field == "crs"


def test_staff_needs_no_geometry(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_text("姓名,岗位\n张三,网格员\n", encoding="utf-8")
    clean, problems = validate_features(read_layer(path, kind="staff"), "staff")
    assert problems == [] and clean["role"][0] == "grid_worker"


def test_validate_collects_every_problem() -> None:
    gdf = gpd.GeoDataFrame(
        {"id": ["a", "b"], "households": [-1, "x"], "levels": [300, 2]}, geometry=[B, B], crs=4326
    )
    clean, problems = validate_features(gdf, "buildings")
    assert len(clean) == 0
    assert [(p.feature, p.field) for p in problems] == [
        ("a", "levels"),
        ("a", "households"),
        ("b", "households"),
    ]


def test_repair_keeps_the_polygonal_part() -> None:
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    gdf = gpd.GeoDataFrame({"id": ["x"]}, geometry=[bowtie], crs=4326)
    assert validate_features(gdf, "buildings")[1][0].action == "rejected"
    clean, problems = validate_features(gdf, "buildings", repair=True)
    assert problems[0].action == "repaired" and clean.geometry[0].geom_type == "MultiPolygon"
    assert clean.geometry[0].is_valid


def test_field_options_and_yaml(tmp_path: Path) -> None:
    assert parse_field_options(["户数=households", "备注=-"]) == {"户数": "households", "备注": "-"}
    with pytest.raises(InvalidInputError):
        parse_field_options(["households"])
    (tmp_path / "m.yaml").write_text("楼号: id\n", encoding="utf-8")
    assert load_field_mapping(tmp_path / "m.yaml") == {"楼号": "id"}
    (tmp_path / "bad.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as info:
        load_field_mapping(tmp_path / "bad.yaml")
    assert info.value.field == "fields"


def test_dropping_a_column_with_a_dash(tmp_path: Path) -> None:
    path = geojson(tmp_path / "b.geojson", [({"id": "B", "备注": "x"}, B)])
    assert "备注" not in read_layer(path, kind="buildings", fields={"备注": "-"}).columns


def test_codes_ids_and_schemas() -> None:
    assert division_level("370403001001") == ("community", "370403001000")
    assert division_level("370403200000") == ("town", "370403000000")
    assert split_source_id("synthetic:b1") == ("synthetic", "b1")
    assert split_source_id("http://x") == ("import", "http://x")
    assert {s.geometry for s in SCHEMAS.values()} == {"polygon", "point", "line", "line_or_polygon", None}


def test_truncated_shapefile_names_are_recognised(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"id": ["S1"], "name": ["站"], "kind": ["police_room"], "service_radius_m": [500.0]},
        geometry=[Point(117.26, 34.8)],
        crs=4326,
    )
    with warnings.catch_warnings():  # writing it warns that names are truncated: that is the point
        warnings.simplefilter("ignore")
        gdf.to_file(tmp_path / "s.shp", engine="pyogrio")
    got = read_layer(tmp_path / "s.shp", kind="stations")
    assert "service_radius_m" in got.columns
