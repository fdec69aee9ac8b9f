"""Which grid version covers a point at a time: one answer, for one report and for a million points.

Grids are versioned: an edit closes a row (``valid_to``) and opens a new one, so a point belongs to
the version valid when it was reported, ``valid_from <= t < valid_to``. Of the versions valid then
that cover the point (``ST_Covers``: a point on the boundary is inside), the **lowest grid id wins** —
the tie-break of the SQL this replaced, for neighbours whose outlines overlap by floating-point noise.

:class:`GridLocator` holds the versions as arrays (ids, codes, validity, polygons) and answers

* one point (:meth:`GridLocator.locate`, the intake of one report) from a :class:`Lattice` of
  ~200 m cells: a dict lookup and a prepared-polygon test on plain Python scalars. An STRtree answers
  the same, but through numpy for every single point, which cost more than the test itself;
* many points (:meth:`GridLocator.assign`, :meth:`GridLocator.locate_many`, historical imports):
  one STRtree query (``predicate='covered_by'``) pairing the points with every version that covers
  them, then the versions not valid at each point's time dropped and the lowest id per point kept,
  in numpy (docs/benchmarks.md: faster than ``geopandas.sjoin``, which ignores the versions);
* the distance from a point to the nearest boundary of a grid valid then
  (:meth:`GridLocator.edge_m`), on a local tangent plane (meridian and prime-vertical radii of
  WGS84) to the edges as ``ST_Covers`` sees them, straight in longitude/latitude. PostGIS's
  ``ST_Distance(geography)`` measures to great-circle edges instead, which bulge away from those by
  ~7 cm in the middle of a 2 km edge (growing with the square of its length); otherwise the two
  agree to the millimetre (tests/integration/test_placement.py compares them).

Each structure is built on first use: intake never builds the STRtree, bulk assignment never the
lattice or the boundaries.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Final

import numpy as np
import shapely

__all__ = ["GridLocator", "Lattice", "metres_per_degree", "utc_datetime64"]

_A: Final = 6_378_137.0  # WGS84
_E2: Final = 6.694_379_990_14e-3
# open ends of a validity period, as datetime64 values every real time lies between (NaT compares false)
_EARLIEST: Final = np.datetime64(np.iinfo(np.int64).min + 1, "us")
_LATEST: Final = np.datetime64(np.iinfo(np.int64).max, "us")


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at ``lat`` on the WGS84 ellipsoid."""
    phi = math.radians(lat)
    w = math.sqrt(1 - _E2 * math.sin(phi) ** 2)
    return math.radians(1) * _A / w * math.cos(phi), math.radians(1) * _A * (1 - _E2) / w**3


def utc_datetime64(values: Any) -> np.ndarray:
    """Times as ``datetime64[us]`` in UTC (NaT for None): from a datetime64 array, or aware datetimes.

    >>> utc_datetime64([dt.datetime(2025, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8))), None])
    array(['2025-01-01T00:00:00.000000',                        'NaT'],
          dtype='datetime64[us]')
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]")
    flat = [np.datetime64("NaT", "us") if v is None or v != v else
            np.datetime64(v.astimezone(dt.UTC).replace(tzinfo=None), "us") for v in arr.ravel()]
    return np.array(flat, dtype="datetime64[us]").reshape(arr.shape)


class Lattice:
    """Polygons bucketed by a regular lattice of cells: the candidates for a point in one dict lookup.

    ``size`` degrees (~200 m) holds a few polygons per cell. Polygons are prepared here, once.
    """

    def __init__(self, geoms: Any, size: float = 0.002) -> None:
        self.size = size
        self.geoms = list(geoms)
        self.bounds = [tuple(b) for b in shapely.bounds(np.asarray(self.geoms, dtype=object)).tolist()] \
            if self.geoms else []
        self.cells: dict[tuple[int, int], list[int]] = {}
        for i, (x0, y0, x1, y1) in enumerate(self.bounds):
            shapely.prepare(self.geoms[i])
            for cx in range(math.floor(x0 / size), math.floor(x1 / size) + 1):
                for cy in range(math.floor(y0 / size), math.floor(y1 / size) + 1):
                    self.cells.setdefault((cx, cy), []).append(i)

    def near(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """Polygons whose bounding box meets the box (``&&``), in index order."""
        size, found = self.size, set[int]()
        for cx in range(math.floor(x0 / size), math.floor(x1 / size) + 1):
            for cy in range(math.floor(y0 / size), math.floor(y1 / size) + 1):
                found.update(self.cells.get((cx, cy), ()))
        b = self.bounds
        return sorted(i for i in found if b[i][0] <= x1 and b[i][2] >= x0 and b[i][1] <= y1 and b[i][3] >= y0)

    def covering(self, x: float, y: float) -> list[int]:
        """Polygons that cover the point (``ST_Covers``: for a point, the same as intersecting it)."""
        b = self.bounds
        return [i for i in self.cells.get((math.floor(x / self.size), math.floor(y / self.size)), ())
                if b[i][0] <= x <= b[i][2] and b[i][1] <= y <= b[i][3]
                and shapely.intersects_xy(self.geoms[i], x, y)]

    def first(self, ids: Sequence[int], x: float, y: float) -> int | None:
        """The lowest of ``ids`` (one per polygon) among the polygons covering the point, or None."""
        hit = self.covering(x, y)
        return min(ids[i] for i in hit) if hit else None


class GridLocator:
    """Grid versions — ``ids``, ``codes``, ``valid_from``/``valid_to``, polygons in lon/lat — and which
    of them covers a point at a time (see the module docstring for the rule).

    ``valid_from`` and ``valid_to`` are datetime64 arrays or aware datetimes; NaT / None is an open
    end (``valid_to`` None: the current version). Drafts are the caller's to leave out. Answers are
    positions in these arrays (``-1`` or None for none), or grid ids (:meth:`assign`).
    """

    def __init__(self, ids: Any, codes: Any, valid_from: Any, valid_to: Any, geoms: Any) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.codes = np.asarray(codes, dtype=object)
        self.geoms = np.asarray(geoms, dtype=object)
        starts, ends = utc_datetime64(valid_from), utc_datetime64(valid_to)
        if not len(self.ids) == len(self.codes) == len(self.geoms) == len(starts) == len(ends):
            raise ValueError("ids, codes, valid_from, valid_to and geoms must have one entry per grid version")
        self.open = np.isnat(ends)  # the current versions
        self.valid_from = np.where(np.isnat(starts), _EARLIEST, starts)
        self.valid_to = np.where(self.open, _LATEST, ends)
        # single points compare epoch seconds on plain lists: numpy's per-call overhead on one or two
        # elements was most of a lookup's cost
        self._from_s: list[float] = np.where(np.isnat(starts), -math.inf,
                                             starts.astype(np.int64) / 1e6).tolist()
        self._to_s: list[float] = np.where(self.open, math.inf, ends.astype(np.int64) / 1e6).tolist()
        self._ids_sorted = bool(np.all(self.ids[1:] > self.ids[:-1]))

    def __len__(self) -> int:
        return len(self.ids)

    # ------------------------------------------------------------------------------- one point
    @cached_property
    def _lattice(self) -> Lattice:
        return Lattice(self.geoms)

    @cached_property
    def _id_list(self) -> list[int]:
        return self.ids.tolist()  # type: ignore[no-any-return]

    def _valid(self, hits: list[int], t: float) -> list[int]:
        return [i for i in hits if self._from_s[i] <= t < self._to_s[i]]

    def locate(self, x: float, y: float, at: dt.datetime) -> int | None:
        """The position of the version valid at ``at`` (aware) that covers the point; None if none does."""
        valid = self._valid(self._lattice.covering(x, y), at.timestamp())
        if not valid:
            return None
        return valid[0] if len(valid) == 1 else min(valid, key=self._id_list.__getitem__)

    @cached_property
    def _plane(self) -> tuple[list[tuple[float, float]], list[Any]]:
        """Each grid's boundary on its own tangent plane (metres; x = lon·kx, y = lat·ky at its centre)."""
        scale = [metres_per_degree(shapely.get_y(shapely.centroid(g))) for g in self.geoms]
        edges = [shapely.transform(shapely.boundary(g), lambda xy, k=k: xy * k)
                 for g, k in zip(self.geoms, scale, strict=True)]
        return scale, edges

    def edge_m(self, x: float, y: float, at: dt.datetime, margin_deg: float) -> float | None:
        """Metres from the point to the nearest boundary of a version valid at ``at`` whose bounding box
        comes within ``margin_deg`` of it (as ``geom && ST_Expand(point, margin)``); None if none does."""
        near = self._valid(self._lattice.near(x - margin_deg, y - margin_deg, x + margin_deg, y + margin_deg),
                           at.timestamp())
        if not near:
            return None
        scale, edges = self._plane
        best: float | None = None
        for i in near:
            # the nearest boundary point, found on the grid's own tangent plane …
            kx, ky = scale[i]
            line = shapely.shortest_line(edges[i], shapely.Point(x * kx, y * ky))
            (x0, y0), _ = line.coords
            # … and its distance on the point's: a tangent plane at the midpoint is within 1e-6 of the
            # geodesic for the hundreds of metres involved
            bx, by = x0 / kx, y0 / ky
            mx, my = metres_per_degree((y + by) / 2)
            d = math.hypot((x - bx) * mx, (y - by) * my)
            best = d if best is None or d < best else best
        return best

    # ------------------------------------------------------------------------------ many points
    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geoms)

    @cached_property
    def _rank(self) -> tuple[np.ndarray, np.ndarray]:
        """Each position's rank by id, and the position of each rank (for ids not in ascending order)."""
        order = np.argsort(self.ids, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return rank, order

    def _pairs(self, geoms: Any, at: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, version) pairs covering and valid, grouped by point, and where each group starts."""
        pi, gi = self._tree.query(geoms, predicate="covered_by")
        if at is None:
            ok = self.open[gi]
        else:
            t = utc_datetime64(at)
            tt = np.broadcast_to(t.ravel(), (len(geoms),))[pi] if t.size == 1 else t[pi]
            ok = (self.valid_from[gi] <= tt) & (self.valid_to[gi] > tt)
        pi, gi = pi[ok], gi[ok]
        # the pairs come grouped by point (STRtree answers in input order; sorted here if ever not): a
        # group's lowest id by one reduceat, without sorting a million pairs (that sort cost 0.47 s)
        if not np.all(pi[1:] >= pi[:-1]):
            order = np.argsort(pi, kind="stable")
            pi, gi = pi[order], gi[order]
        starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]]) if pi.size else np.empty(0, dtype=np.intp)
        return pi, gi, starts

    def locate_many(self, geoms: Any, at: Any = None) -> np.ndarray:
        """:meth:`locate` for an array of points: positions, ``-1`` where no version covers the point.

        ``at`` is one time for all points or one per point (datetime64 or aware datetimes); without it,
        the current versions (open ``valid_to``) answer.
        """
        geoms = np.asarray(geoms, dtype=object)
        out = np.full(len(geoms), -1, dtype=np.int64)
        if len(geoms) == 0 or len(self.ids) == 0:
            return out
        pi, gi, starts = self._pairs(geoms, at)
        if pi.size:
            if self._ids_sorted:
                out[pi[starts]] = np.minimum.reduceat(gi, starts)
            else:
                rank, order = self._rank
                out[pi[starts]] = order[np.minimum.reduceat(rank[gi], starts)]
        return out

    def assign(self, geoms: Any, at: Any = None) -> np.ndarray:
        """The grid id for each point (``-1`` where none covers it): :meth:`locate_many` as ids."""
        found = self.locate_many(geoms, at)
        return np.where(found >= 0, self.ids[np.maximum(found, 0)], -1) if len(self.ids) else found
