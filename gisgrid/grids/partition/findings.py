"""What a plan reports: buildings named by name and source reference, each problem with its cause and fix.

* :func:`oversized` — a building (or a part of one) still over the maximum after splitting: why it cannot
  be split further and what data would allow it.
* :func:`window_report` — the community-level finding when some grid is outside the window: which
  community, why (indivisible buildings, parts cut off by the boundary, a river or barriers, households
  that fit no number of grids, the search budget) and what would fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid.grids.partition.inputs import _plain
from gisgrid.grids.partition.units import _Units
from gisgrid.report import Problem

#: Buildings named in one community-level message; the rest are counted.
NAMED_IN_SUMMARY = 5


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def building_label(b: gpd.GeoDataFrame, i: int) -> str:
    """``building 名称 (way/123)``, ``building way/123`` or ``building 'b7'`` (the index label)."""
    name = _text(b["name"].iloc[i]) if "name" in b.columns else None
    ref = _text(b["source_ref"].iloc[i]) if "source_ref" in b.columns else None
    if name and ref:
        return f"building {name} ({ref})"
    if name or ref:
        return f"building {name or ref}"
    return f"building {b.index[i]!r}"


def building_feature(b: gpd.GeoDataFrame, i: int) -> Any:
    """The feature a problem names: the source reference when there is one, else the index label."""
    ref = _text(b["source_ref"].iloc[i]) if "source_ref" in b.columns else None
    return ref if ref else _plain(b.index[i])


@dataclass
class Causes:
    """Why grids may be outside the window, collected while planning."""

    oversized: list[str] = field(default_factory=list)  # labels of buildings still over the maximum
    cut_off: list[tuple[int, int, int]] = field(default_factory=list)  # (part number, households, parts)
    total_fits_no_k: bool = False
    budget_spent: bool = False


def oversized(b: gpd.GeoDataFrame, units: _Units, entrances: np.ndarray, levels: np.ndarray, hi: int,
              causes: Causes) -> list[Problem]:
    """One problem per unit over the maximum: the building cannot be split (further)."""
    out: list[Problem] = []
    levels_known = b["levels"].notna().to_numpy() if "levels" in b.columns else np.zeros(len(b), dtype=bool)
    entrances_known = b["units"].notna().to_numpy() if "units" in b.columns else np.zeros(len(b), dtype=bool)
    for u in np.flatnonzero(units.hh > hi).tolist():
        i = int(units.building[u])
        label = building_label(b, i)
        causes.oversized.append(label)
        part = units.part[u]
        floors = f"{int(levels[i])} floor(s)" if levels_known[i] else "no recorded floors"
        doors = f"{int(entrances[i])} entrance(s)" if entrances_known[i] else "no recorded entrances"
        if part is None:
            message = (f"{label} has {floors} and {doors} with {int(units.hh[u])} "
                       f"households, more than {hi}: it cannot be split and is a grid of its own; record its "
                       "entrances (units) or floors (levels) so it can be split")
            rule = "indivisible building over maximum"
        else:
            message = (f"{label}, entrances {part.first}–{part.last}, has {int(units.hh[u])} households on "
                       f"{floors}, more than {hi}: its entrances cannot be split further; record its floors "
                       "(levels) so it can be split by floor range")
            rule = "building part over maximum"
        out.append(Problem(feature=building_feature(b, i), field="households", rule=rule, message=message,
                           action="warned"))
    return out


def window_report(community_code: str, households: np.ndarray, lo: int, hi: int, causes: Causes,
                  spent: int, total_budget: int) -> Problem | None:
    """The community-level finding when some grid is outside ``[lo, hi]`` (None when every grid is in)."""
    out_of = int(((households < lo) | (households > hi)).sum())
    if out_of == 0:
        return None
    why: list[str] = []
    fix: list[str] = []
    if causes.oversized:
        named = ", ".join(causes.oversized[:NAMED_IN_SUMMARY])
        more = len(causes.oversized) - NAMED_IN_SUMMARY
        why.append(f"{len(causes.oversized)} building(s) or part(s) over {hi} households that cannot be split "
                   f"({named}{f' and {more} more' if more > 0 else ''})")
        fix.append("record their entrances (units) or floors (levels)")
    if causes.total_fits_no_k:
        why.append(f"its {int(households.sum())} households fit no number of grids of {lo}–{hi}")
        fix.append("widen the window or plan it together with a neighbouring community")
    for number, part_hh, parts in causes.cut_off:
        why.append(f"part {number} of {parts} ({part_hh} households) is cut off from the rest by the "
                   "community boundary, water without a bridge or barriers, and fits no number of grids")
        fix.append(f"join part {number} to the rest (record the bridge or passage that links it) or to the "
                   "neighbouring community")
    if causes.budget_spent:
        why.append(f"the search budget was spent ({spent:,} of {total_budget:,} move evaluations)")
    if not why:
        why.append("the search found no plan with every grid in the window")
    if not fix:
        fix.append("add the streets and complexes of the community, or try another seed")
    return Problem(
        feature=community_code, field="households", rule="window not met",
        message=(f"community {community_code}: {out_of} of {len(households)} grid(s) outside {lo}–{hi} households "
                 f"because {'; '.join(why)}. To fix: {'; '.join(dict.fromkeys(fix))}"),
        action="warned")
