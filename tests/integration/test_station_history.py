"""Station history from the file importer and the command line: imported stations get the history their dates
state and their complex; a re-import adds only later changes and never rewrites one (nothing written
then); the stored coverage notices stations written behind its back; the CLI answers with codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gisgrid.coverage import Thresholds
from gisgrid.errors import InvalidInputError
from layers import coverage as lc
from layers.cli import app
from tests.coverage_world import World, build_world
from tests.integration.test_coverage_db import ORIGIN, area
from tests.integration.test_file_import import feature, run, write_geojson

T = Thresholds()


@pytest.fixture
def world(clean_db: Engine) -> World:
    with Session(clean_db) as db, db.begin():
        d = area(db, "370403000000", "district", (117.20, 34.75, 117.32, 34.85))
        s = area(db, "370403001000", "street", (117.20, 34.75, 117.32, 34.85), d)
        a = area(db, "370403001001", "community", (117.20, 34.75, ORIGIN[0], 34.85), s)
        b = area(db, "370403001002", "community", (ORIGIN[0], 34.75, 117.32, 34.85), s)
        return build_world(db, origin=ORIGIN, community={"A": (a.id, a.code), "B": (b.id, b.code)})


def stations_file(path: Path, world: World, **dates: Any) -> Path:
    # one red heart station inside complex C1 (its box runs x = -99.2 … -80, y = -32 … -8)
    lon, lat = world.lonlat(-90.0, -12.0)
    return write_geojson(path, [feature({"id": "RH1", "name": "红心驿站", "kind": "red_heart_station", **dates},
                                        Point(lon, lat))])


def history(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT status, since::text, recorded_by FROM station_status ORDER BY since, id")).all()]


def test_an_import_writes_history_links_the_complex_and_only_adds_later_changes(world: World, clean_db: Engine,
                                                                                 tmp_path: Path) -> None:
    first = stations_file(tmp_path / "s.geojson", world, status="building", planned_on="2025-01-05",
                          building_since="2025-03-01")
    report = run(clean_db, first, "stations")
    assert report.extra["station_history"] == 2
    assert history(clean_db) == [("planned", "2025-01-05", "import:s.geojson"),
                                 ("building", "2025-03-01", "import:s.geojson")]
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT complex_id FROM station")).scalar() == world.complexes["C1"]
    assert run(clean_db, first, "stations").extra["station_history"] == 0  # the same file again: nothing new

    rewritten = stations_file(tmp_path / "t.geojson", world, status="building", planned_on="2025-01-05",
                              building_since="2025-02-01")
    with pytest.raises(InvalidInputError) as info:
        run(clean_db, rewritten, "stations")
    assert (info.value.field, info.value.feature) == ("building_since", "RH1")
    assert len(history(clean_db)) == 2
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT building_since::text FROM station")).scalar() == "2025-03-01"

    later = stations_file(tmp_path / "u.geojson", world, status="open", planned_on="2025-01-05",
                          building_since="2025-03-01", opened_on="2025-06-01")
    assert run(clean_db, later, "stations").extra["station_history"] == 1
    assert history(clean_db)[-1] == ("open", "2025-06-01", "import:u.geojson")

    with Session(clean_db) as db, db.begin():  # written behind the stored table's back: it recomputes
        fig = lc.figures(db, T, level="community", code="370403001001")
        assert fig["totals"]["red_heart_station_stations_open"] == 1
        assert fig["totals"]["red_heart_station_complexes_covered"] == 1  # C1 holds the open station


def cli(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else None


def test_the_stations_and_coverage_commands(world: World, clean_db: Engine, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("GISGRID_DATABASE_URL", clean_db.url.render_as_string(hide_password=False))
    from layers.settings import get_settings

    get_settings.cache_clear()
    try:
        lon, lat = world.spots["row_a"]
        code, made = cli("stations", "create", "--name", "甲", "--kind", "red_heart_station", "--lon", str(lon),
                         "--lat", str(lat), "--opened-on", "2025-05-01", "--by", "tester")
        assert code == 0 and made["status"] == "open" and made["history"][0]["recorded_by"] == "tester"
        code, bad = cli("stations", "create", "--name", "乙", "--kind", "teahouse", "--lon", str(lon),
                        "--lat", str(lat))
        assert code == 2 and bad["error"]["field"] == "kind"
        code, bad = cli("stations", "status", str(made["id"]), "closed", "--on", "2025-04-30")
        assert code == 2 and bad["error"]["field"] == "since"
        code, closed = cli("stations", "status", str(made["id"]), "closed", "--on", "2025-09-01")
        assert code == 0 and closed["coverage"][0]["mode"] == "incremental"
        code, listed = cli("stations", "list", "--code", "370403001001")
        assert code == 0 and [s["id"] for s in listed["stations"]] == [made["id"]]
        code, shown = cli("stations", "history", str(made["id"]))
        assert [h["status"] for h in shown["history"]] == ["open", "closed"]
        out = tmp_path / "c.csv"
        code, report = cli("coverage", "report", "--as-of", "2025-06-30", "--level", "community", "--csv", str(out))
        assert code == 0 and report["source"] == "history"
        assert report["totals"]["red_heart_station_households_covered"] == 3 * 50 + 30
        assert out.read_bytes().startswith("\ufeffcode,name,households".encode())
        code, curve = cli("coverage", "rollout", "--from", "2025-01-01", "--as-of", "2025-12-31")
        assert code == 0 and [m["stations_open"] for m in curve["months"]][3:9] == [0, 1, 1, 1, 1, 0]
        assert curve["projection"]["message"] == "never at this pace"
        code, bad = cli("coverage", "report", "--as-of", "2999-01-01")
        assert code == 2 and bad["error"]["field"] == "as_of"
    finally:
        get_settings.cache_clear()
