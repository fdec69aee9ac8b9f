"""Buildings → units: one unit per building, or one per run of entrances for a building over the maximum.

Every building is a unit at its representative point. A building with more households than the maximum is
split by entrance (单元, column ``units``) into runs of *consecutive* entrances — the fewest runs that each
fit under the maximum, balanced by households — so the pieces of one building stay together (one run per
grid, never interleaved) and are listed in :attr:`~gisgrid.grids.partition.plan.GridPlan.pieces`. A
building without a ``units`` column (or with one entrance) is indivisible; if it alone exceeds the maximum
it becomes one grid and the violation is reported. Households are assumed to be spread evenly over the
entrances, and a run's unit sits on the footprint's long axis where its entrances are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gisgrid.grids.partition.inputs import _Frame
from gisgrid.grids.partition.tessellation import _clip

_AXIS_INSET = 0.1  # runs sit on the middle 80 % of the long axis: clear of the end walls and the next cell


@dataclass
class _Units:
    xy: np.ndarray
    hh: np.ndarray
    building: np.ndarray  # position of the building
    entrances: list[list[tuple[int, int]]]  # (entrance number, households) per unit
    complex_code: np.ndarray  # int, -1 = none


def _entrance_runs(households: np.ndarray, maximum: int) -> list[list[int]]:
    """Consecutive runs of entrances: the fewest that fit under ``maximum``, balanced by households."""
    u = len(households)
    for parts in range(max(1, math.ceil(households.sum() / maximum)), u + 1):
        runs = _balanced_runs(households, parts)
        if max(int(households[r].sum()) for r in runs) <= maximum:
            return runs
    return [[e] for e in range(u)]


def _balanced_runs(w: np.ndarray, parts: int) -> list[list[int]]:
    """Split the sequence ``w`` into ``parts`` consecutive runs minimising the largest sum (small DP)."""
    n = len(w)
    pre = np.concatenate([[0], np.cumsum(w)])
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(parts + 1)]
    cut = [[0] * (n + 1) for _ in range(parts + 1)]
    best[0][0] = 0.0
    for p in range(1, parts + 1):
        for i in range(p, n + 1):
            for j in range(p - 1, i):
                v = max(best[p - 1][j], float(pre[i] - pre[j]))
                if v < best[p][i]:
                    best[p][i], cut[p][i] = v, j
    runs: list[list[int]] = []
    i = n
    for p in range(parts, 0, -1):
        j = cut[p][i]
        runs.append(list(range(j, i)))
        i = j
    return runs[::-1]


def _footprints_inside(b: gpd.GeoDataFrame, frame: _Frame, community_local: Any) -> np.ndarray:
    """Footprints in the local frame, clipped to the community (whole when nothing of them is inside)."""
    local = frame.fwd(b.geometry.to_numpy())
    inside = _clip(local, community_local)
    return np.where(shapely.is_empty(inside) | (shapely.area(inside) <= 0), local, inside)


def _make_units(
    b: gpd.GeoDataFrame, hh: np.ndarray, entrances: np.ndarray, frame: _Frame, community_local: Any,
    maximum: int, complex_code: np.ndarray,
) -> _Units:
    use = _footprints_inside(b, frame, community_local)
    rep = shapely.get_coordinates(shapely.point_on_surface(use))
    xy: list[np.ndarray] = []
    out_hh: list[int] = []
    building: list[int] = []
    ent: list[list[tuple[int, int]]] = []
    cx: list[int] = []
    for i in range(len(b)):
        u = int(entrances[i])
        if hh[i] <= maximum or u <= 1:
            xy.append(rep[i])
            out_hh.append(int(hh[i]))
            building.append(i)
            ent.append([(1, int(hh[i]))])
            cx.append(int(complex_code[i]))
            continue
        per = np.full(u, hh[i] // u, dtype=np.int64)
        per[: hh[i] % u] += 1
        axis = _long_axis(use[i])
        for run in _entrance_runs(per, maximum):
            weights = per[run].astype(float)
            t = float(np.average([(e + 0.5) / u for e in run], weights=weights if weights.sum() else None))
            xy.append(axis[0] + t * (axis[1] - axis[0]))
            out_hh.append(int(per[run].sum()))
            building.append(i)
            ent.append([(e + 1, int(per[e])) for e in run])
            cx.append(int(complex_code[i]))
    return _Units(np.asarray(xy, dtype=float), np.asarray(out_hh, dtype=np.int64), np.asarray(building),
                  ent, np.asarray(cx, dtype=np.int64))


def _long_axis(poly: Any) -> tuple[np.ndarray, np.ndarray]:
    """End points of the long centre line of the footprint's minimum rotated rectangle (inset at both ends)."""
    rect = shapely.oriented_envelope(poly)
    c = shapely.get_coordinates(rect)[:4]
    if len(c) < 4:
        p = shapely.get_coordinates(shapely.point_on_surface(poly))[0]
        return p, p
    e1, e2 = c[1] - c[0], c[2] - c[1]
    if np.hypot(*e1) >= np.hypot(*e2):
        a, b = (c[0] + c[3]) / 2, (c[1] + c[2]) / 2
    else:
        a, b = (c[0] + c[1]) / 2, (c[3] + c[2]) / 2
    return a + _AXIS_INSET * (b - a), b - _AXIS_INSET * (b - a)
