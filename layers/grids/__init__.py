"""Versioned grid boundaries in PostGIS: plan and publish, history, "as of date D", rollback, and edits.

* :mod:`layers.grids.queries` — communities, buildings, complexes, streets, current grids, the grids as
  of a date, a grid's history, live tallies, validation;
* :mod:`layers.grids.versions` — the versioned write: lock, check versions, close and open rows, update
  ``building.grid_code``, audit; :func:`publish_plan`;
* :mod:`layers.grids.edits` — the planner's edits (boundary, move buildings, split, merge) and
  :func:`rollback`, each load → :mod:`gisgrid.grids.edit` → validate → versioned write (or dry run);
* :mod:`layers.grids.planning` — :func:`plan_community`, the flow the command line and the API share.

Versions
--------
A grid row is one *version* of one code. Publishing a plan, an edit or a rollback closes the current
rows it touches and inserts new ones (``version + 1``); nothing is deleted or overwritten, so an
incident that points at an old row still resolves to the boundary valid when it was reported, and
:func:`grids_on` answers "what did the grids look like on date D". A rollback publishes an old geometry
as a *new* version.

Optimistic locking
------------------
Every edit takes ``expected_version`` (the version the planner's map shows). Writers first lock the
community row (``SELECT … FOR NO KEY UPDATE`` on ``admin_area`` — edits reshape neighbours, so the
community is the unit of serialisation) and then the community's current grid rows
(``SELECT … FOR UPDATE``), and compare versions under those locks: a mismatch raises
:class:`~gisgrid.errors.ConflictError` with ``details={"current_version": n, ...}``. Two planners who
start from the same version therefore get one success and one conflict, never a silent overwrite.

All functions take a session in a transaction and never commit: the caller's unit of work does.
"""

from __future__ import annotations

from gisgrid.codes import CHINA_TZ, MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from layers.grids.edits import merge_grids, move_buildings, replace_boundary, rollback, split_grid
from layers.grids.planning import CommunityPlanReport, plan_communities, plan_community
from layers.grids.queries import (
    GridVersion,
    communities_with_buildings,
    communities_with_grids,
    community_geometry,
    current_grids,
    grid_summary,
    grids_on,
    history,
    load_buildings,
    load_complexes,
    load_streets,
    tallies,
    validate_community,
)
from layers.grids.versions import EditResult, PublishResult, publish_plan

__all__ = [
    "CHINA_TZ",
    "MAX_HOUSEHOLDS",
    "MIN_HOUSEHOLDS",
    "CommunityPlanReport",
    "EditResult",
    "GridVersion",
    "PublishResult",
    "communities_with_buildings",
    "communities_with_grids",
    "community_geometry",
    "current_grids",
    "grid_summary",
    "grids_on",
    "history",
    "load_buildings",
    "load_complexes",
    "load_streets",
    "merge_grids",
    "move_buildings",
    "plan_communities",
    "plan_community",
    "publish_plan",
    "replace_boundary",
    "rollback",
    "split_grid",
    "tallies",
    "validate_community",
]
