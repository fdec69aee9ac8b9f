"""What patrol planning and checking read: grid workers and their grids, a grid's boundary, buildings and
open incidents, the community station a worker starts from. Nothing here writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.errors import NotFoundError
from layers.geojson import part_label_sql

__all__ = [
    "CLOSED_STATUSES",
    "WorkerGrid",
    "community_base",
    "grid_area",
    "grid_buildings",
    "open_incidents",
    "staff_row",
    "worker_grids",
]

CLOSED_STATUSES = ("rejected", "closed", "rated")  # every other status still needs someone on the spot
PATROL_ROLES = ("grid_worker", "grid_chief")


@dataclass(frozen=True)
class WorkerGrid:
    """A worker answering for a current grid on a date."""

    staff_id: int
    staff_name: str
    grid_code: str
    community_code: str
    community_id: int


def _gdf(session: Session, sql: str, params: Mapping[str, Any], index: str = "id") -> gpd.GeoDataFrame:
    frame = gpd.read_postgis(text(sql), session.connection(), geom_col="geom", crs=4326, params=dict(params))
    return frame.rename_geometry("geometry").set_index(index)


def worker_grids(
    session: Session, first: dt.date, last: dt.date | None = None, *, community_code: str | None = None,
    staff_id: int | None = None, scope_code: str | None = None,
) -> list[WorkerGrid]:
    """Grid workers (and chiefs) with a grid assignment valid on some day of ``first`` … ``last`` (a
    week) to a current grid, by staff and code.

    ``scope_code`` keeps the grids inside an area (a prefix of the 15-digit grid code, as in
    :func:`gisgrid.codes.in_scope`).
    """
    from gisgrid.codes import scope_prefix

    prefix = scope_prefix(scope_code) if scope_code else ""
    rows = session.execute(text(
        "SELECT s.id, s.name, g.code, c.code AS community_code, c.id AS community_id "
        "FROM assignment a JOIN staff s ON s.id = a.staff_id "
        "JOIN grid g ON g.code = a.target_ref AND g.valid_to IS NULL "
        "JOIN admin_area c ON c.id = g.community_id "
        "WHERE a.target_kind = 'grid' AND s.active AND s.role = ANY(:roles) "
        "AND a.valid_from <= :last AND (a.valid_to IS NULL OR a.valid_to >= :first) "
        "AND (CAST(:community AS text) IS NULL OR c.code = :community) "
        "AND (CAST(:staff AS integer) IS NULL OR s.id = :staff) AND g.code LIKE :prefix "
        "ORDER BY s.id, g.code"
    ), {"roles": list(PATROL_ROLES), "first": first, "last": last or first, "community": community_code,
        "staff": staff_id, "prefix": prefix + "%"}).all()
    seen: set[tuple[int, str]] = set()
    out = []
    for r in rows:
        if (r.id, r.code) not in seen:  # two overlapping assignments to one grid count once
            seen.add((r.id, r.code))
            out.append(WorkerGrid(r.id, r.name, r.code, r.community_code, r.community_id))
    return out


def staff_row(session: Session, staff_id: int) -> Any:
    """The staff member's id, name, role and community (code and id); :class:`NotFoundError` if none."""
    row = session.execute(text(
        "SELECT s.id, s.name, s.role, c.code AS community_code, s.community_id FROM staff s "
        "LEFT JOIN admin_area c ON c.id = s.community_id WHERE s.id = :id"
    ), {"id": staff_id}).one_or_none()
    if row is None:
        raise NotFoundError(f"no staff member {staff_id}", field="staff_id", feature=staff_id,
                            rule="an existing staff id")
    return row


def grid_area(session: Session, code: str) -> shapely.Geometry:
    """The current boundary of grid ``code`` (EPSG:4326)."""
    wkb = session.execute(text("SELECT ST_AsBinary(geom) FROM grid WHERE code = :c AND valid_to IS NULL"),
                          {"c": code}).scalar_one_or_none()
    if wkb is None:
        raise NotFoundError(f"no current grid {code!r}", field="grid_code", feature=code, rule="a current grid")
    return shapely.from_wkb(bytes(wkb))


_GRID_BUILDINGS = """
    WITH owned AS (
        SELECT building_id, sum(households) AS households,
               string_agg(""" + part_label_sql("p") + """, ', ' ORDER BY part_no) AS parts
        FROM building_part p WHERE valid_to IS NULL AND grid_code = :c GROUP BY building_id)
    SELECT b.id, b.name, coalesce(o.households, b.households) AS households, o.parts, b.geom,
           ST_AsBinary(b.entrance) AS entrance_wkb
    FROM building b LEFT JOIN owned o ON o.building_id = b.id
    WHERE o.building_id IS NOT NULL
       OR (b.grid_code = :c AND NOT EXISTS (SELECT 1 FROM building_part q WHERE q.building_id = b.id
                                            AND q.valid_to IS NULL))
    ORDER BY b.id"""


def grid_buildings(session: Session, code: str) -> gpd.GeoDataFrame:
    """The grid's buildings: households, name, footprint and entrance; by id. A building split over grids
    (``building_part``) is one of every grid that owns a part of it, with the households of those parts
    and ``parts`` naming them ("1–3单元", "16–30层"); other buildings have ``parts`` None and count in
    their ``building.grid_code``."""
    frame = _gdf(session, _GRID_BUILDINGS, {"c": code})
    frame["entrance"] = gpd.GeoSeries(
        [shapely.from_wkb(bytes(w)) if w is not None else None for w in frame.pop("entrance_wkb")],
        index=frame.index, crs=4326,
    )
    return frame


def open_incidents(session: Session, code: str) -> gpd.GeoDataFrame:
    """Incidents of grid ``code`` (any version) not yet closed, rejected or rated: id, category, status,
    deadline, point."""
    return _gdf(session,
                "SELECT id, category_code, status, deadline_at, description, geom FROM incident "
                "WHERE grid_code = :c AND status <> ALL(:closed) AND merged_into_id IS NULL ORDER BY id",
                {"c": code, "closed": list(CLOSED_STATUSES)})


def community_base(session: Session, community_id: int) -> tuple[int | None, shapely.Point, str]:
    """Where the community's workers start: its service station (open first, lowest id), else any of
    its stations, else a point inside the community. Returns (station id, point, what was used)."""
    row = session.execute(text(
        "SELECT id, ST_AsBinary(geom) AS wkb, kind FROM station WHERE community_id = :cid "
        "ORDER BY (kind = 'service_station') DESC, (status = 'open') DESC, id LIMIT 1"
    ), {"cid": community_id}).one_or_none()
    if row is not None:
        used = "service_station" if row.kind == "service_station" else f"station ({row.kind})"
        return int(row.id), shapely.from_wkb(bytes(row.wkb)), used
    wkb = session.execute(text("SELECT ST_AsBinary(ST_PointOnSurface(geom)) FROM admin_area WHERE id = :cid"),
                          {"cid": community_id}).scalar_one()
    return None, shapely.from_wkb(bytes(wkb)), "community point (no station)"
