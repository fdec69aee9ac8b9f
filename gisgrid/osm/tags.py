"""What pyrosm hands over, made usable: tags per row, names, numbers, OSM ids, dates, polygon layers."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid.households import parse_number

__all__ = [
    "NAME_TAGS",
    "WGS84",
    "number",
    "pick_name",
    "polygon_rows",
    "source_refs",
    "tag_date",
    "tag_dicts",
    "timestamps",
]

WGS84 = "EPSG:4326"

#: Tags a name is taken from, in order of preference (then any other ``name:*``).
NAME_TAGS: tuple[str, ...] = ("name", "name:zh", "name:zh-Hans", "name:zh-Hant", "name:en")


def tag_dicts(gdf: gpd.GeoDataFrame, keys: Iterable[str]) -> list[dict[str, Any]]:
    """Per row: the wanted tags, from pyrosm's columns or, failing those, its JSON ``tags`` column."""
    keys = list(keys)
    n = len(gdf)
    present = [k for k in keys if k in gdf.columns]
    cols = {k: gdf[k].to_numpy(dtype=object) for k in present}
    raw = gdf["tags"].to_numpy(dtype=object) if "tags" in gdf.columns else np.full(n, None, dtype=object)
    out: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {}
        text = raw[i]
        if isinstance(text, str) and text:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                row.update(parsed)
        elif isinstance(text, dict):
            row.update(text)
        for k in present:
            v = cols[k][i]
            if v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA:
                row[k] = v
        out.append(row)
    return out


def pick_name(tags: dict[str, Any]) -> str | None:
    """The first of :data:`NAME_TAGS` that is set, else any other ``name:*``; at most 200 characters."""
    for key in NAME_TAGS:
        value = tags.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    for key in sorted(tags):
        value = tags[key]
        if key.startswith("name:") and isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


#: Also floors ("6层"); OSM values may use a decimal comma.
_NUMBER = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(?:m|米|层)?\s*$", re.IGNORECASE)


def number(value: Any) -> float | None:
    """A float from a number or a numeric string ("12", "30 m", "6层"); None when absent or unparsable."""
    return parse_number(value.replace(",", ".") if isinstance(value, str) else value, _NUMBER)


def source_refs(gdf: gpd.GeoDataFrame, default_type: str) -> list[str]:
    """``way/123``, ``relation/456``, ``node/789``: the OSM type and id of each row."""
    n = len(gdf)
    types = gdf["osm_type"].to_numpy(dtype=object) if "osm_type" in gdf.columns else [default_type] * n
    return [
        f"{t if isinstance(t, str) else default_type}/{int(i)}" for t, i in zip(types, gdf["id"], strict=True)
    ]


def polygon_rows(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The rows whose geometry is a (Multi)Polygon; None when there are none."""
    if gdf is None or not len(gdf):
        return None
    keep = gdf.geometry.notna() & gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    out = gdf.loc[keep.to_numpy()].reset_index(drop=True)
    return out if len(out) else None


def timestamps(gdf: gpd.GeoDataFrame) -> list[dt.date | None]:
    """The date of each row's OSM version (pyrosm's ``timestamp``, seconds since 1970), or None."""
    if "timestamp" not in gdf.columns:
        return [None] * len(gdf)
    out: list[dt.date | None] = []
    for ts in gdf["timestamp"].to_numpy(dtype=object):
        value = number(ts)
        out.append(dt.datetime.fromtimestamp(value, tz=dt.UTC).date() if value and value > 0 else None)
    return out


_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?\s*$")


def tag_date(value: Any) -> dt.date | None:
    """``2019``, ``2019-05`` or ``2019-05-20`` → a date (first day of the year / month); else None."""
    if not isinstance(value, str):
        return None
    m = _DATE.match(value)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        return None
