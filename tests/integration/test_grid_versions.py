"""Versioned grid boundaries on PostGIS: publish twice, history, as-of queries, rollback, references."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import geopandas as gpd
import pytest
from geoalchemy2 import WKTElement
from shapely.geometry import box
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ
from gisgrid.errors import ConflictError, InvalidInputError, NotFoundError
from layers import grids as lg
from layers.models import AdminArea, AuditLog, Building, Grid, Incident

COMMUNITY = box(116.30, 39.90, 116.32, 39.91)
CC = "110105001001"
A, B = CC + "001", CC + "002"
T1 = datetime(2024, 1, 1, 9, 0, tzinfo=CHINA_TZ)
T2 = datetime(2024, 6, 1, 9, 0, tzinfo=CHINA_TZ)


def multi(g) -> str:
    return f"MULTIPOLYGON((({', '.join(f'{x} {y}' for x, y in g.exterior.coords)})))"


@pytest.fixture
def community(db: Session) -> AdminArea:
    area = AdminArea(code=CC, level="community", name="甲社区", geom=WKTElement(multi(COMMUNITY), srid=4326))
    db.add(area)
    db.flush()
    for i, x in enumerate((116.303, 116.306, 116.313, 116.316), start=1):
        db.add(
            Building(
                id=i, name=f"{i}号楼", households=200, community_id=area.id,
                geom=WKTElement(multi(box(x, 39.905, x + 0.0002, 39.9052)), srid=4326),
                entrance=WKTElement(f"POINT({x + 0.0001} {39.9051})", srid=4326),
            )
        )
    db.flush()
    return area


def plan(cut: float) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [A, B]}, geometry=[box(116.30, 39.90, cut, 39.91), box(cut, 39.90, 116.32, 39.91)], crs=4326
    )


def grid_codes(db: Session) -> dict[int, str | None]:
    return dict(db.execute(select(Building.id, Building.grid_code).order_by(Building.id)).all())


def test_publish_twice_history_as_of_and_rollback(db: Session, community: AdminArea) -> None:
    first = lg.publish_plan(db, CC, plan(116.31), user_id=None, when=T1)
    assert first.versions == {A: 1, B: 1}
    assert first.households == {A: 400, B: 400}
    assert first.problems == []
    assert grid_codes(db) == {1: A, 2: A, 3: B, 4: B}

    # an incident reported in grid A version 1 points at that row
    v1_row = db.execute(select(Grid).where(Grid.code == A, Grid.version == 1)).scalar_one()
    incident = Incident(category_code="06010", source="patrol", grid_id=v1_row.id, grid_code=A,
                        reported_at=T1 + timedelta(days=3),
                        geom=WKTElement("POINT(116.304 39.906)", srid=4326))
    db.add(incident)
    db.flush()

    second = lg.publish_plan(db, CC, plan(116.305), user_id=None, when=T2)
    assert second.versions == {A: 2, B: 2}
    assert second.households == {A: 200, B: 600}
    assert {p.rule for p in second.problems} == {"households_out_of_range"}
    assert grid_codes(db) == {1: A, 2: B, 3: B, 4: B}

    hist = lg.history(db, A)
    assert [(v.version, v.status) for v in hist] == [(1, "retired"), (2, "active")]
    assert hist[0].valid_to == T2 and hist[0].valid_from == T1 and hist[1].valid_to is None
    assert hist[0].geometry.equals(box(116.30, 39.90, 116.31, 39.91))
    assert hist[1].households == 200

    # what did the grids look like …
    before = lg.grids_on(db, T1 - timedelta(seconds=1), CC)
    assert before.empty
    spring = lg.grids_on(db, date(2024, 3, 1), CC).set_index("code")
    assert list(spring["version"]) == [1, 1]
    assert spring.geometry[A].equals(box(116.30, 39.90, 116.31, 39.91))
    summer = lg.grids_on(db, T2, CC).set_index("code")  # valid_from is inclusive, valid_to exclusive
    assert list(summer["version"]) == [2, 2]
    assert summer.geometry[A].equals(box(116.30, 39.90, 116.305, 39.91))
    assert len(lg.grids_on(db, date(2024, 6, 1))) == 2  # the end of the publishing day: version 2

    # roll grid A back to version 1: version 3 has version 1's geometry; B gives back its strip
    result = lg.rollback(db, A, to_version=1, user_id=None, expected_version=2)
    assert isinstance(result, lg.EditResult)
    assert result.versions == {A: 3, B: 3}
    assert result.previous_versions == {A: 2, B: 2}
    assert result.households == {A: 400, B: 400}
    assert result.problems == []
    hist = lg.history(db, A)
    assert [v.version for v in hist] == [1, 2, 3]
    assert hist[2].geometry.equals(hist[0].geometry)
    assert hist[2].valid_to is None and hist[1].valid_to is not None
    assert lg.history(db, B)[2].geometry.equals(box(116.31, 39.90, 116.32, 39.91))
    assert grid_codes(db) == {1: A, 2: A, 3: B, 4: B}
    current = lg.current_grids(db, CC)
    assert list(current["version"]) == [3, 3]

    # the incident still resolves to the boundary valid when it was reported
    row = db.execute(
        text(
            "SELECT g.version, g.valid_to, ST_Contains(g.geom, i.geom) AS inside "
            "FROM incident i JOIN grid g ON g.id = i.grid_id WHERE i.id = :id"
        ),
        {"id": incident.id},
    ).one()
    assert row.version == 1 and row.valid_to == T2 and row.inside
    as_reported = db.execute(
        text(
            "SELECT g.version FROM incident i JOIN grid g ON g.code = i.grid_code "
            "AND g.valid_from <= i.reported_at AND (g.valid_to IS NULL OR g.valid_to > i.reported_at) "
            "WHERE i.id = :id"
        ),
        {"id": incident.id},
    ).scalar_one()
    assert as_reported == 1

    audit = db.execute(select(AuditLog.action, AuditLog.entity_id).order_by(AuditLog.id)).all()
    assert audit == [("publish_plan", CC), ("publish_plan", CC), ("rollback", A)]
    last = db.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).scalar_one()
    assert last.before == {A: {"version": 2, "households": 200}, B: {"version": 2, "households": 600}}
    assert last.after[A] == {"version": 3, "households": 400}


def test_a_plan_with_fewer_grids_retires_the_missing_codes(db: Session, community: AdminArea) -> None:
    three = gpd.GeoDataFrame(
        {"code": [A, B, CC + "003"]},
        geometry=[box(116.30, 39.90, 116.31, 39.91), box(116.31, 39.90, 116.315, 39.91),
                  box(116.315, 39.90, 116.32, 39.91)],
        crs=4326,
    )
    lg.publish_plan(db, CC, three, user_id=None, when=T1)
    result = lg.publish_plan(db, CC, plan(116.31), user_id=None, when=T2)
    assert result.retired == [CC + "003"]
    assert [v.status for v in lg.history(db, CC + "003")] == ["retired"]
    assert sorted(lg.current_grids(db, CC)["code"]) == [A, B]
    # a community rolled back to a date gets that date's grids again as new versions
    back = lg.rollback(db, CC, to_date=date(2024, 3, 1))
    assert isinstance(back, lg.PublishResult)
    assert back.versions == {A: 3, B: 3, CC + "003": 2}
    assert back.households == {A: 400, B: 200, CC + "003": 200}


def test_publish_refuses_bad_codes_and_times(db: Session, community: AdminArea) -> None:
    bad = plan(116.31)
    bad.loc[1, "code"] = "110105001002001"
    with pytest.raises(InvalidInputError) as exc:
        lg.publish_plan(db, CC, bad, user_id=None)
    assert exc.value.field == "code" and exc.value.feature == "110105001002001"
    lg.publish_plan(db, CC, plan(116.31), user_id=None, when=T2)
    with pytest.raises(InvalidInputError) as exc:
        lg.publish_plan(db, CC, plan(116.305), user_id=None, when=T1)
    assert exc.value.field == "when"
    with pytest.raises(NotFoundError):
        lg.publish_plan(db, "110105001009", plan(116.31), user_id=None)
    with pytest.raises(NotFoundError):
        lg.history(db, CC + "009")


def test_edits_on_the_session(db: Session, community: AdminArea) -> None:
    lg.publish_plan(db, CC, plan(116.31), user_id=None, when=datetime.now(UTC) - timedelta(days=1))
    # move building 2 (x = 116.306) east: its cell goes with it, tallies change by exactly 200
    dry = lg.move_buildings(db, A, B, [2], expected_versions={A: 1, B: 1}, dry_run=True)
    assert dry.households == {A: 200, B: 600} and dry.dry_run and dry.versions == {A: 2, B: 2}
    assert lg.current_grids(db, CC)["version"].tolist() == [1, 1]  # nothing written
    moved = lg.move_buildings(db, A, B, [2], expected_versions={A: 1, B: 1})
    assert moved.households == {A: 200, B: 600}
    assert grid_codes(db)[2] == B
    assert [p.rule for p in moved.problems] == ["households_out_of_range", "households_out_of_range"]
    assert lg.tallies(db, {c: g for c, g in moved.geometries.items()}) == {A: 200, B: 600}
    with pytest.raises(ConflictError) as exc:
        lg.move_buildings(db, B, A, [2], expected_versions={A: 1, B: 2})
    assert exc.value.details["current_version"] == 2 and exc.value.details["code"] == A

    split = lg.split_grid(db, B, expected_version=2, building_sets=([2, 3], [4]))
    assert split.households == {B: 400, CC + "003": 200}
    assert split.versions == {B: 3, CC + "003": 1}
    merged = lg.merge_grids(db, B, CC + "003", expected_versions={B: 3, CC + "003": 1})
    assert merged.retired == [CC + "003"] and merged.households == {B: 600}
    line = {"type": "LineString", "coordinates": [[116.308, 39.899], [116.308, 39.911]]}
    cut = lg.split_grid(db, B, expected_version=4, line=line)
    assert cut.households == {B: 400, CC + "004": 200}  # numbering continues after the retired 003
    boundary = lg.replace_boundary(db, A, box(116.30, 39.90, 116.31, 39.91), expected_version=2)
    assert boundary.households[A] == 400
    assert lg.validate_community(db, CC) == []


# ------------------------------------------------------------------------------------------ command line


@pytest.fixture
def cli(clean_db, db_url, monkeypatch, tmp_path):
    """A Typer app with the grids commands, on the test database (committed rows, emptied after)."""
    import typer
    from typer.testing import CliRunner

    from layers.cli import grids as grids_cli
    from layers.settings import get_settings

    monkeypatch.setenv("GISGRID_DATABASE_URL", db_url)
    monkeypatch.setenv("GISGRID_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    app = typer.Typer()
    app.command("noop")(lambda: None)
    grids_cli.register(app)
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


def _seed_committed(engine) -> None:
    with Session(engine) as s:
        area = AdminArea(code=CC, level="community", name="甲社区", geom=WKTElement(multi(COMMUNITY), srid=4326))
        s.add(area)
        s.flush()
        for i in range(12):  # 12 buildings × 100 households = 1,200: k in [3, 4]
            x, y = 116.301 + (i % 6) * 0.003, 39.902 + (i // 6) * 0.004
            s.add(Building(households=100, community_id=area.id, units=2,
                           geom=WKTElement(multi(box(x, y, x + 0.0003, y + 0.0002)), srid=4326),
                           entrance=WKTElement(f"POINT({x + 0.0001} {y + 0.0001})", srid=4326)))
        s.commit()


def test_cli_plan_publish_validate_history_rollback(cli, clean_db, tmp_path) -> None:
    import json as _json

    _seed_committed(clean_db)
    # nothing published yet: one line saying to plan first, not a community-sized gap and a "no grid" per building
    for args in (("--community", CC), ()):
        res = cli("grids", "validate", *args, "--json")
        assert res.exit_code == 2, res.output
        error = _json.loads(res.output)["error"]
        assert error["code"] == "not_found" and "grids plan" in error["message"] and "--publish" in error["message"]
    res = cli("grids", "validate", "--community", CC)
    said = " ".join(res.output.split())
    assert res.exit_code == 2 and "plan and publish them first" in said and "no grid" not in said

    res = cli("grids", "plan", "--community", CC, "--publish", "--json")
    assert res.exit_code == 0, res.output
    out = _json.loads(res.output)
    entry = out["communities"][0]
    assert entry["k"] in (3, 4) and sum(entry["households"].values()) == 1200
    assert entry["published"]["versions"] == {code: 1 for code in entry["households"]}

    where = tmp_path / "problems.geojson"
    res = cli("grids", "validate", "--community", CC, "--json", "--geojson", str(where),
              "--min", "1000", "--max", "2000")
    assert res.exit_code == 1, res.output  # errors found: a failing exit, for scripts and CI
    report = _json.loads(res.output)
    assert report["count"] == entry["k"]  # every grid is under a minimum of 1,000
    assert len(_json.loads(where.read_text())["features"]) == entry["k"]
    assert cli("grids", "validate", "--community", CC, "--min", "1000", "--max", "2000", "--strict").exit_code == 1
    assert cli("grids", "validate", "--community", CC, "--min", "1000", "--max", "2000", "--no-strict").exit_code == 0
    text_run = cli("grids", "validate", "--community", CC)
    assert text_run.exit_code == 0 and "no problems" in text_run.output

    first = sorted(entry["households"])[0]
    res = cli("grids", "history", first, "--json")
    assert res.exit_code == 0 and [v["version"] for v in _json.loads(res.output)["versions"]] == [1]
    res = cli("grids", "plan", "--community", CC, "--publish", "--min", "200", "--max", "400", "--json")
    assert res.exit_code == 0, res.output
    res = cli("grids", "rollback", first, "--to-version", "1", "--json")
    assert res.exit_code == 0, res.output
    assert _json.loads(res.output)["versions"][first] == 3
    res = cli("grids", "rollback", first, "--to-version", "9", "--json")
    assert res.exit_code == 2 and _json.loads(res.output)["error"]["code"] == "not_found"
    assert cli("grids", "history", CC + "999").exit_code == 2
