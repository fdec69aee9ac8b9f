"""Planning a community's grids, the one flow behind ``gisgrid grids plan`` and ``POST /api/v1/grids/plan``:
load the community's polygon, buildings (with entrances and floors), complexes, streets and barriers
(rivers, railways, walls: grid boundaries follow them), partition them (:func:`gisgrid.grids.plan_grids`),
optionally publish the plan as new grid versions with the parts of the buildings it split, and report.

Like every writer here it never commits: the caller's unit of work does (the command line plans every
community of ``--all`` in one transaction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.grids import plan_grids
from gisgrid.grids.parts import part_label, parts_from_pieces
from gisgrid.report import Problem
from layers.grids.naming import name_plan_problems
from layers.grids.queries import (
    communities_with_buildings,
    community_geometry,
    load_barriers,
    load_buildings,
    load_complexes,
    load_streets,
)
from layers.grids.versions import PublishResult, publish_plan
from layers.patrol.staffing import assign_grid_workers


@dataclass
class CommunityPlanReport:
    """The plan of one community: how many grids (``k``, and the range a valid plan could have), the
    share in the household window, households per planned grid code, the partition's problems and
    figures, the parts of the buildings split over grids (``parts``: building, part number, kind, label
    such as "1–3单元", households, grid code), and what publishing did (``published``; None when not
    published). ``skipped`` says why a community was not planned (no buildings)."""

    community_code: str
    k: int = 0
    k_range: tuple[int, int] = (0, 0)
    in_range_share: float | None = None
    households: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    published: PublishResult | None = None
    staffing: dict[str, int] | None = None
    skipped: str | None = None
    #: complexes split over several grids, and how many of them hold more households than one grid may
    complex_splits: dict[str, int] = field(default_factory=dict)
    #: the parts of buildings split over grids
    parts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {"community_code": self.community_code, "k": self.k, "skipped": self.skipped}
        out: dict[str, Any] = {
            "community_code": self.community_code,
            "k": self.k,
            "k_range": list(self.k_range),
            "in_range_share": self.in_range_share,
            "households": self.households,
            "problems": [p.to_dict() for p in self.problems],
            "complex_splits": self.complex_splits,
            "stats": self.stats,
            "parts": self.parts,
        }
        if self.published is not None:
            out["published"] = self.published.to_dict()
        if self.staffing is not None:
            out["staffing"] = self.staffing
        return out


def plan_community(
    session: Session,
    community_code: str,
    *,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
    seed: int = 0,
    publish: bool = False,
    user_id: int | None = None,
) -> CommunityPlanReport:
    """Partition one community into grids of ``min_households``–``max_households``; with ``publish``,
    make the plan its current grids (:func:`layers.grids.publish_plan`, audited as ``user_id``).

    :class:`~gisgrid.errors.NotFoundError` for an unknown community; a community without buildings is
    reported as skipped.
    """
    polygon = community_geometry(session, community_code)
    buildings = load_buildings(session, community_code)
    if buildings.empty:
        return CommunityPlanReport(community_code, skipped="no buildings")
    streets = load_streets(session, community_code)
    barriers = load_barriers(session, community_code)
    plan = plan_grids(
        buildings, polygon, community_code=community_code, streets=streets if len(streets) else None,
        complexes=load_complexes(session, community_code), min_households=min_households,
        max_households=max_households, seed=seed, barriers=barriers if len(barriers) else None,
    )
    parts = parts_from_pieces(plan.pieces)
    published = None
    staffing = None
    if publish:
        published = publish_plan(
            session, community_code, plan.grids[["code", "geometry"]], user_id=user_id,
            pieces=parts if len(parts) else None,
            min_households=min_households, max_households=max_households,
        )
        # grids exist only from here on: the community's grid workers without one get a grid each
        staffing = assign_grid_workers(session, community_code)
    split_keys = [p.feature for p in plan.problems if p.field == "complex_key" and p.rule == "complex split"]
    complex_households = buildings.groupby("complex_id")["households"].sum() if len(buildings) else None
    larger = sum(
        1 for key in split_keys
        if complex_households is not None and key in complex_households.index
        and int(complex_households[key]) > max_households
    )
    return CommunityPlanReport(
        community_code,
        complex_splits={"split": len(split_keys), "larger_than_a_grid": larger},
        k=int(plan.k),
        k_range=(int(plan.k_range[0]), int(plan.k_range[1])),
        in_range_share=plan.stats.get("in_range_share"),
        households={str(c): int(h) for c, h in zip(plan.grids["code"], plan.grids["households"], strict=True)},
        problems=name_plan_problems(session, list(plan.problems)),
        stats=dict(plan.stats),
        published=published,
        staffing=staffing,
        parts=[
            {"building": int(r["building"]), "part_no": int(r["part_no"]), "kind": r["kind"],
             "label": part_label(r), "households": int(r["households"]), "grid_code": r["grid_code"]}
            for r in parts.to_dict("records")
        ],
    )


def plan_communities(
    session: Session,
    community_codes: Iterable[str] | None = None,
    *,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
    seed: int = 0,
    publish: bool = False,
    user_id: int | None = None,
) -> list[CommunityPlanReport]:
    """:func:`plan_community` for each of ``community_codes`` in turn (None: every community that holds
    buildings)."""
    codes = communities_with_buildings(session) if community_codes is None else list(community_codes)
    return [
        plan_community(
            session, code, min_households=min_households, max_households=max_households, seed=seed,
            publish=publish, user_id=user_id,
        )
        for code in codes
    ]
