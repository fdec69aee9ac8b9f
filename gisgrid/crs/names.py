"""What a user's CRS name means: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, an EPSG code or a PROJ string."""

from __future__ import annotations

from typing import Any

import pyproj

from gisgrid.errors import CRSError

__all__ = ["NAMED_CRS", "is_cgcs2000_lonlat", "known_crs", "resolve_crs"]

#: Names accepted by :func:`resolve_crs` (and so by ``to_wgs84`` / ``from_wgs84``) besides any EPSG code
#: or PROJ string.
NAMED_CRS: dict[str, str] = {
    "wgs84": "EPSG:4326",
    "cgcs2000": "EPSG:4490",
    "gcj02": "gcj02",
    "bd09": "bd09",
}


def known_crs(value: Any, message: str) -> pyproj.CRS:
    """``value`` as a :class:`pyproj.CRS`; a :class:`CRSError` saying ``message`` when PROJ does not know it."""
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(message, field="crs", rule="a known CRS") from exc


def is_cgcs2000_lonlat(crs: pyproj.CRS) -> bool:
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
    return known_crs(
        crs, f"unknown coordinate reference system {crs!r}; use wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn"
    )
