"""Polygons as MultiPolygons, and the polygonal part of a repaired geometry — shared by the readers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

__all__ = ["as_multipolygons", "polygonal_part"]


def as_multipolygons(geoms: Any) -> np.ndarray:
    """Each Polygon wrapped as a one-part MultiPolygon (the database's column type); the rest as they are."""
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        out[i] = MultiPolygon([g]) if isinstance(g, Polygon) else g
    return out


def polygonal_part(geom: Any) -> MultiPolygon | None:
    """The polygonal part of a geometry as a MultiPolygon, or None if it has none.

    ``make_valid`` may return a collection of polygons, lines and points; the polygons are merged, so
    parts that touch along an edge still give a valid MultiPolygon.

    Examples
    --------
    >>> from shapely.geometry import GeometryCollection, LineString, box
    >>> polygonal_part(GeometryCollection([box(0, 0, 1, 1), box(1, 0, 2, 1), LineString([(0, 0), (5, 5)])])).area
    2.0
    >>> polygonal_part(LineString([(0, 0), (1, 1)])) is None
    True
    """
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    if isinstance(geom, MultiPolygon):
        return geom
    polys = list(_polygons(geom))
    if not polys:
        return None
    merged = shapely.union_all(polys)
    return merged if isinstance(merged, MultiPolygon) else polygonal_part(merged)


def _polygons(geom: Any) -> Iterator[Polygon]:
    if isinstance(geom, Polygon):
        if not geom.is_empty:
            yield geom
        return
    for part in getattr(geom, "geoms", ()):
        yield from _polygons(part)
