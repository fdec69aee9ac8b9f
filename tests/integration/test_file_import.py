"""``gisgrid import layer``: every kind from every format, Chinese columns, GCJ-02, re-import, repair."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import typer
from shapely.geometry import Point, Polygon, box
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from gisgrid.crs import from_wgs84
from gisgrid.errors import InvalidInputError
from gisgrid.readers import load_field_mapping, parse_field_options, read_layer
from layers.importers import file_writers
from layers.importers.files import import_layer
from layers.models import Base

# a community of 薛城区 (synthetic code) and what lies in it
COMMUNITY = box(117.25, 34.79, 117.27, 34.81)
COMPLEX = box(117.255, 34.795, 117.262, 34.802)


def bldg(x: float, y: float, size: float = 0.0003) -> Polygon:
    return box(x, y, x + size, y + size * 0.7)


# -- file writers shared with the other file tests -------------------------------------------------------


def write_geojson(path: Path, features: list[dict[str, Any]], **extra: Any) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", **extra, "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def feature(props: dict[str, Any], geom: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": None
        if geom is None
        else json.loads(gpd.GeoSeries([geom]).to_json())["features"][0]["geometry"],
    }


def write_gpkg(path: Path, gdf: gpd.GeoDataFrame, layer: str = "layer") -> Path:
    gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    return path


def write_shp_zip(path: Path, gdf: gpd.GeoDataFrame, *, without: tuple[str, ...] = ()) -> Path:
    folder = path.parent / (path.stem + "_shp")
    folder.mkdir()
    gdf.to_file(folder / "layer.shp", engine="pyogrio")
    with zipfile.ZipFile(path, "w") as zf:
        for member in sorted(folder.iterdir()):
            if member.suffix not in without:
                zf.write(member, member.name)
    return path


def write_csv(path: Path, text_: str) -> Path:
    path.write_text(text_, encoding="utf-8")
    return path


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def run(
    engine: Engine, path: Path, kind: str, *, repair: bool = False, skip_invalid: bool = False, **read: Any
) -> Any:
    gdf = read_layer(path, kind=kind, **read)
    return import_layer(
        engine,
        gdf,
        kind=kind,
        source_name=path.name,
        repair=repair,
        skip_invalid=skip_invalid,
        progress=False,
    )


def seed_areas(engine: Engine, tmp_path: Path) -> None:
    """District 370403, street 370403001, community 370403001001 — imported from GeoJSON."""
    features = [
        feature({"编码": "370403000000", "名称": "薛城区"}, box(117.0, 34.6, 117.5, 35.0)),
        feature({"编码": "370403001000", "名称": "临城街道"}, box(117.2, 34.7, 117.3, 34.9)),
        feature({"编码": "370403001001", "名称": "和谐社区"}, COMMUNITY),
    ]
    run(engine, write_geojson(tmp_path / "areas_seed.geojson", features), "areas")


@pytest.fixture
def seeded(clean_db: Engine, tmp_path: Path) -> Iterator[Engine]:
    seed_areas(clean_db, tmp_path)
    yield clean_db


def rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)).all())


# -- areas -----------------------------------------------------------------------------------------------


def test_areas_from_geojson_with_chinese_columns_derive_levels_and_parents(seeded: Engine) -> None:
    got = rows(
        seeded,
        """SELECT a.code, a.level, a.name, p.code FROM admin_area a
                          LEFT JOIN admin_area p ON p.id = a.parent_id ORDER BY a.code""",
    )
    assert got == [
        ("370403000000", "district", "薛城区", None),
        ("370403001000", "street", "临城街道", "370403000000"),
        ("370403001001", "community", "和谐社区", "370403001000"),
    ]


def test_areas_from_gpkg_in_a_projected_crs(clean_db: Engine, tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"code": ["370403001001"], "name": ["和谐社区"]}, geometry=[COMMUNITY], crs=4326)
    path = write_gpkg(tmp_path / "areas.gpkg", gdf.to_crs("EPSG:4548"))  # CGCS2000 GK CM 117E
    report = run(clean_db, path, "areas")
    assert report.imported == 1
    assert any(p.action == "warned" and p.field == "parent_code" for p in report.problems)
    (wkt_ok,) = rows(
        clean_db,
        f"SELECT ST_Equals(ST_SnapToGrid(geom, 1e-7), ST_SnapToGrid("
        f"ST_GeomFromText('{COMMUNITY.wkt}', 4326), 1e-7)) FROM admin_area",
    )[0]
    assert wkt_ok


# -- buildings -------------------------------------------------------------------------------------------


def buildings_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "编号": ["B1", "B2", "B3", "B4"],
            "户数": [24, None, None, None],
            "楼层": [None, 6, None, None],
            "高度": [None, None, 30.0, None],
            "类型": ["residential_slab", "residential_slab", "residential_tower", None],
        },
        geometry=[bldg(117.256, 34.796), bldg(117.257, 34.796), bldg(117.258, 34.796), bldg(117.265, 34.805)],
        crs=4326,
    )


def import_complex(engine: Engine, tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"编号": ["C1"], "小区名称": ["幸福小区"], "物业公司": ["安居物业"]}, geometry=[COMPLEX], crs=4326
    )
    run(engine, write_gpkg(tmp_path / "complex.gpkg", gdf), "complexes")


def test_buildings_from_gpkg_estimate_households_and_link(seeded: Engine, tmp_path: Path) -> None:
    import_complex(seeded, tmp_path)
    report = run(seeded, write_gpkg(tmp_path / "b.gpkg", buildings_frame()), "buildings")
    assert (report.imported, report.updated, report.rejected) == (4, 0, 0)
    assert dict(report.estimated) == {"levels": 1, "height": 1, "default": 1}
    got = rows(
        seeded,
        """SELECT b.source_ref, b.households, b.households_method, b.levels, c.name, a.code
                          FROM building b LEFT JOIN complex c ON c.id = b.complex_id
                          LEFT JOIN admin_area a ON a.id = b.community_id ORDER BY b.source_ref""",
    )
    assert got[0][:3] == ("B1", 24, "supplied")
    assert [g[2] for g in got] == ["supplied", "levels", "height", "default"]
    assert got[1][3] == 6 and got[0][3] is None  # levels are stored as supplied, never invented
    assert [g[4] for g in got] == ["幸福小区", "幸福小区", "幸福小区", None]
    assert {g[5] for g in got} == {"370403001001"}
    assert all(g[1] > 0 for g in got)


def test_buildings_from_zipped_shapefile(seeded: Engine, tmp_path: Path) -> None:
    gdf = buildings_frame().rename(
        columns={"编号": "id", "户数": "households", "楼层": "levels", "高度": "height", "类型": "bldg_type"}
    )
    path = write_shp_zip(tmp_path / "b.zip", gdf.to_crs("EPSG:4490"))
    report = run(seeded, path, "buildings", fields={"bldg_type": "building_type"})
    assert report.imported == 4


def test_reimport_updates_instead_of_duplicating(seeded: Engine, tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "b.gpkg", buildings_frame())
    run(seeded, path, "buildings")
    changed = buildings_frame()
    changed.loc[0, "户数"] = 30
    report = run(seeded, write_gpkg(tmp_path / "b2.gpkg", changed), "buildings")
    assert (report.imported, report.updated, report.extra["unchanged"]) == (0, 1, 3)
    assert rows(
        seeded, "SELECT count(*), sum(households) FILTER (WHERE source_ref = 'B1') FROM building"
    ) == [(4, 30)]


def test_repair_fixes_a_bowtie_and_reports_it(seeded: Engine, tmp_path: Path) -> None:
    bowtie = Polygon([(117.256, 34.796), (117.257, 34.797), (117.257, 34.796), (117.256, 34.797)])
    path = write_geojson(tmp_path / "bow.geojson", [feature({"id": "X", "households": 10}, bowtie)])
    report = run(seeded, path, "buildings", repair=True)
    assert report.imported == 1 and report.repaired == 1
    (problem,) = report.problems
    assert problem.action == "repaired" and problem.feature == "X" and "Self-intersection" in problem.message
    assert rows(seeded, "SELECT ST_IsValid(geom), ST_NumGeometries(geom) FROM building") == [(True, 2)]


def test_skip_invalid_imports_the_rest_and_counts_by_reason(seeded: Engine, tmp_path: Path) -> None:
    features = [
        feature({"id": "ok", "households": 5}, bldg(117.256, 34.796)),
        feature({"id": "neg", "households": -1}, bldg(117.257, 34.796)),
        feature({"id": "high", "levels": 300}, bldg(117.258, 34.796)),
    ]
    report = run(seeded, write_geojson(tmp_path / "b.geojson", features), "buildings", skip_invalid=True)
    assert (report.imported, report.rejected) == (1, 2)
    assert report.rejected_by_reason() == {
        "households between 0 and 100000": 1,
        "levels between 1 and 200": 1,
    }
    assert report.to_dict()["rejected_by_reason"]


# -- complexes -------------------------------------------------------------------------------------------


def test_complexes_from_zipped_shapefile_with_chinese_columns(seeded: Engine, tmp_path: Path) -> None:
    # DBF field names are at most 10 *bytes*: 编号/名称 fit, 物业公司 (12 bytes in UTF-8) does not
    gdf = gpd.GeoDataFrame(
        {
            "编号": ["C1", "C2"],
            "名称": ["幸福小区", "老街小区"],
            "company": ["安居物业", None],
            "management": [None, "三无"],
            "built_year": [2005, 1990],
        },
        geometry=[COMPLEX, box(117.263, 34.795, 117.268, 34.8)],
        crs=4326,
    )
    report = run(
        seeded, write_shp_zip(tmp_path / "c.zip", gdf), "complexes", fields={"company": "property_company"}
    )
    assert report.imported == 2 and report.extra["property_companies_created"] == 1
    got = rows(
        seeded,
        """SELECT c.source_ref, c.name, c.management, pc.name, c.built_year, a.code FROM complex c
                          LEFT JOIN property_company pc ON pc.id = c.property_company_id
                          LEFT JOIN admin_area a ON a.id = c.community_id ORDER BY 1""",
    )
    assert got == [
        ("C1", "幸福小区", "professional", "安居物业", 2005, "370403001001"),
        ("C2", "老街小区", "none", None, 1990, "370403001001"),
    ]


# -- stations --------------------------------------------------------------------------------------------


def test_stations_from_gcj02_csv_land_within_half_a_metre(seeded: Engine, tmp_path: Path) -> None:
    import_complex(seeded, tmp_path)
    truth = gpd.GeoDataFrame(geometry=[Point(117.2581234, 34.7983456), Point(117.266, 34.805)], crs=4326)
    amap = from_wgs84(truth, "gcj02")
    (x1, y1), (x2, y2) = [(p.x, p.y) for p in amap.geometry]
    path = write_csv(
        tmp_path / "s.csv",
        "编号,站点名称,类型,状态,启用日期,经度,纬度\n"
        f"S1,幸福驿站,红心驿站,已运行,2024-03-01,{x1:.9f},{y1:.9f}\n"
        f"S2,和谐警务室,police_room,planned,,{x2:.9f},{y2:.9f}\n",
    )
    report = run(seeded, path, "stations", crs="gcj02")
    assert report.imported == 2
    got = rows(
        seeded,
        """SELECT s.source_ref, s.kind, s.status, s.opened_on::text, c.name,
                                 ST_Distance(s.geom::geography,
                                             ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)
                          FROM station s LEFT JOIN complex c ON c.id = s.complex_id ORDER BY 1""".replace(
            "%s, %s", f"{truth.geometry[0].x}, {truth.geometry[0].y}"
        ),
    )
    assert got[0][:5] == ("S1", "red_heart_station", "open", "2024-03-01", "幸福小区")
    assert got[0][5] < 0.5
    assert got[1][1:3] == ("police_room", "planned") and got[1][4] is None


def test_stations_from_geojson(seeded: Engine, tmp_path: Path) -> None:
    features = [
        feature(
            {
                "id": "S1",
                "name": "服务站",
                "kind": "service_station",
                "status": "building",
                "building_since": "2024-01-02",
                "service_radius_m": 500,
            },
            Point(117.26, 34.8),
        )
    ]
    report = run(seeded, write_geojson(tmp_path / "s.geojson", features), "stations")
    assert report.imported == 1
    assert rows(seeded, "SELECT service_radius_m, building_since::text FROM station") == [
        (500.0, "2024-01-02")
    ]


# -- staff -----------------------------------------------------------------------------------------------


def test_staff_from_csv_without_coordinates(seeded: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "staff.csv",
        "姓名,岗位,电话,社区代码\n张三,网格长,13800000001,370403001001\n李四,grid_worker,,370403001001\n",
    )
    report = run(seeded, path, "staff")
    assert report.imported == 2
    path2 = write_csv(
        tmp_path / "staff2.csv",
        "姓名,岗位,电话,社区代码\n张三,grid_worker,13800000001,370403001001\n"
        "李四,grid_worker,,370403001001\n",
    )
    report = run(seeded, path2, "staff")
    assert (report.imported, report.updated, report.extra["unchanged"]) == (0, 1, 1)
    assert rows(seeded, "SELECT name, role FROM staff ORDER BY name") == [
        ("张三", "grid_worker"),
        ("李四", "grid_worker"),
    ]


# -- incidents -------------------------------------------------------------------------------------------


def test_incidents_from_geojson_link_and_record_history(seeded: Engine, tmp_path: Path) -> None:
    features = [
        feature(
            {
                "编号": "E1",
                "类别": "06010",
                "来源": "resident",
                "上报时间": "2024-05-01 08:30",
                "描述": "暴露垃圾",
            },
            Point(117.26, 34.8),
        )
    ]
    report = run(seeded, write_geojson(tmp_path / "e.geojson", features), "incidents")
    assert report.imported == 1
    got = rows(
        seeded,
        """SELECT i.idempotency_key, i.category_code, i.source, i.reported_at AT TIME ZONE 'UTC',
                                 c.code, s.code, (SELECT count(*) FROM incident_event)
                          FROM incident i JOIN admin_area c ON c.id = i.community_id
                          JOIN admin_area s ON s.id = i.street_id""",
    )
    assert got[0][:3] == ("import:E1", "06010", "resident")
    assert str(got[0][3]) == "2024-05-01 00:30:00"  # local time (UTC+8) when no offset is given
    assert got[0][4:] == ("370403001001", "370403001000", 1)
    again = run(seeded, write_geojson(tmp_path / "e.geojson", features), "incidents")
    assert (again.imported, again.updated) == (0, 0)


def test_incidents_from_csv(seeded: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", "id,category_code,source,lng,lat\nE1,09006,patrol,117.26,34.8\n")
    assert run(seeded, path, "incidents", crs="wgs84").imported == 1


# -- mapping options, rollback, CLI ----------------------------------------------------------------------


def test_yaml_mapping_and_field_options(seeded: Engine, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "fields:\n  楼号: id\n  住户: households\n  备注: '-'\n", encoding="utf-8"
    )
    mapping = load_field_mapping(tmp_path / "m.yaml")
    mapping.update(parse_field_options(["层高=levels"]))
    features = [feature({"楼号": "A", "住户": 12, "备注": "x", "层高": 5}, bldg(117.256, 34.796))]
    report = run(seeded, write_geojson(tmp_path / "b.geojson", features), "buildings", fields=mapping)
    assert report.imported == 1
    assert rows(seeded, "SELECT source_ref, households, levels FROM building") == [("A", 12, 5)]


def test_a_failure_after_writing_rolls_everything_back(
    seeded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(seeded)

    def broken(*args: Any) -> None:
        raise InvalidInputError("boom", rule="test")

    monkeypatch.setattr(file_writers, "link", broken)  # runs after the rows are written
    with pytest.raises(InvalidInputError, match="boom"):
        run(seeded, write_gpkg(tmp_path / "b.gpkg", buildings_frame()), "buildings")
    assert counts(seeded) == before


def cli_app() -> typer.Typer:
    """The real ``gisgrid`` command line, as the console script runs it."""
    from layers.cli import app

    return app


@pytest.fixture
def cli_env(seeded: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    from layers.settings import get_settings

    monkeypatch.setenv("GISGRID_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield seeded
    get_settings.cache_clear()


def test_cli_import_and_export_json(cli_env: Engine, tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "b.gpkg", buildings_frame())
    runner = CliRunner()
    result = runner.invoke(cli_app(), ["import", "layer", "buildings", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["imported"] == 4 and summary["estimated"] == {"levels": 1, "height": 1, "default": 1}
    out = tmp_path / "out.geojson"
    result = runner.invoke(cli_app(), ["export", "buildings", str(out), "--crs", "gcj02", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["features"] == 4 and out.exists()


def test_cli_error_exit_code_and_message(cli_env: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", "id,name,kind,lon,lat\nS1,站,kiosk,117.26,34.8\n")
    result = CliRunner().invoke(
        cli_app(), ["import", "layer", "stations", str(path), "--crs", "wgs84", "--json"]
    )
    assert result.exit_code == 2
    error = json.loads(result.output)["error"]
    assert error["field"] == "kind" and error["feature"] == "S1"
    result = CliRunner().invoke(cli_app(), ["import", "layer", "stations", str(path), "--crs", "wgs84"])
    assert result.exit_code == 2 and "kiosk" in result.output
