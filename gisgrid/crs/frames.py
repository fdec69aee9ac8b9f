"""GeoDataFrames in and out of WGS84: :func:`to_wgs84`, :func:`from_wgs84`, and :func:`metric_crs_for`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gisgrid.crs.checks import check_lonlat
from gisgrid.crs.names import is_cgcs2000_lonlat, resolve_crs
from gisgrid.crs.offsets import POINT_TRANSFORMS
from gisgrid.errors import CRSError

__all__ = ["from_wgs84", "metric_crs_for", "to_wgs84"]


def _shift_geometries(gdf: gpd.GeoDataFrame, func: Callable[..., tuple[Any, Any]]) -> gpd.GeoDataFrame:
    """Apply a lon/lat point transform to every coordinate of every geometry (z is kept)."""

    def on_coords(coords: np.ndarray) -> np.ndarray:
        out = np.array(coords, dtype=float, copy=True)
        if len(out):
            out[:, 0], out[:, 1] = func(out[:, 0], out[:, 1])
        return out

    geoms = shapely.transform(np.asarray(gdf.geometry.values, dtype=object), on_coords, include_z=None)
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs)
    return out


def _reproject(gdf: gpd.GeoDataFrame, target: pyproj.CRS) -> gpd.GeoDataFrame:
    try:
        return gdf.to_crs(target)
    except pyproj.exceptions.ProjError as exc:
        raise CRSError(
            f"cannot transform from {gdf.crs.name if gdf.crs else None} to {target.name}: {exc}",
            field="crs",
            rule="a terrestrial CRS PROJ can transform",
        ) from exc


def to_wgs84(
    gdf: gpd.GeoDataFrame, crs: str | int | pyproj.CRS | None = None, *, check: bool = True
) -> gpd.GeoDataFrame:
    """Normalise a GeoDataFrame to WGS84 lon/lat (EPSG:4326).

    Parameters
    ----------
    gdf
        The input; it is not modified.
    crs
        What the coordinates *are* (overrides the file's label): ``wgs84``, ``cgcs2000`` (EPSG:4490,
        relabelled — no shift), ``gcj02``, ``bd09`` or any EPSG / PROJ string. ``None`` uses the CRS the
        data declares (or ``gdf.attrs["gisgrid_crs"]`` as written by :func:`from_wgs84`).
        GCJ-02/BD-09 data declared in a projected CRS (e.g. GCJ-02 in Web Mercator) is first unprojected to
        lon/lat, then shifted.
    check
        Run :func:`check_lonlat` on the lon/lat coordinates (before any GCJ-02/BD-09 shift).

    Returns
    -------
    GeoDataFrame
        A copy in EPSG:4326.

    Raises
    ------
    CRSError
        No CRS known (``field='crs'``), an unknown name, or implausible coordinates (see
        :func:`check_lonlat`).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(116.403671, 39.910635)])
    >>> p = to_wgs84(g, "gcj02").geometry[0]
    >>> round(p.x, 4), round(p.y, 4), to_wgs84(g, "gcj02").crs.to_epsg()
    (116.3974, 39.9092, 4326)
    """
    if crs is None:
        crs = gdf.crs if gdf.crs is not None else gdf.attrs.get("gisgrid_crs")
    if crs is None:
        raise CRSError(
            "the data declares no coordinate reference system; say which one it is "
            "(wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn)",
            field="crs",
            rule="a CRS is required when the data declares none",
        )
    target = resolve_crs(crs)
    wgs84 = pyproj.CRS.from_epsg(4326)
    if isinstance(target, str):  # gcj02 / bd09: lon/lat with an offset
        base = gdf
        if gdf.crs is not None and not gdf.crs.is_geographic:
            base = _reproject(gdf, wgs84)
        base = base.set_crs(wgs84, allow_override=True)
        if check:
            check_lonlat(base, crs=target)
        out = _shift_geometries(base, POINT_TRANSFORMS[(target, "wgs84")])
    else:
        labelled = gdf.set_crs(target, allow_override=True)
        if check and target.is_geographic:
            check_lonlat(labelled, crs=target)
        if target.equals(wgs84, ignore_axis_order=True):
            out = labelled.copy()
        elif is_cgcs2000_lonlat(target):
            out = labelled.set_crs(wgs84, allow_override=True)  # CGCS2000 ≈ WGS84 within centimetres
        else:
            out = _reproject(labelled, wgs84)
        if check and not target.is_geographic:
            check_lonlat(out, crs=target)
    out.attrs.pop("gisgrid_crs", None)
    return out.set_crs(wgs84, allow_override=True)


def from_wgs84(gdf: gpd.GeoDataFrame, target: str | int | pyproj.CRS) -> gpd.GeoDataFrame:
    """Export WGS84 data to ``gcj02``, ``bd09``, ``cgcs2000`` or any EPSG / PROJ CRS.

    GCJ-02 and BD-09 have no EPSG code: their result has **no** CRS label (so it cannot be mistaken for
    WGS84) and carries ``attrs["gisgrid_crs"]`` naming the system; :func:`to_wgs84` reads that back.
    Data not labelled EPSG:4326 is reprojected there first; unlabelled data raises :class:`CRSError`.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(116.397428, 39.90923)], crs=4326)
    >>> amap = from_wgs84(g, "gcj02")
    >>> p = amap.geometry[0]
    >>> round(p.x, 4), round(p.y, 4), amap.crs, amap.attrs["gisgrid_crs"]
    (116.4037, 39.9106, None, 'gcj02')
    >>> from_wgs84(g, "EPSG:32650").crs.to_epsg()
    32650
    """
    if gdf.crs is None:
        raise CRSError(
            "the data declares no coordinate reference system; label it EPSG:4326 first",
            field="crs",
            rule="a CRS is required",
        )
    wgs84 = pyproj.CRS.from_epsg(4326)
    base = gdf if gdf.crs.equals(wgs84, ignore_axis_order=True) else _reproject(gdf, wgs84)
    resolved = resolve_crs(target)
    if isinstance(resolved, str):
        out = _shift_geometries(base, POINT_TRANSFORMS[("wgs84", resolved)])
        out = out.set_crs(None, allow_override=True)
        out.attrs["gisgrid_crs"] = resolved
        return out
    if is_cgcs2000_lonlat(resolved):
        return base.set_crs(resolved, allow_override=True)
    return _reproject(base, resolved)


def metric_crs_for(gdf: gpd.GeoDataFrame, prefer: Literal["utm", "cgcs2000_gk"] = "utm") -> pyproj.CRS:
    """The metric CRS in which to measure lengths and areas of ``gdf``.

    ``prefer="utm"`` (default) returns the WGS84 UTM zone of the data's centre (EPSG:326xx north,
    EPSG:327xx south; the Norway/Svalbard exceptions are ignored). Inside China the CGCS2000 3-degree
    Gauss–Krüger zone is an equally good choice — ``prefer="cgcs2000_gk"`` returns it: central meridian
    ``3° · round(lon / 3)``, EPSG:4534 (CM 75E) … EPSG:4554 (CM 135E), the variants *without* the zone
    number in the false easting. Within one zone either keeps scale error below about 0.1 %; a city
    spanning a zone boundary is still measured to a few tenths of a per cent.

    The centre is that of the data's bounding box in WGS84; ``gdf`` needs a CRS.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> beijing = gpd.GeoDataFrame(geometry=[Point(116.397, 39.909)], crs=4326)
    >>> metric_crs_for(beijing).to_epsg()
    32650
    >>> metric_crs_for(beijing, prefer="cgcs2000_gk").name
    'CGCS2000 / 3-degree Gauss-Kruger CM 117E'
    """
    if gdf.crs is None:
        raise CRSError(
            "cannot choose a metric CRS for data without a CRS", field="crs", rule="a CRS is required"
        )
    bounds = gdf.total_bounds if gdf.crs.equals(pyproj.CRS.from_epsg(4326)) else gdf.to_crs(4326).total_bounds
    if np.isnan(bounds).any():
        raise CRSError("cannot choose a metric CRS for empty data", field="geometry", rule="non-empty data")
    lon = float((bounds[0] + bounds[2]) / 2.0)
    lat = float((bounds[1] + bounds[3]) / 2.0)
    if prefer == "cgcs2000_gk":
        cm = 3 * int(np.floor(lon / 3.0 + 0.5))
        if not 75 <= cm <= 135:
            raise CRSError(
                f"the data's centre ({lon:.3f}, {lat:.3f}) is outside China's CGCS2000 3-degree zones "
                "(central meridians 75E–135E); use prefer='utm'",
                field="prefer",
                rule="CGCS2000 Gauss–Krüger zones cover 73.5E–136.5E",
            )
        return pyproj.CRS.from_epsg(4534 + (cm - 75) // 3)
    if prefer != "utm":
        raise CRSError(f"unknown prefer={prefer!r}", field="prefer", rule="'utm' or 'cgcs2000_gk'")
    zone = min(max(int(np.floor((lon + 180.0) / 6.0)) + 1, 1), 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
