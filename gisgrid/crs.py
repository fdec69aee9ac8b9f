"""Coordinate systems: WGS84, CGCS2000, GCJ-02, BD-09, projected CRSs, and the metric CRS to measure in.

Everything gisgrid stores and computes on is **WGS84 lon/lat (EPSG:4326)**; imports are normalised with
:func:`to_wgs84` and exports to Chinese web maps use :func:`from_wgs84`.

* **WGS84** (EPSG:4326) — GPS, OpenStreetMap.
* **CGCS2000** (EPSG:4490) — China's official datum. Within centimetres of WGS84, so it is *relabelled*,
  never shifted (PROJ itself uses a null "ballpark" transformation between the two).
* **GCJ-02** — Amap, Tencent, Apple in China: an obfuscated offset of up to several hundred metres that is
  applied only inside China's bounding box (72.004–137.8347 E, 0.8293–55.8271 N). The forward formula is
  public (constants ``a = 6378245.0``, ``ee = 0.00669342162296594323``); the inverse has no closed form and
  is solved here by fixed-point iteration to better than 1e-9 degrees (sub-millimetre).
* **BD-09** — Baidu: a further offset on top of GCJ-02; its inverse is iterated the same way.

Outside the China box no shift is applied by any of the transforms (Amap and Baidu use plain WGS84
abroad). Near the box's edges the GCJ-02 mapping is discontinuous and not one-to-one; there, within
about one kilometre of the edge, the inverse can return either of two candidates. The box edges lie in
the sea or in remote border areas.

Measured accuracy (``benchmarks/crs_accuracy.py``, see ``docs/coordinates.md``): round trips WGS84 →
GCJ-02 → WGS84 and WGS84 → BD-09 → WGS84 reproduce the input to well under a millimetre over all of China.
This says nothing about how well the public GCJ-02 formula matches a given provider's tiles — that is
the providers' business — only that our inverse is the exact inverse of the formula.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gisgrid.errors import CRSError, GeometryError

__all__ = [
    "CHINA_BOX",
    "NAMED_CRS",
    "bd09_from_gcj02",
    "bd09_from_wgs84",
    "check_lonlat",
    "from_wgs84",
    "gcj02_from_bd09",
    "gcj02_from_wgs84",
    "in_china",
    "metric_crs_for",
    "resolve_crs",
    "to_wgs84",
    "wgs84_from_bd09",
    "wgs84_from_gcj02",
]

# -- constants -----------------------------------------------------------------------------------------

_A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0  # BD-09 constant

#: China's bounding box as used by the GCJ-02 convention: (west, south, east, north) in degrees.
CHINA_BOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)

#: Names accepted by :func:`to_wgs84` / :func:`from_wgs84` besides any EPSG code or PROJ string.
NAMED_CRS: dict[str, str] = {
    "wgs84": "EPSG:4326",
    "cgcs2000": "EPSG:4490",
    "gcj02": "gcj02",
    "bd09": "bd09",
}

#: Fixed-point iteration settings for the inverse transforms.
INVERSE_TOL_DEG = 1e-9
INVERSE_MAX_ITER = 30

FloatOrArray = Any  # a float or a numpy array of floats (kept loose for mypy)


# -- point transforms ----------------------------------------------------------------------------------


def _as_arrays(lon: FloatOrArray, lat: FloatOrArray) -> tuple[np.ndarray, np.ndarray, bool]:
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    scalar = x.ndim == 0 and y.ndim == 0
    x, y = np.broadcast_arrays(x, y)
    return x, y, scalar


def _out(x: np.ndarray, y: np.ndarray, scalar: bool) -> tuple[FloatOrArray, FloatOrArray]:
    if scalar:
        return float(x), float(y)
    return x, y


def in_china(lon: FloatOrArray, lat: FloatOrArray) -> FloatOrArray:
    """Whether points lie inside the GCJ-02 China box (where the offsets are applied).

    Examples
    --------
    >>> bool(in_china(116.4, 39.9)), bool(in_china(2.35, 48.86))
    (True, False)
    """
    west, south, east, north = CHINA_BOX
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    return (x > west) & (x < east) & (y > south) & (y < north)


def _gcj_delta(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS84 point(s) (x, y), ignoring the China box."""
    px = x - 105.0
    py = y - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * px * pi) + 20.0 * np.sin(2.0 * px * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * px + 3.0 * py + 0.2 * py * py + 0.1 * px * py + 0.2 * np.sqrt(np.abs(px))
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(py * pi) + 40.0 * np.sin(py / 3.0 * pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(py / 12.0 * pi) + 320.0 * np.sin(py * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + px + 2.0 * py + 0.1 * px * px + 0.1 * px * py + 0.1 * np.sqrt(np.abs(px))
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(px * pi) + 40.0 * np.sin(px / 3.0 * pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(px / 12.0 * pi) + 300.0 * np.sin(px / 30.0 * pi)) * 2.0 / 3.0
    radlat = y / 180.0 * pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def _bd_forward(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_inverse_approx(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The widely published one-step BD-09 → GCJ-02 formula (off by up to ~0.2 m)."""
    x = x - 0.0065
    y = y - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    tx: np.ndarray,
    ty: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(x, y) = (tx, ty) by fixed-point iteration x ← x + (t − forward(x)).

    The offsets vary slowly (their derivatives are of the order of 1e-3 to 1e-2), so each step shrinks the
    error more than a hundredfold: over China three steps reach 1e-11 degrees and four reach floating-point
    precision (measured, see ``docs/coordinates.md``).
    """
    x = x0.copy()
    y = y0.copy()
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        rx = tx - fx
        ry = ty - fy
        x = x + rx
        y = y + ry
        if not (np.any(np.abs(rx) >= tol) or np.any(np.abs(ry) >= tol)):  # NaN-safe: NaN never >= tol
            break
    return x, y


def gcj02_from_wgs84(lon: FloatOrArray, lat: FloatOrArray) -> tuple[FloatOrArray, FloatOrArray]:
    """WGS84 → GCJ-02 (Amap, Tencent). Vectorised; no shift outside the China box.

    Parameters
    ----------
    lon, lat
        Degrees; floats or numpy arrays (broadcast together).

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02 — floats for scalar input, arrays otherwise.

    Examples
    --------
    >>> lon, lat = gcj02_from_wgs84(128.543, 37.065)
    >>> round(lon, 9), round(lat, 9)
    (128.548205479, 37.065651049)
    >>> gcj02_from_wgs84(2.35, 48.86)  # Paris: outside China, unchanged
    (2.35, 48.86)
    """
    x, y, scalar = _as_arrays(lon, lat)
    dx, dy = _gcj_delta(x, y)
    inside = in_china(x, y)
    return _out(np.where(inside, x + dx, x), np.where(inside, y + dy, y), scalar)


def wgs84_from_gcj02(
    lon: FloatOrArray, lat: FloatOrArray, *, tol: float = INVERSE_TOL_DEG, max_iter: int = INVERSE_MAX_ITER
) -> tuple[FloatOrArray, FloatOrArray]:
    """GCJ-02 → WGS84, the exact inverse of :func:`gcj02_from_wgs84` found by iteration.

    Iterates until the residual is below ``tol`` degrees (1e-9 ° ≈ 0.1 mm) or ``max_iter`` steps.
    A result that falls outside the China box is replaced by the input (no shift there).

    Examples
    --------
    >>> lon, lat = wgs84_from_gcj02(*gcj02_from_wgs84(116.397428, 39.90923))
    >>> round(lon, 9), round(lat, 9)
    (116.397428, 39.90923)
    """
    x, y, scalar = _as_arrays(lon, lat)

    def forward(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        da, db = _gcj_delta(a, b)
        return a + da, b + db

    dx, dy = _gcj_delta(x, y)
    wx, wy = _invert(forward, x, y, x - dx, y - dy, tol, max_iter)
    inside = in_china(wx, wy)
    return _out(np.where(inside, wx, x), np.where(inside, wy, y), scalar)


def bd09_from_gcj02(lon: FloatOrArray, lat: FloatOrArray) -> tuple[FloatOrArray, FloatOrArray]:
    """GCJ-02 → BD-09 (Baidu). Vectorised; no shift outside the China box.

    Examples
    --------
    >>> lon, lat = bd09_from_gcj02(128.543, 37.065)
    >>> round(lon, 9), round(lat, 9)
    (128.549446563, 37.071134279)
    """
    x, y, scalar = _as_arrays(lon, lat)
    bx, by = _bd_forward(x, y)
    inside = in_china(x, y)
    return _out(np.where(inside, bx, x), np.where(inside, by, y), scalar)


def gcj02_from_bd09(
    lon: FloatOrArray, lat: FloatOrArray, *, tol: float = INVERSE_TOL_DEG, max_iter: int = INVERSE_MAX_ITER
) -> tuple[FloatOrArray, FloatOrArray]:
    """BD-09 → GCJ-02: the published one-step formula, refined by iteration to the exact inverse.

    Examples
    --------
    >>> lon, lat = gcj02_from_bd09(*bd09_from_gcj02(116.404, 39.915))
    >>> round(lon, 9), round(lat, 9)
    (116.404, 39.915)
    """
    x, y, scalar = _as_arrays(lon, lat)
    gx, gy = _bd_inverse_approx(x, y)
    gx, gy = _invert(_bd_forward, x, y, gx, gy, tol, max_iter)
    inside = in_china(gx, gy)
    return _out(np.where(inside, gx, x), np.where(inside, gy, y), scalar)


def bd09_from_wgs84(lon: FloatOrArray, lat: FloatOrArray) -> tuple[FloatOrArray, FloatOrArray]:
    """WGS84 → BD-09 (via GCJ-02).

    Examples
    --------
    >>> lon, lat = bd09_from_wgs84(128.543, 37.065)
    >>> round(lon, 9), round(lat, 9)
    (128.554681929, 37.071683449)
    """
    x, y, scalar = _as_arrays(lon, lat)
    inside = in_china(x, y)
    gx, gy = gcj02_from_wgs84(x, y)
    bx, by = _bd_forward(gx, gy)
    return _out(np.where(inside, bx, x), np.where(inside, by, y), scalar)


def wgs84_from_bd09(
    lon: FloatOrArray, lat: FloatOrArray, *, tol: float = INVERSE_TOL_DEG, max_iter: int = INVERSE_MAX_ITER
) -> tuple[FloatOrArray, FloatOrArray]:
    """BD-09 → WGS84 (via GCJ-02), each inverse iterated to ``tol``.

    Examples
    --------
    >>> lon, lat = wgs84_from_bd09(*bd09_from_wgs84(117.32, 34.81))
    >>> round(lon, 9), round(lat, 9)
    (117.32, 34.81)
    """
    x, y, scalar = _as_arrays(lon, lat)
    gx, gy = gcj02_from_bd09(x, y, tol=tol, max_iter=max_iter)
    wx, wy = wgs84_from_gcj02(gx, gy, tol=tol, max_iter=max_iter)
    return _out(np.asarray(wx), np.asarray(wy), scalar)


_POINT_TRANSFORMS: dict[tuple[str, str], Callable[..., tuple[Any, Any]]] = {
    ("gcj02", "wgs84"): wgs84_from_gcj02,
    ("bd09", "wgs84"): wgs84_from_bd09,
    ("wgs84", "gcj02"): gcj02_from_wgs84,
    ("wgs84", "bd09"): bd09_from_wgs84,
}


# -- GeoDataFrames -------------------------------------------------------------------------------------


def _feature_id(gdf: gpd.GeoDataFrame, position: int) -> Any:
    """The id of the feature at ``position``: its ``id`` column if there is one, else its index label."""
    value = gdf["id"].iloc[position] if "id" in gdf.columns else gdf.index[position]
    return value.item() if isinstance(value, np.generic) else value


def _is_cgcs2000_lonlat(crs: pyproj.CRS) -> bool:
    """Whether ``crs`` is CGCS2000 geographic (EPSG:4490 or an equivalent definition)."""
    return bool(crs.is_geographic and crs.datum is not None and crs.datum.name == "China 2000")


def resolve_crs(crs: str | int | pyproj.CRS) -> str | pyproj.CRS:
    """Turn a user's CRS name into ``"gcj02"``, ``"bd09"`` or a :class:`pyproj.CRS`.

    Accepted: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` (any case, with or without ``-``/``_``), an EPSG
    code (``"EPSG:32650"`` or ``32650``) or anything :meth:`pyproj.CRS.from_user_input` understands.

    Examples
    --------
    >>> resolve_crs("GCJ-02")
    'gcj02'
    >>> resolve_crs("cgcs2000").to_epsg()
    4490
    """
    if isinstance(crs, str):
        key = crs.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
        if key in NAMED_CRS:
            name = NAMED_CRS[key]
            return name if name in ("gcj02", "bd09") else pyproj.CRS.from_user_input(name)
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"unknown coordinate reference system {crs!r}; use wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn",
            field="crs",
            rule="a known CRS",
        ) from exc


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
        out = _shift_geometries(base, _POINT_TRANSFORMS[(target, "wgs84")])
    else:
        labelled = gdf.set_crs(target, allow_override=True)
        if check and target.is_geographic:
            check_lonlat(labelled, crs=target)
        if target.equals(wgs84, ignore_axis_order=True):
            out = labelled.copy()
        elif _is_cgcs2000_lonlat(target):
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
        out = _shift_geometries(base, _POINT_TRANSFORMS[("wgs84", resolved)])
        out = out.set_crs(None, allow_override=True)
        out.attrs["gisgrid_crs"] = resolved
        return out
    if _is_cgcs2000_lonlat(resolved):
        return base.set_crs(resolved, allow_override=True)
    return _reproject(base, resolved)


# -- plausibility checks -------------------------------------------------------------------------------


def _feature_centres(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of the features' bounding boxes and a mask of the non-empty ones."""
    bounds = shapely.bounds(np.asarray(gdf.geometry.values, dtype=object))
    valid = ~np.isnan(bounds).any(axis=1)
    x = (bounds[:, 0] + bounds[:, 2]) / 2.0
    y = (bounds[:, 1] + bounds[:, 3]) / 2.0
    return x, y, valid


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
            first = int(np.flatnonzero(inside_swapped)[0])
            raise CRSError(
                f"{int(inside_swapped.sum())} of {n} features fall inside China only with x and y swapped "
                f"(e.g. feature {_feature_id(gdf, first)!r} at x={x[first]:.6f}, y={y[first]:.6f}): "
                "swapped latitude/longitude? Coordinates must be (longitude, latitude)",
                field="geometry",
                feature=_feature_id(gdf, first),
                rule="swapped latitude/longitude?",
                details={"count": int(inside_swapped.sum()), "total": n},
            )

    bad_range = valid & ((np.abs(x) > 180.0) | (np.abs(y) > 90.0))
    if bad_range.any():
        first = int(np.flatnonzero(bad_range)[0])
        raise CRSError(
            f"{int(bad_range.sum())} of {n} features have coordinates outside [-180, 180] × [-90, 90] "
            f"(e.g. feature {_feature_id(gdf, first)!r} at x={x[first]:.3f}, y={y[first]:.3f}); are these "
            "projected metres labelled as degrees? Give the data's real CRS (e.g. EPSG:4547)",
            field="geometry",
            feature=_feature_id(gdf, first),
            rule="longitude in [-180, 180], latitude in [-90, 90]",
            details={"count": int(bad_range.sum()), "total": n},
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
        first = int(np.flatnonzero(outside)[0])
        raise GeometryError(
            f"{int(outside.sum())} of {n} features lie outside the area of use of {name} "
            f"({west}, {south}, {east}, {north}); e.g. feature {_feature_id(gdf, first)!r} at "
            f"({x[first]:.6f}, {y[first]:.6f}). Is the declared CRS right?",
            field="geometry",
            feature=_feature_id(gdf, first),
            rule=f"inside the area of use of {name}",
            details={"count": int(outside.sum()), "total": n, "area_of_use": [west, south, east, north]},
        )


# -- metric CRS ----------------------------------------------------------------------------------------


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
