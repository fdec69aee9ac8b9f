"""Planning one community: inputs checked, units and cells built, ``k`` chosen, parts partitioned, and the
result assembled into grids with codes, building assignment, entrance pieces, problems and figures.

``k`` is taken from ``[⌈H/max⌉, ⌊H/min⌋]``, preferring ``H / k`` closest to the middle of the window
(most slack on both sides); further values are tried only if the first leaves a violation and little of
the search budget is spent. When the range is empty (e.g. H = 250 with a minimum of 300, or H = 550), the
``k`` with the least total excess over the bounds is used and ``no valid k`` is reported. Parts of the
community that no adjacency joins (a MultiPolygon community, an enclave cut off by the boundary) are
planned separately, each with its own ``k``, from one shared search budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS, check_community_code
from gisgrid.crs import metric_crs_for
from gisgrid.errors import InvalidInputError
from gisgrid.grids.partition.budget import FURTHER_K_SHARE, SearchBudget
from gisgrid.grids.partition.findings import Causes, oversized, window_report
from gisgrid.grids.partition.graph import is_connected
from gisgrid.grids.partition.inputs import (
    _WGS84,
    DEFAULT_MAJOR_HIGHWAYS,
    _complex_keys,
    _Frame,
    _int_column,
    _key_order,
    _Lines,
    _plain,
    _prepare,
)
from gisgrid.grids.partition.local_search import _Partitioner
from gisgrid.grids.partition.metrics import boundary_on_lines_share, polsby_popper
from gisgrid.grids.partition.numbering import number_grids
from gisgrid.grids.partition.tessellation import (
    _attach_orphans,
    _dissolve,
    _multi,
    _tessellate,
    _Tessellation,
    valid_multi,
)
from gisgrid.grids.partition.units import ENTRANCE, _footprints_inside, _make_units, _Units
from gisgrid.report import Problem

__all__ = ["GridPlan", "building_adjacency", "plan_grids"]

#: Values of k tried per part, nearest the middle of the window first: each is a whole bisection and
#: search, and four bound the work spent on a part whose households leave every k a violation.
K_TRIES = 4
#: Bisections tried per k, the fan of sweep directions turned a quarter step each time; the one with the
#: fewest households outside the window is repaired and searched. A bisection costs about as much as
#: 2,000 move evaluations, and on lumpy communities (towers, split buildings) the best of four starts
#: with half the violation of the first.
BISECT_STARTS = 4
#: The columns of :attr:`GridPlan.pieces`, in order.
PIECE_COLUMNS = ("building", "part_no", "kind", "entrance_from", "entrance_to", "floor_from", "floor_to",
                 "households", "grid_code")


@dataclass
class GridPlan:
    """A partition of one community into grids.

    Attributes
    ----------
    grids
        EPSG:4326 GeoDataFrame, one row per grid in code order: ``code`` (15 digits), ``seq`` (1…),
        ``households``, ``buildings`` (buildings whose households are mostly in the grid),
        ``complexes`` (sorted list of complex keys with households in it), ``polsby_popper`` (measured
        in a metric CRS) and ``geometry`` (MultiPolygon).
    assignment
        Building index → grid code. A building split by entrance maps to the grid holding most of its
        households (ties: the lower code).
    pieces
        One row per part of every building split because it is over the maximum: ``building`` (index
        label), ``part_no`` (1…), ``kind`` (``"entrance"`` or ``"floors"``), ``entrance_from``,
        ``entrance_to`` (entrance numbers, 1…) or ``floor_from``, ``floor_to`` (floors 1…levels) — the
        other pair None — ``households`` and ``grid_code``. A building's parts are consecutive ranges
        in order; their households add up to the building's.
    k, k_range
        The number of grids made and the valid range ``(⌈H/max⌉, ⌊H/min⌋)`` (empty when lo > hi).
    problems
        Every violation: ``households out of range``, ``no valid k``, ``indivisible building over
        maximum``, ``building part over maximum``, ``complex split``, ``non-contiguous`` and, when any
        grid is outside the window, one ``window not met`` for the community (why and what would fix
        it). Buildings are named by ``name`` and ``source_ref`` when the buildings carry them.
    stats
        ``in_range_share``, ``mean_polsby_popper``, ``boundary_on_street_share`` (share of the internal
        grid boundary within 10 m of a street or barrier line), ``complexes_whole_share``,
        ``fitting_complexes_whole_share`` (of the complexes with at most ``max_households``),
        ``search_spent``, ``seconds`` and a few more counts. ``seconds`` is measured for the report only:
        nothing in the plan depends on it.
    """

    grids: gpd.GeoDataFrame
    assignment: pd.Series
    pieces: pd.DataFrame
    k: int
    k_range: tuple[int, int]
    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def building_adjacency(buildings: gpd.GeoDataFrame, community: shapely.Geometry,
                       streets: gpd.GeoDataFrame | None = None,
                       major_highways: Sequence[str] = DEFAULT_MAJOR_HIGHWAYS,
                       barriers: gpd.GeoDataFrame | None = None) -> nx.Graph:
    """The buildings' contiguity graph over their Voronoi cells inside the community, cut by streets.

    Parameters
    ----------
    buildings
        Footprints with a CRS; optional ``households`` and ``complex_key``/``complex_id`` columns are
        copied onto the nodes.
    community
        The community polygon (EPSG:4326); the cells tile it.
    streets
        Street lines with ``highway``; cells are cut along streets (service roads and paths excluded).
    major_highways
        ``highway`` values whose crossing makes a weak link.
    barriers
        Rivers, water, railways, walls (see :func:`plan_grids`): cells end at them and banks are joined
        only by bridges; water pieces are added to the cell they share most border with.

    Returns
    -------
    networkx.Graph
        Nodes are the buildings' index labels with ``households``, ``complex``, ``cell`` (EPSG:4326
        polygon), ``area_m2``, ``perimeter_m``; edges have ``length_m`` (shared border), ``major_street``
        (the pair is separated by a major road) and ``weight`` (``length_m`` × the link factor: weak across
        a major road, a barrier or a bridge, half along a minor street).
    """
    b, _, frame, community_local, lines = _prepare(buildings, community, streets, major_highways, barriers)
    use = _footprints_inside(b, frame, community_local)
    xy = shapely.get_coordinates(shapely.point_on_surface(use))
    t = _tessellate(xy, community_local, lines, use)
    local_cells = t.cells.copy()
    _attach_orphans(local_cells, list(t.water))
    cells = frame.inv(local_cells)
    hh = (pd.to_numeric(b["households"], errors="coerce").fillna(0).astype(int).to_numpy()
          if "households" in b.columns else np.zeros(len(b), dtype=int))
    cx = _complex_keys(b, None)
    graph = nx.Graph()
    labels = [_plain(x) for x in b.index]
    for i, label in enumerate(labels):
        graph.add_node(label, households=int(hh[i]), complex=cx[i], cell=cells[i],
                       area_m2=float(t.area[i]), perimeter_m=float(t.perimeter[i]))
    for a, c, ln, wk, f in zip(t.eu.tolist(), t.ev.tolist(), t.length.tolist(), t.weak.tolist(), t.factor.tolist(),
                               strict=True):
        graph.add_edge(labels[a], labels[c], length_m=ln, major_street=wk, weight=ln * f)
    return graph


def _k_choice(total: int, lo: int, hi: int, n_units: int) -> tuple[tuple[int, int], list[int], bool]:
    k_lo = max(1, math.ceil(total / hi))
    k_hi = total // lo
    valid = k_lo <= k_hi
    if valid:
        mid = (lo + hi) / 2
        ks = sorted(range(k_lo, k_hi + 1), key=lambda k: (abs(total / k - mid), k))
    else:
        def excess(k: int) -> float:
            share = total / k
            return k * (max(0.0, lo - share) + max(0.0, share - hi))

        ks = sorted({max(1, k_hi), k_lo}, key=lambda k: (excess(k), k))
    ks = [min(k, n_units) for k in ks]
    return (k_lo, k_hi), list(dict.fromkeys(ks)), valid


def plan_grids(buildings: gpd.GeoDataFrame, community: shapely.Geometry, *, community_code: str,
               streets: gpd.GeoDataFrame | None = None, complexes: gpd.GeoDataFrame | None = None,
               min_households: int = MIN_HOUSEHOLDS, max_households: int = MAX_HOUSEHOLDS,
               barriers: gpd.GeoDataFrame | None = None, seed: int = 0) -> GridPlan:
    """Partition one community into grids of ``[min_households, max_households]`` households.

    Parameters
    ----------
    buildings
        Polygons (EPSG:4326; another CRS is reprojected) indexed by building id, with ``households``
        (whole numbers ≥ 0) and optionally ``units`` (entrances, 单元, ≥ 1), ``levels`` (floors, ≥ 1),
        ``complex_key`` or ``complex_id``, and ``name`` / ``source_ref`` (e.g. ``way/123``), which
        problems use to name a building. A building over the maximum is split by entrance, else by floor
        range (:mod:`~gisgrid.grids.partition.units`).
    community
        The community polygon in EPSG:4326. The grids tile it exactly.
    community_code
        Its 12-digit statistical code; grid codes append a 3-digit sequence (:func:`number_grids`).
    streets
        Street lines with ``highway``: grids are snapped to them and do not reach across major roads
        lightly.
    complexes
        Complex polygons (``complex_key`` / ``complex_id`` or the index), used only when the buildings
        carry no complex column.
    min_households, max_households
        The household window (local practice 300–500).
    barriers
        Lines or polygons in any CRS with ``kind`` in ``river|water|railway|wall|other``. Grids end at
        them; no grid spans water unless a bridge (a street crossing it) joins its banks; water polygons
        go whole to a neighbouring grid, only to tile the community.
    seed
        Fixes the sweep directions and the visiting order; the same seed and input give the same plan,
        byte for byte, on any machine (the search is bounded by counted work, not by time).

    Returns
    -------
    GridPlan

    Raises
    ------
    InvalidInputError, GeometryError, CRSError
        Malformed input (named field and feature); nothing is planned.
    """
    started = time.perf_counter()  # for stats["seconds"] only
    check_community_code(community_code)
    if not (isinstance(min_households, int | np.integer) and isinstance(max_households, int | np.integer)) or \
            min_households < 1 or max_households < min_households:
        raise InvalidInputError(
            f"household window [{min_households}, {max_households}] is not 1 ≤ min ≤ max",
            field="min_households", rule="1 ≤ min_households ≤ max_households",
        )
    lo, hi = int(min_households), int(max_households)
    b, community, frame, community_local, lines = _prepare(buildings, community, streets, DEFAULT_MAJOR_HIGHWAYS,
                                                           barriers)
    if "households" not in b.columns:
        raise InvalidInputError("the buildings have no 'households' column", field="households",
                                rule="households required")
    hh = _int_column(b, "households", minimum=0)
    entrances = _optional_count(b, "units")  # unknown entrances or floors: one (cannot split by them)
    levels = _optional_count(b, "levels")
    cx_keys = _complex_keys(b, complexes)
    cx_names = sorted({k for k in cx_keys if k is not None}, key=_key_order)
    cx_index = {k: i for i, k in enumerate(cx_names)}
    cx_code = np.array([cx_index[k] if k is not None else -1 for k in cx_keys], dtype=np.int64)

    units = _make_units(b, hh, entrances, levels, frame, community_local, hi, cx_code)
    footprints = _footprints_inside(b, frame, community_local)
    t = _tessellate(units.xy, community_local, lines, footprints)
    problems: list[Problem] = []
    causes = Causes()
    problems += oversized(b, units, entrances, levels, hi, causes)
    total = int(units.hh.sum())
    k_range, ks, valid = _k_choice(total, lo, hi, len(units.hh))
    if not valid:
        causes.total_fits_no_k = True
        problems.append(Problem(
            feature=community_code, field="households", rule="no valid k",
            message=(f"{total} households cannot be split into grids of {lo}–{hi}: "
                     f"⌈H/max⌉ = {k_range[0]} > ⌊H/min⌋ = {k_range[1]}; the closest plan has {ks[0]} grid(s)"),
            action="warned"))
    # a unit over the maximum (a building that cannot be split) is a grid of its own; the rest of the
    # community is planned in the parts that no adjacency joins (a MultiPolygon, an enclave, a river bank)
    fixed = np.flatnonzero(units.hh > hi)
    free = np.flatnonzero(units.hh <= hi)
    parts = [free[c] for c in t.subset(free).components()] if len(free) else []
    labels = np.full(len(units.hh), -1, dtype=np.int64)
    labels[fixed] = np.arange(len(fixed))
    offset = len(fixed)
    budget = SearchBudget()
    for number, members in enumerate(parts, start=1):
        part_hh = int(units.hh[members].sum())
        _, part_ks, part_valid = _k_choice(part_hh, lo, hi, len(members))
        if valid and not part_valid:
            causes.cut_off.append((number, part_hh, len(parts)))
            problems.append(Problem(
                feature=community_code, field="households", rule="no valid k",
                message=(f"part {number} of {len(parts)} of the community ({part_hh} households, not adjacent "
                         f"to the rest) cannot be split into grids of {lo}–{hi}; it gets {part_ks[0]} grid(s)"),
                action="warned"))
        part = _Partitioner(t.subset(members), units.xy[members], units.hh[members],
                            units.complex_code[members], lo, hi, seed)
        best_labels: np.ndarray | None = None
        best_score: tuple[float, int, float] | None = None
        for attempt, k in enumerate(part_ks[:K_TRIES]):
            tried = part.improve(part.bisect_best(k, BISECT_STARTS), budget)
            score = part.score(tried)
            gained = best_score is None or score[0] < best_score[0]
            if best_score is None or score < best_score:
                best_labels, best_score = tried, score
            # another k only while k's still lower the households outside the window: when two leave the
            # same, the cause is local (a pocket, a lumpy building) and no k will remove it
            if score[0] == 0 or not gained or (attempt >= 1 and budget.share_spent() > FURTHER_K_SHARE):
                break
        assert best_labels is not None
        labels[members] = best_labels + offset
        offset += int(best_labels.max()) + 1
    causes.budget_spent = budget.exhausted
    plan = _assemble(b, units, t, labels, frame, community_code, cx_keys, lo, hi, k_range, problems, started,
                     lines)
    report = window_report(community_code, plan.grids["households"].to_numpy(), lo, hi, causes, budget.spent,
                           budget.total)
    if report is not None:
        plan.problems.append(report)
    plan.stats["search_spent"] = budget.spent
    plan.stats["seconds"] = time.perf_counter() - started
    return plan


def _bridge_water(polys: np.ndarray, water: list[Any]) -> list[Any]:
    """Give each water piece that touches two or more pieces of one grid (the banks a bridge edge joins)
    to that grid, so the grid is one polygon (in place); the other water pieces are returned."""
    left: list[Any] = []
    split = {g: list(_multi(polys[g]).geoms) for g in range(len(polys))}
    split = {g: pieces for g, pieces in split.items() if len(pieces) > 1}  # only these can qualify
    for w in water:
        for g in sorted(split):
            if sum(bool(shapely.length(shapely.intersection(p.boundary, w.boundary)) > 0) for p in split[g]) >= 2:
                polys[g] = _dissolve([polys[g], w])
                pieces = list(_multi(polys[g]).geoms)
                if len(pieces) > 1:
                    split[g] = pieces
                else:
                    del split[g]
                break
        else:
            left.append(w)
    return left


def _optional_count(b: gpd.GeoDataFrame, column: str) -> np.ndarray:
    """A whole-number column ≥ 1 where given; 1 where missing or absent (cannot split by it)."""
    if column not in b.columns:
        return np.ones(len(b), dtype=np.int64)
    return _int_column(b.assign(**{column: b[column].astype(object).where(b[column].notna(), 1)}), column,
                       minimum=1)


def _assemble(b: gpd.GeoDataFrame, units: _Units, t: _Tessellation, labels: np.ndarray, frame: _Frame,
              community_code: str, cx_keys: np.ndarray, lo: int, hi: int, k_range: tuple[int, int],
              problems: list[Problem], started: float, lines: _Lines) -> GridPlan:
    used = np.unique(labels)
    remap = np.full(int(labels.max()) + 1, -1)
    remap[used] = np.arange(len(used))
    labels = remap[labels]
    k = len(used)
    polys = np.empty(k, dtype=object)
    polys[:] = [_dissolve(t.cells[labels == g]) for g in range(k)]
    water = _bridge_water(polys, list(t.water))  # water a grid spans by its bridge joins that grid
    _attach_orphans(polys, water)  # the rest goes whole to the grid it shares most border with
    on_street = boundary_on_lines_share(polys, lines.measured())
    geoms = [valid_multi(p) for p in frame.inv(polys)]
    gh = np.bincount(labels, weights=units.hh, minlength=k).astype(np.int64)
    grids = gpd.GeoDataFrame({"households": gh, "_g": np.arange(k)}, geometry=geoms, crs=_WGS84)
    grids = number_grids(grids, community_code)
    code_of = dict(zip(grids["_g"].tolist(), grids["code"].tolist(), strict=True))
    unit_code = np.array([code_of[g] for g in labels.tolist()], dtype=object)

    # buildings → the grid holding most of their households (ties: lower code)
    per: dict[int, dict[str, int]] = {}
    for u in range(len(units.hh)):
        d = per.setdefault(int(units.building[u]), {})
        d[unit_code[u]] = d.get(unit_code[u], 0) + int(units.hh[u])
    b_code = [min(d, key=lambda c: (-d[c], c)) for _, d in sorted(per.items())]
    assignment = pd.Series(b_code, index=b.index, name="grid_code")
    rows = []
    part_no: dict[int, int] = {}
    for u in range(len(units.hh)):
        part = units.part[u]
        if part is None:
            continue
        i = int(units.building[u])
        part_no[i] = part_no.get(i, 0) + 1
        ent = part.kind == ENTRANCE
        rows.append({"building": _plain(b.index[i]), "part_no": part_no[i], "kind": part.kind,
                     "entrance_from": part.first if ent else None, "entrance_to": part.last if ent else None,
                     "floor_from": None if ent else part.first, "floor_to": None if ent else part.last,
                     "households": int(units.hh[u]), "grid_code": unit_code[u]})
    pieces = pd.DataFrame(rows, columns=list(PIECE_COLUMNS)).astype(
        {c: object for c in ("entrance_from", "entrance_to", "floor_from", "floor_to")})
    split_buildings = set(part_no)

    counts = assignment.value_counts()
    grids["buildings"] = grids["code"].map(counts).fillna(0).astype(int)
    cx_unit = np.asarray([cx_keys[i] for i in units.building.tolist()], dtype=object)
    cx_grids: dict[Any, set[str]] = {}
    grid_cx: dict[str, set[Any]] = {c: set() for c in grids["code"]}
    for u in range(len(units.hh)):
        key = cx_unit[u]
        if key is None:
            continue
        cx_grids.setdefault(key, set()).add(unit_code[u])
        if units.hh[u] > 0:
            grid_cx[unit_code[u]].add(key)
    grids["complexes"] = [sorted(grid_cx[c], key=_key_order) for c in grids["code"]]
    metric = grids.to_crs(metric_crs_for(grids))
    grids["polsby_popper"] = [polsby_popper(g) for g in metric.geometry]
    grids = grids[["code", "seq", "households", "buildings", "complexes", "polsby_popper", "geometry"]]

    # problems
    cx_hh: dict[Any, int] = {}
    b_hh = pd.to_numeric(b["households"]).to_numpy()
    for i, key in enumerate(cx_keys.tolist()):
        if key is not None:
            cx_hh[key] = cx_hh.get(key, 0) + int(b_hh[i])
    for code, h in zip(grids["code"], grids["households"], strict=True):
        if not lo <= h <= hi:
            problems.append(Problem(
                feature=code, field="households", rule="households out of range",
                message=f"grid {code} has {h} households, outside {lo}–{hi}", action="warned"))
    part_labels = {g: np.flatnonzero(labels == g) for g in range(k)}
    nbrs: list[set[int]] = [set() for _ in range(len(units.hh))]
    for a, c in zip(t.eu.tolist(), t.ev.tolist(), strict=True):
        nbrs[a].add(c)
        nbrs[c].add(a)
    for g, members in part_labels.items():
        if not is_connected(members, nbrs):
            problems.append(Problem(
                feature=code_of[g], field="geometry", rule="non-contiguous",
                message=f"grid {code_of[g]} is not one connected piece over the building adjacency",
                action="warned"))
    whole = 0
    for key in sorted(cx_grids, key=_key_order):
        codes = sorted(cx_grids[key])
        if len(codes) == 1:
            whole += 1
            continue
        fits = cx_hh.get(key, 0) <= hi
        problems.append(Problem(
            feature=key, field="complex_key", rule="complex split",
            message=(f"complex {key!r} ({cx_hh.get(key, 0)} households) is split over grids {', '.join(codes)}"
                     + ("" if fits else f"; it has more than {hi} households and cannot be whole")),
            action="warned"))
    in_range = int(((grids["households"] >= lo) & (grids["households"] <= hi)).sum())
    fitting = sum(1 for key in cx_grids if cx_hh.get(key, 0) <= hi)
    fitting_whole = sum(1 for key in cx_grids if cx_hh.get(key, 0) <= hi and len(cx_grids[key]) == 1)
    stats = {
        "in_range_share": in_range / k if k else 0.0,
        "mean_polsby_popper": float(grids["polsby_popper"].mean()) if k else 0.0,
        "boundary_on_street_share": on_street,
        "complexes_whole_share": whole / len(cx_grids) if cx_grids else 1.0,
        "fitting_complexes_whole_share": fitting_whole / fitting if fitting else 1.0,
        "complexes": len(cx_grids),
        "complexes_split": len(cx_grids) - whole,
        "buildings_split": len(split_buildings),
        "households": int(units.hh.sum()),
        "seconds": time.perf_counter() - started,
    }
    return GridPlan(grids=grids.reset_index(drop=True), assignment=assignment, pieces=pieces, k=k,
                    k_range=k_range, problems=problems, stats=stats)
