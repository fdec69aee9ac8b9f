"""Geometry helpers of the generator: reprojection, rotated rectangles, lattices, weighted splits.

Lengths and the block lattice are worked in UTM 50N (metres); every frame is returned in WGS84.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

METRIC_CRS = "EPSG:32650"  # UTM 50N, for lengths and the block lattice
WGS84 = "EPSG:4326"


def as_multi(geom: Any) -> shapely.MultiPolygon:
    """The polygons of any geometry as one MultiPolygon (admin areas are stored as MultiPolygons)."""
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, shapely.Polygon | shapely.MultiPolygon)]
    parts: list[shapely.Polygon] = []
    for g in polys:
        parts.extend(g.geoms if isinstance(g, shapely.MultiPolygon) else [g])
    return shapely.MultiPolygon(parts)


def reproject(geoms: np.ndarray, tr: Transformer) -> np.ndarray:
    """Geometries passed through a pyproj transformer, vectorised."""
    def f(c: np.ndarray) -> np.ndarray:
        x, y = tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def rects(cx: np.ndarray, cy: np.ndarray, hw: np.ndarray, hh: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotated rectangles as an (n, 5, 2) closed ring array."""
    lx = np.stack([-hw, hw, hw, -hw, -hw], axis=1)
    ly = np.stack([-hh, -hh, hh, hh, -hh], axis=1)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x = cx[:, None] + lx * c - ly * s
    y = cy[:, None] + lx * s + ly * c
    return np.stack([x, y], axis=2)


def lattice(
    xmin: float, xmax: float, ymin: float, ymax: float, hx: float, hy: float, px: float, py: float
) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a centred lattice of pitch (px, py) whose boxes (±hx, ±hy) fit in the rectangle."""
    nx = int((xmax - xmin - 2 * hx) // px) + 1
    ny = int((ymax - ymin - 2 * hy) // py) + 1
    xs = (xmin + xmax) / 2 + (np.arange(nx) - (nx - 1) / 2) * px
    ys = (ymin + ymax) / 2 + (np.arange(ny) - (ny - 1) / 2) * py
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def bisect(x: np.ndarray, y: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Split points into ``k`` spatially compact parts of about equal weight (recursive bisection)."""
    labels = np.zeros(x.size, dtype=np.int64)

    def rec(idx: np.ndarray, k: int, base: int) -> None:
        if k <= 1 or idx.size <= 1:
            labels[idx] = base
            return
        k1 = k // 2
        xs, ys = x[idx], y[idx]
        # cut across the longer side; ties broken by the other axis (north first) for determinism
        order = np.lexsort((ys, xs)) if np.ptp(xs) >= np.ptp(ys) else np.lexsort((xs, -ys))
        idx = idx[order]
        cw = np.cumsum(w[idx])
        target = cw[-1] * k1 / k
        cut = int(np.searchsorted(cw, target)) + 1
        if cut > 1 and abs(cw[cut - 2] - target) < abs(cw[cut - 1] - target):
            cut -= 1
        cut = min(max(cut, k1), idx.size - (k - k1))
        rec(idx[:cut], k1, base)
        rec(idx[cut:], k - k1, base + k1)

    rec(np.arange(x.size), k, 0)
    return labels


def apportion(weights: np.ndarray, total: int, caps: np.ndarray) -> np.ndarray:
    """Largest-remainder split of ``total`` by ``weights``, each part in [1, cap]."""
    n = weights.size
    out = np.ones(n, dtype=np.int64)
    rest = total - n
    while rest > 0:
        room = caps - out
        share = np.where(room > 0, weights / out, -1.0)
        j = int(np.argmax(share))
        if share[j] < 0:
            break
        out[j] += 1
        rest -= 1
    return out
