"""What walking coverage is computed from, read from PostGIS: buildings (demand), stations of a kind, and
complexes (candidate entrances), inside an area and the caller's scope.

**Scope.** An account sees and sites only inside its area (:func:`gisgrid.codes.in_scope`, by code):
buildings and complexes are those of the communities under the area code. Stations are read
everywhere — a station across the boundary still serves the households near it.

**The seam for stored coverage.** :func:`covered_demand` decides which households the open stations
already reach, from the street network here and now. When the stored per-building coverage exists
(``coverage_result``), that function is the one place to read it instead; nothing else computes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ, area_level, in_scope, scope_prefix
from gisgrid.coverage.reach import covered_mask, walk_threshold
from gisgrid.coverage.rollout import statuses_on
from gisgrid.coverage.sites import Demand, building_demand
from gisgrid.errors import NotFoundError, PermissionDeniedError
from gisgrid.network import Snap, StreetNetwork, snap_points
from layers.coverage.inputs import history_frame
from layers.network import street_network
from layers.settings import get_settings

__all__ = [
    "CoverageInputs",
    "area_name",
    "coverage_inputs",
    "covered_demand",
    "effective_area",
    "read_buildings",
    "read_complexes",
    "read_stations",
    "today",
]

SRID = 4326

_BUILDINGS_SQL = """
    SELECT b.id, b.name, b.households, b.complex_id, x.name AS complex_name, c.code AS community_code,
           b.source, ST_AsBinary(b.entrance) AS entrance_wkb, b.geom
    FROM building b
    LEFT JOIN admin_area c ON c.id = b.community_id
    LEFT JOIN complex x ON x.id = b.complex_id
    WHERE {where}
    ORDER BY b.id
"""
_COMPLEXES_SQL = """
    SELECT x.id, x.name, x.management, c.code AS community_code, x.source, x.geom
    FROM complex x
    LEFT JOIN admin_area c ON c.id = x.community_id
    WHERE {where}
    ORDER BY x.id
"""
_STATIONS_SQL = """
    SELECT s.id, s.name, s.kind, s.status, s.planned_on, s.building_since, s.opened_on, s.closed_on,
           s.service_radius_m, c.code AS community_code, s.source, s.geom
    FROM station s
    LEFT JOIN admin_area c ON c.id = s.community_id
    WHERE {where}
    ORDER BY s.id
"""


def open_on_day(history: pd.DataFrame, station_ids: pd.Series, day: dt.date) -> np.ndarray:
    """True where a station was open on ``day`` by its recorded status history (a station may close
    and reopen: the history, not the row's dates, says which)."""
    return (station_ids.map(statuses_on(history, day)) == "open").to_numpy(dtype=bool)


def today() -> dt.date:
    return dt.datetime.now(CHINA_TZ).date()


def effective_area(scope_code: str | None, area_code: str | None) -> str | None:
    """The area to work in: ``area_code`` when it lies inside the caller's scope (else
    :class:`PermissionDeniedError`), the scope itself when no area is asked for."""
    if area_code is None:
        return scope_code
    area_level(area_code, field="code")
    if not in_scope(scope_code, area_code):
        raise PermissionDeniedError(
            f"area {area_code} is outside your area ({scope_code})",
            field="code",
            feature=area_code,
            rule="an area inside the caller's scope",
        )
    return area_code


def _where(area_code: str | None, alias: str = "c") -> tuple[str, dict[str, Any]]:
    if area_code is None:
        return "TRUE", {}
    return f"{alias}.code LIKE :prefix", {"prefix": scope_prefix(area_code, field="code")[:12] + "%"}


def _read(session: Session, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    return gpd.read_postgis(text(sql), session.connection(), geom_col="geom", crs=SRID, params=params)


def read_buildings(session: Session, area_code: str | None) -> gpd.GeoDataFrame:
    """Buildings of the area's communities: footprint, ``entrance`` point, households, complex."""
    where, params = _where(area_code)
    gdf = _read(session, _BUILDINGS_SQL.format(where=where), params)
    wkb = gdf.pop("entrance_wkb")
    gdf["entrance"] = shapely.from_wkb([bytes(v) if v is not None else None for v in wkb])
    return gdf


def read_complexes(session: Session, area_code: str | None) -> gpd.GeoDataFrame:
    where, params = _where(area_code)
    return _read(session, _COMPLEXES_SQL.format(where=where), params)


def read_stations(session: Session, kind: str | None = None) -> gpd.GeoDataFrame:
    """Stations (of ``kind``, or all), everywhere: coverage does not stop at an area's boundary."""
    where, params = ("s.kind = :kind", {"kind": kind}) if kind else ("TRUE", {})
    return _read(session, _STATIONS_SQL.format(where=where), params)


def area_name(session: Session, code: str | None) -> str | None:
    if code is None:
        return None
    name = session.execute(text("SELECT name FROM admin_area WHERE code = :c"), {"c": code[:12]}).scalar()
    if name is None and len(code) == 12:
        raise NotFoundError(f"no area with code {code}", field="code", feature=code, rule="an existing area")
    return str(name) if name is not None else None


@dataclass(frozen=True, eq=False)
class CoverageInputs:
    """Everything a coverage map or a siting run starts from, for one kind on one day."""

    kind: str
    threshold_m: float
    as_of: dt.date
    area_code: str | None
    net: StreetNetwork
    buildings: gpd.GeoDataFrame  # the demand's rows, in demand order (households > 0)
    demand: Demand
    stations: gpd.GeoDataFrame  # every station of the kind, with an ``open`` flag for ``as_of``
    existing: Snap  # the stations counted as existing (open, or with include_planned not closed)
    covered: np.ndarray  # per demand point: reached by an existing station

    @property
    def synthetic(self) -> bool:
        return bool((self.buildings.get("source", pd.Series(dtype=object)) == "synthetic").any()) or bool(
            (self.stations.get("source", pd.Series(dtype=object)) == "synthetic").any()
        )


def covered_demand(net: StreetNetwork, existing: Snap, demand: Demand, threshold_m: float) -> np.ndarray:
    """Which demand points the existing stations reach on foot. (See the module docstring: this is
    where the stored per-building coverage will be read instead.)"""
    return covered_mask(net, existing, demand.snap, threshold_m)


def coverage_inputs(
    session: Session,
    *,
    kind: str,
    as_of: dt.date | None = None,
    threshold_m: float | None = None,
    area_code: str | None = None,
    scope_code: str | None = None,
    include_planned: bool = False,
) -> CoverageInputs:
    """Read and snap the demand of an area and the stations of ``kind``; mark what is covered on
    ``as_of`` (default today, China time). With ``include_planned`` the planned and building stations
    count as existing too (to site around what is already on the way)."""
    threshold = walk_threshold(kind, threshold_m, get_settings().coverage.thresholds_m())
    day = as_of or today()
    area = effective_area(scope_code, area_code)
    if area_code is not None and area is not None and len(area) == 12:  # before the heavy reads
        known = session.execute(text("SELECT 1 FROM admin_area WHERE code = :c"), {"c": area}).first()
        if known is None:
            raise NotFoundError(f"no area with code {area}", field="area", feature=area, rule="an existing area")
    net = street_network(session)
    buildings = read_buildings(session, area)
    demand = building_demand(net, buildings)
    rows = (
        buildings.set_index("id").loc[list(demand.ref)].reset_index() if len(demand) else buildings.iloc[:0]
    )
    stations = read_stations(session, kind)
    stations["open"] = open_on_day(history_frame(session), stations["id"], day)
    counted = stations["open"].to_numpy(bool)
    if include_planned:
        not_closed = (
            stations["closed_on"].isna().to_numpy()
            & stations["status"].isin(["planned", "building"]).to_numpy()
        )
        counted = counted | not_closed
    existing = snap_points(net, net.to_metric(stations.geometry[counted])) if counted.any() else _no_snap()
    covered = covered_demand(net, existing, demand, threshold)
    return CoverageInputs(
        kind,
        threshold,
        day,
        area,
        net,
        gpd.GeoDataFrame(rows, geometry="geom", crs=SRID),
        demand,
        stations,
        existing,
        covered,
    )


def _no_snap() -> Snap:
    return Snap(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, dtype=object))
