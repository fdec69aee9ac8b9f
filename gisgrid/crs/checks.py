"""Plausibility of lon/lat data for the CRS it is declared in: swapped axes, projected metres, area of use."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gisgrid.crs.names import resolve_crs
from gisgrid.crs.offsets import CHINA_BOX, in_china
from gisgrid.errors import CRSError, GeometryError

__all__ = ["check_lonlat", "feature_id"]


def feature_id(gdf: gpd.GeoDataFrame, position: int, key: str = "id") -> Any:
    """The id of the feature at ``position``, for messages: its ``key`` column if present, else its index label."""
    value = gdf[key].iloc[position] if key in gdf.columns else gdf.index[position]
    return value.item() if isinstance(value, np.generic) else value


def _feature_centres(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of the features' bounding boxes and a mask of the non-empty ones."""
    bounds = shapely.bounds(np.asarray(gdf.geometry.values, dtype=object))
    valid = ~np.isnan(bounds).any(axis=1)
    x = (bounds[:, 0] + bounds[:, 2]) / 2.0
    y = (bounds[:, 1] + bounds[:, 3]) / 2.0
    return x, y, valid


def _offenders(gdf: gpd.GeoDataFrame, mask: np.ndarray) -> tuple[int, int, Any]:
    """How many features ``mask`` marks, the position of the first and its id (for the message)."""
    first = int(np.flatnonzero(mask)[0])
    return int(mask.sum()), first, feature_id(gdf, first)


def _area_of_use(crs: str | pyproj.CRS) -> tuple[float, float, float, float] | None:
    if isinstance(crs, str):
        return CHINA_BOX
    area = crs.area_of_use
    return None if area is None else (area.west, area.south, area.east, area.north)


def check_lonlat(
    gdf: gpd.GeoDataFrame,
    crs: str | int | pyproj.CRS | None = None,
    *,
    margin_deg: float = 0.5,
) -> None:
    """Check that lon/lat data is plausible for the CRS it is declared in; raise if not.

    Three checks, in this order, each over the features' bounding-box centres:

    1. **swapped latitude/longitude** — when swapping x and y would put most features inside China and
       fewer of them are inside unswapped (only for data declared in a geographic CRS) →
       :class:`CRSError`, ``rule='swapped latitude/longitude?'``;
    2. **range** — coordinates outside [-180, 180] × [-90, 90], typically projected metres labelled as
       degrees → :class:`CRSError`, ``rule='longitude in [-180, 180], latitude in [-90, 90]'``;
    3. **area of use** — features outside the declared CRS's area of use (pyproj ``CRS.area_of_use``; the
       China box for GCJ-02/BD-09), widened by ``margin_deg`` → :class:`GeometryError`,
       ``rule='inside the area of use of <CRS>'`` with the count and an example feature id.

    All errors name ``field='geometry'`` and the first offending feature (its ``id`` column, else its
    index label); ``details`` holds the counts.

    Parameters
    ----------
    gdf
        Data whose coordinates are lon/lat degrees.
    crs
        The CRS the data is declared in (a name for :func:`resolve_crs`); default ``gdf.crs``. For a
        projected CRS only the area-of-use check applies (pass the data already unprojected to lon/lat).
    margin_deg
        Tolerance around the area of use, in degrees.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> ok = gpd.GeoDataFrame(geometry=[Point(117.3, 34.8)], crs=4326)
    >>> check_lonlat(ok) is None
    True
    >>> swapped = gpd.GeoDataFrame(geometry=[Point(34.8, 117.3)], crs=4326)
    >>> try:
    ...     check_lonlat(swapped)
    ... except CRSError as e:
    ...     print(e.rule)
    swapped latitude/longitude?
    """
    if crs is None:
        crs = gdf.crs
    if crs is None:
        raise CRSError(
            "the data declares no coordinate reference system", field="crs", rule="a CRS is required"
        )
    declared = resolve_crs(crs)
    x, y, valid = _feature_centres(gdf)
    n = int(valid.sum())
    if n == 0:
        return
    geographic = isinstance(declared, str) or declared.is_geographic

    if geographic:
        inside = in_china(x, y) & valid
        inside_swapped = in_china(y, x) & valid
        if inside_swapped.sum() > inside.sum() and inside_swapped.sum() * 2 >= n:
            count, first, feature = _offenders(gdf, inside_swapped)
            raise CRSError(
                f"{count} of {n} features fall inside China only with x and y swapped "
                f"(e.g. feature {feature!r} at x={x[first]:.6f}, y={y[first]:.6f}): "
                "swapped latitude/longitude? Coordinates must be (longitude, latitude)",
                field="geometry",
                feature=feature,
                rule="swapped latitude/longitude?",
                details={"count": count, "total": n},
            )

    bad_range = valid & ((np.abs(x) > 180.0) | (np.abs(y) > 90.0))
    if bad_range.any():
        count, first, feature = _offenders(gdf, bad_range)
        raise CRSError(
            f"{count} of {n} features have coordinates outside [-180, 180] × [-90, 90] "
            f"(e.g. feature {feature!r} at x={x[first]:.3f}, y={y[first]:.3f}); are these "
            "projected metres labelled as degrees? Give the data's real CRS (e.g. EPSG:4547)",
            field="geometry",
            feature=feature,
            rule="longitude in [-180, 180], latitude in [-90, 90]",
            details={"count": count, "total": n},
        )

    area = _area_of_use(declared)
    if area is None:
        return
    west, south, east, north = area
    name = declared if isinstance(declared, str) else declared.name
    if west <= east:
        in_lon = (x >= west - margin_deg) & (x <= east + margin_deg)
    else:  # crosses the antimeridian
        in_lon = (x >= west - margin_deg) | (x <= east + margin_deg)
    outside = valid & ~(in_lon & (y >= south - margin_deg) & (y <= north + margin_deg))
    if outside.any():
        count, first, feature = _offenders(gdf, outside)
        raise GeometryError(
            f"{count} of {n} features lie outside the area of use of {name} "
            f"({west}, {south}, {east}, {north}); e.g. feature {feature!r} at "
            f"({x[first]:.6f}, {y[first]:.6f}). Is the declared CRS right?",
            field="geometry",
            feature=feature,
            rule=f"inside the area of use of {name}",
            details={"count": count, "total": n, "area_of_use": [west, south, east, north]},
        )
