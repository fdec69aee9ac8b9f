"""The grid locator (gisgrid/grids/locate.py) against a brute-force answer: overlapping grid versions,
validity windows, lowest id wins — one point at a time and many at once giving the same answer."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely

from gisgrid.grids.locate import GridLocator, utc_datetime64

T0 = np.datetime64("2025-01-01T00:00", "us")


def _world(seed: int = 3, n_grids: int = 60) -> tuple[GridLocator, list[shapely.Polygon], np.ndarray, np.ndarray,
                                                       np.ndarray]:
    # grids of 0.005–0.03°, the sizes the single-point lattice is made for (cells of 0.002°)
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(0, 0.1, n_grids), rng.uniform(0, 0.1, n_grids)
    polys = [shapely.box(x, y, x + rng.uniform(0.005, 0.03), y + rng.uniform(0.005, 0.03))
             for x, y in zip(x0, y0, strict=True)]
    ids = rng.permutation(np.arange(100, 100 + n_grids)).astype(np.int64)  # ids not in tree order
    starts = T0 + rng.integers(0, 200, n_grids).astype("timedelta64[D]")
    ends = starts + rng.integers(10, 300, n_grids).astype("timedelta64[D]")
    ends[rng.random(n_grids) < 0.3] = np.datetime64("NaT", "us")  # open versions
    locator = GridLocator(ids, [f"g{i}" for i in range(n_grids)], starts.astype("datetime64[us]"),
                          ends.astype("datetime64[us]"), polys)
    return locator, polys, ids, starts, ends


def _brute(polys: list[shapely.Polygon], ids: np.ndarray, starts: np.ndarray, ends: np.ndarray, x: float, y: float,
           t: np.datetime64) -> int:
    p = shapely.Point(x, y)
    ok = [ids[g] for g in range(len(polys)) if polys[g].covers(p) and starts[g] <= t
          and (np.isnat(ends[g]) or ends[g] > t)]
    return int(min(ok)) if ok else -1


def test_assign_matches_brute_force() -> None:
    locator, polys, ids, starts, ends = _world()
    rng = np.random.default_rng(4)
    n = 5000
    px, py = rng.uniform(-0.01, 0.13, n), rng.uniform(-0.01, 0.13, n)
    at = (T0 + rng.integers(0, 500, n).astype("timedelta64[D]")).astype("datetime64[us]")
    got = locator.assign(shapely.points(px, py), at)
    for i in range(n):
        assert got[i] == _brute(polys, ids, starts, ends, px[i], py[i], at[i]), i
    assert (got >= 0).sum() > n // 4  # the test covers real hits, overlaps included
    # positions, many at once and one at a time, name the same versions
    pos = locator.locate_many(shapely.points(px, py), at)
    assert np.array_equal(np.where(pos >= 0, ids[pos], -1), got)
    for i in range(0, n, 7):
        when = at[i].astype(dt.datetime).replace(tzinfo=dt.UTC)
        one = locator.locate(float(px[i]), float(py[i]), when)
        assert (-1 if one is None else one) == pos[i], i


def test_points_on_a_boundary_are_covered_and_the_lowest_id_wins() -> None:
    polys = [shapely.box(0, 0, 0.01, 0.01), shapely.box(0.01, 0, 0.02, 0.01)]  # they share the edge x = 0.01
    open_ = [None, None]
    start = [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)] * 2
    at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    for ids, want in (([9, 4], 4), ([4, 9], 4)):
        locator = GridLocator(ids, ["a", "b"], start, open_, polys)
        assert locator.assign(shapely.points([0.01], [0.005]), at).tolist() == [want]
        assert ids[locator.locate(0.01, 0.005, at)] == want  # type: ignore[index]
        assert locator.locate(0.005, 0.01, at) == 0  # the top edge is the polygon's too


def test_the_version_valid_at_the_time_answers() -> None:
    china = dt.timezone(dt.timedelta(hours=8))
    edit = dt.datetime(2025, 6, 1, tzinfo=china)
    locator = GridLocator([1, 2], ["g1", "g1"], [dt.datetime(2025, 1, 1, tzinfo=china), edit], [edit, None],
                          [shapely.box(0, 0, 0.01, 0.01), shapely.box(0, 0, 0.02, 0.01)])
    before, after = edit - dt.timedelta(seconds=1), edit
    assert locator.locate(0.015, 0.005, before) is None and locator.locate(0.015, 0.005, after) == 1
    assert locator.locate(0.005, 0.005, before) == 0
    assert locator.locate(0.005, 0.005, after) == 1  # valid_to is excluded, valid_from included
    got = locator.assign(shapely.points([0.005, 0.005, 0.015], [0.005] * 3), [before, after, before])
    assert got.tolist() == [1, 2, -1]
    assert locator.locate(0.005, 0.005, dt.datetime(2024, 12, 31, 23, tzinfo=china)) is None  # before any version


def test_assign_without_times_takes_open_versions() -> None:
    polys = [shapely.box(0, 0, 0.02, 0.02), shapely.box(0.01, 0.01, 0.03, 0.03)]
    nat, t = np.datetime64("NaT", "us"), np.datetime64(dt.datetime(2025, 1, 1), "us")
    locator = GridLocator(np.array([7, 5]), ["a", "b"], np.array([t, t]), np.array([nat, t + np.timedelta64(1, "D")]),
                          polys)
    got = locator.assign(shapely.points([0.015, 0.025, 0.05], [0.015, 0.025, 0.05]))
    assert got.tolist() == [7, -1, -1]  # grid 5 is closed; with no time only open versions count
    assert locator.locate_many(shapely.points([0.015], [0.015])).tolist() == [0]


def test_empty_inputs() -> None:
    empty = GridLocator([], [], [], [], [])
    assert empty.assign(shapely.points([0.0], [0.0])).tolist() == [-1]
    assert empty.locate(0.0, 0.0, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) is None
    locator, *_ = _world(n_grids=3)
    assert locator.assign(np.array([], dtype=object)).tolist() == []
    with pytest.raises(ValueError, match="one entry per grid version"):
        GridLocator([1], [], [], [], [])


def test_edge_distance_in_metres() -> None:
    lat = 39.93
    kx = 111_320.0 * np.cos(np.radians(lat))  # metres per degree of longitude, near enough for 1 %
    locator = GridLocator([1], ["g"], [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)], [None],
                          [shapely.box(116.30, 39.90, 116.33, 39.96)])
    at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    d = locator.edge_m(116.33 - 2.0 / kx, lat, at, margin_deg=5e-4)
    assert d == pytest.approx(2.0, rel=0.01)
    assert locator.edge_m(116.33 - 2.0 / kx, lat, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), margin_deg=5e-4) is None


def test_times_to_datetime64() -> None:
    china = dt.timezone(dt.timedelta(hours=8))
    got = utc_datetime64(np.array([dt.datetime(2025, 1, 1, 8, tzinfo=china), None], dtype=object))
    assert got[0] == np.datetime64("2025-01-01T00:00", "us") and np.isnat(got[1])
    assert utc_datetime64(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).shape == ()
