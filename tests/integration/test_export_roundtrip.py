"""Export every layer to GeoJSON and GeoPackage; exported files import back to the same rows."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box
from sqlalchemy import Engine, text

from gisgrid.crs import to_wgs84
from layers.export import EXPORT_KINDS, export_layer, read_table
from tests.conftest import truncate_all
from tests.integration.test_file_import import (
    COMPLEX,
    bldg,
    counts,
    feature,
    run,
    seed_areas,
    write_csv,
    write_geojson,
    write_gpkg,
)

# complexes before buildings and stations, so that those are linked to the complex they lie in
IMPORTABLE = ("areas", "complexes", "buildings", "stations", "staff", "incidents", "barriers")
DATES = {"owners_committee_since", "planned_on", "building_since", "opened_on", "closed_on"}


def load_everything(engine: Engine, d: Path) -> None:
    seed_areas(engine, d)
    run(
        engine,
        write_gpkg(
            d / "c.gpkg",
            gpd.GeoDataFrame(
                {
                    "id": ["C1", "C2"],
                    "name": ["幸福小区", "老街小区"],
                    "property_company": ["安居物业", None],
                    "management": [None, "none"],
                    "owners_committee_since": ["2020-06-01", None],
                    "red_property": [True, False],
                    "built_year": [2005, None],
                },
                geometry=[COMPLEX, box(117.263, 34.795, 117.268, 34.8)],
                crs=4326,
            ),
        ),
        "complexes",
    )
    run(
        engine,
        write_geojson(
            d / "b.geojson",
            [
                feature(
                    {"id": "B1", "户数": 24, "楼层": 6, "类型": "residential_slab", "名称": "1号楼", "高度": 18.5,
                     "备注": "临街", "产权单位": "房管所"},
                    bldg(117.256, 34.796),
                ),
                feature({"id": "B2", "楼层": 11, "单元数": 2, "备注": None, "产权单位": 7}, bldg(117.257, 34.796)),
                feature({"id": "B3"}, bldg(117.264, 34.796)),
            ],
        ),
        "buildings",
    )
    run(
        engine,
        write_geojson(
            d / "s.geojson",
            [
                feature(
                    {
                        "id": "S1",
                        "name": "幸福驿站",
                        "kind": "red_heart_station",
                        "status": "open",
                        "planned_on": "2023-01-05",
                        "opened_on": "2024-03-01",
                    },
                    Point(117.258, 34.798),
                ),
                feature({"id": "S2", "name": "警务室", "kind": "police_room"}, Point(117.266, 34.805)),
            ],
        ),
        "stations",
    )
    run(
        engine,
        write_csv(
            d / "staff.csv",
            "name,role,phone,community_code\n张三,grid_chief,13800000001,370403001001\n李四,grid_worker,,\n",
        ),
        "staff",
    )
    run(
        engine,
        write_geojson(
            d / "e.geojson",
            [
                feature(
                    {
                        "id": "E1",
                        "category_code": "06010",
                        "source": "resident",
                        "reported_at": "2024-05-01T08:30:00+08:00",
                        "description": "暴露垃圾",
                    },
                    Point(117.26, 34.8),
                ),
            ],
        ),
        "incidents",
    )
    run(
        engine,
        write_geojson(
            d / "r.geojson",
            [
                feature(
                    {"id": "R1", "kind": "river", "name": "蟠龙河"}, LineString([(117.25, 34.79), (117.27, 34.81)])
                ),
                feature({"id": "W1", "kind": "water"}, box(117.27, 34.79, 117.272, 34.792)),
            ],
        ),
        "barriers",
    )


@pytest.fixture
def loaded(clean_db: Engine, tmp_path: Path) -> Engine:
    load_everything(clean_db, tmp_path)
    with clean_db.begin() as conn:  # a grid, building parts and a street edge so every layer has a row
        conn.execute(
            text("""INSERT INTO grid (code, community_id, households, status, geom)
            SELECT '370403001001001', id, 300, 'active', geom FROM admin_area WHERE code = '370403001001'""")
        )
        conn.execute(
            text("""INSERT INTO building_part (building_id, part_no, kind, entrance_from, entrance_to, households,
                                               grid_code)
            SELECT id, n, 'entrance', n, n, households / 2 + (n - 1) * (households % 2), '370403001001001'
            FROM building, generate_series(1, 2) n WHERE source_ref = 'B2'""")
        )
        conn.execute(
            text("""INSERT INTO street_node (id, geom) VALUES
            (1, ST_SetSRID(ST_MakePoint(117.25, 34.8), 4326)),
            (2, ST_SetSRID(ST_MakePoint(117.26, 34.8), 4326));
            INSERT INTO street_edge (source_node, target_node, length_m, name, geom)
            VALUES (1, 2, 913.4, '临城路', ST_SetSRID(ST_MakeLine(ST_MakePoint(117.25, 34.8),
                                                                ST_MakePoint(117.26, 34.8)), 4326))""")
        )
    return clean_db


def comparable(gdf: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """Values as plain Python objects (files and the database type numbers and times differently)."""
    out = gdf.drop(columns=["id"] if kind == "staff" else []).reset_index(drop=True).copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if col in DATES:  # a date may come back from a file as a datetime at midnight
            out[col] = [None if v is None or pd.isna(v) else str(v)[:10] for v in out[col]]
            continue
        out[col] = [
            None
            if v is None or (not isinstance(v, str) and pd.isna(v))
            else (
                pd.Timestamp(v).floor("ms").isoformat()
                if isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "tzinfo")
                else (
                    float(v)
                    if isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
                    else str(v)
                )
            )
            for v in out[col]
        ]
    return out


def assert_same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, kind: str, tolerance: float = 1e-9) -> None:
    left, right = comparable(a, kind), comparable(b, kind)
    assert list(left.columns) == list(right.columns)
    pd.testing.assert_frame_equal(
        pd.DataFrame(left.drop(columns=left.geometry.name)),
        pd.DataFrame(right.drop(columns=right.geometry.name)),
        check_dtype=False,
    )
    ga, gb = np.asarray(left.geometry.values), np.asarray(right.geometry.values)
    both_none = shapely.is_missing(ga) & shapely.is_missing(gb)
    assert (both_none | shapely.equals_exact(ga, gb, tolerance=tolerance)).all(), kind


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_every_layer_exports_and_reads_back(loaded: Engine, tmp_path: Path, suffix: str) -> None:
    for kind in EXPORT_KINDS:
        path = tmp_path / f"{kind}{suffix}"
        result = export_layer(loaded, kind, path)
        assert result["features"] == len(read_table(loaded, kind)) > 0, kind
        back = gpd.read_file(path, engine="pyogrio")
        assert len(back) == result["features"], kind
        if kind != "staff":
            assert back.crs.to_epsg() == 4326
            assert_same(read_table(loaded, kind), back[[*read_table(loaded, kind).columns]], kind)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_reimporting_an_export_changes_nothing(loaded: Engine, tmp_path: Path, suffix: str) -> None:
    before = counts(loaded)
    for kind in IMPORTABLE:
        path = tmp_path / f"{kind}{suffix}"
        export_layer(loaded, kind, path)
        report = run(loaded, path, kind)
        assert (report.imported, report.updated, report.rejected) == (0, 0, 0), (kind, report.to_dict())
    assert counts(loaded) == before


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_export_then_import_into_an_empty_database_gives_the_same_rows(
    loaded: Engine, tmp_path: Path, suffix: str
) -> None:
    exported = {}
    for kind in IMPORTABLE:
        export_layer(loaded, kind, tmp_path / f"{kind}{suffix}")
        exported[kind] = read_table(loaded, kind)
    truncate_all(loaded)
    for kind in IMPORTABLE:
        run(loaded, tmp_path / f"{kind}{suffix}", kind)
    for kind in IMPORTABLE:
        assert_same(exported[kind], read_table(loaded, kind), kind)


@pytest.mark.parametrize("target", ["gcj02", "bd09"])
def test_chinese_web_map_exports_are_unlabelled_shifted_and_import_back(
    loaded: Engine, tmp_path: Path, target: str
) -> None:
    path = tmp_path / f"stations_{target}.gpkg"
    result = export_layer(loaded, "stations", path, crs=target)
    assert result["crs"] == target
    shifted = gpd.read_file(path, engine="pyogrio")
    assert shifted.crs is None
    original = read_table(loaded, "stations")
    moved = original.to_crs(3857).distance(shifted.set_crs(4326).to_crs(3857))
    assert (moved > 100).all()  # the offset is hundreds of metres inside China
    back = to_wgs84(shifted, target)
    assert (original.to_crs(32650).distance(back.to_crs(32650)) < 0.5).all()
    report = run(loaded, path, "stations", crs=target)
    assert (report.imported, report.updated) == (0, 0)


def test_projected_export(loaded: Engine, tmp_path: Path) -> None:
    result = export_layer(loaded, "buildings", tmp_path / "b.gpkg", crs="EPSG:4548")
    assert result["crs"] == "EPSG:4548"
    back = gpd.read_file(tmp_path / "b.gpkg", engine="pyogrio")
    assert back.crs.to_epsg() == 4548
    report = run(loaded, tmp_path / "b.gpkg", "buildings")
    assert report.imported == 0
