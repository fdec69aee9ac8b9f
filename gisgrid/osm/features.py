"""Buildings, residential complexes and service posts from OSM tags (pyrosm frames in, gisgrid frames out).

**Buildings** — every ``building=*`` way and multipolygon relation (pyrosm ``get_buildings``):

* ``source_ref`` ``way/123`` or ``relation/456``; footprints as MultiPolygons.
* ``name`` — ``name``, else ``name:zh``, ``name:zh-Hans``, ``name:zh-Hant``, ``name:en``, else the
  first other ``name:*`` tag (names may live only in pyrosm's ``tags`` column).
* ``levels`` — ``building:levels`` as given (rounded, 1–200), else null: the stored floors are the
  mapped ones, never a default (the household method says how the count was made).
* ``height`` — ``height`` in metres ("30", "30 m").
* ``building_type`` — :func:`gisgrid.households.building_type_from_osm` of ``building`` and the levels.
* ``households`` — **supplied** from ``building:flats`` (the OSM key for the number of dwellings),
  else ``households`` or ``addr:households``, when it is a whole number ≥ 0; otherwise estimated with
  :func:`gisgrid.households.estimate_households` (method ``levels`` / ``height`` / ``default``).
  Unusable values (``building:levels=abc``, 300 floors, ``building:flats=2.5``) are ignored and
  reported as ``warned`` problems.

**Complexes** (物业小区) — polygons tagged ``landuse=residential``, plus polygons with a ``residential=*``
tag and a name (other than buildings). ``management`` is left ``unknown``; an unnamed polygon is

largest, then by decreasing size.

**Stations** — points, or representative points of mapped areas, recognised by name first, then by tag:

=====================================================  ===================
``name`` contains 红心驿站                               red_heart_station
``name`` contains 党群服务中心                           service_centre
``amenity=police`` or ``name`` contains 警务室/警务站    police_room
``amenity=community_centre``; 党群服务站, 社区服务站,   service_station
社区服务中心 in the name
``amenity=social_facility``; other 党群服务 names        service_post
=====================================================  ===================

``status`` is ``open``: OpenStreetMap maps what exists. The database needs an opening date for an open
post, and OSM rarely has one, so ``opened_on`` is ``opening_date`` / ``start_date`` when given (a full
date, or the first day of a year or month), else **the date of the OSM version's timestamp — the
post was open by then** (an upper bound, not the real opening day). Without any date the post is
``planned`` (and a ``warned`` problem says so). Unnamed posts are named after their kind (警务室, …).
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import vocab
from gisgrid.geometry import as_multipolygons
from gisgrid.households import building_type_from_osm, estimate_households
from gisgrid.osm.tags import NAME_TAGS, WGS84, number, pick_name, source_refs, tag_date, tag_dicts, timestamps
from gisgrid.report import Problem

__all__ = [
    "HOUSEHOLD_TAGS",
    "STATION_AMENITIES",
    "STATION_NAME",
    "UNNAMED_COMPLEX",
    "buildings_from",
    "complexes_from",
    "reestimate",
    "station_kind",
    "stations_from",
]

#: Tags that supply a household count, in order of preference.
HOUSEHOLD_TAGS: tuple[str, ...] = ("building:flats", "households", "addr:households")

#: The name of a residential area mapped without one (the database requires a name).
UNNAMED_COMPLEX = "未命名小区"
#: What marks a service post: these ``amenity`` values, or one of these names.
STATION_AMENITIES: tuple[str, ...] = ("community_centre", "police", "social_facility")
STATION_NAME = re.compile("红心驿站|党群服务|警务室|警务站|社区服务站|社区服务中心")


def buildings_from(raw: gpd.GeoDataFrame | None, problems: list[Problem]) -> gpd.GeoDataFrame | None:
    """The buildings of pyrosm's ``get_buildings`` frame, households estimated where no tag supplies them."""
    if raw is None:
        return None
    refs = source_refs(raw, "way")
    tags = tag_dicts(raw, ("building", "building:levels", "height", *HOUSEHOLD_TAGS, *NAME_TAGS))
    n = len(raw)
    names: list[str | None] = []
    osm_building = np.empty(n, dtype=object)
    levels = np.full(n, np.nan)
    height = np.full(n, np.nan)
    households = np.full(n, np.nan)
    for i, (ref, t) in enumerate(zip(refs, tags, strict=True)):
        names.append(pick_name(t))
        osm_building[i] = t.get("building")
        lv_raw = t.get("building:levels")
        if lv_raw is not None:
            lv = number(lv_raw)
            if lv is None or lv < 0 or lv > 200:
                _ignored(problems, ref, "building:levels", lv_raw, "levels between 1 and 200")
            elif lv >= 0.5:
                levels[i] = np.floor(lv + 0.5)
        h_raw = t.get("height")
        if h_raw is not None:
            h = number(h_raw)
            if h is None or h <= 0:
                _ignored(problems, ref, "height", h_raw, "height in metres > 0")
            else:
                height[i] = h
        for key in HOUSEHOLD_TAGS:
            hh_raw = t.get(key)
            if hh_raw is None:
                continue
            hh = number(hh_raw)
            if hh is None or hh < 0 or hh != np.floor(hh):
                _ignored(problems, ref, key, hh_raw, "a whole number of households >= 0")
                continue
            households[i] = hh
            break
    types = [
        building_type_from_osm(b, None if np.isnan(lv) else lv) for b, lv in zip(osm_building, levels, strict=True)
    ]
    geoms = as_multipolygons(raw.geometry.values)
    estimated = _estimate(refs, types, levels, height, households, geoms)
    out = gpd.GeoDataFrame(
        {
            "source_ref": refs,
            "name": names,
            "building": osm_building,
            "building_type": types,
            "levels": pd.array([None if np.isnan(v) else int(v) for v in levels], dtype="Int64"),
            "height": height,
            "households": estimated["households"].to_numpy(dtype=np.int64),
            "households_estimated": estimated["households_estimated"].to_numpy(dtype=bool),
            "households_method": estimated["households_method"].to_numpy(dtype=object),
        },
        geometry=geoms,
        crs=WGS84,
    )
    return out.drop_duplicates("source_ref").reset_index(drop=True)


def _ignored(problems: list[Problem], ref: str, key: str, value: Any, rule: str) -> None:
    problems.append(Problem(ref, key, rule, f"{key}={value!r} ignored", action="warned"))


def _estimate(
    refs: Any, types: Any, levels: np.ndarray, height: np.ndarray, households: np.ndarray, geoms: Any
) -> gpd.GeoDataFrame:
    """:func:`estimate_households` of footprints; levels, height and households as floats, NaN where unmapped."""
    frame = gpd.GeoDataFrame(
        {"id": refs, "building_type": types, "levels": levels, "height": height, "households": households},
        geometry=gpd.GeoSeries(geoms, crs=WGS84),
    )
    return estimate_households(frame)


def reestimate(buildings: gpd.GeoDataFrame, rows: np.ndarray) -> gpd.GeoDataFrame:
    """Re-run the household estimate for ``rows`` (e.g. after their footprints were repaired)."""
    if not rows.size:
        return buildings
    out = buildings.copy()
    sub = out.iloc[rows]
    is_supplied = sub["households_method"].to_numpy() == "supplied"
    est = _estimate(
        sub["source_ref"].to_numpy(),
        sub["building_type"].to_numpy(),
        sub["levels"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        sub["height"].to_numpy(dtype=float),
        np.where(is_supplied, sub["households"].to_numpy(dtype=float), np.nan),
        sub.geometry.values,
    )
    for col in ("households", "households_estimated", "households_method"):
        values = out[col].to_numpy(copy=True)
        values[rows] = est[col].to_numpy()
        out[col] = values
    return out


def complexes_from(raw: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Residential areas (``landuse=residential``, named ``residential=*``) of pyrosm's polygons."""
    if raw is None:
        return None
    tags = tag_dicts(raw, ("landuse", "residential", "building", *NAME_TAGS))
    names = [pick_name(t) for t in tags]
    keep = np.array(
        [
            t.get("landuse") == "residential" or (nm is not None and "building" not in t)
            for t, nm in zip(tags, names, strict=True)
        ],
        dtype=bool,
    )
    if not keep.any():
        return None
    refs = np.array(source_refs(raw, "way"), dtype=object)[keep]
    picked = [nm for nm, k in zip(names, keep, strict=True) if k]
    out = gpd.GeoDataFrame(
        {
            "source_ref": refs,
            "name": [nm if nm is not None else UNNAMED_COMPLEX for nm in picked],
            "named": [nm is not None for nm in picked],
        },
        geometry=as_multipolygons(raw.geometry.values[keep]),
        crs=WGS84,
    )
    return out.drop_duplicates("source_ref").reset_index(drop=True)


def station_kind(name: str | None, amenity: str | None) -> str | None:
    """The gisgrid station kind of a POI from its name and ``amenity`` (None: not a service post).

    Examples
    --------
    >>> station_kind("学清路红心驿站", None), station_kind("清河街道党群服务中心", "community_centre")
    ('red_heart_station', 'service_centre')
    >>> station_kind(None, "police"), station_kind("某社区党群服务站", None)
    ('police_room', 'service_station')
    >>> station_kind(None, "social_facility"), station_kind("兰州拉面", "restaurant")
    ('service_post', None)
    """
    nm = name or ""
    if "红心驿站" in nm:
        return "red_heart_station"
    if "党群服务中心" in nm:
        return "service_centre"
    if amenity == "police" or "警务室" in nm or "警务站" in nm:
        return "police_room"
    if amenity == "community_centre" or any(s in nm for s in ("党群服务站", "社区服务站", "社区服务中心")):
        return "service_station"
    if amenity == "social_facility" or "党群服务" in nm:
        return "service_post"
    return None


def stations_from(raws: list[gpd.GeoDataFrame | None], problems: list[Problem]) -> gpd.GeoDataFrame | None:
    """The service posts among pyrosm's frames of candidate POIs (each OSM object once)."""
    frames = [r for r in raws if r is not None and len(r)]
    if not frames:
        return None
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    seen: set[str] = set()
    for raw in frames:
        raw = raw.loc[raw.geometry.notna().to_numpy()]
        refs = source_refs(raw, "node")
        tags = tag_dicts(raw, ("amenity", "opening_date", "start_date", *NAME_TAGS))
        stamps = timestamps(raw)
        points = shapely.point_on_surface(np.asarray(raw.geometry.values, dtype=object))
        for ref, t, stamp, pt in zip(refs, tags, stamps, points, strict=True):
            if ref in seen or pt is None or shapely.is_empty(pt):
                continue
            name = pick_name(t)
            amenity = t.get("amenity")
            kind = station_kind(name, amenity if isinstance(amenity, str) else None)
            if kind is None:
                continue
            seen.add(ref)
            opened = tag_date(t.get("opening_date")) or tag_date(t.get("start_date")) or stamp
            if opened is None:
                problems.append(Problem(ref, "opened_on", "an open station has an opening date",
                                        "no opening date or OSM timestamp: imported as planned",
                                        action="warned"))
            rows.append(
                {
                    "source_ref": ref,
                    "name": name or vocab.ZH[kind],
                    "kind": kind,
                    "status": "open" if opened is not None else "planned",
                    "opened_on": opened,
                }
            )
            geoms.append(pt)
    if not rows:
        return None
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=WGS84)
