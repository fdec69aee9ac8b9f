"""Coverage on PostGIS through the station flows: the walk decides, figures as of a day before and after a
station opens, islands reported and never covered, incremental updates equal to a full recomputation after
a random sequence of changes, and the rollout adding up to the station table of the demo district."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest
from geoalchemy2 import WKTElement
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid import vocab
from gisgrid.coverage import Thresholds
from layers import coverage as lc
from layers import stations as ls
from layers.models import AdminArea
from tests.coverage_world import World, build_world

T = Thresholds()
ORIGIN = (117.26, 34.80)
ACTOR = ls.Actor("test")
TODAY = lc.today()


def area(db: Session, code: str, level: str, bounds: tuple[float, float, float, float],
         parent: AdminArea | None = None) -> AdminArea:
    minx, miny, maxx, maxy = bounds
    a = AdminArea(code=code, level=level, name=f"{level} {code}", parent_id=parent.id if parent else None,
                  geom=WKTElement(f"MULTIPOLYGON((({minx} {miny},{maxx} {miny},{maxx} {maxy},{minx} {maxy},"
                                  f"{minx} {miny})))", srid=4326))
    db.add(a)
    db.flush()
    return a


@pytest.fixture
def world(db: Session) -> Iterator[World]:
    d = area(db, "370403000000", "district", (117.20, 34.75, 117.32, 34.85))
    s = area(db, "370403001000", "street", (117.20, 34.75, 117.32, 34.85), d)
    a = area(db, "370403001001", "community", (117.20, 34.75, ORIGIN[0], 34.85), s)
    b = area(db, "370403001002", "community", (ORIGIN[0], 34.75, 117.32, 34.85), s)
    yield build_world(db, origin=ORIGIN, community={"A": (a.id, a.code), "B": (b.id, b.code)})


def stored(db: Session, kind: str) -> dict[int, tuple[float | None, int | None, bool]]:
    rows = db.execute(text("SELECT building_id, distance_m, station_id, island FROM coverage_result"
                           " WHERE kind = :k"), {"k": kind}).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def open_at(db: Session, world: World, spot: str, kind: str = "red_heart_station",
            opened: dt.date = dt.date(2025, 6, 1)) -> dict:
    lon, lat = world.spots[spot]
    return ls.create(db, T, ACTOR, name=spot, kind=kind, lon=lon, lat=lat, dates={"opened_on": opened})


def test_ninety_metres_on_foot_covered_a_hundred_and_ten_not(db: Session, world: World) -> None:
    open_at(db, world, "u90")
    open_at(db, world, "u110")
    got = stored(db, "red_heart_station")
    near, far = got[world.buildings["near"]], got[world.buildings["far"]]
    assert near[0] == pytest.approx(90.5, abs=0.2) and far[0] == pytest.approx(110.5, abs=0.2)
    fig = lc.figures(db, T, level="community")
    rows = {r["code"]: r for r in fig["rows"]}
    # besides "near", the first two of the row (65 m) in A and two in B (75 m), 50 households each
    assert rows["370403001001"]["red_heart_station_households_covered"] == 30 + 100
    assert rows["370403001002"]["red_heart_station_households_covered"] == 100
    # a straight line of ~50 m would have covered both
    straight = db.execute(text("SELECT ST_Distance(b.entrance::geography, s.geom::geography) FROM building b, station s"
                               " WHERE b.id = :b AND s.name = 'u110'"), {"b": world.buildings["far"]}).scalar()
    assert straight == pytest.approx(50.5, abs=0.5)


def test_figures_before_and_after_a_station_opens(db: Session, world: World) -> None:
    lon, lat = world.spots["row_a"]
    made = ls.create(db, T, ACTOR, name="row a", kind="red_heart_station", lon=lon, lat=lat,
                     dates={"planned_on": dt.date(2026, 1, 10)})
    ls.change_status(db, T, ACTOR, made["id"], status="building", since=dt.date(2026, 2, 1))
    ls.change_status(db, T, ACTOR, made["id"], status="open", since=dt.date(2026, 3, 15))
    before = lc.figures(db, T, level="community", code="370403001001", as_of=dt.date(2026, 3, 14))["totals"]
    after = lc.figures(db, T, level="community", code="370403001001", as_of=dt.date(2026, 3, 15))["totals"]
    assert before["red_heart_station_households_covered"] == 0
    assert before["red_heart_station_stations_building"] == 1 and before["red_heart_station_stations_open"] == 0
    # doors 85, 35, 55, 105 m from it on foot (+ the "near" building 25.5 m): three of the row and "near"
    assert after["red_heart_station_households_covered"] == 3 * 50 + 30
    assert after["red_heart_station_stations_open"] == 1
    early = lc.figures(db, T, level="community", code="370403001001", as_of=dt.date(2025, 12, 31))["totals"]
    assert sum(early[f"red_heart_station_stations_{s}"] for s in vocab.STATION_STATUSES) == 0
    # today from the stored table equals yesterday from the history (nothing changed since)
    now = lc.figures(db, T, level="grid")
    yesterday = lc.figures(db, T, level="grid", as_of=TODAY - dt.timedelta(days=1))
    assert (now["source"], yesterday["source"]) == ("stored", "history")
    assert now["rows"] == yesterday["rows"] and now["totals"] == yesterday["totals"]


def test_an_island_building_is_reported_and_never_covered(db: Session, world: World) -> None:
    open_at(db, world, "on_island")  # 5 m from its door, on the island's own street
    island = world.buildings["island"]
    assert stored(db, "red_heart_station")[island] == (None, None, True)
    fig = lc.figures(db, T, level="street")
    assert fig["islands"] == {"buildings": [island], "households": 10}
    assert fig["totals"]["island_households"] == 10
    assert fig["totals"]["red_heart_station_households_covered"] == 0
    page = lc.buildings_geojson(db, T, kind="red_heart_station", code="370403001002").to_dict()
    props = {f["id"]: f["properties"] for f in page["features"]}
    assert props[island]["island"] is True
    assert props[island]["coverage"]["red_heart_station"] == {"distance_m": None, "station_id": None,
                                                              "covered": False}


def test_incremental_updates_equal_a_full_recomputation(db: Session, world: World) -> None:
    rng = random.Random(7)
    lc.ensure_current(db, T)
    spots = [world.lonlat(rng.uniform(-200, 200), rng.choice([0.0, 100.0, 200.0]) + rng.uniform(-8, 8))
             for _ in range(14)] + [world.spots["u90"], world.spots["on_island"]]
    made: list[int] = []
    modes = set()
    for _step in range(30):
        roll = rng.random()
        if roll < 0.35 or not made:
            lon, lat = rng.choice(spots)
            kind = rng.choice(["red_heart_station", "service_post", "service_station"])
            out = ls.create(db, T, ACTOR, name=f"s{len(made)}", kind=kind, lon=lon, lat=lat,
                            dates={"opened_on": dt.date(2025, 1, 1)})
            made.append(out["id"])
        elif roll < 0.7:
            sid = rng.choice(made)
            current = ls.get(db, ACTOR, sid)["status"]
            out = ls.change_status(db, T, ACTOR, sid, status="closed" if current == "open" else "open")
        else:
            sid = rng.choice(made)
            lon, lat = rng.choice(spots)
            kind = rng.choice([None, "red_heart_station", "service_post"])
            out = ls.edit(db, T, ACTOR, sid, lon=lon, lat=lat, kind=kind)
        modes.update(c["mode"] for c in out["coverage"])
        incremental = {k: stored(db, k) for k in vocab.STATION_KINDS}
        lc.recompute(db, T)
        for kind in vocab.STATION_KINDS:
            full = stored(db, kind)
            assert full.keys() == incremental[kind].keys()
            for b, (d, _s, island) in full.items():
                got = incremental[kind][b]
                assert (got[0] is None) == (d is None) and got[2] == island, (kind, b)
                if d is not None:
                    assert got[0] == pytest.approx(d, abs=1e-9), (kind, b)
    assert modes == {"incremental"}  # the table was current before every change: never a full pass


def test_rollout_adds_up_to_the_station_table(db: Session) -> None:
    from gisgrid.synth import generate_district
    from layers.demo import load_district

    load_district(db.connection(), generate_district(seed=3, households=20_000, today=TODAY))
    curve = lc.rollout(db, T, kind="red_heart_station")
    months = curve["months"]
    assert months[-1]["day"] == TODAY.isoformat()
    for month in months:
        day = month["day"]
        for kind in vocab.STATION_KINDS:
            # what the station rows' own dates say was open at the end of that day
            want = db.execute(text(
                "SELECT count(*) FROM station WHERE kind = :k AND opened_on <= :d"
                " AND (closed_on IS NULL OR closed_on > :d)"), {"k": kind, "d": day}).scalar()
            assert month[f"{kind}_open"] == want, (day, kind)
    now = {k: db.execute(text("SELECT count(*) FROM station WHERE kind = :k AND status = 'open'"),
                         {"k": k}).scalar() for k in vocab.STATION_KINDS}
    assert {k: months[-1][f"{k}_open"] for k in vocab.STATION_KINDS} == now
    figures = lc.figures(db, T, level="community")
    assert months[-1]["complexes_covered"] == figures["totals"]["red_heart_station_complexes_covered"]
    assert months[-1]["households_covered"] == figures["totals"]["red_heart_station_households_covered"]
    shares = [m["complexes_share"] for m in months]
    assert shares[-1] is not None and curve["projection"]["target_date"] == f"{TODAY.year}-12-31"
    streets = lc.figures(db, T, level="street")
    for street in streets["rows"]:
        inside = lc.figures(db, T, level="community", code=street["code"])
        assert inside["totals"]["households"] == street["households"]
        assert sum(r["red_heart_station_households_covered"] for r in inside["rows"]) == \
            street["red_heart_station_households_covered"]
