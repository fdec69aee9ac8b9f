"""Coordinate systems: WGS84, CGCS2000, GCJ-02, BD-09, projected CRSs, and the metric CRS to measure in.

Everything gisgrid stores and computes on is **WGS84 lon/lat (EPSG:4326)**; imports are normalised with
:func:`to_wgs84` and exports to Chinese web maps use :func:`from_wgs84`.

* **WGS84** (EPSG:4326) — GPS, OpenStreetMap.
* **CGCS2000** (EPSG:4490) — China's official datum. Within centimetres of WGS84, so it is *relabelled*,
  never shifted (PROJ itself uses a null "ballpark" transformation between the two).
* **GCJ-02** (Amap, Tencent) and **BD-09** (Baidu) — offsets applied inside China's bounding box, with
  exact iterated inverses: :mod:`gisgrid.crs.offsets`.

The modules:

* :mod:`~gisgrid.crs.offsets` — the GCJ-02 / BD-09 point transforms on coordinate arrays;
* :mod:`~gisgrid.crs.names` — :func:`resolve_crs`: what ``wgs84``, ``gcj02``, ``EPSG:4548`` … mean;
* :mod:`~gisgrid.crs.checks` — :func:`check_lonlat`: swapped axes, metres labelled as degrees, area of use;
* :mod:`~gisgrid.crs.frames` — GeoDataFrames: :func:`to_wgs84`, :func:`from_wgs84`, :func:`metric_crs_for`.
"""

from gisgrid.crs.checks import check_lonlat
from gisgrid.crs.frames import from_wgs84, metric_crs_for, to_wgs84
from gisgrid.crs.names import NAMED_CRS, resolve_crs
from gisgrid.crs.offsets import (
    CHINA_BOX,
    INVERSE_MAX_ITER,
    INVERSE_TOL_DEG,
    bd09_from_gcj02,
    bd09_from_wgs84,
    gcj02_from_bd09,
    gcj02_from_wgs84,
    in_china,
    wgs84_from_bd09,
    wgs84_from_gcj02,
)

__all__ = [
    "CHINA_BOX",
    "INVERSE_MAX_ITER",
    "INVERSE_TOL_DEG",
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
