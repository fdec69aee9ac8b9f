"""Imports that take real files: unknown columns kept, ids generated or chosen, mixed geometry types,
streets and barriers from files, height and levels round-tripped, moved buildings relinked, validation of
buildings outside their grid — all against the real PostGIS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from gisgrid.errors import InvalidInputError
from layers.export import export_layer
from layers.grids.queries import validate_community
from tests.integration.test_file_import import (
    bldg,
    cli_app,
    counts,
    feature,
    rows,
    run,
    seed_areas,
    write_geojson,
    write_gpkg,
)

GRID_W, GRID_E = "370403001001001", "370403001001002"
WEST, EAST = box(117.25, 34.79, 117.26, 34.81), box(117.26, 34.79, 117.27, 34.81)


@pytest.fixture
def seeded(clean_db: Engine, tmp_path: Path) -> Engine:
    seed_areas(clean_db, tmp_path)
    return clean_db


def publish_two_grids(engine: Engine) -> None:
    """Two current grids splitting the community at 117.26 (as a published plan leaves them)."""
    with engine.begin() as conn:
        for code, geom in ((GRID_W, WEST), (GRID_E, EAST)):
            conn.execute(
                text("""INSERT INTO grid (code, community_id, households, status, geom)
                        SELECT :code, id, 300, 'active', ST_Multi(ST_GeomFromText(:wkt, 4326))
                        FROM admin_area WHERE code = '370403001001'"""),
                {"code": code, "wkt": geom.wkt},
            )


# -- unknown columns ----------------------------------------------------------------------------------------


def test_unknown_columns_are_kept_in_attributes_and_listed(seeded: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            feature(
                {"id": "B1", "名称": "1号楼", "备注": "临街", "产权": "房管所", "建档": 2019},
                bldg(117.256, 34.796),
            ),
            feature({"id": "B2", "备注": None, "产权": "单位"}, bldg(117.257, 34.796)),
        ],
    )
    report = run(seeded, path, "buildings").to_dict()
    assert report["unknown_columns"] == {"columns": ["备注", "产权", "建档"], "action": "kept in attributes"}
    assert rows(seeded, "SELECT source_ref, attributes FROM building ORDER BY source_ref") == [
        ("B1", {"备注": "临街", "产权": "房管所", "建档": 2019}),
        ("B2", {"产权": "单位"}),
    ]
    # the same file again changes nothing; a changed attribute updates the row
    assert run(seeded, path, "buildings").to_dict()["unchanged"] == 2
    path = write_geojson(
        tmp_path / "b.geojson", [feature({"id": "B2", "产权": "街道"}, bldg(117.257, 34.796))]
    )
    assert run(seeded, path, "buildings").updated == 1


def test_kinds_without_attributes_ignore_unknown_columns_and_say_so(seeded: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "r.geojson",
        [feature({"id": "R1", "kind": "river", "宽度": 30}, LineString([(117.25, 34.8), (117.27, 34.8)]))],
    )
    report = run(seeded, path, "barriers").to_dict()
    assert report["unknown_columns"] == {"columns": ["宽度"], "action": "ignored"}
    assert report["imported"] == 1


def test_complexes_and_stations_keep_attributes(seeded: Engine, tmp_path: Path) -> None:
    run(
        seeded,
        write_geojson(
            tmp_path / "c.geojson",
            [
                feature(
                    {"id": "C1", "name": "小区", "物业电话": "0632-1"}, box(117.255, 34.795, 117.262, 34.802)
                )
            ],
        ),
        "complexes",
    )
    run(
        seeded,
        write_geojson(
            tmp_path / "s.geojson",
            [feature({"id": "S1", "name": "站", "kind": "police_room", "值班": "24h"}, Point(117.26, 34.8))],
        ),
        "stations",
    )
    assert rows(seeded, "SELECT attributes FROM complex") == [({"物业电话": "0632-1"},)]
    assert rows(seeded, "SELECT attributes FROM station") == [({"值班": "24h"},)]


# -- ids ------------------------------------------------------------------------------------------------------


def test_a_file_without_ids_gets_generated_ids_and_reimports_onto_them(
    seeded: Engine, tmp_path: Path
) -> None:
    path = write_geojson(
        tmp_path / "楼栋.geojson",
        [feature({"名称": "甲"}, bldg(117.256, 34.796)), feature({"名称": "乙"}, bldg(117.258, 34.796))],
    )
    report = run(seeded, path, "buildings").to_dict()
    assert report["ids"] == {
        "generated": True,
        "reason": "the file has no id column",
        "first": "楼栋-1",
        "last": "楼栋-2",
    }
    assert rows(seeded, "SELECT source_ref, name FROM building ORDER BY id") == [
        ("楼栋-1", "甲"),
        ("楼栋-2", "乙"),
    ]
    again = run(seeded, path, "buildings")
    assert (again.imported, again.extra["unchanged"]) == (0, 2)


def test_ids_all_the_same_are_replaced_and_kept_as_an_attribute(seeded: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [feature({"id": 0}, bldg(117.256, 34.796)), feature({"id": 0}, bldg(117.258, 34.796))],
    )
    report = run(seeded, path, "buildings").to_dict()
    assert report["ids"]["generated"] and report["ids"]["reason"] == "every feature has the same id '0'"
    assert rows(seeded, "SELECT source_ref, attributes FROM building ORDER BY id") == [
        ("b-1", {"original_id": 0}),
        ("b-2", {"original_id": 0}),
    ]


def test_partly_duplicate_ids_are_refused_naming_them(seeded: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            feature({"id": "X"}, bldg(117.256, 34.796)),
            feature({"id": "X"}, bldg(117.257, 34.796)),
            feature({"id": "Y"}, bldg(117.258, 34.796)),
        ],
    )
    before = counts(seeded)
    with pytest.raises(InvalidInputError) as info:
        run(seeded, path, "buildings")
    assert (info.value.field, info.value.rule, info.value.feature) == ("id", "unique id", "X")
    assert counts(seeded) == before
    report = run(seeded, path, "buildings", generate_ids=True).to_dict()
    assert report["ids"]["reason"] == "--generate-ids" and report["imported"] == 3


def test_id_column_chooses_the_ids_and_keeps_the_other_id(seeded: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            feature({"id": 1, "楼号": "A-1"}, bldg(117.256, 34.796)),
            feature({"id": 1, "楼号": "A-2"}, bldg(117.258, 34.796)),
        ],
    )
    report = run(seeded, path, "buildings", id_column="楼号").to_dict()
    assert report["ids"] == {"generated": False, "column": "楼号"}
    assert report["unknown_columns"]["columns"] == ["original_id"]
    assert rows(seeded, "SELECT source_ref, attributes FROM building ORDER BY id") == [
        ("A-1", {"original_id": 1}),
        ("A-2", {"original_id": 1}),
    ]


# -- mixed geometry types ------------------------------------------------------------------------------------


def test_points_in_a_buildings_file_become_entrances_or_are_reported(seeded: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "mixed.geojson",
        [
            feature({"id": "B1", "名称": "1号楼"}, bldg(117.256, 34.796)),
            feature({"id": "D1"}, Point(117.25601, 34.79601)),  # inside B1: its entrance
            feature({"id": "P9"}, Point(117.2665, 34.8055)),  # in no building
            feature({"id": "B2"}, bldg(117.258, 34.796)),
        ],
    )
    report = run(seeded, path, "buildings").to_dict()
    assert report["imported"] == 2
    assert report["set_aside"] == {"entrances": 1, "skipped": 1}
    warned = [p for p in report["problems"] if p["action"] == "warned"]
    assert [(p["feature"], p["field"], p["rule"]) for p in warned] == [
        ("P9", "geometry", "buildings are polygons")
    ]
    assert "'P9' is a Point" in warned[0]["message"]
    assert rows(seeded, "SELECT source_ref, ST_AsText(entrance) FROM building ORDER BY source_ref")[0] == (
        "B1",
        "POINT(117.25601 34.79601)",
    )
    assert rows(seeded, "SELECT count(*) FROM building")[0][0] == 2


def test_polygons_in_a_stations_file_are_reported_not_imported(seeded: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "s.geojson",
        [
            feature({"id": "S1", "name": "站", "kind": "police_room"}, Point(117.26, 34.8)),
            feature({"id": "S2", "name": "站", "kind": "police_room"}, bldg(117.256, 34.796)),
        ],
    )
    report = run(seeded, path, "stations").to_dict()
    assert report["imported"] == 1 and report["set_aside"] == {"entrances": 0, "skipped": 1}
    assert report["problems"][0]["feature"] == "S2"


# -- streets and barriers from files ---------------------------------------------------------------------------


def streets_frame() -> gpd.GeoDataFrame:
    # a main road west → east with a vertex at 117.26, a side road meeting it there, a bridge crossing it
    return gpd.GeoDataFrame(
        {
            "id": ["R1", "R2", "R3"],
            "道路名称": ["临城路", "光明街", None],
            "highway": ["primary", "residential", None],
        },
        geometry=[
            LineString([(117.25, 34.80), (117.26, 34.80), (117.27, 34.80)]),
            LineString([(117.26, 34.80), (117.26, 34.81)]),
            LineString([(117.255, 34.79), (117.255, 34.81)]),  # crosses R1 without a shared vertex
        ],
        crs=4326,
    )


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_streets_import_from_files_as_a_noded_network(seeded: Engine, tmp_path: Path, suffix: str) -> None:
    gdf = streets_frame()
    path = (
        write_gpkg(tmp_path / "s.gpkg", gdf)
        if suffix == ".gpkg"
        else write_geojson(tmp_path / "s.geojson", json.loads(gdf.to_json())["features"])
    )
    report = run(seeded, path, "streets").to_dict()
    assert report["imported"] == 4  # R1 cut at the junction, R2, R3
    assert report["street_nodes"]["imported"] == 6
    assert report["street_components"] == {"count": 2, "sizes": [4, 2]}
    got = rows(
        seeded,
        "SELECT source, source_ref, name, highway, round(length_m)::int FROM street_edge ORDER BY source_ref",
    )
    assert got == [
        ("import", "R1/0", "临城路", "primary", 915),
        ("import", "R1/1", "临城路", "primary", 915),
        ("import", "R2/0", "光明街", "residential", 1109),
        ("import", "R3/0", None, None, 2218),
    ]
    junction = rows(
        seeded,
        """SELECT count(*) FROM street_edge e JOIN street_node n
                  ON n.id IN (e.source_node, e.target_node) WHERE n.source_ref = 'xy/1172600000,348000000'""",
    )
    assert junction == [(3,)]
    again = run(seeded, path, "streets")
    assert (again.imported, again.updated, again.extra["unchanged"]) == (0, 0, 4)
    # R1 shortened to its western half: its second edge goes
    shorter = gdf.iloc[[0]].copy()
    shorter.geometry = [LineString([(117.25, 34.80), (117.26, 34.80)])]
    report = run(seeded, write_gpkg(tmp_path / "short.gpkg", shorter), "streets").to_dict()
    assert report["removed_street_edges"] == 1
    assert rows(seeded, "SELECT count(*) FROM street_edge WHERE source_ref LIKE 'R1/%'") == [(1,)]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_barriers_import_from_files(seeded: Engine, tmp_path: Path, suffix: str) -> None:
    gdf = gpd.GeoDataFrame(
        {"id": ["river", "lake", "wall"], "kind": ["river", "water", None], "名称": ["蟠龙河", "湖", None]},
        geometry=[
            LineString([(117.25, 34.79), (117.27, 34.81)]),
            box(117.262, 34.79, 117.265, 34.792),
            LineString([(117.251, 34.791), (117.252, 34.791)]),
        ],
        crs=4326,
    )
    path = (
        write_gpkg(tmp_path / "b.gpkg", gdf)
        if suffix == ".gpkg"
        else write_geojson(tmp_path / "b.geojson", json.loads(gdf.to_json())["features"])
    )
    report = run(seeded, path, "barriers").to_dict()
    assert report["imported"] == 3 and report["barrier_kinds"] == {"river": 1, "water": 1, "other": 1}
    assert rows(seeded, "SELECT source_ref, kind, name, GeometryType(geom) FROM barrier ORDER BY id") == [
        ("river", "river", "蟠龙河", "LINESTRING"),
        ("lake", "water", "湖", "MULTIPOLYGON"),
        ("wall", "other", None, "LINESTRING"),
    ]
    again = run(seeded, path, "barriers")
    assert (again.imported, again.updated) == (0, 0)
    export_layer(seeded, "barriers", tmp_path / f"out{suffix}")
    back = run(seeded, tmp_path / f"out{suffix}", "barriers")
    assert (back.imported, back.updated) == (0, 0)


# -- height and levels --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_height_and_levels_are_stored_and_exported(seeded: Engine, tmp_path: Path, suffix: str) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            feature({"id": "B1", "高度": 54.5, "楼层": 18}, bldg(117.256, 34.796)),
            feature({"id": "B2", "高度": 0, "楼层": 3}, bldg(117.258, 34.796)),
        ],  # 0 m: unknown
    )
    run(seeded, path, "buildings")
    assert rows(seeded, "SELECT source_ref, height_m, levels FROM building ORDER BY source_ref") == [
        ("B1", 54.5, 18),
        ("B2", None, 3),
    ]
    export_layer(seeded, "buildings", tmp_path / f"out{suffix}")
    exported = gpd.read_file(tmp_path / f"out{suffix}")
    assert exported["height"].tolist()[0] == 54.5 and exported["levels"].tolist() == [18, 3]
    back = run(seeded, tmp_path / f"out{suffix}", "buildings")
    assert (back.imported, back.updated) == (0, 0)


# -- moved buildings, validation ---------------------------------------------------------------------------------


def test_a_moved_building_is_relinked_to_its_grid_and_validation_sees_stale_ones(
    seeded: Engine, tmp_path: Path
) -> None:
    publish_two_grids(seeded)
    first = [
        feature({"id": "B1", "名称": "3号楼"}, bldg(117.256, 34.796)),
        feature({"id": "B2"}, bldg(117.257, 34.800)),
    ]
    run(seeded, write_geojson(tmp_path / "b.geojson", first), "buildings")
    assert rows(seeded, "SELECT source_ref, grid_code FROM building ORDER BY source_ref") == [
        ("B1", GRID_W),
        ("B2", GRID_W),
    ]
    # B2 was put into the east grid by hand: an unmoved building keeps that
    with seeded.begin() as conn:
        conn.execute(text(f"UPDATE building SET grid_code = '{GRID_E}' WHERE source_ref = 'B2'"))
    moved = [feature({"id": "B1", "名称": "3号楼"}, bldg(117.266, 34.796)), first[1]]
    report = run(seeded, write_geojson(tmp_path / "b.geojson", moved), "buildings").to_dict()
    assert report["moved"]["buildings"] == 1 and report["moved"]["relinked"] == 1
    assert report["moved"]["examples"] == [
        {"feature": "B1 3号楼", "grid_code": {"from": GRID_W, "to": GRID_E}}
    ]
    assert rows(seeded, "SELECT source_ref, grid_code FROM building ORDER BY source_ref") == [
        ("B1", GRID_E),
        ("B2", GRID_E),
    ]
    # validation of the published grids names the building whose recorded grid is wrong, by file id and name
    from sqlalchemy.orm import Session

    with Session(seeded) as session:
        problems = [
            p for p in validate_community(session, "370403001001") if p.rule == "building_outside_grid"
        ]
    assert len(problems) == 1
    assert problems[0].message.startswith(
        f"building B2 is recorded in grid {GRID_E} but lies in grid {GRID_W}"
    )
    with seeded.begin() as conn:  # the same building moved outside any import: validation notices too
        conn.execute(
            text(
                "UPDATE building SET geom = ST_Translate(geom, -0.01, 0), "
                "entrance = ST_Translate(entrance, -0.01, 0) WHERE source_ref = 'B1'"
            )
        )
    with Session(seeded) as session:
        named = {
            p.message.split(" is recorded")[0]
            for p in validate_community(session, "370403001001")
            if p.rule == "building_outside_grid"
        }
    assert named == {"building B1 3号楼", "building B2"}


# -- the command line ---------------------------------------------------------------------------------------------


@pytest.fixture
def cli_db(seeded: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from layers.settings import get_settings

    monkeypatch.setenv("GISGRID_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield seeded
    get_settings.cache_clear()


def test_cli_reports_unknown_columns_ids_and_set_aside_features(cli_db: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            feature({"楼号": "A-1", "备注": "x"}, bldg(117.256, 34.796)),
            feature({"楼号": "P"}, Point(117.2665, 34.8055)),
        ],
    )
    result = CliRunner().invoke(cli_app(), ["import", "layer", "buildings", str(path), "--id-column", "楼号"])
    assert result.exit_code == 0, result.output
    assert "unknown columns kept in attributes: 备注" in result.output
    assert "0 used as entrances, 1 not imported" in result.output
    assert "feature 'P' is a Point" in result.output
    result = CliRunner().invoke(cli_app(), ["import", "layer", "streets", str(path), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.output)["error"]
    assert (error["field"], error["rule"]) == ("geometry", "streets are lines")


def test_messages_name_the_feature_by_its_file_id_and_name(seeded: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [feature({"id": "B9", "名称": "3号楼", "楼层": 999}, bldg(117.256, 34.796)),
         feature({"id": "B8", "楼层": 0}, bldg(117.258, 34.796))],
    )
    before = counts(seeded)
    with pytest.raises(InvalidInputError) as info:
        run(seeded, path, "buildings")
    messages = [p["message"] for p in info.value.details["problems"]]
    assert messages[0].startswith("feature 'B9' (3号楼): levels is 999")
    assert messages[1].startswith("feature 'B8': levels is 0")
    assert (info.value.field, info.value.feature) == ("levels", "B9")
    assert counts(seeded) == before
