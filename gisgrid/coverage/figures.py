"""Coverage figures by grid, community, street or district: counts that add up, shares recomputed.

Input is one row per building with its walking distance to the nearest open station of each kind
(``distance_<kind>``; ``inf`` or NaN when beyond the search cap), one row per complex and one per
station with its status on the day in question. Every building, complex and station is counted in
exactly one row of a level:

* a **building** in the row of its grid (``grid_code``; a building has one) or of its community's
  street / district by code prefix;
* a **complex** in the row of its *home* building — the one with the most households (lowest id on a
  tie) — so a complex across two grids counts once; a complex without buildings in its community's;
* a **station** in the row of its grid or community.

What has no place at the level (a building in no grid, a station in no community) goes to one
``unassigned`` row (``code`` null), so the rows always sum to the totals, and grids sum to their
community, communities to their street, streets to the district.

A household is **covered** by a kind when its building is within that kind's threshold and not on an
island. A **complex** is covered when all its households are (its buildings with households; all its
buildings if none has any) — and, for red heart stations, also when an open one stands inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gisgrid import vocab
from gisgrid.codes import SIGNIFICANT_DIGITS, area_level, in_scope
from gisgrid.coverage.thresholds import Thresholds
from gisgrid.errors import InvalidInputError

__all__ = [
    "BASE_COLUMNS",
    "CONTAINED_KIND",
    "LEVELS",
    "Figures",
    "area_figures",
    "columns",
    "complex_cover",
    "kind_columns",
    "level_key",
    "share",
]

LEVELS = ("grid", "community", "street", "district")
CONTAINED_KIND = "red_heart_station"  # the kind whose presence inside a complex covers it
BASE_COLUMNS = ("households", "buildings", "complexes", "island_buildings", "island_households")
_KIND_COUNTS = ("households_covered", "buildings_covered", "complexes_covered")
_STATUS_COUNTS = tuple(f"stations_{s}" for s in vocab.STATION_STATUSES)
UNASSIGNED = "unassigned"


def kind_columns(kind: str) -> list[str]:
    return [f"{kind}_households_covered", f"{kind}_households_share", f"{kind}_buildings_covered",
            f"{kind}_complexes_covered", f"{kind}_complexes_share", *(f"{kind}_{c}" for c in _STATUS_COUNTS)]


def columns(kinds: Sequence[str] = vocab.STATION_KINDS) -> list[str]:
    """The figure columns after ``code``, ``name``: base counts, then each kind's."""
    return [*BASE_COLUMNS, *(c for k in kinds for c in kind_columns(k))]


def share(part: float, whole: float) -> float | None:
    """``part / whole``, or None when there is nothing to share out."""
    return float(part) / float(whole) if whole else None


def level_key(level: str, community_code: pd.Series, grid_code: pd.Series) -> pd.Series:
    """The code of the row each item falls in at ``level`` (None where it has none)."""
    if level == "grid":
        return grid_code.where(grid_code.notna(), None)
    digits = SIGNIFICANT_DIGITS[level]
    cc = community_code.where(community_code.notna(), None)
    return cc.map(lambda c: None if c is None else c[:digits] + "0" * (12 - digits))


@dataclass(frozen=True)
class Figures:
    """Rows at ``level`` inside ``code`` (None: everything) and their totals."""

    level: str
    code: str | None
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "code": self.code, "columns": self.columns, "rows": self.rows,
                "totals": self.totals}


def _community(frame: pd.DataFrame) -> pd.Series:
    cc = frame["community_code"].astype(object)
    if "grid_code" in frame:
        gc = frame["grid_code"].astype(object)
        cc = cc.where(cc.notna(), gc.map(lambda g: g[:12] if isinstance(g, str) else None))
    return cc.where(cc.notna(), None)


def _in_scope(code: str | None, frame: pd.DataFrame) -> np.ndarray:
    if code is None:
        return np.ones(len(frame), dtype=bool)
    finest = frame["grid_code"].astype(object).where(frame["grid_code"].notna(), _community(frame)) \
        if "grid_code" in frame else _community(frame)
    return np.fromiter((isinstance(c, str) and in_scope(code, c) for c in finest), dtype=bool, count=len(frame))


def complex_cover(
    buildings: pd.DataFrame, complexes: pd.DataFrame, thresholds: Thresholds, *,
    kinds: Sequence[str], contained: Iterable[int] = (),
) -> pd.DataFrame:
    """Per complex (index = complex id): its home building's grid and community, and ``covered_<kind>``."""
    cx = complexes.set_index("id")[["community_code"]].copy()
    cx["grid_code"] = None
    inside = buildings[buildings["complex_id"].notna()].copy()
    inside["complex_id"] = inside["complex_id"].astype(np.int64)
    if len(inside):
        home = inside.sort_values(["complex_id", "households", "id"], ascending=[True, False, True])
        home = home.drop_duplicates("complex_id").set_index("complex_id")
        home = home[home.index.isin(cx.index)]
        cx.loc[home.index, "community_code"] = _community(home).to_numpy()
        cx.loc[home.index, "grid_code"] = home["grid_code"].to_numpy()
        # the buildings that count: those with households, or every building of a complex with none
        has_hh = inside.groupby("complex_id")["households"].transform("max") > 0
        counts = inside[(inside["households"] > 0) | ~has_hh]
    else:
        counts = inside
    has_buildings = cx.index.isin(counts["complex_id"].unique())
    contained = set(contained)
    for kind in kinds:
        within = counts[f"distance_{kind}"].to_numpy(dtype=float) <= thresholds.threshold(kind)
        within &= ~counts["island"].to_numpy(dtype=bool)
        all_within = pd.Series(within, index=counts.index).groupby(counts["complex_id"]).all()
        covered = has_buildings & all_within.reindex(cx.index, fill_value=False).to_numpy(dtype=bool)
        if kind == CONTAINED_KIND:
            covered |= cx.index.isin(list(contained))
        cx[f"covered_{kind}"] = covered
    return cx


def area_figures(
    buildings: pd.DataFrame,
    complexes: pd.DataFrame,
    stations: pd.DataFrame,
    thresholds: Thresholds,
    *,
    level: str,
    code: str | None = None,
    names: Mapping[str, str] | None = None,
    seed_codes: Iterable[str] = (),
    kinds: Sequence[str] = vocab.STATION_KINDS,
) -> Figures:
    """Coverage figures at ``level`` inside the area ``code``.

    ``buildings``: ``id, households, complex_id, community_code, grid_code, island`` and
    ``distance_<kind>``. ``complexes``: ``id, community_code``. ``stations``: ``id, kind, status``
    (on the day; None = not yet recorded), ``complex_id``, ``community_code``, ``grid_code``.
    ``seed_codes``: the codes at ``level`` that get a row even with nothing in them.
    """
    if level not in LEVELS:
        raise InvalidInputError(f"level must be one of {', '.join(LEVELS)}; got {level!r}", field="level",
                                rule=f"level in ({', '.join(LEVELS)})")
    if code is not None and SIGNIFICANT_DIGITS[area_level(code, field="code")] > SIGNIFICANT_DIGITS[level]:
        raise InvalidInputError(f"level {level} is coarser than the area {code}", field="level",
                                rule="rows at the area's level or finer")
    names = names or {}
    # a complex's home and cover depend on all its buildings, also those outside the area
    every = buildings.assign(community_code=_community(buildings))
    b = every[_in_scope(code, every)].copy()
    # a station just across the area's edge may still stand inside one of its complexes
    opened = stations[(stations["status"] == "open") & (stations["kind"] == CONTAINED_KIND)
                      & stations["complex_id"].notna()]
    st = stations[stations["status"].notna()]
    st = st[_in_scope(code, st)]
    cx = complex_cover(every, complexes, thresholds, kinds=kinds, contained=opened["complex_id"].astype(np.int64))
    cx = cx.reset_index()
    cx = cx[_in_scope(code, cx)]

    b["key"] = level_key(level, b["community_code"], b["grid_code"]).fillna(UNASSIGNED)
    cx["key"] = level_key(level, _community(cx), cx["grid_code"]).fillna(UNASSIGNED)
    st = st.assign(key=level_key(level, _community(st), st["grid_code"]).fillna(UNASSIGNED))

    hh = b["households"].to_numpy(dtype=np.int64)
    island = b["island"].to_numpy(dtype=bool)
    data = {"households": hh, "buildings": np.ones(len(b), np.int64), "island_buildings": island.astype(np.int64),
            "island_households": hh * island}
    for kind in kinds:
        within = (b[f"distance_{kind}"].to_numpy(dtype=float) <= thresholds.threshold(kind)) & ~island
        data[f"{kind}_households_covered"] = hh * within
        data[f"{kind}_buildings_covered"] = within.astype(np.int64)
    table = pd.DataFrame(data, index=b["key"].to_numpy()).groupby(level=0).sum()
    cdata = {"complexes": np.ones(len(cx), np.int64)}
    for kind in kinds:
        cdata[f"{kind}_complexes_covered"] = cx[f"covered_{kind}"].to_numpy(dtype=np.int64)
    table = table.join(pd.DataFrame(cdata, index=cx["key"].to_numpy()).groupby(level=0).sum(), how="outer")
    if len(st):
        counts = st.groupby(["key", "kind", "status"]).size()
        wide = counts.unstack(["kind", "status"])
        wide.columns = [f"{k}_stations_{s}" for k, s in wide.columns]
        table = table.join(wide, how="outer")
    seeds = [c for c in seed_codes if code is None or in_scope(code, c)]
    table = table.reindex(table.index.union(pd.Index(seeds, dtype=object)))
    cols = columns(kinds)
    counted = [c for c in cols if not c.endswith("_share")]
    table = table.reindex(columns=counted).fillna(0).astype(np.int64)
    order = sorted(table.index, key=lambda k: (k == UNASSIGNED, k))
    rows = [_record(k, table.loc[k], names, kinds, cols) for k in order]
    totals = _record(code or "total", table.sum(), names, kinds, cols)
    if code is None:
        totals["name"] = "合计 total"
    return Figures(level=level, code=code, columns=["code", "name", *cols], rows=rows, totals=totals)


def _record(key: str, counts: pd.Series, names: Mapping[str, str], kinds: Sequence[str],
            cols: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"code": None if key == UNASSIGNED else key,
                           "name": "(未归属 unassigned)" if key == UNASSIGNED else names.get(key, key)}
    for c in cols:
        if c in counts.index:
            out[c] = int(counts[c])
    for kind in kinds:
        out[f"{kind}_households_share"] = share(out[f"{kind}_households_covered"], out["households"])
        out[f"{kind}_complexes_share"] = share(out[f"{kind}_complexes_covered"], out["complexes"])
    return {"code": out["code"], "name": out["name"], **{c: out[c] for c in cols}}
