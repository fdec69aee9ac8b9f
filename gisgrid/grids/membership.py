"""Which grid holds each building, and the households of every grid.

**Households of a grid** are the sum of the households of the buildings whose *representative point*
(:func:`shapely.point_on_surface`, the same GEOS algorithm as PostGIS ``ST_PointOnSurface``) lies in
the grid — so a building straddling a boundary counts once, in one grid. Buildings split over grids
(:mod:`gisgrid.grids.parts`) are credited part by part with ``pieces``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisgrid.errors import CRSError, InvalidInputError
from gisgrid.grids.problems import _present

__all__ = ["building_points", "grid_households"]


def _to_4326(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InvalidInputError(f"{name} must be a GeoDataFrame", field=name, rule="type")
    if gdf.crs is None:
        raise CRSError(f"{name} has no CRS; EPSG:4326 is expected", field=name, rule="a CRS is required")
    if not gdf.crs.equals(pyproj.CRS.from_epsg(4326)):
        return gdf.to_crs(4326)
    return gdf


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Only the polygonal parts of ``geom`` (as a Polygon / MultiPolygon; empty if none)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def building_points(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """The representative point of every building (its footprint's point on surface), EPSG:4326."""
    b = _to_4326(buildings, "buildings")
    return np.asarray(shapely.point_on_surface(np.asarray(b.geometry.values)))


def _containing(grid_geoms: Sequence[shapely.Geometry], points: np.ndarray) -> list[list[int]]:
    """For each point, the positions of the grids that cover it."""
    out: list[list[int]] = [[] for _ in range(len(points))]
    valid = [i for i, g in enumerate(grid_geoms) if _present(g)]
    if not valid or len(points) == 0:
        return out
    tree = shapely.STRtree([grid_geoms[i] for i in valid])
    pi, gi = tree.query(points, predicate="covered_by")
    for p, g in zip(pi.tolist(), gi.tolist(), strict=True):
        out[p].append(valid[g])
    for hits in out:
        hits.sort()
    return out


def grid_households(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    pieces: pd.DataFrame | None = None,
) -> list[int]:
    """Households per grid row (same order as ``grids``): buildings counted at their representative point.

    A building covered by several grids (an overlap) counts in the first of them. ``pieces`` (columns
    ``building``, ``households``, ``grid_code``: building parts, :mod:`gisgrid.grids.parts`) credits
    the listed buildings part by part instead, to the grid with that code.
    """
    g = _to_4326(grids, "grids")
    geoms = [_polygonal(shapely.make_valid(x)) if _present(x) and not x.is_valid else x for x in g.geometry]
    hits = _containing(geoms, building_points(buildings))
    totals, _ = _credit([str(c) for c in g["code"]], _households(buildings), buildings.index, hits, pieces)
    return totals


def _credit(
    codes: Sequence[str], hh: np.ndarray, index: Iterable[Any], hits: list[list[int]], pieces: pd.DataFrame | None
) -> tuple[list[int], set[Any]]:
    """Households per grid position, and the set of buildings credited piece by piece."""
    totals = [0] * len(codes)
    split: set[Any] = set()
    if pieces is not None and len(pieces):
        position = {code: i for i, code in enumerate(codes)}
        for row in pieces.itertuples(index=False):
            split.add(row.building)
            pos = position.get(str(row.grid_code))
            if pos is not None:
                totals[pos] += int(row.households)
    for bid, h, where in zip(index, hh, hits, strict=True):
        if where and bid not in split:
            totals[where[0]] += int(h)
    return totals, split


def _households(buildings: gpd.GeoDataFrame) -> np.ndarray:
    if "households" not in buildings.columns:
        raise InvalidInputError(
            "buildings need a 'households' column", field="households", rule="required column"
        )
    values = pd.to_numeric(buildings["households"], errors="coerce").fillna(0)
    return values.to_numpy(dtype=np.int64)


def _complex_column(buildings: gpd.GeoDataFrame) -> str | None:
    for name in ("complex_key", "complex_id"):
        if name in buildings.columns:
            return name
    return None

