"""Inputs of the partition: checks that name the field and rule, the local metric frame, street and barrier
lines.

Barriers (``barriers=``) are lines or polygons with a ``kind``: ``river`` and ``water`` are *water* (a grid
does not reach across them unless a bridge — a street crossing them — joins the banks; water polygons are
left out of the cells and handed to a neighbouring grid only to tile the community); ``railway``, ``wall``
and ``other`` are lines grids end at (polygons of those kinds contribute their outline).

Geometry is built in a local equirectangular frame (:class:`_Frame`) — an affine map of lon/lat, so
straight edges stay straight and the tiling survives the way back to EPSG:4326 exactly; its scale error
over a community (a few km) is far below 0.1 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisgrid.errors import CRSError, GeometryError, InvalidInputError

__all__ = ["BARRIER_KINDS", "DEFAULT_MAJOR_HIGHWAYS", "NON_STREET_HIGHWAYS", "WATER_KINDS"]

#: The values of ``barriers["kind"]``.
BARRIER_KINDS: tuple[str, ...] = ("river", "water", "railway", "wall", "other")
#: Kinds that are water: no grid spans them unless a bridge joins the banks.
WATER_KINDS: frozenset[str] = frozenset({"river", "water"})

#: OSM ``highway`` classes that count as major roads: neighbours across them are weakly linked.
DEFAULT_MAJOR_HIGHWAYS: tuple[str, ...] = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link",
)
#: ``highway`` classes that do not cut the community into blocks (inside complexes, paths, ...).
NON_STREET_HIGHWAYS: frozenset[str] = frozenset(
    {"service", "footway", "path", "cycleway", "steps", "pedestrian", "track", "bridleway", "corridor",
     "elevator", "platform", "construction", "proposed"}
)

_EARTH_R = 6_371_008.8  # metres: the IUGG mean radius, the sphere whose degree is closest on average
_WGS84 = "EPSG:4326"
_LINEAL_TYPE_IDS = [1, 2, 5]  # shapely type ids of LineString, LinearRing, MultiLineString
_POLYGONAL_TYPE_IDS = [3, 6]  # Polygon, MultiPolygon
_EMPTY = np.empty(0, dtype=object)


@dataclass
class _Lines:
    """Street and barrier geometry in the local frame.

    ``cut``: lines that cut the community into blocks (streets but service roads and paths, barrier lines,
    water outlines); ``major``: major roads; ``barrier``: railway/wall/other lines and outlines; ``water``:
    water polygons; ``river``: water lines; ``bridges``: points where a street crosses water."""

    cut: np.ndarray = field(default_factory=lambda: _EMPTY)
    major: np.ndarray = field(default_factory=lambda: _EMPTY)
    barrier: np.ndarray = field(default_factory=lambda: _EMPTY)
    water: np.ndarray = field(default_factory=lambda: _EMPTY)
    river: np.ndarray = field(default_factory=lambda: _EMPTY)
    bridges: np.ndarray = field(default_factory=lambda: _EMPTY)

    def measured(self) -> np.ndarray:
        """The lines a grid boundary counts as following (``boundary_on_street_share``)."""
        return np.asarray(self.cut, dtype=object)


class _Frame:
    """An affine local frame in metres: x = (lon − lon₀)·kₓ, y = (lat − lat₀)·k_y."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.ky = _EARTH_R * math.pi / 180.0
        self.kx = self.ky * math.cos(math.radians(lat0))

    def fwd(self, geoms: Any) -> Any:
        return shapely.transform(
            geoms, lambda c: np.column_stack(((c[:, 0] - self.lon0) * self.kx, (c[:, 1] - self.lat0) * self.ky))
        )

    def inv(self, geoms: Any) -> Any:
        return shapely.transform(
            geoms, lambda c: np.column_stack((c[:, 0] / self.kx + self.lon0, c[:, 1] / self.ky + self.lat0))
        )


def _check_community(community: Any) -> Any:
    if not isinstance(community, shapely.Polygon | shapely.MultiPolygon) or community.is_empty:
        raise GeometryError(
            "the community must be a non-empty Polygon or MultiPolygon (EPSG:4326)",
            field="community", rule="polygonal community",
        )
    if not community.is_valid:
        raise GeometryError(
            f"the community geometry is invalid: {shapely.is_valid_reason(community)}",
            field="community", rule="valid geometry",
        )
    minx, miny, maxx, maxy = community.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise CRSError(
            "the community is not in lon/lat degrees (EPSG:4326)", field="community", rule="EPSG:4326"
        )
    return community


def _to_wgs84(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise CRSError(f"{name} have no CRS", field=f"{name}.crs", rule="a CRS is required")
    return gdf if gdf.crs.equals(pyproj.CRS.from_epsg(4326)) else gdf.to_crs(_WGS84)


def _int_column(buildings: gpd.GeoDataFrame, column: str, *, minimum: int) -> np.ndarray:
    values = pd.to_numeric(buildings[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < minimum) | (values != np.round(values))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"building {buildings.index[pos]!r} has {column}={buildings[column].iloc[pos]!r}; "
            f"it must be a whole number ≥ {minimum}",
            field=column, feature=_plain(buildings.index[pos]), rule=f"whole number ≥ {minimum}",
        )
    return values.astype(np.int64)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _key_order(key: Any) -> tuple[str, str]:
    """Sort key of a complex key: its text, then its type, so 1 and "1" never tie (a tie would leave the
    order to the iteration order of a set, which for strings changes from process to process)."""
    return str(key), type(key).__name__


def _complex_keys(buildings: gpd.GeoDataFrame, complexes: gpd.GeoDataFrame | None) -> np.ndarray:
    for col in ("complex_key", "complex_id"):
        if col in buildings.columns:
            keys = buildings[col].to_numpy(dtype=object)
            return np.asarray([None if pd.isna(k) else _plain(k) for k in keys], dtype=object)
    out = np.full(len(buildings), None, dtype=object)
    if complexes is None or len(complexes) == 0:
        return out
    cx = _to_wgs84(complexes, "complexes")
    cols = [c for c in ("complex_key", "complex_id") if c in cx.columns]
    labels = cx[cols[0]].to_numpy(dtype=object) if cols else cx.index.to_numpy(dtype=object)
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    b, c = shapely.STRtree(cx.geometry.to_numpy()).query(pts, predicate="within")
    for bi, ci in zip(b[::-1], c[::-1], strict=True):
        out[bi] = _plain(labels[ci])
    return out


def _street_lines(streets: gpd.GeoDataFrame | None, frame: _Frame,
                  major: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The street lines that cut blocks, the major roads among them and every street line, in the local
    frame."""
    if streets is None or len(streets) == 0:
        return _EMPTY, _EMPTY, _EMPTY
    s = _to_wgs84(streets, "streets")
    geoms = s.geometry.to_numpy()
    highway = s["highway"].astype(str).to_numpy() if "highway" in s.columns else np.full(len(s), "")
    lines = shapely.get_type_id(geoms)
    ok = np.isin(lines, _LINEAL_TYPE_IDS) & ~shapely.is_empty(geoms)
    cut = ok & ~np.isin(highway, sorted(NON_STREET_HIGHWAYS))
    is_major = ok & np.isin(highway, list(major))
    return frame.fwd(geoms[cut]), frame.fwd(geoms[is_major]), frame.fwd(geoms[ok])


def _barrier_lines(barriers: gpd.GeoDataFrame | None, frame: _Frame, area: Any,
                   all_streets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Barrier lines (railway/wall/other, with outlines), water polygons, water lines and bridge points."""
    if barriers is None or len(barriers) == 0:
        return _EMPTY, _EMPTY, _EMPTY, _EMPTY
    if not isinstance(barriers, gpd.GeoDataFrame):
        raise InvalidInputError("barriers must be a GeoDataFrame", field="barriers", rule="GeoDataFrame")
    if "kind" not in barriers.columns:
        raise InvalidInputError("the barriers have no 'kind' column", field="barriers.kind",
                                rule=f"kind in {'|'.join(BARRIER_KINDS)}")
    kinds = barriers["kind"].astype(str).to_numpy()
    bad = ~np.isin(kinds, list(BARRIER_KINDS))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"barrier {barriers.index[pos]!r} has kind={kinds[pos]!r}", field="barriers.kind",
            feature=_plain(barriers.index[pos]), rule=f"kind in {'|'.join(BARRIER_KINDS)}")
    g = _to_wgs84(barriers, "barriers").geometry.to_numpy()
    local = frame.fwd(g)
    shapely.prepare(area)
    near = ~shapely.is_missing(local) & ~shapely.is_empty(local) & shapely.intersects(local, area)
    water = np.isin(kinds, sorted(WATER_KINDS))
    typ = shapely.get_type_id(local)
    polygonal = np.isin(typ, _POLYGONAL_TYPE_IDS)
    lineal = np.isin(typ, _LINEAL_TYPE_IDS)
    fixed = shapely.make_valid(local[near & polygonal & water])
    water_polys = np.asarray([p for p in shapely.get_parts(shapely.intersection(fixed, area))
                              if isinstance(p, shapely.Polygon) and p.area > 0], dtype=object)
    river = np.asarray(local[near & lineal & water], dtype=object)
    outline = shapely.boundary(shapely.make_valid(local[near & polygonal & ~water]))
    barrier = np.concatenate([np.asarray(local[near & lineal & ~water], dtype=object),
                              np.asarray(outline, dtype=object)])
    bridges = _EMPTY
    wet = np.concatenate([water_polys, river])
    if len(wet) and len(all_streets):
        si, wi = shapely.STRtree(wet).query(all_streets, predicate="intersects")
        if len(si):
            crossing = shapely.intersection(all_streets[si], wet[wi])
            pts = shapely.point_on_surface(crossing[~shapely.is_empty(crossing)])
            bridges = np.asarray(pts, dtype=object)
    return barrier, water_polys, river, bridges


def _prepare(buildings: gpd.GeoDataFrame, community: Any, streets: gpd.GeoDataFrame | None,
             major_highways: Iterable[str],
             barriers: gpd.GeoDataFrame | None = None) -> tuple[gpd.GeoDataFrame, Any, _Frame, Any, _Lines]:
    """Checked buildings (EPSG:4326), the community, its local frame and the street and barrier lines in
    that frame."""
    if not isinstance(buildings, gpd.GeoDataFrame):
        raise InvalidInputError("buildings must be a GeoDataFrame", field="buildings", rule="GeoDataFrame")
    if len(buildings) == 0:
        raise InvalidInputError("there are no buildings to partition", field="buildings", rule="non-empty")
    if not buildings.index.is_unique:
        raise InvalidInputError("the buildings' index must identify buildings (it has duplicates)",
                                field="index", rule="unique index")
    b = _to_wgs84(buildings, "buildings")
    geoms = b.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise GeometryError(f"building {b.index[pos]!r} has no geometry", field="geometry",
                            feature=_plain(b.index[pos]), rule="non-empty geometry")
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():  # self-touching OSM footprints are common; only their point and area are used
        b = b.copy()
        b.loc[b.index[invalid], b.geometry.name] = shapely.make_valid(geoms[invalid])
    community = _check_community(community)
    c = community.centroid
    frame = _Frame(float(c.x), float(c.y))
    community_local = frame.fwd(community)
    cut, major, all_streets = _street_lines(streets, frame, major_highways)
    barrier, water, river, bridges = _barrier_lines(barriers, frame, community_local, all_streets)
    outlines = shapely.boundary(water) if len(water) else _EMPTY
    lines = _Lines(cut=np.concatenate([cut, barrier, river, np.asarray(outlines, dtype=object)]), major=major,
                   barrier=barrier, water=water, river=river, bridges=bridges)
    return b, community, frame, community_local, lines
