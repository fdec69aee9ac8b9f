"""OSM barriers (rivers, water, railways, walls) and what an OSM re-import does to moved buildings —
against the real PostGIS; the reference counts are read independently with pyosmium."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import osmium
import pytest
from shapely.geometry import box
from sqlalchemy import Engine, text

from gisgrid.osm import read_osm
from gisgrid.osm.barriers import barrier_kind
from layers.importers.osm import import_osm
from tests.unit.test_osm_read import HELSINKI_PBF, TEST_PBF, WAYS, X0, Y0, sample_osm_xml


def reference(path: str) -> Counter[str]:
    """Barriers by kind as pyosmium reads the file: the tag rules of docs/formats.md, ways with at least
    two of their nodes in the extract (a way cut off by the extract's edge has no line)."""
    nodes = {n.id for n in osmium.FileProcessor(path, osmium.osm.NODE)}
    found: Counter[str] = Counter()
    for obj in osmium.FileProcessor(path, osmium.osm.WAY | osmium.osm.RELATION):
        t = dict(obj.tags)
        if obj.is_relation():
            if t.get("type") == "multipolygon" and (t.get("natural") == "water" or "water" in t):
                found["water"] += 1
            continue
        refs = [n.ref for n in obj.nodes]
        if sum(r in nodes for r in refs) < 2:
            continue
        tunnel = t.get("tunnel", "no") != "no"
        closed = refs[0] == refs[-1]
        if t.get("waterway") in ("river", "canal", "stream"):
            found["river"] += not tunnel
        elif (t.get("natural") == "water" or "water" in t) and closed:
            found["water"] += 1
        elif t.get("railway") in ("rail", "light_rail", "subway"):
            underground = tunnel or t.get("location") == "underground" or t.get("layer", "0").startswith("-")
            found["railway"] += not underground
        elif t.get("barrier") in ("wall", "city_wall"):
            found["wall"] += 1
    return +found


def scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


@pytest.mark.parametrize("path", [TEST_PBF, HELSINKI_PBF], ids=["test_pbf", "helsinki"])
def test_barriers_match_an_independent_count_and_reimport_in_place(clean_db: Engine, path: str) -> None:
    extract = read_osm(path)
    expected = reference(path)
    assert Counter(extract.barriers["kind"]) == expected
    report = import_osm(clean_db, extract, progress=False)
    assert report.extra["layers"]["barriers"]["imported"] == sum(expected.values())
    with clean_db.connect() as conn:
        got = Counter(dict(conn.execute(text("SELECT kind, count(*) FROM barrier GROUP BY kind")).all()))
        assert got == expected
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM barrier WHERE source <> 'osm' OR source_ref !~ '^(way|relation)/[0-9]+$'"
                    " OR NOT ST_IsValid(geom)"
                )
            ).scalar_one()
            == 0
        )
        kinds = dict(
            conn.execute(
                text("SELECT kind, array_agg(DISTINCT GeometryType(geom)) FROM barrier GROUP BY kind")
            ).all()
        )
    assert set(kinds.get("railway", ["LINESTRING"])) <= {"LINESTRING", "MULTILINESTRING"}
    assert set(kinds.get("water", ["POLYGON"])) <= {"POLYGON", "MULTIPOLYGON"}
    again = import_osm(clean_db, extract, progress=False)
    assert again.extra["layers"]["barriers"] == {**again.extra["layers"]["barriers"], "imported": 0}
    assert scalar(clean_db, "SELECT count(*) FROM barrier") == sum(expected.values())


def test_the_helsinki_extract_has_railways_and_water() -> None:
    assert {"railway", "water", "wall", "river"} <= set(reference(HELSINKI_PBF))


def test_barrier_tags() -> None:
    assert barrier_kind({"railway": "subway", "tunnel": "yes"}, "LineString") is None
    assert barrier_kind({"railway": "rail", "layer": "-1"}, "LineString") is None
    assert barrier_kind({"railway": "light_rail"}, "LineString") == "railway"
    assert barrier_kind({"waterway": "stream", "tunnel": "culvert"}, "LineString") is None
    assert barrier_kind({"waterway": "canal"}, "LineString") == "river"
    assert barrier_kind({"water": "pond"}, "Polygon") == "water"
    assert barrier_kind({"natural": "water"}, "LineString") is None  # an unclosed line is not an area
    assert barrier_kind({"barrier": "city_wall"}, "LineString") == "wall"
    assert barrier_kind({"barrier": "fence"}, "LineString") is None


SAMPLE_WAYS = {
    **WAYS,
    102: (WAYS[102][0], {**WAYS[102][1], "height": "30 m"}),
    500: ([22, 23], {"waterway": "river", "name": "清河"}),
    501: ([31, 32], {"railway": "subway", "tunnel": "yes"}),
    502: ([12, 13], {"railway": "rail"}),
    503: ([11, 12, 13, 14, 11], {"natural": "water"}),
    504: ([13, 14], {"barrier": "wall"}),
}
G1, G2 = "110108001001001", "110108001001002"


def test_sample_barriers_heights_and_moved_buildings(clean_db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "sample.osm"
    path.write_text(sample_osm_xml(SAMPLE_WAYS), encoding="utf-8")
    with clean_db.begin() as conn:  # a community and a published grid over the sample, another grid far off
        conn.execute(
            text("""INSERT INTO admin_area (code, name, level, source, geom) VALUES
            ('110108001001', '社区', 'community', 'manual', ST_Multi(ST_GeomFromText(:c, 4326)))"""),
            {"c": box(X0 - 0.01, Y0 - 0.01, X0 + 0.01, Y0 + 0.01).wkt},
        )
        for code, geom in (
            (G1, box(X0 - 0.01, Y0 - 0.01, X0 + 0.01, Y0 + 0.01)),
            (G2, box(X0 + 0.02, Y0, X0 + 0.03, Y0 + 0.01)),
        ):
            conn.execute(
                text("""INSERT INTO grid (code, community_id, households, status, geom)
                SELECT :code, id, 300, 'active', ST_Multi(ST_GeomFromText(:g, 4326)) FROM admin_area"""),
                {"code": code, "g": geom.wkt},
            )
    report = import_osm(clean_db, read_osm(path), progress=False)
    with clean_db.connect() as conn:
        barriers = conn.execute(text("SELECT source_ref, kind, name FROM barrier ORDER BY source_ref")).all()
        heights = conn.execute(
            text("SELECT source_ref, height_m, levels, grid_code FROM building ORDER BY 1")
        ).all()
    assert barriers == [
        ("way/500", "river", "清河"),
        ("way/502", "railway", None),
        ("way/503", "water", None),
        ("way/504", "wall", None),
    ]
    assert heights == [("way/100", None, 6, G1), ("way/102", 30.0, None, G1)]
    assert report.extra["linked"]["buildings_in_grid_set"] == 2
    # way/100 was moved by hand and given the far grid; way/102 was only given the far grid by hand
    with clean_db.begin() as conn:
        conn.execute(
            text(f"""UPDATE building SET grid_code = '{G2}',
            geom = CASE WHEN source_ref = 'way/100' THEN ST_Translate(geom, 0.025, 0) ELSE geom END,
            entrance = CASE WHEN source_ref = 'way/100' THEN ST_Translate(entrance, 0.025, 0) ELSE entrance END""")
        )
    report = import_osm(clean_db, read_osm(path), progress=False)
    assert report.extra["linked"]["buildings_moved"] == 1
    with clean_db.connect() as conn:
        grids = conn.execute(text("SELECT source_ref, grid_code FROM building ORDER BY 1")).all()
    assert grids == [("way/100", G1), ("way/102", G2)]  # the OSM geometry is back in G1; a hand link stays
