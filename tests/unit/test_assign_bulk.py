"""assign_bulk against a brute-force answer: overlapping grid versions, validity windows, lowest id wins."""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely

from layers.incidents import GridIndex, assign_bulk


def test_assign_bulk_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    n_grids = 60
    x0, y0 = rng.uniform(0, 10, n_grids), rng.uniform(0, 10, n_grids)
    polys = [shapely.box(x, y, x + rng.uniform(0.5, 3), y + rng.uniform(0.5, 3)) for x, y in zip(x0, y0, strict=True)]
    ids = rng.permutation(np.arange(100, 100 + n_grids)).astype(np.int64)  # ids not in tree order
    t0 = np.datetime64("2025-01-01T00:00", "us")
    starts = t0 + rng.integers(0, 200, n_grids).astype("timedelta64[D]")
    ends = starts + rng.integers(10, 300, n_grids).astype("timedelta64[D]")
    ends[rng.random(n_grids) < 0.3] = np.datetime64("NaT", "us")  # open versions
    index = GridIndex(ids, np.array([f"g{i}" for i in range(n_grids)], dtype=object), starts.astype("datetime64[us]"),
                      ends.astype("datetime64[us]"), shapely.STRtree(polys))
    n = 5000
    px, py = rng.uniform(-1, 13, n), rng.uniform(-1, 13, n)
    at = t0 + rng.integers(0, 500, n).astype("timedelta64[D]")
    got = assign_bulk(index, shapely.points(px, py), at=at.astype("datetime64[us]"))
    for i in range(n):
        p = shapely.Point(px[i], py[i])
        ok = [ids[g] for g in range(n_grids) if polys[g].covers(p) and starts[g] <= at[i]
              and (np.isnat(ends[g]) or ends[g] > at[i])]
        assert got[i] == (min(ok) if ok else -1), i
    assert (got >= 0).sum() > n // 4  # the test covers real hits, overlaps included


def test_assign_bulk_without_times_takes_open_versions() -> None:
    polys = [shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)]
    nat, t = np.datetime64("NaT", "us"), np.datetime64(dt.datetime(2025, 1, 1), "us")
    index = GridIndex(np.array([7, 5], dtype=np.int64), np.array(["a", "b"], dtype=object),
                      np.array([t, t]), np.array([nat, t + np.timedelta64(1, "D")]), shapely.STRtree(polys))
    got = assign_bulk(index, shapely.points([1.5, 2.5, 5.0], [1.5, 2.5, 5.0]))
    assert got.tolist() == [7, -1, -1]  # grid 5 is closed; with no time only open versions count
