"""GCJ-02 and BD-09: the offsets of Chinese web maps, forward and exactly inverted, on plain coordinates.

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
from typing import Any

import numpy as np

__all__ = [
    "CHINA_BOX",
    "INVERSE_MAX_ITER",
    "INVERSE_TOL_DEG",
    "POINT_TRANSFORMS",
    "bd09_from_gcj02",
    "bd09_from_wgs84",
    "gcj02_from_bd09",
    "gcj02_from_wgs84",
    "in_china",
    "wgs84_from_bd09",
    "wgs84_from_gcj02",
]

_A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0  # BD-09 constant

#: China's bounding box as used by the GCJ-02 convention: (west, south, east, north) in degrees.
CHINA_BOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)

#: Fixed-point iteration settings for the inverse transforms.
INVERSE_TOL_DEG = 1e-9
INVERSE_MAX_ITER = 30

FloatOrArray = Any  # a float or a numpy array of floats (kept loose for mypy)


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


def _shifted_inside(
    inside: np.ndarray, sx: np.ndarray, sy: np.ndarray, x: np.ndarray, y: np.ndarray, scalar: bool
) -> tuple[FloatOrArray, FloatOrArray]:
    """The shifted point where ``inside`` (the China box), the input everywhere else."""
    return _out(np.where(inside, sx, x), np.where(inside, sy, y), scalar)


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


def _gcj_forward(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dx, dy = _gcj_delta(x, y)
    return x + dx, y + dy


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
    gx, gy = _gcj_forward(x, y)
    return _shifted_inside(in_china(x, y), gx, gy, x, y, scalar)


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
    dx, dy = _gcj_delta(x, y)
    wx, wy = _invert(_gcj_forward, x, y, x - dx, y - dy, tol, max_iter)
    return _shifted_inside(in_china(wx, wy), wx, wy, x, y, scalar)


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
    return _shifted_inside(in_china(x, y), bx, by, x, y, scalar)


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
    return _shifted_inside(in_china(gx, gy), gx, gy, x, y, scalar)


def bd09_from_wgs84(lon: FloatOrArray, lat: FloatOrArray) -> tuple[FloatOrArray, FloatOrArray]:
    """WGS84 → BD-09 (via GCJ-02).

    Examples
    --------
    >>> lon, lat = bd09_from_wgs84(128.543, 37.065)
    >>> round(lon, 9), round(lat, 9)
    (128.554681929, 37.071683449)
    """
    x, y, scalar = _as_arrays(lon, lat)
    gx, gy = gcj02_from_wgs84(x, y)
    bx, by = _bd_forward(gx, gy)
    return _shifted_inside(in_china(x, y), bx, by, x, y, scalar)


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


#: The point transform for each (from, to) pair of lon/lat systems that differ by an offset.
POINT_TRANSFORMS: dict[tuple[str, str], Callable[..., tuple[Any, Any]]] = {
    ("gcj02", "wgs84"): wgs84_from_gcj02,
    ("bd09", "wgs84"): wgs84_from_bd09,
    ("wgs84", "gcj02"): gcj02_from_wgs84,
    ("wgs84", "bd09"): bd09_from_wgs84,
}
