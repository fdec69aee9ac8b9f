"""Round-trip accuracy of gisgrid's GCJ-02 and BD-09 transforms over China.

Run as a standalone script::

    .venv/bin/python benchmarks/crs_accuracy.py [--n 400]

For an ``n × n`` grid of WGS84 points over 73–135 E, 18–53 N it measures, as geodesic distances in
metres (pyproj.Geod on WGS84):

* the round trips WGS84 → GCJ-02 → WGS84 and WGS84 → BD-09 → WGS84 with gisgrid's iterated inverses;
* for comparison, the widely published one-step inverses (``gcj → 2·gcj − forward(gcj)`` and Baidu's
  closed-form BD-09 → GCJ-02), which are what most copy-pasted converters use;
* the size of the offsets themselves (how far GCJ-02 / BD-09 move a point).

It prints the 50th/90th/99th percentiles and the maximum of each, plus the time per million points.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyproj

from gisgrid import crs
from gisgrid.crs.offsets import _bd_inverse_approx, _gcj_delta  # the one-step formulas, for comparison

GEOD = pyproj.Geod(ellps="WGS84")


def _metres(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> np.ndarray:
    return np.asarray(GEOD.inv(x0, y0, x1, y1)[2])


def _row(label: str, d: np.ndarray) -> str:
    p50, p90, p99 = np.percentile(d, [50, 90, 99])
    return f"{label:<44} {p50:>11.3e} {p90:>11.3e} {p99:>11.3e} {d.max():>11.3e}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="grid points per side (default 400)")
    args = parser.parse_args(argv)
    n = args.n
    grid_lon, grid_lat = np.meshgrid(np.linspace(73.0, 135.0, n), np.linspace(18.0, 53.0, n))
    lon = grid_lon.ravel()
    lat = grid_lat.ravel()

    t0 = time.perf_counter()
    glon, glat = crs.gcj02_from_wgs84(lon, lat)
    t1 = time.perf_counter()
    wlon, wlat = crs.wgs84_from_gcj02(glon, glat)
    t2 = time.perf_counter()
    blon, blat = crs.bd09_from_wgs84(lon, lat)
    t3 = time.perf_counter()
    vlon, vlat = crs.wgs84_from_bd09(blon, blat)
    t4 = time.perf_counter()

    # the published one-step inverses, for comparison
    dx, dy = _gcj_delta(glon, glat)
    olon, olat = glon - dx, glat - dy
    bglon, bglat = crs.bd09_from_gcj02(glon, glat)
    aglon, aglat = _bd_inverse_approx(bglon, bglat)

    m = lon.size
    print(f"gisgrid CRS round trips on a {n} x {n} grid ({m:,} points), 73-135 E, 18-53 N")
    print("geodesic error in metres (WGS84 ellipsoid)")
    print(f"{'':<44} {'p50':>11} {'p90':>11} {'p99':>11} {'max':>11}")
    print(_row("WGS84 -> GCJ-02 -> WGS84 (iterated)", _metres(lon, lat, wlon, wlat)))
    print(_row("WGS84 -> BD-09 -> WGS84 (iterated)", _metres(lon, lat, vlon, vlat)))
    print(_row("GCJ-02 -> WGS84 one-step formula", _metres(lon, lat, olon, olat)))
    print(_row("BD-09 -> GCJ-02 one-step formula", _metres(glon, glat, aglon, aglat)))
    print(_row("offset WGS84 -> GCJ-02 (size of the shift)", _metres(lon, lat, glon, glat)))
    print(_row("offset WGS84 -> BD-09 (size of the shift)", _metres(lon, lat, blon, blat)))
    per_m = 1e6 / m
    print(
        "seconds per million points: "
        f"wgs->gcj {(t1 - t0) * per_m:.2f}, gcj->wgs {(t2 - t1) * per_m:.2f}, "
        f"wgs->bd {(t3 - t2) * per_m:.2f}, bd->wgs {(t4 - t3) * per_m:.2f}"
    )


if __name__ == "__main__":
    main()
