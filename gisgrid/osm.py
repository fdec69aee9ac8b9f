"""Read OpenStreetMap extracts (``.osm.pbf`` and ``.osm`` XML) into the frames gisgrid imports.

:func:`read_osm` returns an :class:`OsmExtract`: five GeoDataFrames in WGS84 (EPSG:4326) — buildings,
residential complexes, the walkable street network as nodes and edges, and service posts (stations)
— plus the problems found while reading. Nothing here touches a database; ``layers.importers.osm``
writes an extract into PostGIS.

Reading
-------
PBF files are read with pyrosm. OSM XML (``.osm``, also ``.osm.gz`` / ``.osm.bz2``) is first copied
into a temporary PBF with pyosmium and then read by the very same code path. An unknown extension, a
missing, empty, truncated or non-OSM file raises :class:`~gisgrid.errors.InvalidInputError` naming the
field ``file`` and the rule; so does a file holding none of the four kinds of features.

What becomes what
-----------------
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
called ``未命名小区`` (the database requires a name; ``named`` tells them apart).

**Street network** — pyrosm's walking network (``get_network("walking", nodes=True)``), which cuts
every way into one edge per pair of consecutive OSM nodes: fully noded, nothing simplified away and
every island kept (pyrosm's ``to_graph`` defaults keep only intersections and the largest component,
so buildings on islands would silently vanish; islands are kept and reported instead). Self-loops are
dropped. ``length_m`` is measured in :func:`gisgrid.crs.metric_crs_for` of the network, never in
degrees. Node ``source_ref`` is ``node/ID``; edge ``source_ref`` is ``way/ID/k`` with ``k`` the
segment's position along the way. Nodes carry the number of their connected component: 0 is the
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

Geometry validity
-----------------
:func:`read_osm` keeps geometries as mapped. :func:`check_geometries` (called by the importer) rejects
invalid ones with the reason from :func:`shapely.is_valid_reason` (GEOS explain_validity), or with
``repair=True`` fixes them with :func:`shapely.make_valid` — provided the result is still polygonal —
and re-estimates the households of repaired buildings.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon

from gisgrid import vocab
from gisgrid.crs import metric_crs_for
from gisgrid.errors import InvalidInputError
from gisgrid.households import building_type_from_osm, estimate_households, summarise_methods
from gisgrid.report import Problem

__all__ = [
    "HOUSEHOLD_TAGS",
    "NAME_TAGS",
    "OsmExtract",
    "check_geometries",
    "checked",
    "read_osm",
    "station_kind",
]

WGS84 = "EPSG:4326"

#: Tags that supply a household count, in order of preference.
HOUSEHOLD_TAGS: tuple[str, ...] = ("building:flats", "households", "addr:households")
#: Tags a name is taken from, in order of preference (then any other ``name:*``).
NAME_TAGS: tuple[str, ...] = ("name", "name:zh", "name:zh-Hans", "name:zh-Hant", "name:en")

UNNAMED_COMPLEX = "未命名小区"
STATION_AMENITIES: tuple[str, ...] = ("community_centre", "police", "social_facility")
_STATION_NAME = re.compile("红心驿站|党群服务|警务室|警务站|社区服务站|社区服务中心")

PBF_SUFFIXES = (".osm.pbf", ".pbf")
XML_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.xml")

# pyrosm warns (UserWarning) when a layer is empty; an empty layer is a normal outcome here.
_EMPTY_LAYER_WARNING = r"Could not find any .* for given area"


# ------------------------------------------------------------------------------------- the extract
def _empty(columns: Sequence[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns}, geometry=[], crs=WGS84)


BUILDING_COLUMNS = (
    "source_ref", "name", "building", "building_type", "levels", "height", "households",
    "households_estimated", "households_method",
)
COMPLEX_COLUMNS = ("source_ref", "name", "named")
NODE_COLUMNS = ("source_ref", "component")
EDGE_COLUMNS = ("source_ref", "source_node_ref", "target_node_ref", "length_m", "name", "highway")
STATION_COLUMNS = ("source_ref", "name", "kind", "status", "opened_on")


@dataclass
class OsmExtract:
    """What :func:`read_osm` found, as GeoDataFrames in EPSG:4326 (geometry column ``geometry``).

    buildings
        ``source_ref, name, building (OSM value), building_type, levels (Int64, mapped or null),
        height, households, households_estimated, households_method`` and a MultiPolygon.
    complexes
        ``source_ref, name, named`` and a MultiPolygon.
    street_nodes
        ``source_ref`` (``node/ID``), ``component`` (0 = largest) and a Point.
    street_edges
        ``source_ref`` (``way/ID/k``), ``source_node_ref``, ``target_node_ref``, ``length_m``,
        ``name``, ``highway`` and a two-point LineString.
    stations
        ``source_ref, name, kind, status, opened_on (date or None)`` and a Point.
    problems
        What was ignored or could not be read (``warned``), feature by feature.
    """

    source: str
    buildings: gpd.GeoDataFrame = field(default_factory=lambda: _empty(BUILDING_COLUMNS))
    complexes: gpd.GeoDataFrame = field(default_factory=lambda: _empty(COMPLEX_COLUMNS))
    street_nodes: gpd.GeoDataFrame = field(default_factory=lambda: _empty(NODE_COLUMNS))
    street_edges: gpd.GeoDataFrame = field(default_factory=lambda: _empty(EDGE_COLUMNS))
    stations: gpd.GeoDataFrame = field(default_factory=lambda: _empty(STATION_COLUMNS))
    problems: list[Problem] = field(default_factory=list)

    def component_sizes(self) -> list[int]:
        """Node counts of the street network's connected components, largest first."""
        if not len(self.street_nodes):
            return []
        counts = self.street_nodes["component"].value_counts().sort_index()
        return [int(v) for v in counts.to_numpy()]

    def summary(self) -> dict[str, Any]:
        """Counts by kind, household methods, station kinds and the street components."""
        sizes = self.component_sizes()
        return {
            "buildings": len(self.buildings),
            "complexes": len(self.complexes),
            "named_complexes": int(self.complexes["named"].sum()) if len(self.complexes) else 0,
            "stations": len(self.stations),
            "station_kinds": {k: int(v) for k, v in self.stations["kind"].value_counts().items()},
            "street_nodes": len(self.street_nodes),
            "street_edges": len(self.street_edges),
            "street_length_km": round(float(self.street_edges["length_m"].sum()) / 1000.0, 3)
            if len(self.street_edges)
            else 0.0,
            "street_components": {"count": len(sizes), "sizes": sizes},
            "households_methods": summarise_methods(self.buildings),
            "households_total": int(self.buildings["households"].sum()) if len(self.buildings) else 0,
        }


# ------------------------------------------------------------------------------------- tag helpers
def _tag_dicts(gdf: gpd.GeoDataFrame, keys: Iterable[str]) -> list[dict[str, Any]]:
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


def _pick_name(tags: dict[str, Any]) -> str | None:
    for key in NAME_TAGS:
        value = tags.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    for key in sorted(tags):
        value = tags[key]
        if key.startswith("name:") and isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


_NUMBER = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(?:m|米|层)?\s*$", re.IGNORECASE)


def _number(value: Any) -> float | None:
    """A float from a number or a numeric string ("12", "30 m", "6层"); None when absent or unparsable."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return None if np.isnan(value) else float(value)
    match = _NUMBER.match(str(value).replace(",", "."))
    return float(match.group(1)) if match else None


def _source_refs(gdf: gpd.GeoDataFrame, default_type: str) -> list[str]:
    n = len(gdf)
    types = gdf["osm_type"].to_numpy(dtype=object) if "osm_type" in gdf.columns else [default_type] * n
    return [
        f"{t if isinstance(t, str) else default_type}/{int(i)}" for t, i in zip(types, gdf["id"], strict=True)
    ]


def _to_multipolygons(geoms: Any) -> np.ndarray:
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        out[i] = MultiPolygon([g]) if isinstance(g, Polygon) else g
    return out


def _polygonal(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if gdf is None or not len(gdf):
        return None
    keep = gdf.geometry.notna() & gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    out = gdf.loc[keep.to_numpy()].reset_index(drop=True)
    return out if len(out) else None


def _timestamps(gdf: gpd.GeoDataFrame) -> list[dt.date | None]:
    if "timestamp" not in gdf.columns:
        return [None] * len(gdf)
    out: list[dt.date | None] = []
    for ts in gdf["timestamp"].to_numpy(dtype=object):
        value = _number(ts)
        out.append(dt.datetime.fromtimestamp(value, tz=dt.UTC).date() if value and value > 0 else None)
    return out


_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?\s*$")


def _tag_date(value: Any) -> dt.date | None:
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


# ------------------------------------------------------------------------------------- reading
def _check_file(path: Path) -> str:
    """The file's format ('pbf' or 'xml'), after checking that it exists, is readable and is not empty."""
    name = path.name.lower()
    if name.endswith(PBF_SUFFIXES):
        kind = "pbf"
    elif name.endswith(XML_SUFFIXES):
        kind = "xml"
    else:
        raise InvalidInputError(
            f"{path.name!r} is neither an OSM PBF (.osm.pbf, .pbf) nor an OSM XML file (.osm, .osm.gz, "
            ".osm.bz2)",
            field="file",
            feature=str(path),
            rule="a .osm.pbf or .osm file",
        )
    if not path.is_file():
        raise InvalidInputError(
            f"{path} does not exist or is not a file",
            field="file",
            feature=str(path),
            rule="an existing file",
        )
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InvalidInputError(
            f"{path} cannot be read: {exc}", field="file", feature=str(path), rule="a readable file"
        ) from exc
    if size == 0:
        raise InvalidInputError(
            f"{path} is empty", field="file", feature=str(path), rule="a non-empty OSM file"
        )
    return kind


def _xml_to_pbf(path: Path, target: Path) -> None:
    """Copy an OSM XML file into a PBF with pyosmium (objects are written as read)."""
    import osmium

    try:
        with osmium.SimpleWriter(str(target)) as writer:
            for obj in osmium.FileProcessor(str(path)):
                writer.add(obj)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InvalidInputError(
            f"{path.name} is not a readable OSM XML file: {exc}",
            field="file",
            feature=str(path),
            rule="valid OSM XML",
        ) from exc


def read_osm(path: str | Path) -> OsmExtract:
    """Read buildings, complexes, the walking network and service posts from an OSM file.

    Parameters
    ----------
    path
        An ``.osm.pbf`` / ``.pbf`` file, or OSM XML: ``.osm`` (optionally ``.gz`` / ``.bz2``).

    Returns
    -------
    OsmExtract
        The frames in EPSG:4326 and the problems found (see the module docstring for every rule).

    Raises
    ------
    InvalidInputError
        ``field='file'``: unknown extension, missing, unreadable, empty, truncated or not OSM, or holding
        no buildings, residential areas, walkable streets or service posts.
    """
    path = Path(path)
    kind = _check_file(path)
    if kind == "pbf":
        return _read_pbf(path, source=path.name)
    with tempfile.TemporaryDirectory(prefix="gisgrid-osm-") as tmp:
        pbf = Path(tmp) / "converted.osm.pbf"
        _xml_to_pbf(path, pbf)
        return _read_pbf(pbf, source=path.name, original=path)


def _read_pbf(pbf: Path, *, source: str, original: Path | None = None) -> OsmExtract:
    import pyrosm

    shown = original or pbf
    problems: list[Problem] = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_EMPTY_LAYER_WARNING, category=UserWarning)
        try:
            osm = pyrosm.OSM(str(pbf))
            raw_buildings = osm.get_buildings()
            raw_complexes = osm.get_data_by_custom_criteria(
                custom_filter={"landuse": ["residential"], "residential": True},
                keep_nodes=False,
            )
            raw_posts = osm.get_data_by_custom_criteria(
                custom_filter={"amenity": list(STATION_AMENITIES)}, keep_nodes=True
            )
            raw_named_posts = osm.get_data_by_custom_criteria(
                custom_filter={"name": [_STATION_NAME]}, keep_nodes=True
            )
            network = osm.get_network("walking", nodes=True)
        except InvalidInputError:
            raise
        except Exception as exc:  # pyrosm raises protobuf, value and its own errors on broken files
            raise InvalidInputError(
                f"{shown.name} could not be read as OpenStreetMap data ({type(exc).__name__}: {exc})",
                field="file",
                feature=str(shown),
                rule="a complete, valid OSM file",
            ) from exc

    buildings = _buildings(_polygonal(raw_buildings), problems)
    complexes = _complexes(_polygonal(raw_complexes))
    stations = _stations([raw_posts, raw_named_posts], problems)
    nodes, edges = _network(network)
    extract = OsmExtract(
        source=source,
        buildings=buildings if buildings is not None else _empty(BUILDING_COLUMNS),
        complexes=complexes if complexes is not None else _empty(COMPLEX_COLUMNS),
        street_nodes=nodes if nodes is not None else _empty(NODE_COLUMNS),
        street_edges=edges if edges is not None else _empty(EDGE_COLUMNS),
        stations=stations if stations is not None else _empty(STATION_COLUMNS),
        problems=problems,
    )
    if not any(len(getattr(extract, k)) for k in ("buildings", "complexes", "street_edges", "stations")):
        raise InvalidInputError(
            f"{shown.name} holds no buildings, residential areas, walkable streets or service posts",
            field="file",
            feature=str(shown),
            rule="an OSM file with features to import",
        )
    return extract


# ------------------------------------------------------------------------------------- buildings
def _buildings(raw: gpd.GeoDataFrame | None, problems: list[Problem]) -> gpd.GeoDataFrame | None:
    if raw is None:
        return None
    refs = _source_refs(raw, "way")
    tags = _tag_dicts(raw, ("building", "building:levels", "height", *HOUSEHOLD_TAGS, *NAME_TAGS))
    n = len(raw)
    names: list[str | None] = []
    osm_building = np.empty(n, dtype=object)
    levels = np.full(n, np.nan)
    height = np.full(n, np.nan)
    households = np.full(n, np.nan)
    for i, (ref, t) in enumerate(zip(refs, tags, strict=True)):
        names.append(_pick_name(t))
        osm_building[i] = t.get("building")
        lv_raw = t.get("building:levels")
        if lv_raw is not None:
            lv = _number(lv_raw)
            if lv is None or lv < 0 or lv > 200:
                problems.append(Problem(ref, "building:levels", "levels between 1 and 200",
                                        f"building:levels={lv_raw!r} ignored", action="warned"))
            elif lv >= 0.5:
                levels[i] = np.floor(lv + 0.5)
        h_raw = t.get("height")
        if h_raw is not None:
            h = _number(h_raw)
            if h is None or h <= 0:
                problems.append(Problem(ref, "height", "height in metres > 0",
                                        f"height={h_raw!r} ignored", action="warned"))
            else:
                height[i] = h
        for key in HOUSEHOLD_TAGS:
            hh_raw = t.get(key)
            if hh_raw is None:
                continue
            hh = _number(hh_raw)
            if hh is None or hh < 0 or hh != np.floor(hh):
                problems.append(Problem(ref, key, "a whole number of households >= 0",
                                        f"{key}={hh_raw!r} ignored", action="warned"))
                continue
            households[i] = hh
            break
    types = [building_type_from_osm(b, None if np.isnan(lv) else lv) for b, lv in zip(osm_building, levels,
                                                                                        strict=True)]
    frame = gpd.GeoDataFrame(
        {
            "id": refs,
            "building_type": types,
            "levels": levels,
            "height": height,
            "households": households,
        },
        geometry=gpd.GeoSeries(_to_multipolygons(raw.geometry.values), crs=WGS84),
    )
    estimated = estimate_households(frame)
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
        geometry=frame.geometry.values,
        crs=WGS84,
    )
    return out.drop_duplicates("source_ref").reset_index(drop=True)


def _reestimate(buildings: gpd.GeoDataFrame, rows: np.ndarray) -> gpd.GeoDataFrame:
    """Re-run the household estimate for ``rows`` (e.g. after their footprints were repaired)."""
    if not rows.size:
        return buildings
    out = buildings.copy()
    sub = out.iloc[rows]
    is_supplied = sub["households_method"].to_numpy() == "supplied"
    supplied = np.where(is_supplied, sub["households"].to_numpy(dtype=float), np.nan)
    frame = gpd.GeoDataFrame(
        {
            "id": sub["source_ref"].to_numpy(),
            "building_type": sub["building_type"].to_numpy(),
            "levels": sub["levels"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
            "height": sub["height"].to_numpy(dtype=float),
            "households": supplied.astype(float),
        },
        geometry=sub.geometry.values,
        crs=WGS84,
    )
    est = estimate_households(frame)
    cols = ["households", "households_estimated", "households_method"]
    for col in cols:
        values = out[col].to_numpy(copy=True)
        values[rows] = est[col].to_numpy()
        out[col] = values
    return out


# ------------------------------------------------------------------------------------- complexes
def _complexes(raw: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if raw is None:
        return None
    tags = _tag_dicts(raw, ("landuse", "residential", "building", *NAME_TAGS))
    names = [_pick_name(t) for t in tags]
    keep = np.array(
        [
            t.get("landuse") == "residential" or (nm is not None and "building" not in t)
            for t, nm in zip(tags, names, strict=True)
        ],
        dtype=bool,
    )
    if not keep.any():
        return None
    refs = np.array(_source_refs(raw, "way"), dtype=object)[keep]
    picked = [nm for nm, k in zip(names, keep, strict=True) if k]
    out = gpd.GeoDataFrame(
        {
            "source_ref": refs,
            "name": [nm if nm is not None else UNNAMED_COMPLEX for nm in picked],
            "named": [nm is not None for nm in picked],
        },
        geometry=_to_multipolygons(raw.geometry.values[keep]),
        crs=WGS84,
    )
    return out.drop_duplicates("source_ref").reset_index(drop=True)


# ------------------------------------------------------------------------------------- stations
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


def _stations(raws: list[gpd.GeoDataFrame | None], problems: list[Problem]) -> gpd.GeoDataFrame | None:
    frames = [r for r in raws if r is not None and len(r)]
    if not frames:
        return None
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    seen: set[str] = set()
    for raw in frames:
        raw = raw.loc[raw.geometry.notna().to_numpy()]
        refs = _source_refs(raw, "node")
        tags = _tag_dicts(raw, ("amenity", "opening_date", "start_date", *NAME_TAGS))
        stamps = _timestamps(raw)
        points = shapely.point_on_surface(np.asarray(raw.geometry.values, dtype=object))
        for ref, t, stamp, pt in zip(refs, tags, stamps, points, strict=True):
            if ref in seen or pt is None or shapely.is_empty(pt):
                continue
            name = _pick_name(t)
            amenity = t.get("amenity")
            kind = station_kind(name, amenity if isinstance(amenity, str) else None)
            if kind is None:
                continue
            seen.add(ref)
            opened = _tag_date(t.get("opening_date")) or _tag_date(t.get("start_date")) or stamp
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


# ------------------------------------------------------------------------------------- network
def _components(u: np.ndarray, v: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Component number of each of ``nodes`` (0 = largest), by union–find over the edges (u, v)."""
    index = {int(n): i for i, n in enumerate(nodes)}
    parent = np.arange(len(nodes))

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    for a, b in zip(u, v, strict=True):
        ra, rb = find(index[int(a)]), find(index[int(b)])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(len(nodes))], dtype=np.int64)
    uniq, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    # number by decreasing size; ties by the smallest root (the earliest node)
    order = np.lexsort((uniq, -counts))
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    return rank[inverse]


def _network(
    network: tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None] | None,
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    if network is None:
        return None, None
    raw_nodes, raw_edges = network
    if raw_edges is None or raw_nodes is None or not len(raw_edges):
        return None, None
    edges = raw_edges.reset_index(drop=True)
    segment = edges.groupby("id", sort=False).cumcount().to_numpy()
    keep = (edges["u"].to_numpy() != edges["v"].to_numpy()) & edges.geometry.notna().to_numpy()
    edges = edges.loc[keep].reset_index(drop=True)
    segment = segment[keep]
    if not len(edges):
        return None, None
    tags = _tag_dicts(edges, ("highway", *NAME_TAGS))
    lengths = edges.geometry.to_crs(metric_crs_for(edges)).length.to_numpy(dtype=float)
    u = edges["u"].to_numpy(dtype=np.int64)
    v = edges["v"].to_numpy(dtype=np.int64)
    ways = edges["id"].to_numpy(dtype=np.int64)
    out_edges = gpd.GeoDataFrame(
        {
            "source_ref": [f"way/{w}/{k}" for w, k in zip(ways, segment, strict=True)],
            "source_node_ref": [f"node/{a}" for a in u],
            "target_node_ref": [f"node/{b}" for b in v],
            "length_m": lengths,
            "name": [_pick_name(t) for t in tags],
            "highway": [str(t["highway"])[:32] if t.get("highway") is not None else None for t in tags],
        },
        geometry=edges.geometry.values,
        crs=WGS84,
    )
    used = np.unique(np.concatenate([u, v]))
    nodes = raw_nodes.drop_duplicates("id")
    nodes = nodes.loc[nodes["id"].isin(used).to_numpy()].sort_values("id").reset_index(drop=True)
    node_ids = nodes["id"].to_numpy(dtype=np.int64)
    missing = np.setdiff1d(used, node_ids)
    if missing.size:  # edges whose end node has no coordinates cannot be kept
        bad = np.isin(u, missing) | np.isin(v, missing)
        out_edges = out_edges.loc[~bad].reset_index(drop=True)
        u, v = u[~bad], v[~bad]
    out_nodes = gpd.GeoDataFrame(
        {
            "source_ref": [f"node/{n}" for n in node_ids],
            "component": _components(u, v, node_ids),
        },
        geometry=nodes.geometry.values,
        crs=WGS84,
    )
    return out_nodes, out_edges


# ------------------------------------------------------------------------------------- validity
def _polygonal_part(geom: Any) -> Any:
    """The polygonal part of a (repaired) geometry as a MultiPolygon, or None if it has none."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    if isinstance(geom, MultiPolygon):
        return geom
    parts = [
        g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon) and not g.is_empty
    ]
    polys: list[Polygon] = []
    for g in parts:
        polys.extend([g] if isinstance(g, Polygon) else list(g.geoms))
    if not polys:
        return None
    merged = shapely.union_all(polys)
    return _polygonal_part(merged) if not isinstance(merged, MultiPolygon) else merged


def check_geometries(
    gdf: gpd.GeoDataFrame, *, repair: bool = False, polygonal: bool = True
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Reject (or, with ``repair``, fix) invalid and empty geometries; name each by ``source_ref``.

    Invalid geometries are reported with :func:`shapely.is_valid_reason` (GEOS explain_validity). With
    ``repair=True`` they are fixed with :func:`shapely.make_valid`; for polygonal layers only the
    polygonal part is kept and a repair that leaves none is rejected. Returns the kept rows (index
    reset) and the problems.
    """
    problems: list[Problem] = []
    if not len(gdf):
        return gdf, problems
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    refs = gdf["source_ref"].to_numpy(dtype=object)
    missing = np.array([g is None for g in geoms], dtype=bool)
    empty = ~missing & shapely.is_empty(np.where(missing, shapely.Point(), geoms).astype(object))
    invalid = ~missing & ~empty & ~shapely.is_valid(np.where(missing | empty, shapely.Point(0, 0), geoms))
    keep = ~(missing | empty)
    for i in np.flatnonzero(missing | empty):
        problems.append(Problem(refs[i], "geometry", "non-empty geometry", "the feature has no geometry"))
    new_geoms = geoms.copy()
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        if not repair:
            problems.append(Problem(refs[i], "geometry", "valid geometry", reason))
            keep[i] = False
            continue
        made = shapely.make_valid(geoms[i])
        fixed = _polygonal_part(made) if polygonal else made
        if fixed is None or fixed.is_empty or not fixed.is_valid:
            problems.append(Problem(refs[i], "geometry", "valid geometry",
                                    f"{reason}; make_valid gave a {made.geom_type}, not a polygon"))
            keep[i] = False
            continue
        new_geoms[i] = fixed
        problems.append(Problem(refs[i], "geometry", "valid geometry",
                                f"{reason}; repaired with make_valid ({fixed.geom_type})", action="repaired"))
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(new_geoms, index=gdf.index, crs=gdf.crs)
    out = out.loc[keep].reset_index(drop=True)
    return out, problems


def checked(
    extract: OsmExtract, *, repair: bool = False
) -> tuple[OsmExtract, dict[str, list[Problem]]]:
    """The extract with invalid geometries rejected (or, with ``repair``, fixed), and the problems by layer.

    Buildings and complexes are checked as polygons (see :func:`check_geometries`); stations and street
    edges are never repaired, only rejected. Households of repaired buildings are estimated again on
    the repaired footprint (a self-intersecting "bow tie" has a meaningless area until repaired).
    """
    problems: dict[str, list[Problem]] = {}
    buildings, problems["buildings"] = check_geometries(extract.buildings, repair=repair)
    repaired = {x.feature for x in problems["buildings"] if x.action == "repaired"}
    if repaired:
        rows = np.flatnonzero(buildings["source_ref"].isin(repaired).to_numpy())
        buildings = _reestimate(buildings, rows)
    complexes, problems["complexes"] = check_geometries(extract.complexes, repair=repair)
    stations, problems["stations"] = check_geometries(extract.stations, polygonal=False)
    edges, problems["street_edges"] = check_geometries(extract.street_edges, polygonal=False)
    out = replace(extract, buildings=buildings, complexes=complexes, stations=stations, street_edges=edges)
    return out, problems
