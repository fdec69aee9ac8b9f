"""Buildings → units: one unit per building, or one per *part* of a building over the maximum.

Every building is a unit at its representative point. A building with more households than the maximum is
split into parts that each fit, the way grid offices split a tall building:

1. **by entrance** (单元, column ``units``) when it has more than one entrance and runs of *consecutive*
   entrances can each fit: the fewest runs under the maximum, balanced by households;
2. otherwise **by floor range** (楼层段, column ``levels``) when it has more than one floor: runs of
   consecutive floors 1…levels, again the fewest that fit, balanced;
3. otherwise, with several entrances but one floor, by entrance as far as that goes;
4. a building with one entrance and one floor (or neither column) is indivisible: it stays one unit and,
   when over the maximum, becomes a grid of its own and is reported by name and source reference.

Households are assumed to be spread evenly over entrances (or floors). The parts of one building stay
consecutive ranges (one range per grid, never interleaved) and are listed in
:attr:`~gisgrid.grids.partition.plan.GridPlan.pieces`. A part's unit sits on the footprint's long axis in
range order, so the parts of one building are neighbours in the tessellation.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gisgrid.grids.partition.inputs import _Frame
from gisgrid.grids.partition.tessellation import _clip

_AXIS_INSET = 0.1  # parts sit on the middle 80 % of the long axis: clear of the end walls and the next cell

#: Kinds of part a building is split into (``GridPlan.pieces["kind"]``).
ENTRANCE, FLOORS = "entrance", "floors"


@dataclass(frozen=True)
class _Part:
    """One range of a split building: entrances ``first..last`` or floors ``first..last`` (1-based)."""

    kind: str
    first: int
    last: int


@dataclass
class _Units:
    xy: np.ndarray
    hh: np.ndarray
    building: np.ndarray  # position of the building
    part: list[_Part | None]  # None: the whole building
    complex_code: np.ndarray  # int, -1 = none
    splittable: np.ndarray  # per building: could be split (more than one entrance or floor)


def _runs(households: np.ndarray, maximum: int) -> list[list[int]]:
    """Consecutive runs of entrances or floors: the fewest that fit under ``maximum``, balanced by households
    (one item per run when even that does not fit)."""
    u = len(households)
    for parts in range(max(1, math.ceil(households.sum() / maximum)), u + 1):
        runs = _balanced_runs(households, parts)
        if max(int(households[r].sum()) for r in runs) <= maximum:
            return runs
    return [[e] for e in range(u)]


def _balanced_runs(w: np.ndarray, parts: int) -> list[list[int]]:
    """Split the sequence ``w`` into ``parts`` consecutive runs minimising the largest sum.

    Greedy on a binary-searched cap (exact for integer weights), O(n log ΣW): floors go up to 200."""
    n = len(w)
    if parts >= n:
        return [[i] for i in range(n)]

    def cuts(cap: int) -> list[int] | None:
        starts, acc = [0], 0
        for i, x in enumerate(w.tolist()):
            if x > cap:
                return None
            if acc + x > cap:
                starts.append(i)
                acc = 0
            acc += x
        return starts if len(starts) <= parts else None

    low, high = int(w.max()), int(w.sum())
    while low < high:
        mid = (low + high) // 2
        if cuts(mid) is None:
            low = mid + 1
        else:
            high = mid
    starts = cuts(low)
    assert starts is not None
    # use exactly ``parts`` runs: split the longest runs further (the cap still holds)
    bounds = [*starts, n]
    runs = [list(range(a, b)) for a, b in itertools.pairwise(bounds)]
    while len(runs) < parts:
        j = max(range(len(runs)), key=lambda r: (len(runs[r]), -r))
        r = runs.pop(j)
        half = len(r) // 2
        runs[j:j] = [r[:half], r[half:]]
    return runs


def _even(total: int, n: int) -> np.ndarray:
    per = np.full(n, total // n, dtype=np.int64)
    per[: total % n] += 1
    return per


def _split_plan(hh: int, entrances: int, levels: int, maximum: int) -> tuple[str, np.ndarray, list[list[int]]] | None:
    """How a building over the maximum is split: (kind, households per entrance/floor, runs), or None."""
    if entrances > 1:
        per_e = _even(hh, entrances)
        runs_e = _runs(per_e, maximum)
        if max(int(per_e[r].sum()) for r in runs_e) <= maximum or levels <= 1:
            return ENTRANCE, per_e, runs_e
    if levels > 1:
        per_f = _even(hh, levels)
        return FLOORS, per_f, _runs(per_f, maximum)
    return None


def _footprints_inside(b: gpd.GeoDataFrame, frame: _Frame, community_local: Any) -> np.ndarray:
    """Footprints in the local frame, clipped to the community (whole when nothing of them is inside)."""
    local = frame.fwd(b.geometry.to_numpy())
    inside = _clip(local, community_local)
    return np.where(shapely.is_empty(inside) | (shapely.area(inside) <= 0), local, inside)


def _make_units(
    b: gpd.GeoDataFrame, hh: np.ndarray, entrances: np.ndarray, levels: np.ndarray, frame: _Frame,
    community_local: Any, maximum: int, complex_code: np.ndarray,
) -> _Units:
    use = _footprints_inside(b, frame, community_local)
    rep = shapely.get_coordinates(shapely.point_on_surface(use))
    xy: list[np.ndarray] = []
    out_hh: list[int] = []
    building: list[int] = []
    parts: list[_Part | None] = []
    cx: list[int] = []
    splittable = (entrances > 1) | (levels > 1)
    for i in range(len(b)):
        plan = _split_plan(int(hh[i]), int(entrances[i]), int(levels[i]), maximum) if hh[i] > maximum else None
        if plan is None or len(plan[2]) <= 1:
            xy.append(rep[i])
            out_hh.append(int(hh[i]))
            building.append(i)
            parts.append(None)
            cx.append(int(complex_code[i]))
            continue
        kind, per, runs = plan
        count = len(per)
        axis = _long_axis(use[i])
        for run in runs:
            weights = per[run].astype(float)
            t = float(np.average([(e + 0.5) / count for e in run], weights=weights if weights.sum() else None))
            xy.append(axis[0] + t * (axis[1] - axis[0]))
            out_hh.append(int(per[run].sum()))
            building.append(i)
            parts.append(_Part(kind, run[0] + 1, run[-1] + 1))
            cx.append(int(complex_code[i]))
    return _Units(np.asarray(xy, dtype=float), np.asarray(out_hh, dtype=np.int64), np.asarray(building),
                  parts, np.asarray(cx, dtype=np.int64), splittable)


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
