"""The bad-file corpus: each file gives its own specific error and leaves every table unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, Polygon, box
from sqlalchemy import Engine

from gisgrid.errors import CRSError, GeometryError, InvalidInputError
from gisgrid.readers import load_field_mapping
from tests.integration.test_file_import import (
    bldg,
    counts,
    feature,
    run,
    seed_areas,
    write_csv,
    write_geojson,
    write_gpkg,
    write_shp_zip,
)


@dataclass
class Case:
    make: Callable[[Path], Path]
    kind: str
    error: type[Exception]
    field: str | None
    rule: str
    options: dict[str, Any] = field(default_factory=dict)
    mapping_file: str | None = None


B = bldg(117.256, 34.796)
P = Point(117.26, 34.8)
LINE = LineString([(117.255, 34.795), (117.262, 34.801)])


def gj(*features: dict[str, Any], name: str = "f.geojson") -> Callable[[Path], Path]:
    return lambda d: write_geojson(d / name, list(features))


def csv(text: str, name: str = "f.csv") -> Callable[[Path], Path]:
    return lambda d: write_csv(d / name, text)


def raw(content: bytes | str, name: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        p = d / name
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        return p

    return make


def shp_zip(without: tuple[str, ...] = (), crs: Any = 4326) -> Callable[[Path], Path]:
    gdf = gpd.GeoDataFrame({"id": ["B1"]}, geometry=[B], crs=crs)
    return lambda d: write_shp_zip(d / "b.zip", gdf, without=without)


def gpkg_two_layers(d: Path) -> Path:
    gdf = gpd.GeoDataFrame({"id": ["B1"]}, geometry=[B], crs=4326)
    path = write_gpkg(d / "two.gpkg", gdf, layer="buildings")
    gdf.to_file(path, layer="others", driver="GPKG", engine="pyogrio")
    return path


def gpkg_projected(d: Path) -> Path:
    gdf = gpd.GeoDataFrame({"id": ["B1"]}, geometry=[B], crs=4326).to_crs("EPSG:4548")
    return write_gpkg(d / "proj.gpkg", gdf)


def zip_without_shapefile(d: Path) -> Path:
    import zipfile

    path = d / "readme.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "no layers here")
    return path


def mapping_file(content: str) -> Callable[[Path], Path]:
    return lambda d: write_geojson(d / "f.geojson", [feature({"户数": 3, "id": "B1"}, B)])


BOWTIE = Polygon([(117.256, 34.796), (117.257, 34.797), (117.257, 34.796), (117.256, 34.797)])

CASES: dict[str, Case] = {
    "empty_file": Case(raw(b"", "empty.geojson"), "buildings", InvalidInputError, "file", "non-empty file"),
    "zero_features": Case(gj(), "buildings", InvalidInputError, "file", "at least one feature"),
    "truncated_json": Case(
        raw('{"type": "FeatureCollection", "features": [{"type": "Fea', "t.geojson"),
        "buildings",
        InvalidInputError,
        "file",
        "a readable GeoJSON",
    ),
    "garbage_bytes": Case(
        raw(b"\x00\x01garbage", "g.geojson"), "buildings", InvalidInputError, "file", "a readable GeoJSON"
    ),
    "not_a_geometry": Case(
        raw(
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
            '{"id":"B1"},"geometry":{"type":"Circle","coordinates":[117.2,34.8]}}]}',
            "circle.geojson",
        ),
        "buildings",
        GeometryError,
        "geometry",
        "a supported geometry type",
    ),
    "unknown_format": Case(
        raw("just text", "notes.xyz"), "buildings", InvalidInputError, "file", "a supported format"
    ),
    "zip_missing_shx": Case(
        shp_zip(without=(".shx",)),
        "buildings",
        InvalidInputError,
        "file",
        "a shapefile has .shp, .shx and .dbf",
    ),
    "zip_missing_dbf": Case(
        shp_zip(without=(".dbf",)),
        "buildings",
        InvalidInputError,
        "file",
        "a shapefile has .shp, .shx and .dbf",
    ),
    "zip_without_shapefile": Case(
        zip_without_shapefile, "buildings", InvalidInputError, "file", "a zip holds a shapefile"
    ),
    "gpkg_two_layers_no_layer": Case(
        gpkg_two_layers, "buildings", InvalidInputError, "layer", "--layer names the layer"
    ),
    "gpkg_unknown_layer": Case(
        gpkg_two_layers,
        "buildings",
        InvalidInputError,
        "layer",
        "an existing layer",
        options={"layer": "nope"},
    ),
    "csv_without_coordinates": Case(
        csv("id,name,kind\nS1,站,police_room\n"),
        "stations",
        InvalidInputError,
        "geometry",
        "a CSV has coordinate columns",
        options={"crs": "wgs84"},
    ),
    "csv_non_numeric_coordinates": Case(
        csv("id,name,kind,lon,lat\nS1,站,police_room,117.2E,34.8\n"),
        "stations",
        InvalidInputError,
        "lon",
        "coordinates are numbers",
        options={"crs": "wgs84"},
    ),
    "csv_swapped_lat_lon": Case(
        csv("id,name,kind,lon,lat\nS1,站,police_room,34.8,117.26\nS2,站,police_room,34.81,117.27\n"),
        "stations",
        CRSError,
        "geometry",
        "swapped latitude/longitude",
        options={"crs": "wgs84"},
    ),
    "projected_metres_declared_wgs84": Case(
        gj(feature({"id": "S1", "name": "站", "kind": "police_room"}, Point(39_500_000.0, 3_850_000.0))),
        "stations",
        CRSError,
        "geometry",
        "longitude in [-180, 180]",
    ),
    "outside_declared_crs_area": Case(
        csv("id,name,kind,lon,lat\nS1,站,police_room,2.35,48.86\n"),
        "stations",
        GeometryError,
        "geometry",
        "inside the area of use of gcj02",
        options={"crs": "gcj02"},
    ),
    "shapefile_without_prj_and_no_crs": Case(
        shp_zip(without=(".prj",)), "buildings", CRSError, "crs", "a CRS is required"
    ),
    "unknown_crs": Case(
        csv("id,name,kind,lon,lat\nS1,站,police_room,117.26,34.8\n"),
        "stations",
        CRSError,
        "crs",
        "a known CRS",
        options={"crs": "EPSG:999999"},
    ),
    "crs_contradicts_file": Case(
        gpkg_projected, "buildings", CRSError, "crs", "agrees with the CRS", options={"crs": "EPSG:32650"}
    ),
    "lines_in_a_buildings_file": Case(
        gj(feature({"id": "B1"}, LINE), feature({"id": "B2"}, LINE)),
        "buildings",
        GeometryError,
        "geometry",
        "buildings are polygons",
    ),
    "wrong_geometry_for_kind": Case(
        gj(feature({"id": "B1"}, P)), "buildings", GeometryError, "geometry", "buildings are polygons"
    ),
    "duplicate_ids": Case(
        gj(feature({"id": "B1"}, B), feature({"id": "B1"}, bldg(117.257, 34.796)), feature({"id": "B2"}, B)),
        "buildings",
        InvalidInputError,
        "id",
        "unique id",
    ),
    "id_column_missing": Case(
        gj(feature({"id": "B1"}, B)),
        "buildings",
        InvalidInputError,
        "id_column",
        "the id column exists",
        options={"id_column": "楼号"},
    ),
    "streets_file_of_polygons": Case(
        gj(feature({"id": "S1"}, B)), "streets", GeometryError, "geometry", "streets are lines"
    ),
    "street_without_length": Case(
        gj(feature({"id": "S1"}, LineString([(117.26, 34.8), (117.26, 34.8)]))),
        "streets",
        GeometryError,
        "geometry",
        "a line of two or more distinct points",
    ),
    "barrier_unknown_kind": Case(
        gj(feature({"id": "R1", "kind": "lake"}, LINE)), "barriers", InvalidInputError, "kind", "kind is one of"
    ),
    "barriers_file_of_points": Case(
        gj(feature({"id": "R1", "kind": "river"}, P)),
        "barriers",
        GeometryError,
        "geometry",
        "barriers are lines or polygons",
    ),
    "missing_required_column": Case(
        gj(feature({"id": "S1", "name": "站"}, P)),
        "stations",
        InvalidInputError,
        "kind",
        "required column present",
    ),
    "negative_households": Case(
        gj(feature({"id": "B1", "户数": -3}, B)),
        "buildings",
        InvalidInputError,
        "households",
        "households between 0",
    ),
    "levels_out_of_range": Case(
        gj(feature({"id": "B1", "楼层": 250}, B)),
        "buildings",
        InvalidInputError,
        "levels",
        "levels between 1 and 200",
    ),
    "fractional_households": Case(
        gj(feature({"id": "B1", "户数": 12.5}, B)),
        "buildings",
        InvalidInputError,
        "households",
        "a whole number",
    ),
    "text_households": Case(
        csv('id,户数,wkt\nB1,十二,"' + B.wkt + '"\n'),
        "buildings",
        InvalidInputError,
        "households",
        "a whole number",
        options={"crs": "wgs84"},
    ),
    "unknown_station_kind": Case(
        gj(feature({"id": "S1", "name": "站", "kind": "kiosk"}, P)),
        "stations",
        InvalidInputError,
        "kind",
        "kind is one of",
    ),
    "unknown_station_status": Case(
        gj(feature({"id": "S1", "name": "站", "kind": "police_room", "status": "half-open"}, P)),
        "stations",
        InvalidInputError,
        "status",
        "status is one of",
    ),
    "open_station_without_opened_date": Case(
        gj(feature({"id": "S1", "name": "站", "kind": "police_room", "status": "open"}, P)),
        "stations",
        InvalidInputError,
        "opened_on",
        "status open needs",
    ),
    "station_dates_out_of_order": Case(
        gj(
            feature(
                {
                    "id": "S1",
                    "name": "站",
                    "kind": "police_room",
                    "status": "open",
                    "planned_on": "2024-05-01",
                    "opened_on": "2023-01-01",
                },
                P,
            )
        ),
        "stations",
        InvalidInputError,
        "opened_on",
        "dates in order",
    ),
    "area_code_not_12_digits": Case(
        gj(feature({"code": "37040300100", "name": "社区"}, box(117, 34, 117.1, 34.1))),
        "areas",
        InvalidInputError,
        "code",
        "12-digit",
    ),
    "self_intersecting_polygon": Case(
        gj(feature({"id": "B1"}, BOWTIE)), "buildings", GeometryError, "geometry", "a valid polygon"
    ),
    "incident_category_not_5_digits": Case(
        gj(feature({"id": "E1", "category_code": "601", "source": "patrol"}, P)),
        "incidents",
        InvalidInputError,
        "category_code",
        "5-digit",
    ),
    "incident_bad_time": Case(
        gj(
            feature({"id": "E1", "category_code": "06010", "source": "patrol", "reported_at": "yesterday"}, P)
        ),
        "incidents",
        InvalidInputError,
        "reported_at",
        "a date and time",
    ),
    "professional_complex_without_company": Case(
        gj(feature({"id": "C1", "name": "小区", "management": "professional"}, B)),
        "complexes",
        InvalidInputError,
        "property_company",
        "names its property company",
    ),
    "staff_unknown_community": Case(
        csv("姓名,岗位,社区代码\n张三,grid_chief,370403009009\n"),
        "staff",
        InvalidInputError,
        "community_code",
        "a known community code",
    ),
    "staff_unknown_role": Case(
        csv("姓名,岗位\n张三,mayor\n"), "staff", InvalidInputError, "role", "role is one of"
    ),
    "bad_yaml_mapping": Case(
        mapping_file(""),
        "buildings",
        InvalidInputError,
        "fields",
        "valid YAML",
        mapping_file="户数: [households\n",
    ),
    "mapping_to_unknown_field": Case(
        mapping_file(""),
        "buildings",
        InvalidInputError,
        "户数",
        "mapping target is a field of buildings",
        options={"fields": {"户数": "flats"}},
    ),
    "mapping_names_missing_column": Case(
        mapping_file(""),
        "buildings",
        InvalidInputError,
        "住户",
        "mapped column exists",
        options={"fields": {"住户": "households"}},
    ),
}


@pytest.fixture(scope="module")
def seeded_once(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from tests.conftest import truncate_all

    truncate_all(engine)
    d = tmp_path_factory.mktemp("seed")
    seed_areas(engine, d)
    run(
        engine,
        write_geojson(d / "b.geojson", [feature({"id": "B0", "户数": 8}, bldg(117.259, 34.799))]),
        "buildings",
    )
    yield engine
    truncate_all(engine)


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_gives_its_error_and_changes_nothing(name: str, seeded_once: Engine, tmp_path: Path) -> None:
    case = CASES[name]
    path = case.make(tmp_path)
    before = counts(seeded_once)
    options = dict(case.options)
    with pytest.raises(InvalidInputError) as info:
        if case.mapping_file is not None:
            (tmp_path / "m.yaml").write_text(case.mapping_file, encoding="utf-8")
            options["fields"] = load_field_mapping(tmp_path / "m.yaml")
        run(seeded_once, path, case.kind, **options)
    error = info.value
    assert type(error) is case.error, error.to_dict()
    assert error.field == case.field, error.to_dict()
    assert case.rule in (error.rule or ""), error.to_dict()
    assert error.message
    assert counts(seeded_once) == before
