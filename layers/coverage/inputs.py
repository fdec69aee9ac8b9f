"""What coverage reads from PostGIS: buildings on the network (kept per process), stations, their history,
and the fingerprints that tell whether the stored coverage is still current.

Snapping every building to the network costs more than a whole coverage computation, so the snapped
buildings are kept per process beside the network (:func:`layers.network.street_network`) and reused
while neither the network nor the buildings' geometry changed. "Changed" is one lookup: the counter
that statement triggers on ``building`` move when buildings are added, removed, or their footprint or
entrance written (``coverage_generation``, migration 0006).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.coverage import Places, Thresholds, place_buildings, place_stations
from gisgrid.network import StreetNetwork
from layers.network import network_version, street_network
from layers.settings import CoverageSettings

__all__ = [
    "Network",
    "buildings_frame",
    "buildings_version",
    "complexes_frame",
    "history_frame",
    "network",
    "read_frame",
    "station_places",
    "stations_frame",
    "stations_version",
    "thresholds_from",
]

_BUILDINGS_VERSION = text("SELECT coalesce(max(buildings), 0) FROM coverage_generation")


def thresholds_from(settings: CoverageSettings) -> Thresholds:
    return Thresholds(settings.thresholds_m(), cap_factor=settings.cap_factor)


def buildings_version(session: Session) -> str:
    return ":".join(str(v) for v in session.execute(_BUILDINGS_VERSION).one())


def stations_version(session: Session, kind: str) -> str:
    """A fingerprint of the open stations of ``kind`` and where they stand."""
    row = session.execute(
        text("SELECT count(*), md5(coalesce(string_agg(id || ':' || encode(ST_AsBinary(geom), 'hex'), ','"
             " ORDER BY id), '')) FROM station WHERE kind = :kind AND status = 'open'"),
        {"kind": kind},
    ).one()
    return f"{row[0]}:{row[1]}"


@dataclass(frozen=True, eq=False)
class Network:
    """The street network with the buildings placed on it, and the fingerprints they were read at."""

    net: StreetNetwork
    version: str
    buildings: Places
    buildings_version: str

    def positions(self, building_ids: np.ndarray) -> np.ndarray:
        """Positions in ``buildings`` (read in id order) of these building ids."""
        return np.searchsorted(self.buildings.ids, np.asarray(building_ids, dtype=np.int64))


class _PlacesCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._value: Network | None = None

    def get(self, session: Session) -> Network:
        version = ":".join(str(v) for v in network_version(session))
        bversion = buildings_version(session)
        key = (version, str(session.connection().engine.url), bversion)
        with self._lock:
            if self._key == key and self._value is not None:
                return self._value
        net = street_network(session)
        ids, foot, door = _building_geometry(session, net)
        value = Network(net, version, place_buildings(net, ids, foot, door), bversion)
        with self._lock:
            self._key, self._value = key, value
        return value


_CACHE = _PlacesCache()


def network(session: Session) -> Network:
    """The street network and every building placed on it, reused while both are unchanged."""
    return _CACHE.get(session)


def _building_geometry(session: Session, net: StreetNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = session.execute(text(
        "SELECT id, ST_AsBinary(geom), ST_AsBinary(entrance) FROM building ORDER BY id")).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    foot = gpd.GeoSeries(shapely.from_wkb([bytes(r[1]) for r in rows]), crs=4326)
    door = gpd.GeoSeries(shapely.from_wkb([bytes(r[2]) for r in rows]), crs=4326)
    return ids, net.to_metric(foot), net.to_metric(door)


def station_places(session: Session, net: StreetNetwork, *, kind: str | None = None, ids: list[int] | None = None,
                   open_only: bool = True, near: tuple[float, float, float] | None = None) -> Places:
    """Stations (open ones of ``kind``, or those with these ``ids``) placed on the network; with ``near``
    (lon, lat, metres) only those within that many metres of the point."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if near is not None:
        where.append("ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :metres)")
        params.update(lon=near[0], lat=near[1], metres=near[2])
    if kind is not None:
        where.append("kind = :kind")
        params["kind"] = kind
    if ids is not None:
        where.append("id = ANY(:ids)")
        params["ids"] = list(ids)
    if open_only:
        where.append("status = 'open'")
    sql = "SELECT id, ST_X(geom), ST_Y(geom) FROM station" + (" WHERE " + " AND ".join(where) if where else "")
    rows = session.execute(text(sql + " ORDER BY id"), params).all()
    return places_of(net, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


@functools.lru_cache(maxsize=8)
def _to_metric(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(4326, crs, always_xy=True)


def places_of(net: StreetNetwork, ids: list[int], lon: list[float], lat: list[float]) -> Places:
    """Stations at WGS84 points placed on the network (a few points: no GeoSeries to build)."""
    x, y = _to_metric(net.crs).transform(np.asarray(lon, float), np.asarray(lat, float))
    return place_stations(net, np.asarray(ids, dtype=np.int64), shapely.points(np.atleast_1d(x), np.atleast_1d(y)))


def read_frame(session: Session, sql: str, columns: list[str], params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Rows as a frame; plain tuples first: pandas probing SQLAlchemy rows for named fields cost ~100 µs a row."""
    return pd.DataFrame.from_records([tuple(r) for r in session.execute(text(sql), params or {})], columns=columns)


def buildings_frame(session: Session) -> pd.DataFrame:
    """Every building: ``id, households, complex_id, community_code, grid_code`` (ordered by id)."""
    frame = read_frame(session, "SELECT b.id, b.households, b.complex_id, a.code, b.grid_code FROM building b"
                       " LEFT JOIN admin_area a ON a.id = b.community_id ORDER BY b.id",
                       ["id", "households", "complex_id", "community_code", "grid_code"])
    frame["complex_id"] = frame["complex_id"].astype("Int64")
    return frame.astype({"id": np.int64, "households": np.int64, "community_code": object, "grid_code": object})


def parts_frame(session: Session) -> pd.DataFrame:
    """Every current building part: ``building, households, grid_code`` (buildings split over grids)."""
    frame = read_frame(session, "SELECT building_id, households, grid_code FROM building_part "
                       "WHERE valid_to IS NULL ORDER BY building_id, part_no", ["building", "households", "grid_code"])
    return frame.astype({"building": np.int64, "households": np.int64, "grid_code": object})


def complexes_frame(session: Session) -> pd.DataFrame:
    frame = read_frame(session, "SELECT c.id, a.code FROM complex c LEFT JOIN admin_area a ON a.id = c.community_id"
                       " ORDER BY c.id", ["id", "community_code"])
    return frame.astype({"id": np.int64, "community_code": object})


def stations_frame(session: Session) -> pd.DataFrame:
    """Every station with its current status, complex, community and grid (the current grid of its
    community that covers it; the lowest code on a shared edge)."""
    frame = read_frame(session, """
        SELECT s.id, s.kind, s.status, s.complex_id, a.code,
               (SELECT g.code FROM grid g WHERE g.valid_to IS NULL AND g.community_id = s.community_id
                  AND ST_Covers(g.geom, s.geom) ORDER BY g.code LIMIT 1),
               ST_X(s.geom), ST_Y(s.geom)
        FROM station s LEFT JOIN admin_area a ON a.id = s.community_id ORDER BY s.id""",
                       ["id", "kind", "status", "complex_id", "community_code", "grid_code", "lon", "lat"])
    frame["complex_id"] = frame["complex_id"].astype("Int64")
    return frame.astype({"id": np.int64, "community_code": object, "grid_code": object})


def history_frame(session: Session) -> pd.DataFrame:
    """Every recorded status change: ``station_id, status, since, seq`` (``seq``: the order recorded)."""
    return read_frame(session, "SELECT station_id, status, since, id FROM station_status ORDER BY id",
                      ["station_id", "status", "since", "seq"])

