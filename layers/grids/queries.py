"""Reading grids and what they are drawn over: communities, buildings, complexes, streets, current grids,
the grids as of a date, a grid's history, live tallies and validation, barriers, building parts.

Nothing here locks or writes. A building counts in the grid that covers its representative point, as
in :mod:`gisgrid.grids.validate` — except a split building (rows in ``building_part``), which counts
part by part in the grid owning each part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ, MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import NotFoundError
from gisgrid.grids import GridProblem, validate_grids
from gisgrid.grids.edit import tally
from gisgrid.grids.parts import PART_COLUMNS, empty_parts, part_label, parts_from_pieces, typed_parts
from layers.grids.naming import name_grid_problems

SRID = 4326


@dataclass
class GridVersion:
    """One stored version of one grid."""

    id: int
    code: str
    version: int
    community_code: str
    households: int
    population: int
    status: str
    valid_from: datetime
    valid_to: datetime | None
    geometry: shapely.Geometry
    name: str | None = None

    def to_dict(self, *, geometry: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "code": self.code,
            "version": self.version,
            "name": self.name,
            "community_code": self.community_code,
            "households": self.households,
            "population": self.population,
            "status": self.status,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
        }
        if geometry:
            out["geometry"] = mapping(self.geometry)
        return out


@dataclass
class Community:
    """A community row: what the writers lock and clip to."""

    id: int
    code: str
    name: str
    geom: shapely.Geometry


@dataclass
class GridRow:
    """The current version of one grid, as the writers compare and close it."""

    id: int
    code: str
    version: int
    name: str | None
    households: int
    population: int
    valid_from: datetime
    geom: shapely.Geometry


def community(session: Session, code: str, *, lock: bool = False) -> Community:
    """The community ``code`` (:class:`NotFoundError` if there is none); ``lock`` takes its row lock."""
    sql = "SELECT id, code, name, level, ST_AsBinary(geom) AS wkb FROM admin_area WHERE code = :code"
    # NO KEY UPDATE: serialises grid writers of this community but lets inserts that merely reference
    # the row (buildings, incidents: FOR KEY SHARE) go ahead
    row = session.execute(text(sql + (" FOR NO KEY UPDATE" if lock else "")), {"code": code}).one_or_none()
    if row is None or row.level != "community":
        raise NotFoundError(
            f"no community with code {code!r}", field="community_code", feature=code,
            rule="an existing community (12-digit code)",
        )
    return Community(row.id, row.code, row.name, shapely.from_wkb(bytes(row.wkb)))


def community_geometry(session: Session, community_code: str) -> shapely.Geometry:
    """The community's polygon (EPSG:4326); :class:`NotFoundError` for an unknown community code."""
    return community(session, community_code).geom


def community_of_grid(session: Session, code: str) -> str:
    """The code of the community grid ``code`` belongs to (:class:`NotFoundError` if no such grid)."""
    found = session.execute(
        text(
            "SELECT a.code FROM grid g JOIN admin_area a ON a.id = g.community_id "
            "WHERE g.code = :code ORDER BY g.version DESC LIMIT 1"
        ),
        {"code": code},
    ).scalar_one_or_none()
    if found is None:
        raise NotFoundError(f"no grid with code {code!r}", field="code", feature=code, rule="an existing grid")
    return str(found)


def communities_with_buildings(session: Session) -> list[str]:
    """Codes of the communities that hold at least one building (by representative point), in order."""
    return list(session.execute(text(
        "SELECT c.code FROM admin_area c WHERE c.level = 'community' AND EXISTS "
        "(SELECT 1 FROM building b WHERE b.geom && c.geom AND ST_Intersects(c.geom, ST_PointOnSurface(b.geom))) "
        "ORDER BY c.code"
    )).scalars())


def communities_with_grids(session: Session) -> list[str]:
    """Codes of the communities that have current grids, in order."""
    return list(session.execute(text(
        "SELECT DISTINCT a.code FROM grid g JOIN admin_area a ON a.id = g.community_id "
        "WHERE g.valid_to IS NULL ORDER BY a.code"
    )).scalars())


def current_rows(session: Session, community_id: int, *, lock: bool = False) -> dict[str, GridRow]:
    """The community's current grid rows by code; ``lock`` takes their row locks."""
    sql = (
        "SELECT id, code, version, name, households, population, valid_from, ST_AsBinary(geom) AS wkb "
        "FROM grid WHERE community_id = :cid AND valid_to IS NULL ORDER BY code"
    )
    rows = session.execute(text(sql + (" FOR UPDATE" if lock else "")), {"cid": community_id}).all()
    return {
        r.code: GridRow(r.id, r.code, r.version, r.name, r.households, r.population, r.valid_from,
                        shapely.from_wkb(bytes(r.wkb)))
        for r in rows
    }


def latest_versions(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """The highest version ever stored of each code (codes never used are absent)."""
    codes = list(codes)
    if not codes:
        return {}
    rows = session.execute(
        text("SELECT code, max(version) FROM grid WHERE code = ANY(:codes) GROUP BY code"), {"codes": codes}
    ).all()
    return {code: int(v) for code, v in rows}


def _read_gdf(session: Session, sql: str, params: Mapping[str, Any], index: str | None = None) -> gpd.GeoDataFrame:
    gdf = gpd.read_postgis(text(sql), session.connection(), geom_col="geom", crs=SRID, params=dict(params))
    gdf = gdf.rename_geometry("geometry")
    if index is not None:
        gdf = gdf.set_index(index)
    return gdf


def _in_community(
    session: Session, columns: str, table: str, relation: str, community_code: str, *, index: str | None = "id"
) -> gpd.GeoDataFrame:
    """The rows ``x`` of ``table`` that ``relation`` ties to the community ``c``, by id."""
    return _read_gdf(
        session,
        f"SELECT {columns} FROM {table} x JOIN admin_area c ON c.code = :code "
        f"WHERE x.geom && c.geom AND {relation} ORDER BY x.id",
        {"code": community_code},
        index=index,
    )


#: SQL: how a building or complex ``x`` is named in messages — its id in the source file (``B-17``) or in
#: OSM (``osm:way/123``) and its name; never the database row id alone.
LABEL = (
    "(CASE WHEN x.source = 'import' THEN x.source_ref ELSE x.source || ':' || COALESCE(x.source_ref, x.id::text)"
    " END || COALESCE(' ' || x.name, '')) AS label"
)


def load_buildings(session: Session, community_code: str) -> gpd.GeoDataFrame:
    """The community's buildings (representative point inside it): ``name``, ``households``, ``units``
    (entrances, 单元), ``levels`` (floors, 层; a building over the maximum without entrances is split
    by floor range), ``complex_id``, ``grid_code``, ``source_ref``, footprint; indexed by building id."""
    return _in_community(
        session,
        f"x.id, x.name, {LABEL}, x.households, x.units, x.levels, x.complex_id, x.grid_code, x.source_ref, x.geom",
        "building", "ST_Intersects(c.geom, ST_PointOnSurface(x.geom))", community_code,
    )


def load_barriers(session: Session, community_code: str) -> gpd.GeoDataFrame:
    """Barriers (rivers, water, railways, walls: ``kind``, ``name``) that meet the community, by id."""
    return _in_community(
        session, "x.id, x.kind, x.name, x.geom", "barrier", "ST_Intersects(x.geom, c.geom)", community_code,
    )


_PART_SELECT = (
    "SELECT p.id, p.building_id AS building, p.part_no, p.kind, p.entrance_from, p.entrance_to, p.floor_from, "
    "p.floor_to, p.households, p.grid_code, b.name AS building_name FROM building_part p "
    "JOIN building b ON b.id = p.building_id "
)


def _parts(session: Session, where: str, params: Mapping[str, Any], *, whole: bool = False) -> pd.DataFrame:
    """Parts matching ``where``; ``whole``: every part of each building, checked."""
    rows = session.execute(text(_PART_SELECT + "WHERE " + where + " ORDER BY p.building_id, p.part_no"),
                           dict(params)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=["id", *PART_COLUMNS, "building_name"])
    if not len(frame):
        typed = empty_parts()
    else:
        typed = (parts_from_pieces if whole else typed_parts)(frame[list(PART_COLUMNS)])
    typed["id"] = frame["id"].astype("int64").to_numpy()
    typed["building_name"] = frame["building_name"].astype(object).to_numpy()
    return typed


def _valid_at(when: datetime | None) -> tuple[str, dict[str, Any]]:
    if when is None:
        return "p.valid_to IS NULL", {}
    return "p.valid_from <= :t AND (p.valid_to IS NULL OR p.valid_to > :t)", {"t": when}


def load_parts(session: Session, community_code: str, *, when: date | datetime | None = None) -> pd.DataFrame:
    """The parts (:data:`gisgrid.grids.parts.PART_COLUMNS` + ``id``, ``building_name``) of the community's
    split buildings (representative point inside it) — current, or as they were at ``when``."""
    valid, params = _valid_at(None if when is None else instant(when))
    return _parts(session, valid + " AND EXISTS (SELECT 1 FROM admin_area c WHERE c.code = :code "
                  "AND b.geom && c.geom AND ST_Intersects(c.geom, ST_PointOnSurface(b.geom)))",
                  {"code": community_code, **params}, whole=True)


def grid_parts(session: Session, codes: Iterable[str]) -> pd.DataFrame:
    """The current parts owned by the grids ``codes``."""
    return _parts(session, "p.valid_to IS NULL AND p.grid_code = ANY(:codes)", {"codes": list(codes)})


def grid_summary(session: Session, code: str) -> dict[str, Any]:
    """Grid ``code``'s current version (:meth:`GridVersion.to_dict`), the parts of split buildings it owns
    (``building``, ``building_name``, ``part_no``, ``kind``, ``label``, ranges, ``households``) and the
    households those parts hold; :class:`NotFoundError` if the code has no current version."""
    current = [v for v in history(session, code) if v.valid_to is None]
    if not current:
        raise NotFoundError(f"grid {code} is retired", field="code", feature=code, rule="a current grid")
    owned = grid_parts(session, [code])
    parts = [
        {"building": int(r["building"]), "building_name": r["building_name"], "part_no": int(r["part_no"]),
         "kind": r["kind"], "label": part_label(r),
         **{k: None if pd.isna(r[k]) else int(r[k]) for k in ("entrance_from", "entrance_to", "floor_from",
                                                               "floor_to")},
         "households": int(r["households"])}
        for r in owned.to_dict("records")
    ]
    return {**current[0].to_dict(), "parts": parts, "parts_households": sum(p["households"] for p in parts)}


def building_parts(session: Session, building_ids: Iterable[int]) -> pd.DataFrame:
    """The current parts of the buildings ``building_ids`` (buildings not split have none)."""
    return _parts(session, "p.valid_to IS NULL AND p.building_id = ANY(:ids)",
                  {"ids": [int(i) for i in building_ids]}, whole=True)


def load_complexes(session: Session, community_code: str) -> gpd.GeoDataFrame:
    """Complexes whose interior meets the community, indexed by complex id."""
    return _in_community(
        session, f"x.id, x.name, {LABEL}, x.management, x.geom", "complex", "ST_Relate(x.geom, c.geom, 'T********')",
        community_code,
    )


def load_streets(session: Session, community_code: str) -> gpd.GeoDataFrame:
    """Street edges (``highway`` class) that meet the community."""
    return _in_community(
        session, "x.id, x.highway, x.geom", "street_edge", "ST_Intersects(x.geom, c.geom)", community_code,
        index=None,
    )


_GRID_COLUMNS = """
    g.id, g.code, g.version, g.name, a.code AS community_code, g.households, g.population, g.status,
    g.valid_from, g.valid_to, g.geom
"""


def _grids_where(session: Session, where: str, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    return _read_gdf(
        session,
        f"SELECT {_GRID_COLUMNS} FROM grid g JOIN admin_area a ON a.id = g.community_id "
        f"WHERE {where} ORDER BY g.code",
        params,
    )


def current_grids(session: Session, community_code: str | None = None) -> gpd.GeoDataFrame:
    """The current version of every grid (or of one community's grids), EPSG:4326."""
    where = "g.valid_to IS NULL" + (" AND a.code = :community" if community_code else "")
    return _grids_where(session, where, {"community": community_code})


def instant(when: date | datetime) -> datetime:
    """A date means the end of that day in China Standard Time; a naive datetime is read as CST."""
    if isinstance(when, datetime):
        return when if when.tzinfo is not None else when.replace(tzinfo=CHINA_TZ)
    return datetime.combine(when + timedelta(days=1), time(0), tzinfo=CHINA_TZ) - timedelta(microseconds=1)


def grids_on(session: Session, when: date | datetime, community_code: str | None = None) -> gpd.GeoDataFrame:
    """The grids as they were at ``when``: rows with ``valid_from ≤ when < valid_to`` (or still open).

    A :class:`~datetime.date` means the end of that day, China Standard Time (UTC+8): the boundaries
    in force when the day closed. A naive datetime is read as China Standard Time.
    """
    where = "g.valid_from <= :t AND (g.valid_to IS NULL OR g.valid_to > :t)"
    if community_code:
        where += " AND a.code = :community"
    return _grids_where(session, where, {"t": instant(when), "community": community_code})


def history(session: Session, code: str) -> list[GridVersion]:
    """Every version of grid ``code``, oldest first (:class:`NotFoundError` if there is none)."""
    rows = session.execute(
        text(
            "SELECT g.id, g.code, g.version, g.name, a.code AS community_code, g.households, g.population, "
            "g.status, g.valid_from, g.valid_to, ST_AsBinary(g.geom) AS wkb "
            "FROM grid g JOIN admin_area a ON a.id = g.community_id WHERE g.code = :code ORDER BY g.version"
        ),
        {"code": code},
    ).all()
    if not rows:
        raise NotFoundError(f"no grid with code {code!r}", field="code", feature=code, rule="an existing grid")
    return [
        GridVersion(r.id, r.code, r.version, r.community_code, r.households, r.population, r.status,
                    r.valid_from, r.valid_to, shapely.from_wkb(bytes(r.wkb)), r.name)
        for r in rows
    ]


def tallies(session: Session, geometries: Mapping[str, shapely.Geometry]) -> dict[str, int]:
    """Households inside each geometry (EPSG:4326), counted independently, buildings at their
    representative point — the live tally for a boundary being drawn."""
    if not geometries:
        return {}
    bounds = shapely.union_all([shapely.envelope(g) for g in geometries.values()]).bounds
    buildings = _read_gdf(
        session,
        "SELECT id, households, geom FROM building "
        "WHERE geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)",
        dict(zip(("minx", "miny", "maxx", "maxy"), bounds, strict=True)),
        index="id",
    )
    return tally(geometries, buildings)


def validate(
    session: Session,
    place: Community,
    grids: Mapping[str, shapely.Geometry],
    *,
    buildings: gpd.GeoDataFrame | None = None,
    min_households: int,
    max_households: int,
    pieces: pd.DataFrame | None = None,
    check_recorded: bool = False,
) -> list[GridProblem]:
    """The problems of ``grids`` as the community's grids (``buildings``: its buildings, if loaded);
    ``check_recorded``: also buildings whose recorded grid is not the one they lie in."""
    codes = sorted(grids)
    frame = gpd.GeoDataFrame({"code": codes}, geometry=[grids[c] for c in codes], crs=SRID)
    problems = validate_grids(
        frame,
        load_buildings(session, place.code) if buildings is None else buildings,
        place.geom,
        complexes=load_complexes(session, place.code),
        min_households=min_households,
        max_households=max_households,
        pieces=pieces,
        check_recorded=check_recorded,
    )
    return name_grid_problems(session, problems)


def validate_community(
    session: Session,
    community_code: str,
    *,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
) -> list[GridProblem]:
    """Validate a community's current grids against its buildings and complexes (see
    :func:`gisgrid.grids.validate_grids`). A community with no published grid is a
    :class:`~gisgrid.errors.NotFoundError` that says to plan first — not one gap the size of the
    community and every building "in no grid"."""
    place = community(session, community_code)
    rows = current_rows(session, place.id)
    if not rows:
        raise NotFoundError(
            f"community {community_code} has no published grids yet: plan and publish them first "
            f"(gisgrid grids plan --community {community_code} --publish, or POST /api/v1/grids/plan "
            "with publish=true), then validate",
            field="community",
            feature=community_code,
            rule="grids are published before they are validated",
        )
    parts = load_parts(session, community_code)
    return validate(
        session, place, {c: r.geom for c, r in rows.items()},
        min_households=min_households, max_households=max_households, check_recorded=True,
        pieces=parts if len(parts) else None,
    )
