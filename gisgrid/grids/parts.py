"""Building parts (楼栋分段): a building over the grid maximum split into parts that each fit, each part
owned by one grid.

A part is a run of consecutive entrances (单元, ``kind='entrance'``, ``entrance_from``–``entrance_to``)
or a floor range (楼层段, ``kind='floors'``, ``floor_from``–``floor_to``), with its households and the
code of the grid that owns it (``grid_code``). One frame of parts has exactly the columns
:data:`PART_COLUMNS`, one row per part; ``building`` is the building's index label.

Pure functions, no database:

* :func:`parts_from_pieces` — the parts of a plan's ``pieces`` in either format: one row per part
  (the columns above) or one row per entrance (``building``, ``unit``, ``households``, ``grid_code``;
  consecutive entrances in one grid become one part);
* :func:`check_parts` — the rules a set of parts must keep (named field and rule on failure);
* :func:`part_tallies`, :func:`owners` — households per grid; the grid holding most of a building;
* :func:`parts_after_edit` — who owns each part after a boundary edit, a move, a split or a merge;
* :func:`part_label` — "1–2单元" / "1–15层" for maps and lists.

The edit rule (see ``docs/grids.md``, *Building parts*): a part keeps its grid code, except that

1. buildings moved from one grid to another take the parts the source grid owned with them;
2. a part whose anchor (the middle of its entrances on the footprint's long axis; for a floor range,
   the building's representative point) lay in its grid before the edit and lies in another grid after
   it follows its anchor — so a split hands the new grid the parts on its side, and a merge the parts
   of the retired grid to the survivor;
3. a part still on a retired code goes to the grid that now covers most of that grid's former area.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.errors import InvalidInputError
from gisgrid.vocab import BUILDING_PART_KINDS

__all__ = [
    "PART_COLUMNS",
    "check_parts",
    "empty_parts",
    "owners",
    "part_anchors",
    "part_label",
    "part_tallies",
    "parts_after_edit",
    "parts_from_pieces",
    "typed_parts",
]

PART_COLUMNS = ("building", "part_no", "kind", "entrance_from", "entrance_to", "floor_from", "floor_to",
                "households", "grid_code")
_RANGES = ("entrance_from", "entrance_to", "floor_from", "floor_to")
_AXIS_INSET = 0.1  # as the partition places entrance runs: the middle 80 % of the long axis


def empty_parts() -> pd.DataFrame:
    """A frame of no parts with the columns of :data:`PART_COLUMNS`."""
    return _typed(pd.DataFrame({c: [] for c in PART_COLUMNS}))


def typed_parts(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of :data:`PART_COLUMNS` of ``frame`` with their types, not checked (some parts of a
    building may be missing, e.g. the parts one grid owns)."""
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.loc[:, list(PART_COLUMNS)].copy()
    for c in ("part_no", "households"):
        out[c] = out[c].astype(np.int64)
    for c in _RANGES:
        out[c] = pd.array(pd.to_numeric(out[c], errors="coerce"), dtype="Int64")
    out["kind"] = out["kind"].astype(object)
    out["grid_code"] = [None if _missing(c) else str(c) for c in out["grid_code"]]
    out["grid_code"] = out["grid_code"].astype(object)
    return out.reset_index(drop=True)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def parts_from_pieces(pieces: pd.DataFrame | None) -> pd.DataFrame:
    """The parts of ``pieces`` (one row per part, or one row per entrance with ``unit``), checked.

    Entrance rows of one building are ordered by entrance; consecutive entrances in one grid become
    one part, numbered 1, 2, … along the building.
    """
    if pieces is None or len(pieces) == 0:
        return empty_parts()
    if "part_no" in pieces.columns:
        missing = [c for c in PART_COLUMNS if c not in pieces.columns]
        if missing:
            raise InvalidInputError(f"building parts lack the column(s) {', '.join(missing)}", field=missing[0],
                                    rule="parts have " + ", ".join(PART_COLUMNS))
        parts = _typed(pieces)
    elif {"building", "unit", "households", "grid_code"} <= set(pieces.columns):
        rows: list[dict[str, Any]] = []
        for building, group in pieces.groupby("building", sort=False):
            group = group.sort_values("unit")
            for unit, hh, code in zip(group["unit"].astype(int), group["households"].astype(int),
                                      group["grid_code"], strict=True):
                last = rows[-1] if rows and rows[-1]["building"] == building else None
                if last is not None and last["grid_code"] == code and last["entrance_to"] == unit - 1:
                    last["entrance_to"] = unit
                    last["households"] += hh
                    continue
                rows.append({"building": building, "part_no": (last["part_no"] + 1) if last else 1,
                             "kind": "entrance", "entrance_from": unit, "entrance_to": unit, "floor_from": None,
                             "floor_to": None, "households": hh, "grid_code": code})
        parts = _typed(pd.DataFrame(rows, columns=list(PART_COLUMNS)))
    else:
        raise InvalidInputError("pieces need 'building', 'households', 'grid_code' and 'part_no' or 'unit'",
                                field="pieces", rule="one row per part or per entrance")
    check_parts(parts)
    return parts


def check_parts(parts: pd.DataFrame, households: Mapping[Any, int] | None = None) -> None:
    """Raise :class:`InvalidInputError` (field and rule named) unless every building's parts are
    numbered 1…n, all of one kind, with ranges that start at 1 and follow each other with no gap or
    overlap, non-negative households and — given ``households`` (building → households) — households
    that sum to the building's."""
    for building, group in parts.groupby("building", sort=False):
        group = group.sort_values("part_no")
        kinds = set(group["kind"])
        if not kinds <= set(BUILDING_PART_KINDS) or len(kinds) != 1:
            raise InvalidInputError(
                f"building {building}: parts of kind {sorted(map(str, kinds))}; one of {BUILDING_PART_KINDS}",
                field="kind", feature=building, rule="every part of a building of one kind, entrance or floors")
        if list(group["part_no"]) != list(range(1, len(group) + 1)):
            raise InvalidInputError(f"building {building}: parts numbered {list(group['part_no'])}",
                                    field="part_no", feature=building, rule="parts numbered 1, 2, … n")
        (kind,) = kinds
        lo, hi = ("entrance_from", "entrance_to") if kind == "entrance" else ("floor_from", "floor_to")
        expect = 1
        for a, b in zip(group[lo], group[hi], strict=True):
            if _missing(a) or _missing(b) or int(a) != expect or int(b) < int(a):
                raise InvalidInputError(
                    f"building {building}: {lo} {a}–{hi} {b} where {expect} was due", field=lo, feature=building,
                    rule="consecutive ranges from 1 with no gap or overlap")
            expect = int(b) + 1
        if (group["households"] < 0).any():
            raise InvalidInputError(f"building {building}: a part has negative households", field="households",
                                    feature=building, rule="households ≥ 0")
        if households is not None and building in households:
            total, want = int(group["households"].sum()), int(households[building])
            if total != want:
                raise InvalidInputError(
                    f"building {building}: its parts hold {total} households, the building {want}",
                    field="households", feature=building, rule="a building's parts sum to its households")


def part_tallies(parts: pd.DataFrame) -> dict[str, int]:
    """Households per owning grid code (parts with no grid are left out)."""
    owned = parts[parts["grid_code"].notna()]
    return {str(k): int(v) for k, v in owned.groupby("grid_code")["households"].sum().items()}


def owners(parts: pd.DataFrame) -> dict[Any, str | None]:
    """Building → the grid holding most of its households (ties: the lower code) — the grid a split
    building is listed under (``building.grid_code``)."""
    out: dict[Any, str | None] = {}
    for building, group in parts.groupby("building", sort=False):
        per = group[group["grid_code"].notna()].groupby("grid_code")["households"].sum()
        out[building] = min(per.index, key=lambda c: (-int(per[c]), str(c))) if len(per) else None
    return out


def part_label(part: Mapping[str, Any] | Any, lang: str = "zh-CN") -> str:
    """``1–2单元`` / ``16–30层`` (``entrances 1–2`` / ``floors 16–30`` in English)."""
    def get(key: str) -> Any:
        return part[key] if isinstance(part, Mapping) else getattr(part, key)

    entrance = get("kind") == "entrance"
    a, b = (get("entrance_from"), get("entrance_to")) if entrance else (get("floor_from"), get("floor_to"))
    span = f"{int(a)}" if int(a) == int(b) else f"{int(a)}–{int(b)}"
    if lang.startswith("zh"):
        return span + ("单元" if entrance else "层")
    return ("entrance " if entrance and a == b else "entrances " if entrance else "floors ") + span


def _long_axis(poly: shapely.Geometry, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Ends of the long centre line of the footprint's rotated rectangle, inset at both ends (lon/lat)."""
    xy = shapely.get_coordinates(shapely.oriented_envelope(
        shapely.transform(poly, lambda c: c * np.array([scale, 1.0]))))[:4]
    if len(xy) < 4:
        p = shapely.get_coordinates(shapely.point_on_surface(poly))[0]
        return p, p
    e1, e2 = xy[1] - xy[0], xy[2] - xy[1]
    if np.hypot(*e1) >= np.hypot(*e2):
        a, b = (xy[0] + xy[3]) / 2, (xy[1] + xy[2]) / 2
    else:
        a, b = (xy[0] + xy[1]) / 2, (xy[3] + xy[2]) / 2
    a, b = a + _AXIS_INSET * (b - a), b - _AXIS_INSET * (b - a)
    back = np.array([1.0 / scale, 1.0])
    return a * back, b * back


def part_anchors(parts: pd.DataFrame, buildings: gpd.GeoDataFrame) -> list[shapely.Point | None]:
    """Where each part sits (EPSG:4326 footprints): an entrance run at the middle of its entrances along
    the footprint's long axis, a floor range at the building's representative point; None for a part
    whose building is not in ``buildings``."""
    out: list[shapely.Point | None] = []
    total_entrances = parts.groupby("building")["entrance_to"].max()
    for row in parts.itertuples(index=False):
        if row.building not in buildings.index:
            out.append(None)
            continue
        footprint = buildings.geometry.loc[row.building]
        if row.kind != "entrance":
            out.append(shapely.point_on_surface(footprint))
            continue
        n = int(total_entrances[row.building])
        t = ((int(row.entrance_from) - 1) + int(row.entrance_to)) / 2 / n
        scale = float(np.cos(np.radians(shapely.point_on_surface(footprint).y)))
        a, b = _long_axis(footprint, scale)
        out.append(shapely.Point(a + t * (b - a)))
    return out


def _covering(grids: Mapping[str, shapely.Geometry], point: shapely.Point | None) -> str | None:
    if point is None:
        return None
    for code in sorted(grids):
        geom = grids[code]
        if geom is not None and not geom.is_empty and geom.covers(point):
            return code
    return None


def parts_after_edit(
    parts: pd.DataFrame,
    before: Mapping[str, shapely.Geometry],
    after: Mapping[str, shapely.Geometry],
    buildings: gpd.GeoDataFrame,
    *,
    moved: Iterable[Any] = (),
    move: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """The parts with the owner each has once the community's grids go from ``before`` to ``after``
    (``{code: polygon}``; codes absent from ``after`` are retired). ``moved`` buildings went from
    ``move[0]`` to ``move[1]``. The rule is the module's (moves, then anchors, then retired codes)."""
    out = parts.copy()
    if out.empty:
        return out
    moved_ids = set(moved)
    anchors = part_anchors(out, buildings)
    codes = list(out["grid_code"])
    for i, (building, code) in enumerate(zip(out["building"], codes, strict=True)):
        if move is not None and building in moved_ids and code == move[0]:
            codes[i] = move[1]
            continue
        if code in before and _covering({code: before[code]}, anchors[i]) == code:
            now = _covering(after, anchors[i])
            if now is not None and now != code:
                codes[i] = now
    for i, code in enumerate(codes):
        if code is not None and code not in after:
            codes[i] = _heir(before.get(code), after)
    out["grid_code"] = pd.Series(codes, index=out.index, dtype=object)
    return out


def _heir(old: shapely.Geometry | None, after: Mapping[str, shapely.Geometry]) -> str | None:
    """The grid of ``after`` covering most of ``old`` (ties: the lower code)."""
    if old is None or old.is_empty:
        return None
    shares = {c: shapely.intersection(old, g).area for c, g in after.items() if g is not None and not g.is_empty}
    best = max(sorted(shares), key=lambda c: shares[c], default=None)
    return best if best is not None and shares[best] > 0 else None
