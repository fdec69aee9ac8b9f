"""Versioned writes: lock a community, check the planner's versions, close rows and open new ones, and
publish a plan.

Every change closes the current rows it touches (``valid_to = when``, ``status = 'retired'``) and inserts
new rows (``version = highest version of that code + 1``, or 1 for a new code; ``status = 'active'``;
``valid_from = when``). Nothing is deleted or overwritten, so an incident that points at an old row
still resolves to the boundary valid when it was reported. ``building.grid_code`` follows the current
grids, and every change writes one ``audit_log`` row (before/after versions and households per code).
Incidents that have no grid get the new version that covers them (:func:`attach_incidents`): publishing
a community's first plan gives its earlier incidents their grids.
``population`` is entered by hand, not derived: it is carried over to the next version while the
households stay the same and reset to 0 when they change.

Building parts (``building_part``) are versioned the same way: publishing closes every current part of the
community's buildings and inserts the plan's; an edit closes the parts whose owner it changes
(:func:`gisgrid.grids.parts.parts_after_edit`) and inserts them with the new owner. A split building's
``building.grid_code`` is the grid holding most of its households (ties: the lower code).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import ConflictError, InvalidInputError, NotFoundError
from gisgrid.grids import GridProblem, problems_to_geojson
from gisgrid.grids.edit import GridEdit, assign, check_grid_code, clean_polygon, tally
from gisgrid.grids.parts import check_parts, owners, parts_after_edit, parts_from_pieces
from layers.grids.queries import (
    SRID,
    Community,
    GridRow,
    community,
    current_rows,
    latest_versions,
    load_buildings,
    load_parts,
    validate,
)
from layers.models import AuditLog


@dataclass
class PublishResult:
    """What publishing a plan did: new versions and households per code, codes retired, problems."""

    community_code: str
    when: datetime
    versions: dict[str, int]
    households: dict[str, int]
    retired: list[str]
    problems: list[GridProblem]
    incidents_attached: int = 0
    parts: int = 0  # building parts stored (rows of the split buildings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "community_code": self.community_code,
            "when": self.when.isoformat(),
            "versions": self.versions,
            "households": self.households,
            "retired": self.retired,
            "problems": [p.to_dict() for p in self.problems],
            "incidents_attached": self.incidents_attached,
            "parts": self.parts,
        }


@dataclass
class EditResult:
    """The outcome of an edit (or of its dry run).

    ``households`` are the new tallies of every grid the edit changed; ``versions`` the version each
    changed grid has (dry run: would have) afterwards, ``previous_versions`` the versions it replaced;
    ``retired`` codes that stop being current; ``problems`` the validation of the whole community after
    the edit; ``geometries`` the new boundaries of the changed grids (EPSG:4326); ``parts_moved`` the
    building parts whose owner the edit changes (``building``, ``part_no``, ``from``, ``to``).
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
    parts_moved: list[dict[str, Any]] = field(default_factory=list)

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
            "parts_moved": self.parts_moved,
            "valid": not self.errors,
            "problems": [p.to_dict() for p in self.problems],
            "problem_locations": problems_to_geojson(self.problems),
            "grids": {"type": "FeatureCollection", "features": features},
        }


def now() -> datetime:
    return datetime.now(UTC)


def lock_community(
    session: Session, community_code: str, expected: Mapping[str, int | None], *, lock: bool
) -> tuple[Community, dict[str, GridRow]]:
    """Lock the community and its current grids (unless ``lock`` is False) and check versions.

    The community is the unit of serialisation because edits reshape neighbours: its row is locked
    first, then its current grid rows, and the versions are compared under those locks. An expected
    version of None accepts a code that is no longer current (a rollback reopens it).
    """
    place = community(session, community_code, lock=lock)
    rows = current_rows(session, place.id, lock=lock)
    for code, version in sorted(expected.items()):
        row = rows.get(code)
        if row is None:
            latest = latest_versions(session, [code]).get(code)
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
    return place, rows


def write(
    session: Session,
    place: Community,
    rows: Mapping[str, GridRow],
    change: GridEdit,
    *,
    when: datetime,
    buildings: gpd.GeoDataFrame,
    user_id: int | None,
    action: str,
    entity_id: str,
    households: Mapping[str, int],
    note: Mapping[str, Any] | None = None,
    parts: pd.DataFrame | None = None,
) -> dict[str, int]:
    """Close the rows of changed/retired codes, insert the new versions, update buildings (a split
    building, one with ``parts``, goes to the grid holding most of its households), audit."""
    new, retire = change.grids, sorted(change.retired)
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
    latest = latest_versions(session, new)
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
            {"code": code, "version": version, "name": row.name if row else None, "cid": place.id,
             "households": households[code], "population": population, "when": when,
             "wkb": shapely.to_wkb(new[code])},
        )

    assignment = assign(change.after({c: r.geom for c, r in rows.items()}), buildings)
    if parts is not None and len(parts):
        for building, owner in owners(parts).items():
            if building in assignment.index:
                assignment[building] = owner
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


# The lowest grid id wins on a shared boundary, as at intake (layers/incidents/bulk.py, GridLocator).
_ATTACH_SQL = text("""
    UPDATE incident i SET grid_id = m.grid_id, grid_code = m.code
    FROM (SELECT DISTINCT ON (x.id) x.id, g.id AS grid_id, g.code
          FROM grid g JOIN incident x ON x.geom && g.geom AND ST_Covers(g.geom, x.geom)
          WHERE g.community_id = :cid AND g.valid_to IS NULL AND g.code = ANY(:codes) AND x.grid_id IS NULL
          ORDER BY x.id, g.id) m
    WHERE i.id = m.id
""")


def attach_incidents(session: Session, community_id: int, codes: list[str]) -> int:
    """Give the incidents that have no grid the new current version of ``codes`` that covers them.

    An incident reported where no grid was yet (before the community's first plan was published, or in
    a gap) is otherwise counted by no grid for ever: the per-grid KPIs and heat maps miss it. An incident
    that has a grid keeps it — the boundary valid when it was reported. Every status counts, closed ones
    included (their grid is what the KPIs group by). Returns how many incidents got a grid.
    """
    if not codes:
        return 0
    result = session.execute(_ATTACH_SQL, {"cid": community_id, "codes": sorted(codes)})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # an UPDATE's CursorResult


def finish(
    session: Session,
    action: str,
    place: Community,
    rows: Mapping[str, GridRow],
    change: GridEdit,
    *,
    dry_run: bool,
    user_id: int | None,
    entity_id: str,
    min_households: int,
    max_households: int,
    note: Mapping[str, Any] | None = None,
    move: tuple[str, str] | None = None,
) -> EditResult:
    """Tally the changed grids, validate the community as it would be, and write unless a dry run.

    The community's building parts follow :func:`gisgrid.grids.parts.parts_after_edit` (``move``: the
    grids a move took buildings from and to) and are counted part by part."""
    buildings = load_buildings(session, place.code)
    before = {c: r.geom for c, r in rows.items()}
    after = change.after(before)
    parts = load_parts(session, place.code)
    new_parts = parts_after_edit(parts, before, after, buildings, moved=change.moved, move=move)
    pieces = new_parts if len(new_parts) else None
    households = tally(change.grids, buildings, pieces=pieces)
    problems = validate(
        session, place, after, buildings=buildings,
        min_households=min_households, max_households=max_households, pieces=pieces,
    )
    previous = {c: rows[c].version for c in sorted(set(change.grids) | set(change.retired)) if c in rows}
    when = now()
    if dry_run:
        latest = latest_versions(session, change.grids)
        versions = {c: latest.get(c, 0) + 1 for c in sorted(change.grids)}
    else:
        versions = write(
            session, place, rows, change, when=when, buildings=buildings, user_id=user_id,
            action=action, entity_id=entity_id, households=households, note=note, parts=pieces,
        )
        attach_incidents(session, place.id, sorted(versions))
        _store_moved(session, parts, new_parts, when)
    return EditResult(
        action=action, community_code=place.code, dry_run=dry_run, households=households,
        versions=versions, previous_versions=previous, retired=list(change.retired), problems=problems,
        geometries=dict(change.grids), when=None if dry_run else when,
        parts_moved=moved_parts(parts, new_parts),
    )


_INSERT_PART = text(
    "INSERT INTO building_part (building_id, part_no, kind, entrance_from, entrance_to, floor_from, floor_to, "
    "households, grid_code, valid_from) VALUES (:building, :part_no, :kind, :entrance_from, :entrance_to, "
    ":floor_from, :floor_to, :households, :grid_code, :when)"
)


def _part_rows(parts: pd.DataFrame, when: datetime) -> list[dict[str, Any]]:
    def plain(v: Any) -> Any:
        return None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v

    return [
        {"building": int(r.building), "part_no": int(r.part_no), "kind": r.kind,
         **{k: None if plain(getattr(r, k)) is None else int(getattr(r, k))
            for k in ("entrance_from", "entrance_to", "floor_from", "floor_to")},
         "households": int(r.households), "grid_code": plain(r.grid_code), "when": when}
        for r in parts.itertuples(index=False)
    ]


def replace_parts(session: Session, building_ids: list[int], parts: pd.DataFrame, when: datetime) -> None:
    """Close every current part of ``building_ids`` and store ``parts`` as their current parts."""
    session.execute(
        text("UPDATE building_part SET valid_to = :when WHERE valid_to IS NULL AND building_id = ANY(:ids)"),
        {"when": when, "ids": building_ids},
    )
    rows = _part_rows(parts, when)
    if rows:
        session.execute(_INSERT_PART, rows)


def moved_parts(before: pd.DataFrame, after: pd.DataFrame) -> list[dict[str, Any]]:
    """The parts whose owner differs between two frames of the same parts (same order)."""
    return [
        {"building": int(b), "part_no": int(n), "from": old, "to": new}
        for b, n, old, new in zip(before["building"], before["part_no"], before["grid_code"], after["grid_code"],
                                  strict=True)
        if old != new
    ]


def _store_moved(session: Session, before: pd.DataFrame, after: pd.DataFrame, when: datetime) -> None:
    """Close the rows of the parts whose owner changed and insert them with the new owner."""
    changed = [i for i, (old, new) in enumerate(zip(before["grid_code"], after["grid_code"], strict=True))
               if old != new]
    if not changed:
        return
    session.execute(text("UPDATE building_part SET valid_to = :when WHERE id = ANY(:ids)"),
                    {"when": when, "ids": [int(before["id"].iloc[i]) for i in changed]})
    session.execute(_INSERT_PART, _part_rows(after.iloc[changed], when))


def _plan_geometries(community_code: str, plan: gpd.GeoDataFrame) -> dict[str, shapely.Geometry]:
    """Code → clean polygon of every planned grid, or the first reason the plan cannot be published."""
    if "code" not in plan.columns:
        raise InvalidInputError("the plan needs a 'code' column", field="code", rule="required column")
    if plan.crs is None:
        raise InvalidInputError("the plan has no CRS; EPSG:4326 is expected", field="crs", rule="a CRS")
    if plan.crs.to_epsg() != SRID:
        plan = plan.to_crs(SRID)
    if len(plan) == 0:
        raise InvalidInputError("the plan has no grids", field="grids", rule="at least one grid")
    new: dict[str, shapely.Geometry] = {}
    for code, geom in zip(plan["code"].astype(str), plan.geometry, strict=True):
        check_grid_code(code, community_code)
        if code in new:
            raise InvalidInputError(f"grid code {code} appears twice in the plan", field="code", feature=code,
                                    rule="unique codes")
        new[code] = clean_polygon(geom, feature=code)
    return new


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
    households tallied from the buildings. ``pieces`` are the buildings the plan split (one row per part
    or per entrance, :func:`gisgrid.grids.parts.parts_from_pieces`): they are credited part by part and
    become the community's building parts, replacing the ones it had (no ``pieces``: no building is
    split). ``building.grid_code`` follows; one ``audit_log`` row records before and after. Codes must be
    15 digits starting with the community's code, each once; geometries valid polygons; the parts of a
    building must sum to its households and belong to planned grids.
    """
    community(session, community_code)  # an unknown community is a 404 before any plan check
    new = _plan_geometries(community_code, plan_grids_gdf)
    parts = parts_from_pieces(pieces)
    place, rows = lock_community(session, community_code, {}, lock=True)
    when = when or now()
    buildings = load_buildings(session, community_code)
    check_parts(parts, {b: int(h) for b, h in zip(buildings.index, buildings["households"], strict=True)})
    for building, code in zip(parts["building"], parts["grid_code"], strict=True):
        if building not in buildings.index or code not in new:
            raise InvalidInputError(
                f"building {building}'s part is owned by {code}, which is not a planned grid, or the building "
                f"is not in community {community_code}", field="grid_code", feature=building,
                rule="every part of a building of the community owned by a planned grid")
    split = parts if len(parts) else None
    households = tally(new, buildings, pieces=split)
    # every current row closes, even with an unchanged geometry: the plan is one new edition
    change = GridEdit(new, tuple(sorted(c for c in rows if c not in new)))
    versions = write(
        session, place, rows, change, when=when, buildings=buildings, user_id=user_id,
        action=action, entity_id=community_code, households=households,
        note={"parts": len(parts)} if len(parts) else None, parts=split,
    )
    replace_parts(session, [int(i) for i in buildings.index], parts, when)
    attached = attach_incidents(session, place.id, sorted(versions))
    problems = validate(
        session, place, new, buildings=buildings,
        min_households=min_households, max_households=max_households, pieces=split,
    )
    return PublishResult(community_code, when, versions, households, list(change.retired), problems,
                         incidents_attached=attached, parts=len(parts))
