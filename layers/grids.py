"""Versioned grid boundaries in PostGIS: publish a plan, history, "as of date D", rollback, and edits.

Versions
--------
A grid row is one *version* of one code. Every change — publishing a plan, an edit, a rollback — closes
the current rows it touches (``valid_to = when``, ``status = 'retired'``) and inserts new rows
(``version = highest version of that code + 1``, or 1 for a new code; ``status = 'active'``;
``valid_from = when``). Nothing is deleted or overwritten, so an incident that points at an old row
(``incident.grid_id``) still resolves to the boundary valid when it was reported, and
:func:`grids_on` answers "what did the grids look like on date D". A rollback publishes an old
geometry as a *new* version. ``building.grid_code`` is updated to the current grids, and every change
writes one ``audit_log`` row (before/after versions and households per code).

Households
----------
As in :mod:`gisgrid.validate`: a building counts in the grid that covers its representative point
(GEOS point-on-surface), so a building on a boundary counts once. ``grid.households`` is stored from
that tally. (``population`` is entered by hand, not derived: it is carried over to the next version
while the households stay the same and reset to 0 when they change.)

Edits keep the community tiled
------------------------------
* :func:`replace_boundary` — the grid becomes the new polygon (clipped to the community); neighbours
  lose what it now covers, and each piece it gave up goes to the neighbour sharing the longest border
  with that piece (a piece touching no other grid stays with the grid).
* :func:`move_buildings` — buildings move between two neighbouring grids *with their cells*: the
  source grid is cut into Voronoi cells of its buildings' representative points (clipped to the grid),
  and the cells of the moved buildings change sides. Each cell holds exactly one building's point, so
  the tallies change by exactly the moved households. Nothing new is stored: cells are derived on the fly.
* :func:`split_grid` — by a line drawn across the grid (exactly two parts), or by two building sets
  (cells as above). The part with more households keeps the code; the other gets the next free sequence
  number of the community (codes are stable identifiers; re-planning renumbers).
* :func:`merge_grids` — two neighbours become one; the lower code (or ``keep``) survives, the other is
  retired.

Optimistic locking
------------------
Every edit takes ``expected_version`` (the version the planner's map shows). Writers first lock the
community row (``SELECT … FOR NO KEY UPDATE`` on ``admin_area`` — edits reshape neighbours, so the
community is the unit of serialisation) and then the community's current grid rows
(``SELECT … FOR UPDATE``), and compare versions under those locks: a mismatch raises
:class:`~gisgrid.errors.ConflictError` with ``details={"current_version": n, ...}``. Two planners who
start from the same version therefore get one success and one conflict, never a silent overwrite.

``dry_run=True`` computes the new tallies and validation without locking or writing anything (for
the live tally while drawing); the version check still runs, without locks.

All functions take a session in a transaction and never commit: the caller's unit of work does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ, MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import ConflictError, GeometryError, InvalidInputError, NotFoundError
from gisgrid.grids import GridProblem, building_points, problems_to_geojson, validate_grids
from layers.models import AuditLog

__all__ = [
    "CHINA_TZ",
    "MAX_HOUSEHOLDS",
    "MIN_HOUSEHOLDS",
    "EditResult",
    "GridVersion",
    "PublishResult",
    "community_geometry",
    "current_grids",
    "grids_on",
    "history",
    "load_buildings",
    "load_complexes",
    "load_grid_layers",
    "merge_grids",
    "move_buildings",
    "publish_plan",
    "replace_boundary",
    "rollback",
    "split_grid",
    "tallies",
    "validate_community",
]

SRID = 4326
#: China Standard Time: a bare date D in :func:`grids_on` means the end of D here.
_EPS = 1e-8  # degrees (about 1 mm): adjacency tolerance
_NOISE = 1e-13  # square degrees (about 0.001 m²): overlay crumbs dropped from results
_CODE_15 = re.compile(r"^[0-9]{15}$")


# ------------------------------------------------------------------------------------------ results


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
class PublishResult:
    """What publishing a plan did: new versions and households per code, codes retired, problems."""

    community_code: str
    when: datetime
    versions: dict[str, int]
    households: dict[str, int]
    retired: list[str]
    problems: list[GridProblem]

    def to_dict(self) -> dict[str, Any]:
        return {
            "community_code": self.community_code,
            "when": self.when.isoformat(),
            "versions": self.versions,
            "households": self.households,
            "retired": self.retired,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class EditResult:
    """The outcome of an edit (or of its dry run).

    ``households`` are the new tallies of every grid the edit changed; ``versions`` the version each
    changed grid has (dry run: would have) afterwards, ``previous_versions`` the versions it replaced;
    ``retired`` codes that stop being current; ``problems`` the validation of the whole community after
    the edit; ``geometries`` the new boundaries of the changed grids (EPSG:4326).
    """

    action: str
    community_code: str
    dry_run: bool
    households: dict[str, int]
    versions: dict[str, int]
    previous_versions: dict[str, int]
    retired: list[str]
    problems: list[GridProblem]
    geometries: dict[str, shapely.Geometry] = field(default_factory=dict)
    when: datetime | None = None

    @property
    def errors(self) -> list[GridProblem]:
        return [p for p in self.problems if p.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        features = [
            {
                "type": "Feature",
                "id": code,
                "properties": {
                    "code": code,
                    "version": self.versions.get(code),
                    "previous_version": self.previous_versions.get(code),
                    "households": self.households.get(code),
                },
                "geometry": mapping(geom),
            }
            for code, geom in sorted(self.geometries.items())
        ]
        return {
            "action": self.action,
            "community_code": self.community_code,
            "dry_run": self.dry_run,
            "when": self.when.isoformat() if self.when else None,
            "households": self.households,
            "versions": self.versions,
            "previous_versions": self.previous_versions,
            "retired": self.retired,
            "valid": not self.errors,
            "problems": [p.to_dict() for p in self.problems],
            "problem_locations": problems_to_geojson(self.problems),
            "grids": {"type": "FeatureCollection", "features": features},
        }


# ------------------------------------------------------------------------------------------ reading


@dataclass
class _Community:
    id: int
    code: str
    name: str
    geom: shapely.Geometry


@dataclass
class _Row:
    id: int
    code: str
    version: int
    name: str | None
    households: int
    population: int
    valid_from: datetime
    geom: shapely.Geometry


def _community(session: Session, code: str, *, lock: bool = False) -> _Community:
    sql = "SELECT id, code, name, level, ST_AsBinary(geom) AS wkb FROM admin_area WHERE code = :code"
    # NO KEY UPDATE: serialises grid writers of this community but lets inserts that merely reference
    # the row (buildings, incidents: FOR KEY SHARE) go ahead
    row = session.execute(text(sql + (" FOR NO KEY UPDATE" if lock else "")), {"code": code}).one_or_none()
    if row is None or row.level != "community":
        raise NotFoundError(
            f"no community with code {code!r}", field="community_code", feature=code,
            rule="an existing community (12-digit code)",
        )
    return _Community(row.id, row.code, row.name, shapely.from_wkb(bytes(row.wkb)))


def community_geometry(session: Session, community_code: str) -> shapely.Geometry:
    """The community's polygon (EPSG:4326); :class:`NotFoundError` for an unknown community code."""
    return _community(session, community_code).geom


def _community_of_grid(session: Session, code: str) -> str:
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


def _current_rows(session: Session, community_id: int, *, lock: bool = False) -> dict[str, _Row]:
    sql = (
        "SELECT id, code, version, name, households, population, valid_from, ST_AsBinary(geom) AS wkb "
        "FROM grid WHERE community_id = :cid AND valid_to IS NULL ORDER BY code"
    )
    rows = session.execute(text(sql + (" FOR UPDATE" if lock else "")), {"cid": community_id}).all()
    return {
        r.code: _Row(r.id, r.code, r.version, r.name, r.households, r.population, r.valid_from,
                     shapely.from_wkb(bytes(r.wkb)))
        for r in rows
    }


def _latest_versions(session: Session, codes: Iterable[str]) -> dict[str, int]:
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


def load_buildings(session: Session, community_code: str) -> gpd.GeoDataFrame:
    """The community's buildings (representative point inside it): ``households``, ``complex_id``,
    ``grid_code``, footprint; indexed by building id."""
    return _read_gdf(
        session,
        """
        SELECT b.id, b.name, b.households, b.complex_id, b.grid_code, b.geom
        FROM building b JOIN admin_area c ON c.code = :code
        WHERE b.geom && c.geom AND ST_Intersects(c.geom, ST_PointOnSurface(b.geom))
        ORDER BY b.id
        """,
        {"code": community_code},
        index="id",
    )


def load_complexes(session: Session, community_code: str) -> gpd.GeoDataFrame:
    """Complexes whose interior meets the community, indexed by complex id."""
    return _read_gdf(
        session,
        """
        SELECT x.id, x.name, x.management, x.geom
        FROM complex x JOIN admin_area c ON c.code = :code
        WHERE x.geom && c.geom AND ST_Relate(x.geom, c.geom, 'T********')
        ORDER BY x.id
        """,
        {"code": community_code},
        index="id",
    )


_GRID_COLUMNS = """
    g.id, g.code, g.version, g.name, a.code AS community_code, g.households, g.population, g.status,
    g.valid_from, g.valid_to, g.geom
"""


def current_grids(session: Session, community_code: str | None = None) -> gpd.GeoDataFrame:
    """The current version of every grid (or of one community's grids), EPSG:4326."""
    where = "g.valid_to IS NULL" + (" AND a.code = :community" if community_code else "")
    return _read_gdf(
        session,
        f"SELECT {_GRID_COLUMNS} FROM grid g JOIN admin_area a ON a.id = g.community_id "
        f"WHERE {where} ORDER BY g.code",
        {"community": community_code},
    )


def _instant(when: date | datetime) -> datetime:
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
    return _read_gdf(
        session,
        f"SELECT {_GRID_COLUMNS} FROM grid g JOIN admin_area a ON a.id = g.community_id "
        f"WHERE {where} ORDER BY g.code",
        {"t": _instant(when), "community": community_code},
    )


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
    b = _read_gdf(
        session,
        "SELECT id, households, geom FROM building "
        "WHERE geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)",
        dict(zip(("minx", "miny", "maxx", "maxy"), bounds, strict=True)),
        index="id",
    )
    return _tally(geometries, b)


def _tally(geometries: Mapping[str, shapely.Geometry], buildings: gpd.GeoDataFrame) -> dict[str, int]:
    out = {code: 0 for code in geometries}
    if buildings.empty:
        return out
    points = building_points(buildings)
    hh = buildings["households"].to_numpy(dtype=np.int64)
    for code, geom in geometries.items():
        if geom is None or geom.is_empty:
            continue
        inside = shapely.covered_by(points, geom)
        out[code] = int(hh[inside].sum())
    return out


def _assign(grids: Mapping[str, shapely.Geometry], buildings: gpd.GeoDataFrame) -> pd.Series:
    """Building id → code of the first grid (in code order) covering its representative point, or None."""
    codes = sorted(grids)
    result = pd.Series([None] * len(buildings), index=buildings.index, dtype=object)
    if not codes or buildings.empty:
        return result
    points = building_points(buildings)
    for code in reversed(codes):  # the lowest code wins where grids overlap
        result[shapely.covered_by(points, grids[code])] = code
    return result


# ------------------------------------------------------------------------------------------ validation


def _validate(
    session: Session,
    community: _Community,
    grids: Mapping[str, shapely.Geometry],
    *,
    buildings: gpd.GeoDataFrame | None = None,
    min_households: int,
    max_households: int,
    pieces: pd.DataFrame | None = None,
) -> list[GridProblem]:
    codes = sorted(grids)
    frame = gpd.GeoDataFrame({"code": codes}, geometry=[grids[c] for c in codes], crs=SRID)
    b = load_buildings(session, community.code) if buildings is None else buildings
    return validate_grids(
        frame,
        b,
        community.geom,
        complexes=load_complexes(session, community.code),
        min_households=min_households,
        max_households=max_households,
        pieces=pieces,
    )


def validate_community(
    session: Session,
    community_code: str,
    *,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
) -> list[GridProblem]:
    """Validate a community's current grids against its buildings and complexes (see
    :func:`gisgrid.validate.validate_grids`)."""
    community = _community(session, community_code)
    rows = _current_rows(session, community.id)
    return _validate(
        session, community, {c: r.geom for c, r in rows.items()},
        min_households=min_households, max_households=max_households,
    )


def load_grid_layers(
    session: Session,
    community_code: str | None = None,
    *,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
    with_buildings: bool | None = None,
) -> dict[str, Any]:
    """The grid map's inputs, keyed like :func:`gisgrid.maps.build_grid_map`'s arguments.

    ``grids`` (current versions: code, version, households, community_code), ``problems`` (validation of
    every community shown) and ``buildings`` (footprints; by default only when one community is asked
    for — a whole district's buildings make a heavy page).
    """
    grids = current_grids(session, community_code)
    problems: list[GridProblem] = []
    for code in sorted(set(grids["community_code"])) if len(grids) else []:
        problems.extend(
            validate_community(session, code, min_households=min_households, max_households=max_households)
        )
    if with_buildings is None:
        with_buildings = community_code is not None
    buildings = load_buildings(session, community_code) if with_buildings and community_code else None
    return {"grids": grids, "problems": problems, "buildings": buildings}


# ------------------------------------------------------------------------------------------ writing


def _now() -> datetime:
    return datetime.now(UTC)


def _clean(geom: Any, *, field_name: str = "geometry", feature: Any = None) -> shapely.Geometry:
    """A valid polygonal geometry (MultiPolygon) from input, or a GeometryError naming the field."""
    if isinstance(geom, Mapping):
        try:
            geom = shapely.geometry.shape(geom)
        except Exception as exc:  # shapely raises several kinds for malformed GeoJSON
            raise GeometryError(
                f"the {field_name} is not a valid GeoJSON geometry: {exc}", field=field_name, feature=feature,
                rule="a GeoJSON Polygon or MultiPolygon",
            ) from exc
    if not isinstance(geom, shapely.Geometry) or geom.is_empty:
        raise GeometryError(
            f"the {field_name} is empty or missing", field=field_name, feature=feature,
            rule="a non-empty Polygon or MultiPolygon",
        )
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise GeometryError(
            f"the {field_name} is a {geom.geom_type}; a Polygon or MultiPolygon is needed",
            field=field_name, feature=feature, rule="a Polygon or MultiPolygon",
        )
    if not geom.is_valid:
        raise GeometryError(
            f"the {field_name} is not valid: {shapely.is_valid_reason(geom)}", field=field_name,
            feature=feature, rule="a valid polygon (OGC)",
        )
    return _multi(geom)


def _multi(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygonal parts of ``geom`` without overlay crumbs, as a valid MultiPolygon (maybe empty)."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [
        p for p in shapely.get_parts(geom)
        if p.geom_type == "Polygon" and p.area > _NOISE
    ]
    if not parts:
        for p in shapely.get_parts(geom):
            if p.geom_type == "MultiPolygon":
                parts.extend(q for q in p.geoms if q.area > _NOISE)
    return shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon()


def _empty(geom: shapely.Geometry | None) -> bool:
    return geom is None or geom.is_empty or geom.area <= _NOISE


def _same(a: shapely.Geometry | None, b: shapely.Geometry | None) -> bool:
    if _empty(a) or _empty(b):
        return _empty(a) and _empty(b)
    return bool(shapely.symmetric_difference(a, b).area <= _NOISE)


def _border(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Length (degrees) of ``a``'s boundary lying on ``b`` (within about 1 mm): > 0 for neighbours."""
    if _empty(a) or _empty(b):
        return 0.0
    return float(shapely.intersection(shapely.boundary(a), shapely.buffer(b, _EPS)).length)


def _lock(
    session: Session, community_code: str, expected: Mapping[str, int | None], *, lock: bool
) -> tuple[_Community, dict[str, _Row]]:
    """Lock the community and its current grids (unless ``lock`` is False) and check versions."""
    community = _community(session, community_code, lock=lock)
    rows = _current_rows(session, community.id, lock=lock)
    for code, version in sorted(expected.items()):
        row = rows.get(code)
        if row is None:
            latest = _latest_versions(session, [code]).get(code)
            if latest is None:
                raise NotFoundError(
                    f"no grid with code {code!r} in community {community_code}", field="code", feature=code,
                    rule="an existing grid",
                )
            if version is None:
                continue
            raise ConflictError(
                f"grid {code} is no longer current (its last version {latest} was retired); "
                "reload the grids and edit again",
                field="expected_version", feature=code, rule="edit the current version",
                details={"code": code, "expected_version": version, "current_version": None,
                         "latest_version": latest},
            )
        if version is not None and row.version != version:
            raise ConflictError(
                f"grid {code} is at version {row.version}, not {version}: someone else changed it; "
                "reload the grid and edit again",
                field="expected_version", feature=code, rule="expected_version must be the current version",
                details={"code": code, "expected_version": version, "current_version": row.version},
            )
    return community, rows


def _write(
    session: Session,
    community: _Community,
    rows: Mapping[str, _Row],
    new: Mapping[str, shapely.Geometry],
    retire: Iterable[str],
    *,
    when: datetime,
    buildings: gpd.GeoDataFrame,
    user_id: int | None,
    action: str,
    entity_id: str,
    households: Mapping[str, int],
    note: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Close the rows of changed/retired codes, insert the new versions, update buildings, audit."""
    retire = sorted(set(retire))
    touched = sorted(set(new) | set(retire))
    for code in touched:
        row = rows.get(code)
        if row is not None and not when > row.valid_from:
            raise InvalidInputError(
                f"the change time {when.isoformat()} is not after grid {code}'s version {row.version} "
                f"({row.valid_from.isoformat()})", field="when", feature=code,
                rule="a new version starts after the one it replaces",
            )
    for code in touched:
        row = rows.get(code)
        if row is not None:
            session.execute(
                text("UPDATE grid SET valid_to = :when, status = 'retired' WHERE id = :id"),
                {"when": when, "id": row.id},
            )
    latest = _latest_versions(session, new)
    versions: dict[str, int] = {}
    for code in sorted(new):
        row = rows.get(code)
        version = latest.get(code, 0) + 1
        versions[code] = version
        population = row.population if row is not None and row.households == households[code] else 0
        session.execute(
            text(
                "INSERT INTO grid (code, version, name, community_id, households, population, status, "
                "valid_from, geom) VALUES (:code, :version, :name, :cid, :households, :population, 'active', "
                ":when, ST_Multi(ST_GeomFromWKB(:wkb, 4326)))"
            ),
            {"code": code, "version": version, "name": row.name if row else None, "cid": community.id,
             "households": households[code], "population": population, "when": when,
             "wkb": shapely.to_wkb(new[code])},
        )

    current = {c: r.geom for c, r in rows.items() if c not in retire}
    current.update(new)
    assignment = _assign(current, buildings)
    changed = [
        (int(bid), code) for bid, code, old in zip(buildings.index, assignment, buildings["grid_code"], strict=True)
        if (code or None) != (old if isinstance(old, str) else None)
    ]
    if changed:
        session.execute(
            text(
                "UPDATE building b SET grid_code = v.code FROM "
                "(SELECT unnest(CAST(:ids AS integer[])) AS id, unnest(CAST(:codes AS varchar[])) AS code) v "
                "WHERE b.id = v.id"
            ),
            {"ids": [c[0] for c in changed], "codes": [c[1] for c in changed]},
        )
    session.add(
        AuditLog(
            user_id=user_id,
            action=action,
            entity="grid",
            entity_id=entity_id,
            before={
                c: {"version": rows[c].version, "households": rows[c].households} for c in touched if c in rows
            },
            after={
                **{c: {"version": versions[c], "households": households[c]} for c in versions},
                **{c: {"retired": True} for c in retire},
                **({"note": dict(note)} if note else {}),
            },
        )
    )
    session.flush()
    return versions


def _finish(
    session: Session,
    action: str,
    community: _Community,
    rows: Mapping[str, _Row],
    new: dict[str, shapely.Geometry],
    retire: Iterable[str],
    *,
    dry_run: bool,
    user_id: int | None,
    entity_id: str,
    min_households: int,
    max_households: int,
    note: Mapping[str, Any] | None = None,
) -> EditResult:
    """Drop unchanged grids, tally, validate the community as it would be, and write unless a dry run."""
    retire = sorted(set(retire))
    new = {c: g for c, g in new.items() if c not in retire and not (c in rows and _same(g, rows[c].geom))}
    for code, geom in new.items():
        if _empty(geom):
            raise InvalidInputError(
                f"the edit would leave grid {code} empty; merge it instead", field="geometry", feature=code,
                rule="every grid keeps some area",
            )
    buildings = load_buildings(session, community.code)
    households = _tally(new, buildings)
    after = {c: r.geom for c, r in rows.items() if c not in retire}
    after.update(new)
    problems = _validate(
        session, community, after, buildings=buildings,
        min_households=min_households, max_households=max_households,
    )
    previous = {c: rows[c].version for c in sorted(set(new) | set(retire)) if c in rows}
    when = _now()
    if dry_run:
        latest = _latest_versions(session, new)
        versions = {c: latest.get(c, 0) + 1 for c in sorted(new)}
    else:
        versions = _write(
            session, community, rows, new, retire, when=when, buildings=buildings, user_id=user_id,
            action=action, entity_id=entity_id, households=households, note=note,
        )
    return EditResult(
        action=action, community_code=community.code, dry_run=dry_run, households=households,
        versions=versions, previous_versions=previous, retired=retire, problems=problems,
        geometries=dict(new), when=None if dry_run else when,
    )


# ------------------------------------------------------------------------------------------ publish


def publish_plan(
    session: Session,
    community_code: str,
    plan_grids_gdf: gpd.GeoDataFrame,
    *,
    user_id: int | None,
    when: datetime | None = None,
    pieces: pd.DataFrame | None = None,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
    action: str = "publish_plan",
) -> PublishResult:
    """Make ``plan_grids_gdf`` (``code`` + polygon per grid) the community's current grids.

    Every current grid of the community is closed (``valid_to = when``, ``status = 'retired'``) and one
    new row per planned grid inserted (version = highest version of the code + 1, or 1), ``active``, with
    households tallied from the buildings (``pieces``: buildings the plan split by entrance, credited per
    piece). ``building.grid_code`` follows; one ``audit_log`` row records before and after. Codes must be
    15 digits starting with the community's code, each once; geometries valid polygons.
    """
    _community(session, community_code)  # an unknown community is a 404 before any plan check
    if "code" not in plan_grids_gdf.columns:
        raise InvalidInputError("the plan needs a 'code' column", field="code", rule="required column")
    if plan_grids_gdf.crs is None:
        raise InvalidInputError("the plan has no CRS; EPSG:4326 is expected", field="crs", rule="a CRS")
    plan = plan_grids_gdf.to_crs(SRID) if plan_grids_gdf.crs.to_epsg() != SRID else plan_grids_gdf
    if len(plan) == 0:
        raise InvalidInputError("the plan has no grids", field="grids", rule="at least one grid")
    new: dict[str, shapely.Geometry] = {}
    for code, geom in zip(plan["code"].astype(str), plan.geometry, strict=True):
        if not _CODE_15.match(code) or not code.startswith(community_code):
            raise InvalidInputError(
                f"grid code {code!r} must be 15 digits starting with the community code {community_code}",
                field="code", feature=code, rule="community code + 3-digit sequence",
            )
        if code in new:
            raise InvalidInputError(f"grid code {code} appears twice in the plan", field="code", feature=code,
                                    rule="unique codes")
        new[code] = _clean(geom, field_name="geometry", feature=code)

    community, rows = _lock(session, community_code, {}, lock=True)
    when = when or _now()
    buildings = load_buildings(session, community_code)
    if pieces is not None and len(pieces):
        households = _tally(new, buildings.drop(index=list(set(pieces["building"]) & set(buildings.index))))
        for row in pieces.itertuples(index=False):
            if str(row.grid_code) in households:
                households[str(row.grid_code)] += int(row.households)
    else:
        households = _tally(new, buildings)
    retire = [c for c in rows if c not in new]
    # every current row closes (even with an unchanged geometry: the plan is one new edition)
    all_rows = dict(rows)
    versions = _write(
        session, community, all_rows, new, retire, when=when, buildings=buildings, user_id=user_id,
        action=action, entity_id=community_code, households=households,
    )
    problems = _validate(
        session, community, new, buildings=buildings,
        min_households=min_households, max_households=max_households, pieces=pieces,
    )
    return PublishResult(community_code, when, versions, households, sorted(retire), problems)


# ------------------------------------------------------------------------------------------ edits


def _give_away(
    pieces: shapely.Geometry, grids: dict[str, shapely.Geometry], keeper: str
) -> None:
    """Hand each part of ``pieces`` to the grid (other than ``keeper``) with the longest border on it."""
    for part in shapely.get_parts(_multi(pieces)):
        best, length = keeper, 0.0
        for code, geom in grids.items():
            if code == keeper:
                continue
            border = _border(part, geom)
            if border > length:
                best, length = code, border
        grids[best] = _multi(shapely.union(grids[best], part))


def _boundary_edit(
    session: Session,
    code: str,
    geometry: Any,
    *,
    expected_version: int | None,
    user_id: int | None,
    dry_run: bool,
    action: str,
    min_households: int,
    max_households: int,
    note: Mapping[str, Any] | None = None,
) -> EditResult:
    community_code = _community_of_grid(session, code)
    community, rows = _lock(session, community_code, {code: expected_version}, lock=not dry_run)
    target = _multi(shapely.intersection(_clean(geometry, feature=code), community.geom))
    if _empty(target):
        raise GeometryError(
            f"the new boundary of grid {code} does not overlap its community {community_code}",
            field="geometry", feature=code, rule="inside the community",
        )
    grids = {c: r.geom for c, r in rows.items()}
    old = grids.get(code)
    result = {c: _multi(shapely.difference(g, target)) for c, g in grids.items() if c != code}
    result[code] = target
    if old is not None:
        _give_away(shapely.difference(old, target), result, code)
    retire = [c for c, g in result.items() if c != code and _empty(g)]
    for c in retire:
        del result[c]
    return _finish(
        session, action, community, rows, result, retire, dry_run=dry_run, user_id=user_id, entity_id=code,
        min_households=min_households, max_households=max_households, note=note,
    )


def replace_boundary(
    session: Session,
    code: str,
    geometry: Any,
    *,
    expected_version: int,
    user_id: int | None = None,
    dry_run: bool = False,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
) -> EditResult:
    """Give grid ``code`` a new boundary (a shapely or GeoJSON polygon, EPSG:4326; clipped to the
    community). Neighbours lose what it now covers and receive what it gives up; a neighbour covered
    entirely is retired."""
    return _boundary_edit(
        session, code, geometry, expected_version=expected_version, user_id=user_id, dry_run=dry_run,
        action="replace_boundary", min_households=min_households, max_households=max_households,
    )


def _cells(geom: shapely.Geometry, points: Sequence[shapely.Point]) -> list[shapely.Geometry]:
    """Voronoi cells of ``points`` clipped to ``geom``, one per point (same order)."""
    if len(points) == 1:
        return [geom]
    unique = shapely.MultiPoint(list(points))
    diagram = shapely.voronoi_polygons(unique, extend_to=shapely.buffer(shapely.envelope(geom), 0.001))
    raw = list(shapely.get_parts(diagram))
    tree = shapely.STRtree(raw)
    out: list[shapely.Geometry] = []
    for p in points:
        hits = tree.query(p, predicate="covered_by")
        cell = raw[int(hits[0])] if len(hits) else shapely.Polygon()
        out.append(_multi(shapely.intersection(cell, geom)))
    return out


def _check_neighbours(code_a: str, a: shapely.Geometry, code_b: str, b: shapely.Geometry) -> None:
    if _border(a, b) <= 0.0:
        raise InvalidInputError(
            f"grids {code_a} and {code_b} are not neighbours (they share no border)",
            field="to_code", feature=code_b, rule="the two grids share a border",
        )


def _buildings_in(
    session: Session, community: _Community, geom: shapely.Geometry
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    b = load_buildings(session, community.code)
    points = building_points(b) if len(b) else np.asarray([])
    inside = shapely.covered_by(points, geom) if len(b) else np.zeros(0, dtype=bool)
    return b[inside], points[inside]


def _ids(values: Iterable[Any], field_name: str) -> list[int]:
    out = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"building id {v!r} is not a number", field=field_name, feature=v, rule="integer ids"
            ) from exc
    if not out:
        raise InvalidInputError("no buildings given", field=field_name, rule="at least one building")
    if len(set(out)) != len(out):
        raise InvalidInputError("a building is listed twice", field=field_name, rule="unique ids")
    return out


def move_buildings(
    session: Session,
    from_code: str,
    to_code: str,
    building_ids: Iterable[Any],
    *,
    expected_versions: Mapping[str, int],
    user_id: int | None = None,
    dry_run: bool = False,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
) -> EditResult:
    """Move buildings (with their Voronoi cells) from grid ``from_code`` to its neighbour ``to_code``.

    ``expected_versions`` maps both codes to the versions the planner edited.
    """
    ids = _ids(building_ids, "building_ids")
    if from_code == to_code:
        raise InvalidInputError("from_code and to_code are the same grid", field="to_code", feature=to_code,
                                rule="two different grids")
    community_code = _community_of_grid(session, from_code)
    if _community_of_grid(session, to_code) != community_code:
        raise InvalidInputError(
            f"grids {from_code} and {to_code} lie in different communities", field="to_code", feature=to_code,
            rule="both grids in one community",
        )
    expected = {c: expected_versions.get(c) for c in (from_code, to_code)}
    community, rows = _lock(session, community_code, expected, lock=not dry_run)
    for c in (from_code, to_code):
        if c not in rows:
            raise ConflictError(f"grid {c} is no longer current", field="code", feature=c,
                                rule="edit the current version", details={"code": c, "current_version": None})
    source, dest = rows[from_code].geom, rows[to_code].geom
    _check_neighbours(from_code, source, to_code, dest)
    inside, points = _buildings_in(session, community, source)
    missing = [i for i in ids if i not in inside.index]
    if missing:
        raise InvalidInputError(
            f"building(s) {', '.join(map(str, missing))} are not in grid {from_code}", field="building_ids",
            feature=missing, rule="move buildings out of the grid they are in",
        )
    if len(ids) == len(inside):
        raise InvalidInputError(
            f"moving every building of grid {from_code} would empty it; merge the grids instead",
            field="building_ids", feature=from_code, rule="the source grid keeps at least one building",
        )
    cells = _cells(source, list(points))
    chosen = set(ids)
    moved = shapely.union_all([cell for bid, cell in zip(inside.index, cells, strict=True) if bid in chosen])
    new = {
        from_code: _multi(shapely.difference(source, moved)),
        to_code: _multi(shapely.union(dest, moved)),
    }
    return _finish(
        session, "move_buildings", community, rows, new, [], dry_run=dry_run, user_id=user_id,
        entity_id=from_code, min_households=min_households, max_households=max_households,
        note={"buildings": sorted(ids), "from": from_code, "to": to_code},
    )


def _next_code(session: Session, community_code: str) -> str:
    top = session.execute(
        text("SELECT max(substring(code from 13 for 3)::int) FROM grid WHERE code LIKE :prefix"),
        {"prefix": community_code + "%"},
    ).scalar_one_or_none()
    seq = int(top or 0) + 1
    if seq > 999:
        raise ConflictError(
            f"community {community_code} has used all 999 grid sequence numbers", field="code",
            feature=community_code, rule="at most 999 grid codes per community",
        )
    return f"{community_code}{seq:03d}"


def split_grid(
    session: Session,
    code: str,
    *,
    expected_version: int,
    line: Any = None,
    building_sets: tuple[Iterable[Any], Iterable[Any]] | None = None,
    new_code: str | None = None,
    user_id: int | None = None,
    dry_run: bool = False,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
) -> EditResult:
    """Split grid ``code`` in two — by a ``line`` (shapely or GeoJSON LineString across the grid, which
    must cut it into exactly two parts) or by ``building_sets`` (two lists of building ids that together
    are exactly the grid's buildings; each side gets its buildings' Voronoi cells).

    The part with more households keeps ``code`` (ties: the larger part); the other gets ``new_code``
    or the community's next free sequence number.
    """
    if (line is None) == (building_sets is None):
        raise InvalidInputError("give either a line or two building sets", field="line",
                                rule="exactly one of line, building_sets")
    community_code = _community_of_grid(session, code)
    community, rows = _lock(session, community_code, {code: expected_version}, lock=not dry_run)
    if code not in rows:
        raise ConflictError(f"grid {code} is no longer current", field="code", feature=code,
                            rule="edit the current version", details={"code": code, "current_version": None})
    geom = rows[code].geom
    if line is not None:
        cut = shapely.geometry.shape(line) if isinstance(line, Mapping) else line
        if not isinstance(cut, shapely.LineString | shapely.MultiLineString) or cut.is_empty:
            raise GeometryError("the split line must be a LineString", field="line", feature=code,
                                rule="a LineString across the grid")
        parts = list(shapely.get_parts(shapely.ops.split(geom, cut)))
        parts = [p for p in parts if p.area > _NOISE]
        if len(parts) != 2:
            raise InvalidInputError(
                f"the line cuts grid {code} into {len(parts)} part(s); it must cross the grid once, "
                "into exactly two parts", field="line", feature=code, rule="exactly two parts",
            )
        side_a, side_b = _multi(parts[0]), _multi(parts[1])
    else:
        assert building_sets is not None
        a_ids, b_ids = _ids(building_sets[0], "building_sets[0]"), _ids(building_sets[1], "building_sets[1]")
        inside, points = _buildings_in(session, community, geom)
        have = set(int(i) for i in inside.index)
        if set(a_ids) & set(b_ids) or set(a_ids) | set(b_ids) != have:
            raise InvalidInputError(
                f"the two building sets must divide grid {code}'s {len(have)} buildings between them, "
                "each building in exactly one set", field="building_sets", feature=code,
                rule="the sets partition the grid's buildings",
            )
        cells = _cells(geom, list(points))
        chosen = set(a_ids)
        side_a = _multi(
            shapely.intersection(
                shapely.union_all([c for bid, c in zip(inside.index, cells, strict=True) if bid in chosen]), geom
            )
        )
        side_b = _multi(shapely.difference(geom, side_a))
    if new_code is None:
        new_code = _next_code(session, community_code)
    elif not _CODE_15.match(new_code) or not new_code.startswith(community_code):
        raise InvalidInputError(
            f"new_code {new_code!r} must be 15 digits starting with {community_code}", field="new_code",
            feature=new_code, rule="community code + 3-digit sequence",
        )
    elif _latest_versions(session, [new_code]):
        raise ConflictError(f"grid code {new_code} is already in use (now or in the past)", field="new_code",
                            feature=new_code, rule="a code never used before")
    counts = _tally({"a": side_a, "b": side_b}, load_buildings(session, community_code))
    keep_a = (counts["a"], side_a.area) >= (counts["b"], side_b.area)
    new = {code: side_a if keep_a else side_b, new_code: side_b if keep_a else side_a}
    return _finish(
        session, "split_grid", community, rows, new, [], dry_run=dry_run, user_id=user_id, entity_id=code,
        min_households=min_households, max_households=max_households, note={"new_code": new_code},
    )


def merge_grids(
    session: Session,
    code_a: str,
    code_b: str,
    *,
    expected_versions: Mapping[str, int],
    keep: str | None = None,
    user_id: int | None = None,
    dry_run: bool = False,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
) -> EditResult:
    """Merge two neighbouring grids; ``keep`` (default: the lower code) survives, the other is retired."""
    if code_a == code_b:
        raise InvalidInputError("cannot merge a grid with itself", field="codes", feature=code_a,
                                rule="two different grids")
    keep = keep or min(code_a, code_b)
    if keep not in (code_a, code_b):
        raise InvalidInputError(f"keep must be {code_a} or {code_b}", field="keep", feature=keep,
                                rule="one of the merged codes")
    gone = code_b if keep == code_a else code_a
    community_code = _community_of_grid(session, code_a)
    if _community_of_grid(session, code_b) != community_code:
        raise InvalidInputError(
            f"grids {code_a} and {code_b} lie in different communities", field="codes", feature=code_b,
            rule="both grids in one community",
        )
    expected = {c: expected_versions.get(c) for c in (code_a, code_b)}
    community, rows = _lock(session, community_code, expected, lock=not dry_run)
    for c in (code_a, code_b):
        if c not in rows:
            raise ConflictError(f"grid {c} is no longer current", field="codes", feature=c,
                                rule="edit the current version", details={"code": c, "current_version": None})
    _check_neighbours(code_a, rows[code_a].geom, code_b, rows[code_b].geom)
    merged = _multi(shapely.union(rows[code_a].geom, rows[code_b].geom))
    return _finish(
        session, "merge_grids", community, rows, {keep: merged}, [gone], dry_run=dry_run, user_id=user_id,
        entity_id=keep, min_households=min_households, max_households=max_households,
        note={"merged": gone},
    )


def rollback(
    session: Session,
    target: str,
    *,
    to_version: int | None = None,
    to_date: date | datetime | None = None,
    user_id: int | None = None,
    expected_version: int | None = None,
    dry_run: bool = False,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
) -> EditResult | PublishResult:
    """Bring back an earlier boundary as a *new* version — history is never deleted.

    ``target`` is a grid code (15 digits) with ``to_version`` or ``to_date``: that grid's old geometry is
    applied like :func:`replace_boundary` (neighbours adjust; a retired code is reopened), returning an
    :class:`EditResult`. Or a community code (12 digits) with ``to_date``: the community's grids as of that
    date are published again as a plan (:func:`publish_plan`), returning a :class:`PublishResult`.
    """
    if len(target) == 12:
        if to_date is None or to_version is not None:
            raise InvalidInputError("a community is rolled back to a date (to_date), not a version",
                                    field="to_date", feature=target, rule="community rollback needs to_date")
        old = grids_on(session, to_date, target)
        if old.empty:
            raise NotFoundError(f"community {target} had no grids on {to_date}", field="to_date",
                                feature=target, rule="a date when the community had grids")
        if dry_run:
            raise InvalidInputError("a community rollback has no dry run; use grids_on to preview it",
                                    field="dry_run", feature=target, rule="dry_run for grid rollbacks only")
        return publish_plan(
            session, target, old[["code", "geometry"]], user_id=user_id, action="rollback",
            min_households=min_households, max_households=max_households,
        )
    if (to_version is None) == (to_date is None):
        raise InvalidInputError("give either to_version or to_date", field="to_version", feature=target,
                                rule="exactly one of to_version, to_date")
    versions = history(session, target)
    if to_version is not None:
        chosen = next((v for v in versions if v.version == to_version), None)
        if chosen is None:
            raise NotFoundError(f"grid {target} has no version {to_version}", field="to_version",
                                feature=target, rule="an existing version")
    else:
        assert to_date is not None
        t = _instant(to_date)
        chosen = next((v for v in versions if v.valid_from <= t and (v.valid_to is None or v.valid_to > t)), None)
        if chosen is None:
            raise NotFoundError(f"grid {target} did not exist on {to_date}", field="to_date", feature=target,
                                rule="a date when the grid existed")
    return _boundary_edit(
        session, target, chosen.geometry, expected_version=expected_version, user_id=user_id,
        dry_run=dry_run, action="rollback", min_households=min_households, max_households=max_households,
        note={"to_version": chosen.version},
    )
