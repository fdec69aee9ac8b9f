"""Barriers from OSM tags: what grid boundaries follow besides streets (rivers, water, railways, walls).

=====================================================  ===========  =========================
tags                                                   ``kind``     geometry kept
=====================================================  ===========  =========================
``waterway=river|canal|stream``                        river        lines
``natural=water`` or any ``water=*``                   water        polygons (ways and
                                                                    multipolygon relations)
``railway=rail|light_rail|subway``                     railway      lines
``barrier=wall|city_wall``                             wall         lines (a closed wall too)
=====================================================  ===========  =========================

Left out: railways and waterways in a tunnel (``tunnel=*`` other than ``no``, or
``location=underground``/``layer`` below 0 for railways) — nobody walks around them — and water tagged on
an unclosed line (a coastline fragment is not an area). ``source_ref`` is ``way/123`` or
``relation/456``, ``name`` as for buildings (:func:`gisgrid.osm.tags.pick_name`).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd

from gisgrid.osm.tags import NAME_TAGS, WGS84, number, pick_name, source_refs, tag_dicts

__all__ = ["BARRIER_FILTER", "barrier_kind", "barriers_from"]

#: The pyrosm custom filter that finds the candidates (any one key matching).
BARRIER_FILTER: dict[str, Any] = {
    "waterway": ["river", "canal", "stream"],
    "natural": ["water"],
    "water": True,
    "railway": ["rail", "light_rail", "subway"],
    "barrier": ["wall", "city_wall"],
}
_TAGS = ("waterway", "natural", "water", "railway", "barrier", "tunnel", "location", "layer", *NAME_TAGS)
_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")


def _underground(tags: dict[str, Any], *, railway: bool) -> bool:
    tunnel = str(tags.get("tunnel") or "no").lower()
    if tunnel not in ("no", "false", "0"):
        return True
    if railway:
        if str(tags.get("location") or "").lower() == "underground":
            return True
        layer = number(tags.get("layer"))
        return layer is not None and layer < 0
    return False


def barrier_kind(tags: dict[str, Any], geom_type: str) -> str | None:
    """The barrier kind of a feature with these tags and this geometry type, or None (not a barrier).

    >>> barrier_kind({"waterway": "river"}, "LineString"), barrier_kind({"railway": "subway", "tunnel": "yes"},
    ...     "LineString"), barrier_kind({"natural": "water"}, "MultiPolygon")
    ('river', None, 'water')
    """
    if tags.get("waterway") in ("river", "canal", "stream") and geom_type in _LINES:
        return None if _underground(tags, railway=False) else "river"
    if (tags.get("natural") == "water" or tags.get("water")) and geom_type in _POLYGONS:
        return "water"
    if tags.get("railway") in ("rail", "light_rail", "subway") and geom_type in _LINES:
        return None if _underground(tags, railway=True) else "railway"
    if tags.get("barrier") in ("wall", "city_wall") and geom_type in (*_LINES, *_POLYGONS):
        return "wall"
    return None


def barriers_from(raw: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """``source_ref, kind, name`` and the geometry of every barrier in pyrosm's frame; None when none."""
    if raw is None or not len(raw):
        return None
    raw = raw.loc[raw.geometry.notna().to_numpy()].reset_index(drop=True)
    tags = tag_dicts(raw, _TAGS)
    refs = source_refs(raw, "way")
    rows, geoms = [], []
    for t, ref, geom in zip(tags, refs, raw.geometry.values, strict=True):
        kind = barrier_kind(t, geom.geom_type)
        if kind is None:
            continue
        if kind == "wall" and geom.geom_type in _POLYGONS:
            geom = geom.boundary  # a wall is the line around what it encloses
        rows.append({"source_ref": ref, "kind": kind, "name": pick_name(t)})
        geoms.append(geom)
    if not rows:
        return None
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84)
