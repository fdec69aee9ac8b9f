"""Coverage figures by grid, community, street or district: counts that add up, shares recomputed.

Input is one row per building with its walking distance to the nearest open station of each kind
(``distance_<kind>``; ``inf`` or NaN when beyond the search cap), one row per complex and one per
station with its status on the day in question. Every building, complex and station is counted in
exactly one row of a level:

* a **building** in the row of its grid (``grid_code``; a building has one) or of its community's
  street / district by code prefix; a building split over grids (``parts``) counts once there, while
  its households count part by part in the grid owning each part;
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
    "ComplexRule",
    "Figures",
    "KindTotals",
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
        return grid_code.astype(object).where(grid_code.notna(), None)
    digits = SIGNIFICANT_DIGITS[level]
    key = community_code.astype(object).str[:digits] + "0" * (12 - digits)
    return key.where(key.notna(), None)


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
    """Each row's community code, from its grid code where it has none."""
    cc = frame["community_code"].astype(object)
    if "grid_code" in frame:
        cc = cc.where(cc.notna(), frame["grid_code"].astype(object).str[:12])
    return cc.where(cc.notna(), None)


def _in_scope(code: str | None, frame: pd.DataFrame) -> np.ndarray:
    """:func:`gisgrid.codes.in_scope` of each row's finest code (grid, else community), vectorised."""
    if code is None:
        return np.ones(len(frame), dtype=bool)
    need = SIGNIFICANT_DIGITS[area_level(code, field="code")]
    finest = _community(frame)
    if "grid_code" in frame:
        finest = frame["grid_code"].astype(object).where(frame["grid_code"].notna(), finest)
    ok = (finest.str.len() >= need) & (finest.str[:need] == code[:need])
    return ok.fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True, eq=False)
class ComplexRule:
    """Which buildings decide whether each complex is covered, and where each complex lives.

    ``member``: for each building row, the position of its complex when the building counts (it has
    households, or its complex has none with any), else -1; ``needed``: how many count per complex.
    The home (grid and community) of a complex is its building with the most households, lowest id on
    a tie; a complex without buildings keeps its own community and has no grid.
    """

    ids: np.ndarray
    member: np.ndarray
    needed: np.ndarray
    homes: pd.DataFrame  # community_code, grid_code per complex, in ``ids`` order

    @classmethod
    def of(cls, buildings: pd.DataFrame, complexes: pd.DataFrame) -> ComplexRule:
        ids = complexes["id"].to_numpy(dtype=np.int64)
        home_cc = np.array(complexes["community_code"].tolist(), dtype=object)
        home_grid = np.full(len(ids), None, dtype=object)
        cid = buildings["complex_id"].astype("Int64")
        pos = np.where(cid.isna().to_numpy(), -1, pd.Index(ids).get_indexer(cid.fillna(-1).astype(np.int64)))
        hh = buildings["households"].to_numpy(dtype=np.int64)
        inside = pos >= 0
        if inside.any():
            frame = pd.DataFrame({"pos": pos[inside], "households": hh[inside],
                                  "id": buildings["id"].to_numpy()[inside],
                                  "community_code": np.array(_community(buildings).tolist(), dtype=object)[inside],
                                  "grid_code": np.array(buildings["grid_code"].tolist(), dtype=object)[inside]})
            home = frame.sort_values(["pos", "households", "id"], ascending=[True, False, True]).drop_duplicates("pos")
            home_cc[home["pos"].to_numpy()] = home["community_code"].to_numpy(dtype=object)
            home_grid[home["pos"].to_numpy()] = home["grid_code"].to_numpy(dtype=object)
        homes = pd.DataFrame({"community_code": home_cc, "grid_code": home_grid}, index=ids, dtype=object)
        any_hh = np.zeros(len(ids), dtype=bool)
        any_hh[pos[inside & (hh > 0)]] = True
        if len(ids) == 0:  # no complexes at all: no building is a member of one
            member = np.full(len(pos), -1, dtype=pos.dtype)
        else:
            member = np.where(inside & ((hh > 0) | ~any_hh[np.maximum(pos, 0)]), pos, -1)
        needed = np.bincount(member[member >= 0], minlength=len(ids))
        return cls(ids, member, needed, homes)

    def covered(self, within: np.ndarray, contained: Iterable[int] = ()) -> np.ndarray:
        """Complexes all of whose counting buildings are ``within``, or (``contained``) holding a station."""
        counts = self.member >= 0
        got = np.bincount(self.member[counts], weights=np.asarray(within)[counts].astype(float),
                          minlength=len(self.ids))
        out = (self.needed > 0) & (got == self.needed)
        contained = list(contained)
        if contained:
            out |= np.isin(self.ids, contained)
        return out


def _within(buildings: pd.DataFrame, kind: str, thresholds: Thresholds) -> np.ndarray:
    return ((buildings[f"distance_{kind}"].to_numpy(dtype=float) <= thresholds.threshold(kind))
            & ~buildings["island"].to_numpy(dtype=bool))


def complex_cover(
    buildings: pd.DataFrame, complexes: pd.DataFrame, thresholds: Thresholds, *,
    kinds: Sequence[str], contained: Iterable[int] = (),
) -> pd.DataFrame:
    """Per complex (index = complex id): its home's grid and community, and ``covered_<kind>``."""
    rule = ComplexRule.of(buildings, complexes)
    cx = rule.homes.copy()
    contained = list(contained)
    for kind in kinds:
        cx[f"covered_{kind}"] = rule.covered(_within(buildings, kind, thresholds),
                                             contained if kind == CONTAINED_KIND else ())
    return cx


class KindTotals:
    """Households and complexes covered by one kind inside one area, for day after day: what does not
    change from one day to the next (areas, complexes, households) is worked out once. The same rules as
    :func:`area_figures` (a test holds them equal)."""

    def __init__(self, buildings: pd.DataFrame, complexes: pd.DataFrame, *, kind: str, threshold: float,
                 code: str | None = None) -> None:
        every = buildings.assign(community_code=_community(buildings))
        self.kind, self.threshold = kind, threshold
        self.rule = ComplexRule.of(every, complexes)
        self.b_in = _in_scope(code, every)
        self.c_in = _in_scope(code, self.rule.homes)
        self.households = every["households"].to_numpy(dtype=np.int64)

    def __call__(self, distance: np.ndarray, island: np.ndarray, contained: Iterable[int] = ()) -> dict[str, Any]:
        within = (distance <= self.threshold) & ~island
        covered = self.rule.covered(within, contained if self.kind == CONTAINED_KIND else ())
        hh, hh_cov = int(self.households[self.b_in].sum()), int(self.households[self.b_in & within].sum())
        cx, cx_cov = int(self.c_in.sum()), int((covered & self.c_in).sum())
        return {"households": hh, "households_covered": hh_cov, "households_share": share(hh_cov, hh),
                "complexes": cx, "complexes_covered": cx_cov, "complexes_share": share(cx_cov, cx)}


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
    parts: pd.DataFrame | None = None,
) -> Figures:
    """Coverage figures at ``level`` inside the area ``code``.

    ``buildings``: ``id, households, complex_id, community_code, grid_code, island`` and
    ``distance_<kind>``. ``complexes``: ``id, community_code``. ``stations``: ``id, kind, status``
    (on the day; None = not yet recorded), ``complex_id``, ``community_code``, ``grid_code``.
    ``seed_codes``: the codes at ``level`` that get a row even with nothing in them. ``parts``
    (``building``, ``households``, ``grid_code``: buildings split over grids, see
    :mod:`gisgrid.grids.parts`) credits a split building's households part by part to the grid owning
    each part, covered as its building is; the building itself counts once, in its own ``grid_code``.
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
    rows = _part_rows(every, parts)
    b = rows[_in_scope(code, rows)].copy()
    # a station just across the area's edge may still stand inside one of its complexes
    opened = stations[(stations["status"] == "open") & (stations["kind"] == CONTAINED_KIND)
                      & stations["complex_id"].notna()]
    st = stations[stations["status"].notna()]
    st = st[_in_scope(code, st)]
    cx = complex_cover(every, complexes, thresholds, kinds=kinds, contained=opened["complex_id"].astype(np.int64))
    cx = cx[_in_scope(code, cx)]

    b["key"] = level_key(level, b["community_code"], b["grid_code"]).fillna(UNASSIGNED)
    cx["key"] = level_key(level, _community(cx), cx["grid_code"]).fillna(UNASSIGNED)
    st = st.assign(key=level_key(level, _community(st), st["grid_code"]).fillna(UNASSIGNED))

    hh = b["households"].to_numpy(dtype=np.int64)
    island = b["island"].to_numpy(dtype=bool)
    one = b["_counts"].to_numpy(dtype=bool)  # a split building is one building, in its own grid
    data = {"households": hh, "buildings": one.astype(np.int64), "island_buildings": (island & one).astype(np.int64),
            "island_households": hh * island}
    for kind in kinds:
        within = (b[f"distance_{kind}"].to_numpy(dtype=float) <= thresholds.threshold(kind)) & ~island
        data[f"{kind}_households_covered"] = hh * within
        data[f"{kind}_buildings_covered"] = (within & one).astype(np.int64)
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


def _part_rows(buildings: pd.DataFrame, parts: pd.DataFrame | None) -> pd.DataFrame:
    """One row per building, or per part of a split building (its households and grid; distances and
    island as its building's); ``_counts`` marks the one row that counts the building itself — the row
    of its own grid (else its first part)."""
    if parts is None or not len(parts):
        return buildings.assign(_counts=True)
    split = parts[parts["building"].isin(buildings["id"])]
    whole = buildings[~buildings["id"].isin(split["building"])].assign(_counts=True)
    pieces = buildings.drop(columns=["households"]).rename(columns={"grid_code": "_own"}).merge(
        split[["building", "households", "grid_code"]].rename(columns={"building": "id"}), on="id")
    pieces["_own_row"] = pieces["grid_code"].astype(object) == pieces["_own"].astype(object)
    pieces = pieces.sort_values(["id", "_own_row"], ascending=[True, False], kind="stable")
    pieces["_counts"] = ~pieces["id"].duplicated()
    pieces = pieces.drop(columns=["_own", "_own_row"]).astype({"households": np.int64})
    return pd.concat([whole, pieces[whole.columns]], ignore_index=True)


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
