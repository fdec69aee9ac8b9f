"""gisgrid.patrol without a database: tours, splitting into days, a grid's week on a street lattice,
check-in rules and plausibility, compliance arithmetic."""

from __future__ import annotations

import datetime as dt
import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisgrid.codes import CHINA_TZ
from gisgrid.errors import InvalidInputError
from gisgrid.network import StreetNetwork
from gisgrid.patrol import (
    PatrolRules,
    assess_track,
    balance_ratio,
    match_buildings,
    parse_checkins,
    patrol_days,
    plan_week,
    solve_tour,
    split_days,
    tour_length,
    weekly_compliance,
)
from gisgrid.patrol.tsp import improve_2opt

CRS = "EPSG:32650"


def points_matrix(seed: int, n: int) -> np.ndarray:
    xy = np.random.default_rng(seed).uniform(0, 1000, (n, 2))
    return np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_small_tours_are_exact(n: int) -> None:
    d = points_matrix(n, n)
    order = solve_tour(d)
    assert order[0] == 0 and sorted(order) == list(range(n))
    best = min(tour_length(d, [0, *p]) for p in itertools.permutations(range(1, n))) if n > 1 else 0.0
    assert tour_length(d, order) == pytest.approx(best)


def test_larger_tour_is_deterministic_and_beats_2opt() -> None:
    d = points_matrix(3, 40)
    a, b = solve_tour(d, work=40_000, seed=1), solve_tour(d, work=40_000, seed=1)
    assert a == b and sorted(a) == list(range(40))
    assert tour_length(d, a) <= tour_length(d, improve_2opt(d, list(range(40)))) + 1e-6


@pytest.mark.parametrize(("n", "days"), [(4, 3), (12, 3), (30, 3), (30, 5), (2, 3)])
def test_split_visits_every_stop_once(n: int, days: int) -> None:
    d = points_matrix(n + days, n + 1)
    tours = split_days(d, days=days, work=20_000)
    assert len(tours) == days and all(t[0] == 0 for t in tours)
    stops = sorted(s for t in tours for s in t[1:])
    assert stops == list(range(1, n + 1))
    if n >= 12:
        assert balance_ratio(tour_length(d, t) for t in tours) <= 1.10 + 1e-9


def test_priority_stops_go_first() -> None:
    d = points_matrix(5, 21)
    tours = split_days(d, days=3, first_day=[4, 9], work=20_000)
    assert {4, 9} <= set(tours[0])
    assert sorted(s for t in tours for s in t[1:]) == list(range(1, 21))


def test_split_refuses_bad_input() -> None:
    with pytest.raises(InvalidInputError) as err:
        split_days(points_matrix(1, 4), days=3, first_day=[7])
    assert err.value.field == "first_day"
    d = points_matrix(1, 4)
    d[1, 2] = d[2, 1] = np.inf
    with pytest.raises(InvalidInputError) as err:
        solve_tour(d)
    assert err.value.field == "matrix"


def lattice(n: int = 8, step: float = 100.0, island: bool = True) -> StreetNetwork:
    """n × n street crossings ``step`` metres apart, plus (optionally) a two-node island far east."""
    ids, xy = [], []
    for j, i in itertools.product(range(n), range(n)):
        ids.append(j * n + i)
        xy.append((i * step, j * step))
    src, dst = [], []
    for j, i in itertools.product(range(n), range(n)):
        k = j * n + i
        if i + 1 < n:
            src.append(k)
            dst.append(k + 1)
        if j + 1 < n:
            src.append(k)
            dst.append(k + n)
    if island:
        ids += [1000, 1001]
        xy += [(n * step + 2000, 0.0), (n * step + 2000, step)]
        src.append(1000)
        dst.append(1001)
    xy_arr = np.array(xy, dtype=float)
    pos = {v: k for k, v in enumerate(ids)}
    length = [float(np.hypot(*(xy_arr[pos[a]] - xy_arr[pos[b]]))) for a, b in zip(src, dst, strict=True)]
    return StreetNetwork.from_arrays(ids, xy_arr, src, dst, length, crs=CRS)


def block_buildings(net_crs: str, points: list[tuple[float, float]], households: int = 20) -> gpd.GeoDataFrame:
    """12 × 12 m footprints centred ``(x, y)`` (metric), ids 1 …"""
    boxes = [shapely.box(x - 6, y - 6, x + 6, y + 6) for x, y in points]
    return gpd.GeoDataFrame({"households": households}, geometry=boxes, crs=net_crs,
                            index=np.arange(1, len(points) + 1))


def grid_week(rules: PatrolRules | None = None, **kw: object):  # type: ignore[no-untyped-def]
    net = lattice()
    pts = [(50.0 + 100 * i, 20.0 + 100 * j) for i in range(6) for j in range(6)]
    pts += [(50.0 + 100 * 2, 21.0 + 100 * 2)]  # on the same street point as another: one stop
    b = block_buildings(CRS, pts)
    area = shapely.box(0, 0, 600, 600)
    base = shapely.Point(-150, 300)  # the station stands outside the grid
    return net, plan_week(net, area, b, base, area_crs=CRS, rules=rules, **kw), b


def test_grid_week_visits_each_building_once_on_connected_walks() -> None:
    _, plan, b = grid_week()
    seen = [bid for day in plan.days for bid in day.building_ids]
    assert sorted(seen) == sorted(b.index.tolist())
    assert plan.stats["stops"] < len(b)  # two buildings share one street point
    for day in plan.days:
        assert day.stops and len(day.legs) == len(day.stops) + 1
        ends = [(shapely.Point(leg.coords[0]), shapely.Point(leg.coords[-1])) for leg in day.legs]
        for (_, end), (start, _) in itertools.pairwise(ends):
            assert end.distance(start) < 1e-6  # each leg starts where the last ended
        assert ends[0][0].distance(ends[-1][1]) < 1e-6  # back at the base's street point
        for metres, leg in zip(day.legs_m, day.legs, strict=True):
            assert leg.length == pytest.approx(metres, abs=0.01)
    assert plan.balance <= 1.10 + 1e-9


def test_shift_limit_is_reported() -> None:
    _, plan, _ = grid_week(PatrolRules(shift_minutes=20, minutes_per_household=1.0))
    assert all(day.over_shift for day in plan.days)
    _, easy, _ = grid_week(PatrolRules(shift_minutes=600))
    assert not any(day.over_shift for day in easy.days)
    for day in easy.days:
        walk = (day.street_m + day.access_m) / (4.5 * 1000 / 60)
        assert day.minutes == pytest.approx(walk + day.households * 0.25)


def test_incidents_are_first_day_stops() -> None:
    inc = gpd.GeoDataFrame(geometry=[shapely.Point(455, 410)], crs=CRS, index=[77])
    _, plan, _ = grid_week(incidents=inc)
    assert any(77 in s.incident_ids for s in plan.days[0].stops)
    assert not any(77 in s.incident_ids for d in plan.days[1:] for s in d.stops)


def test_island_building_is_reported_not_dropped() -> None:
    net = lattice()
    b = block_buildings(CRS, [(50, 20), (250, 120), (2800, 50)])
    plan = plan_week(net, shapely.box(0, 0, 3000, 600), b, shapely.Point(0, 0), area_crs=CRS,
                     rules=PatrolRules(days=2))
    assert plan.islands == [3]
    assert sorted(x for d in plan.days for x in d.building_ids) == [1, 2, 3]


def test_same_input_same_plan() -> None:
    _, a, _ = grid_week()
    _, b, _ = grid_week()
    assert [d.building_ids for d in a.days] == [d.building_ids for d in b.days]
    assert [d.legs_m for d in a.days] == [d.legs_m for d in b.days]


def test_patrol_days_spread_over_the_week() -> None:
    days = patrol_days(dt.date(2026, 12, 2), 3)
    assert [d.isoformat() for d in days] == ["2026-11-30", "2026-12-02", "2026-12-04"]
    with pytest.raises(InvalidInputError):
        patrol_days(dt.date(2026, 12, 2), 8)


# ----------------------------------------------------------------------------------------- check-ins
def good(i: int, **kw: object) -> dict[str, object]:
    return {"id": f"phone-a-{i:04d}", "at": f"2026-12-02T09:{i:02d}:00+08:00", "lon": 117.26, "lat": 34.80,
            "accuracy_m": 8, **kw}


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"id": "x"}, "checkins[1].id", "8–64 characters of [A-Za-z0-9_-]"),
        ({"lat": 91}, "checkins[1].lat", "-90 ≤ lat ≤ 90"),
        ({"lon": "117"}, "checkins[1].lon", "a finite number"),
        ({"at": "2026-12-02T09:00:00"}, "checkins[1].at", "ISO 8601 date-time with a time zone"),
        ({"crs": "bd09"}, "checkins[1].crs", "crs is wgs84 or gcj02"),
        ({"accuracy_m": -1}, "checkins[1].accuracy_m", "accuracy_m ≥ 0"),
        ({"id": "phone-a-0000"}, "checkins[1].id", "unique ids within a batch"),
    ],
)
def test_checkin_rules_name_the_field(change: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_checkins([good(0), good(1, **change)])
    assert err.value.field == field and err.value.rule == rule


def test_gcj02_is_converted() -> None:
    (c,) = parse_checkins([good(0, crs="gcj02", lon=117.2655, lat=34.8031)])
    assert c.crs == "gcj02" and 0.003 < abs(c.lon - 117.2655) + abs(c.lat - 34.8031) < 0.02


def test_implausible_points_are_flagged() -> None:
    t0 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=CHINA_TZ)
    now = t0 + dt.timedelta(hours=2)
    times = [t0, t0 + dt.timedelta(minutes=2), t0 + dt.timedelta(minutes=3), t0 + dt.timedelta(minutes=4),
             t0 + dt.timedelta(minutes=5), now + dt.timedelta(hours=1)]
    xy = np.array([[0, 0], [100, 0], [2000, 0], [150, 0], [3000, 3000], [160, 0]], dtype=float)
    acc = np.array([5, 5, 5, 500, 5, 5], dtype=float)
    area = shapely.box(-50, -50, 300, 300)
    flags = assess_track(xy, times, acc, area, now, PatrolRules())
    assert flags[0] == [] and flags[1] == []
    assert "too_fast" in flags[2]  # 1.9 km in a minute: 114 km/h
    assert flags[3] == ["inaccurate"]  # judged against the last plausible point (100, 0): walking pace
    assert "far_outside" in flags[4]
    assert "future" in flags[5]


def test_matching_takes_the_nearest_building_within_reach() -> None:
    foot = np.array([shapely.box(0, 0, 10, 10), shapely.box(100, 0, 110, 10)], dtype=object)
    pts = shapely.points([[12, 5], [60, 5], [104, 30]])
    ids, dist = match_buildings(pts, foot, np.array([7, 8]), 30.0)
    assert ids.tolist() == [7, -1, 8]
    assert dist[0] == pytest.approx(2.0) and np.isinf(dist[1])


def test_compliance_arithmetic() -> None:
    week = dt.date(2026, 11, 30)
    t = dt.datetime(2026, 12, 2, 9, 0, tzinfo=CHINA_TZ)
    row = weekly_compliance(
        staff_id=5, grid_code="370403001001001", week=week, days_required=3,
        households={1: 100, 2: 50, 3: 30, 4: 20},
        visits=[(1, t), (2, t), (2, t + dt.timedelta(days=2)), (99, t)],
        track=[(t, 0, 0), (t + dt.timedelta(minutes=5), 300, 400), (t + dt.timedelta(days=2), 0, 0)],
        planned_m=1234.56, last_visits={1: t, 2: t, 3: t - dt.timedelta(days=20)}, flagged=2,
    )
    assert row["days_present"] == 2 and row["buildings_visited"] == 2 and row["buildings_total"] == 4
    assert row["households_visited"] == 150 and row["households_visited_share"] == 0.75
    assert row["walked_m"] == 500.0 and row["planned_m"] == 1234.6
    assert row["longest_unvisited_building"] == 4 and row["longest_unvisited_days"] is None
    assert row["checkins"] == 5 and row["flagged_checkins"] == 2
    row2 = weekly_compliance(
        staff_id=5, grid_code="g", week=week, days_required=3, households={1: 1, 3: 1}, visits=[], track=[],
        planned_m=0, last_visits={1: t, 3: t - dt.timedelta(days=20)},
    )
    assert row2["longest_unvisited_building"] == 3 and row2["longest_unvisited_days"] == pytest.approx(24.6)


@pytest.mark.parametrize("n", [4, 6, 7])
def test_small_grids_split_exactly(n: int) -> None:
    """Up to ten stops every split is tried: the result equals a brute force over all splits."""
    d = points_matrix(40 + n, n + 1)
    d[0, 1:] += 400.0  # a base away from the stops, as a station beside the grid
    d[1:, 0] += 400.0
    tours = split_days(d, days=3)
    got = [tour_length(d, t) for t in tours]
    best: tuple[int, float] | None = None
    for labels in itertools.product(range(3), repeat=n):
        groups = [[0] + [i + 1 for i in range(n) if labels[i] == k] for k in range(3)]
        if any(len(g) == 1 for g in groups):
            continue
        lengths = [tour_length(d[np.ix_(g, g)], solve_tour(d[np.ix_(g, g)])) for g in groups]
        ok = balance_ratio(lengths) <= 1.10 + 1e-9
        key = (0 if ok else 1, sum(lengths) if ok else balance_ratio(lengths))
        best = key if best is None or key < best else best
    assert best is not None
    if best[0] == 0:
        assert balance_ratio(got) <= 1.10 + 1e-9 and sum(got) == pytest.approx(best[1])
    else:
        assert balance_ratio(got) == pytest.approx(best[1])
