"""The planner's edits as flows: lock and check versions, load, apply the core edit, validate, write.

The geometry of every edit is :mod:`gisgrid.grids.edit`; this module adds what needs the database —
which community a grid is in, the expected versions under row locks (a mismatch is a
:class:`~gisgrid.errors.ConflictError` with ``details.current_version``), the community's buildings,
the next free grid code, and the versioned write (:mod:`layers.grids.versions`). ``dry_run=True``
computes the tallies and validation without locking or writing anything; the version check still runs,
without locks.

:func:`rollback` is an edit too: a grid gets an old boundary back as a new version, a community its
grids of a date (published again as a plan) with the building parts of that date.

Building parts follow every edit by the rule of :mod:`gisgrid.grids.parts` (a part keeps its grid unless
its building moves, its anchor changes grid or its grid is retired); the tallies count them part by part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS, grid_code
from gisgrid.errors import ConflictError, InvalidInputError, NotFoundError
from gisgrid.grids import edit as core
from layers.grids.queries import (
    Community,
    GridRow,
    community_of_grid,
    grids_on,
    history,
    instant,
    latest_versions,
    load_buildings,
    load_parts,
)
from layers.grids.versions import EditResult, PublishResult, finish, lock_community, publish_plan


def _geometries(rows: Mapping[str, GridRow]) -> dict[str, Any]:
    return {c: r.geom for c, r in rows.items()}


def _lock_pair(
    session: Session, code_a: str, code_b: str, expected_versions: Mapping[str, int], *, dry_run: bool,
    field: str, current_field: str,
) -> tuple[Community, dict[str, GridRow]]:
    """Lock the community of two grids (which must share one) and check that both are current."""
    community_code = community_of_grid(session, code_a)
    if community_of_grid(session, code_b) != community_code:
        raise InvalidInputError(
            f"grids {code_a} and {code_b} lie in different communities", field=field, feature=code_b,
            rule="both grids in one community",
        )
    expected = {c: expected_versions.get(c) for c in (code_a, code_b)}
    place, rows = lock_community(session, community_code, expected, lock=not dry_run)
    _require_current(rows, (code_a, code_b), current_field)
    return place, rows


def _require_current(rows: Mapping[str, GridRow], codes: Iterable[str], field: str) -> None:
    for c in codes:
        if c not in rows:
            raise ConflictError(f"grid {c} is no longer current", field=field, feature=c,
                                rule="edit the current version", details={"code": c, "current_version": None})


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
    community_code = community_of_grid(session, code)
    place, rows = lock_community(session, community_code, {code: expected_version}, lock=not dry_run)
    change = core.replace_boundary(_geometries(rows), code, geometry, place.geom)
    return finish(
        session, action, place, rows, change, dry_run=dry_run, user_id=user_id, entity_id=code,
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
    ids = core.building_ids(building_ids, "building_ids")  # malformed ids are refused before any lock
    place, rows = _lock_pair(
        session, from_code, to_code, expected_versions, dry_run=dry_run, field="to_code", current_field="code"
    )
    change = core.move_buildings(_geometries(rows), from_code, to_code, load_buildings(session, place.code), ids)
    return finish(
        session, "move_buildings", place, rows, change, dry_run=dry_run, user_id=user_id,
        entity_id=from_code, min_households=min_households, max_households=max_households,
        note={"buildings": list(change.moved), "from": from_code, "to": to_code}, move=(from_code, to_code),
    )


def _new_code(session: Session, community_code: str, new_code: str | None) -> str:
    """``new_code`` if it was never used, else the community's next free sequence number."""
    if new_code is not None:
        core.check_grid_code(new_code, community_code, field="new_code")
        if latest_versions(session, [new_code]):
            raise ConflictError(f"grid code {new_code} is already in use (now or in the past)",
                                field="new_code", feature=new_code, rule="a code never used before")
        return new_code
    # codes are stable identifiers, so a retired sequence number is never handed out again
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
    return grid_code(community_code, seq)


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
    community_code = community_of_grid(session, code)
    place, rows = lock_community(session, community_code, {code: expected_version}, lock=not dry_run)
    _require_current(rows, (code,), "code")
    new_code = _new_code(session, community_code, new_code)
    change = core.split_grid(
        _geometries(rows), code, new_code, load_buildings(session, community_code),
        line=line, building_sets=building_sets,
    )
    return finish(
        session, "split_grid", place, rows, change, dry_run=dry_run, user_id=user_id, entity_id=code,
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
    place, rows = _lock_pair(
        session, code_a, code_b, expected_versions, dry_run=dry_run, field="codes", current_field="codes"
    )
    change = core.merge_grids(_geometries(rows), code_a, code_b, keep=keep)
    (survivor,) = change.grids
    return finish(
        session, "merge_grids", place, rows, change, dry_run=dry_run, user_id=user_id,
        entity_id=survivor, min_households=min_households, max_households=max_households,
        note={"merged": change.retired[0]},
    )


def _parts_to_restore(session: Session, community_code: str, when: date | datetime, codes: set[str]) -> Any:
    """The community's building parts as of ``when``, for the buildings whose households have not changed
    since (a building whose households did is counted whole again) and whose parts' grids come back."""
    old = load_parts(session, community_code, when=when)
    if old.empty:
        return None
    now_hh = load_buildings(session, community_code)["households"]
    keep = [
        b for b, group in old.groupby("building", sort=False)
        if b in now_hh.index and int(group["households"].sum()) == int(now_hh[b]) and set(group["grid_code"]) <= codes
    ]
    return old[old["building"].isin(keep)].reset_index(drop=True) if keep else None


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
            pieces=_parts_to_restore(session, target, to_date, set(old["code"])),
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
        t = instant(to_date)
        chosen = next((v for v in versions if v.valid_from <= t and (v.valid_to is None or v.valid_to > t)), None)
        if chosen is None:
            raise NotFoundError(f"grid {target} did not exist on {to_date}", field="to_date", feature=target,
                                rule="a date when the grid existed")
    return _boundary_edit(
        session, target, chosen.geometry, expected_version=expected_version, user_id=user_id,
        dry_run=dry_run, action="rollback", min_households=min_households, max_households=max_households,
        note={"to_version": chosen.version},
    )
