"""Automatic grid partition of a community (网格自动划分): buildings → grids of 300–500 households.

:func:`plan_grids` cuts one community into ``k`` unit grids (网格) whose households lie in
``[min_households, max_households]``, whose polygons tile the community exactly, and which are
contiguous, compact and keep residential complexes (小区) whole where their households allow.

How it works
------------
1. **Units.** Every building is a unit at its representative point. A building with more households
   than ``max_households`` is split by entrance (单元, column ``units``) into runs of *consecutive*
   entrances — the fewest runs that each fit under the maximum, balanced by households — so the pieces of
   one building stay together (one run per grid, never interleaved) and are listed in
   :attr:`GridPlan.pieces`. A building without a ``units`` column (or with one entrance) is indivisible;
   if it alone exceeds the maximum it becomes one grid and the violation is reported.
2. **Tessellation.** The community boundary, the streets (``streets``; service roads and paths
   excluded) and the Voronoi edges of the units' points are noded together *once* and polygonised. A
   face belongs to its Voronoi generator when both lie in the same street block, else to the nearest
   generator of its own block, so cells end at streets and, wherever a street separates two grids, the
   grid boundary *is* the street. Faces of blocks without buildings (parks, squares) and pieces of a
   cell cut off from its point join the neighbouring cell with the longest shared border. Because
   every cell is a union of faces of one noded arrangement, neighbours share identical vertices: the
   cells are an exact coverage, and any union of cells is exact and gap-free. Geometry is built in a
   local equirectangular frame — an affine map of lon/lat, so straight edges stay straight and the
   tiling survives the way back to EPSG:4326 exactly; its scale error over a community (a few km) is
   far below 0.1 %. Polsby–Popper figures in the output are measured in
   :func:`gisgrid.crs.metric_crs_for`.
3. **Adjacency.** Two units are neighbours when their cells share a border of positive length (so any
   connected set of cells dissolves into one polygon). The edge's ``length_m`` is that border; its
   ``weight`` is the same length, times :data:`WEAK_LINK` when the segment between the two buildings
   crosses a major road (``major_highways``) — cutting there is cheap, so grids end at arterials.
4. **k.** ``k`` is taken from ``[⌈H/max⌉, ⌊H/min⌋]``, preferring ``H / k`` closest to the middle of the
   window (most slack on both sides); further values are tried only if the first leaves a violation.
   When the range is empty (e.g. H = 250 with a minimum of 300, or H = 550), the ``k`` with the least
   total excess over the bounds is used and ``no valid k`` is reported.
5. **Recursive weighted bisection.** The unit set is split ``⌊k/2⌋ : ⌈k/2⌉`` by a straight sweep along
   one of eight directions (offset by the seed). Admissible cuts give the left side
   ``[k₁·min, k₁·max] ∩ [H − k₂·max, H − k₂·min]`` households, which keeps every sub-problem feasible.
   Among them the cheapest is taken by *cut weight* (street-weighted border length between the sides,
   relative to the size of the set — the perimeter the cut adds), plus a penalty per complex cut
   (complexes that fit in a grid are swept as one block, so cuts fall between them), plus a mild pull
   towards the proportional share. A cut must leave both sides contiguous over the adjacency (checked
   by graph search); cuts are evaluated for all positions at once with difference arrays, so a level
   costs O(E) per direction. When no straight cut keeps both sides whole and in range, connected regions
   are grown from the extreme units instead (in sweep order, and as discs) and the cheapest is taken.
6. **Repair.** Pieces of a grid cut off from it join the neighbour they share most border with. A
   grid still outside the window is merged with one or two neighbours and the union is bisected afresh
   (the idea of GerryChain's ReCom, used deterministically as a repair), which shifts many units at
   once where single moves are stuck; chained pairs of moves (push on, pull in, swap) follow.
7. **Local search.** Boundary units — and whole complexes — move to a neighbouring grid when the move
   lexicographically improves (total households outside the bounds, complexes split, sum of
   Polsby–Popper) and leaves the donor grid connected. Area and perimeter of every grid are kept
   incrementally from cell areas, cell perimeters and shared border lengths, so Polsby–Popper is exact
   for the cell dissolve and each move is evaluated in O(degree).

Parts of the community that no adjacency joins (a MultiPolygon community, an enclave cut off by the
boundary) are planned separately, each with its own ``k``; a part whose households fit no ``k`` is
reported under ``no valid k``.

Why this and not a peer: GerryChain's ``recursive_tree_part`` cuts random spanning trees — balanced but
ragged, and blind to complexes; spopt's max-p has a floor but no ceiling. A geometric sweep produces
straight, short cuts, and the local search then polishes shape while enforcing the window and the
complexes (see ``docs/partition.md`` and ``benchmarks/bench_partition.py`` for the figures).

Everything is deterministic for a given ``seed``: directions, visiting order and ties depend only on it
and on the input order.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS, check_community_code
from gisgrid.crs import metric_crs_for
from gisgrid.errors import CRSError, GeometryError, InvalidInputError
from gisgrid.report import Problem

__all__ = [
    "DEFAULT_MAJOR_HIGHWAYS",
    "NON_STREET_HIGHWAYS",
    "WEAK_LINK",
    "GridPlan",
    "building_adjacency",
    "number_grids",
    "plan_grids",
    "polsby_popper",
]

#: OSM ``highway`` classes that count as major roads: neighbours across them are weakly linked.
DEFAULT_MAJOR_HIGHWAYS: tuple[str, ...] = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link",
)
#: ``highway`` classes that do not cut the community into blocks (inside complexes, paths, ...).
NON_STREET_HIGHWAYS: frozenset[str] = frozenset(
    {"service", "footway", "path", "cycleway", "steps", "pedestrian", "track", "bridleway", "corridor",
     "elevator", "platform", "construction", "proposed"}
)
#: Factor on the border length of an edge that crosses a major road.
WEAK_LINK = 0.1

_EARTH_R = 6_371_008.8
_INFEASIBLE = 1e6  # cost added to a cut that leaves a side outside its household window
_SNAP_M = 1e-4  # metres: cells closer than this are candidate neighbours
_WGS84 = "EPSG:4326"


# ------------------------------------------------------------------------------------------ result
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
        One row per entrance of every split building: ``building`` (index), ``unit`` (entrance number,
        1…), ``households``, ``grid_code``.
    k, k_range
        The number of grids made and the valid range ``(⌈H/max⌉, ⌊H/min⌋)`` (empty when lo > hi).
    problems
        Every violation: ``households out of range``, ``no valid k``, ``indivisible building over
        maximum``, ``complex split``, ``non-contiguous``.
    stats
        ``in_range_share``, ``mean_polsby_popper``, ``complexes_whole_share``, ``seconds`` and a few
        more counts.
    """

    grids: gpd.GeoDataFrame
    assignment: pd.Series
    pieces: pd.DataFrame
    k: int
    k_range: tuple[int, int]
    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


# -------------------------------------------------------------------------------------- measures
def polsby_popper(geom_metric: shapely.Geometry) -> float:
    """Polsby–Popper compactness 4πA/P² of a geometry in a metric CRS (1 for a disc, 0 if empty).

    Examples
    --------
    >>> round(polsby_popper(shapely.box(0, 0, 10, 10)), 4)
    0.7854
    """
    if geom_metric is None or geom_metric.is_empty:
        return 0.0
    perimeter = float(shapely.length(geom_metric))
    if perimeter <= 0:
        return 0.0
    return float(4.0 * math.pi * shapely.area(geom_metric) / perimeter**2)


def _row_order(x: np.ndarray, y: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray]:
    """Order of points in rows north→south, west→east in each row; also each point's row number.

    A row starts at the northernmost point not yet numbered and takes every unnumbered point whose y
    is more than ``y_start − band/2``; inside a row points go by increasing x (ties: higher y first).
    """
    n = len(x)
    remaining = list(np.lexsort((x, -y)))  # north first, then west
    order: list[int] = []
    row = np.zeros(n, dtype=np.int64)
    r = 0
    while remaining:
        y0 = y[remaining[0]]
        members = [remaining[0]] + [i for i in remaining[1:] if y[i] > y0 - band / 2.0]
        taken = set(members)
        remaining = [i for i in remaining if i not in taken]
        members.sort(key=lambda i: (x[i], -y[i], i))
        order.extend(members)
        row[members] = r
        r += 1
    return np.asarray(order, dtype=np.int64), row


def number_grids(grids: gpd.GeoDataFrame, community_code: str) -> gpd.GeoDataFrame:
    """Give grids their 15-digit codes: the community's 12 digits + a 3-digit sequence.

    The rule (west→east, north→south, like reading a page): centroids are measured in a metric CRS;
    the band height is ``b = √(total area / number of grids)`` (the side of an average grid). Row 1
    starts at the northernmost centroid and holds every grid whose centroid lies less than ``b/2``
    south of it; the next row starts at the northernmost grid left, and so on. Inside a row grids are
    numbered by increasing easting. Sequences run 001, 002, …

    Parameters
    ----------
    grids
        Grid polygons with a CRS.
    community_code
        The community's 12-digit statistical code.

    Returns
    -------
    GeoDataFrame
        A copy sorted by the new ``seq`` (int) with ``code`` (str, 15 digits); the index is reset.
    """
    check_community_code(community_code)
    if len(grids) > 999:
        raise InvalidInputError(
            f"{len(grids)} grids do not fit a 3-digit sequence", field="grids", feature=community_code,
            rule="at most 999 grids per community",
        )
    out = grids.copy()
    if len(out) == 0:
        out["seq"] = pd.Series(dtype="int64")
        out["code"] = pd.Series(dtype=object)
        return out
    if out.crs is None:
        raise CRSError("the grids have no CRS", field="crs", rule="a CRS is required")
    metric = out.to_crs(metric_crs_for(out))
    cent = metric.geometry.centroid
    band = math.sqrt(float(metric.geometry.area.sum()) / len(out))
    order, _ = _row_order(cent.x.to_numpy(), cent.y.to_numpy(), band)
    out = out.iloc[order].reset_index(drop=True)
    out["seq"] = np.arange(1, len(out) + 1)
    out["code"] = [f"{community_code}{s:03d}" for s in out["seq"]]
    return out


# ---------------------------------------------------------------------------------- local frame
class _Frame:
    """An affine local frame in metres: x = (lon − lon₀)·kₓ, y = (lat − lat₀)·k_y."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.ky = _EARTH_R * math.pi / 180.0
        self.kx = self.ky * math.cos(math.radians(lat0))

    def fwd(self, geoms: Any) -> Any:
        return shapely.transform(
            geoms, lambda c: np.column_stack(((c[:, 0] - self.lon0) * self.kx, (c[:, 1] - self.lat0) * self.ky))
        )

    def inv(self, geoms: Any) -> Any:
        return shapely.transform(
            geoms, lambda c: np.column_stack((c[:, 0] / self.kx + self.lon0, c[:, 1] / self.ky + self.lat0))
        )


# ---------------------------------------------------------------------------------- tessellation
@dataclass
class _Tessellation:
    cells: np.ndarray  # Polygon (or rarely MultiPolygon) per unit, local frame
    area: np.ndarray
    perimeter: np.ndarray
    eu: np.ndarray  # edges u < v
    ev: np.ndarray
    length: np.ndarray  # shared border, metres
    weak: np.ndarray  # crosses a major road

    def subset(self, members: np.ndarray) -> _Tessellation:
        """The cells ``members`` (sorted positions) with the edges among them, renumbered 0…"""
        new = np.full(len(self.cells), -1, dtype=np.int64)
        new[members] = np.arange(len(members))
        keep = (new[self.eu] >= 0) & (new[self.ev] >= 0)
        return _Tessellation(self.cells[members], self.area[members], self.perimeter[members],
                             new[self.eu[keep]], new[self.ev[keep]], self.length[keep], self.weak[keep])

    def components(self) -> list[np.ndarray]:
        """Connected parts of the adjacency, as sorted arrays, in order of their first cell."""
        graph = nx.Graph()
        graph.add_nodes_from(range(len(self.cells)))
        graph.add_edges_from(zip(self.eu.tolist(), self.ev.tolist(), strict=True))
        parts = [np.asarray(sorted(c), dtype=np.int64) for c in nx.connected_components(graph)]
        return sorted(parts, key=lambda c: int(c[0]))


def _polygons(geom: Any) -> list[shapely.Polygon]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, shapely.Polygon) and not g.is_empty]


def _blocks(area: Any, lines: np.ndarray) -> list[shapely.Polygon]:
    """The community cut into blocks by street lines (faces of the noded linework inside it)."""
    if len(lines) == 0:
        return _polygons(area)
    # lines are noded whole, not clipped: clipped ends miss the boundary by a rounding error and would
    # dangle; faces outside the community are dropped afterwards
    clipped = _lines_touching(lines, area)
    if len(clipped) == 0:
        return _polygons(area)
    noded = shapely.union_all(np.concatenate([[area.boundary], clipped]))
    faces = _polygons(shapely.polygonize(shapely.get_parts(noded)))
    if not faces:
        return _polygons(area)
    faces_arr = np.asarray(faces, dtype=object)
    inside = shapely.within(shapely.point_on_surface(faces_arr), area)
    return [f for f, keep in zip(faces, inside, strict=True) if keep]


def _dissolve(polygons: Any) -> Any:
    """Union of polygons that form a coverage (shared edges with identical vertices): fast and exact."""
    merged = shapely.coverage_union_all(np.asarray(polygons, dtype=object))
    return merged if merged.is_valid else shapely.union_all(np.asarray(polygons, dtype=object))


def _lines_touching(lines: np.ndarray, area: Any) -> np.ndarray:
    if len(lines) == 0:
        return np.empty(0, dtype=object)
    return np.asarray(lines[shapely.intersects(lines, area)], dtype=object)


def _clip(geoms: np.ndarray, area: Any) -> np.ndarray:
    """``geoms ∩ area``, computing the intersection only for those not already inside."""
    shapely.prepare(area)
    out = geoms.copy()
    outside = ~shapely.within(geoms, area)
    out[outside] = shapely.intersection(geoms[outside], area)
    return out


def _pull_inside(point: shapely.Point, face: shapely.Polygon) -> shapely.Point:
    if face.contains(point):
        return point
    d = float(face.distance(point))
    return shapely.point_on_surface(face.intersection(point.buffer(d + 1.0)))  # type: ignore[no-any-return]


def _tessellate(points: np.ndarray, area: Any, cut_lines: np.ndarray, major_lines: np.ndarray) -> _Tessellation:
    """Cells of ``points`` that tile ``area`` exactly: Voronoi within the street blocks.

    All edges — community boundary, streets, Voronoi edges — are noded together once and polygonised,
    so neighbouring cells share identical vertices and any union of cells is exact. A face is owned by
    its Voronoi generator when both lie in the same block, else by the nearest generator of its own
    block (so cells end at streets); faces of blocks without buildings, and pieces of a cell cut off
    from its generator, join the neighbouring cell with the longest shared border.
    """
    n = len(points)
    blocks = _blocks(area, cut_lines)
    btree = shapely.STRtree(blocks)
    pts = shapely.points(points)
    hits = btree.query(pts, predicate="intersects")
    block_of = np.full(n, -1, dtype=np.int64)
    for p, f in zip(hits[0][::-1], hits[1][::-1], strict=True):  # reversed: the lowest block wins
        block_of[p] = f
    missing = np.flatnonzero(block_of < 0)
    if len(missing):
        block_of[missing] = btree.query_nearest(pts[missing], all_matches=False)[1]
    xy = points.astype(float).copy()
    for u in range(n):  # generators strictly inside their block
        if not blocks[block_of[u]].contains(pts[u]):
            xy[u] = shapely.get_coordinates(_pull_inside(pts[u], blocks[block_of[u]]))[0]
    seen: dict[tuple[float, float], int] = {}
    for u in range(n):  # coincident points: a millimetre apart, so each keeps a cell
        key = (round(float(xy[u, 0]), 6), round(float(xy[u, 1]), 6))
        c = seen.get(key, 0)
        seen[key] = c + 1
        if c:
            xy[u, 0] += 1e-3 * c
    lines = [area.boundary, *_lines_touching(cut_lines, area).tolist()]
    if n > 1:
        gens = shapely.multipoints(xy)
        lines.append(shapely.voronoi_polygons(gens, extend_to=area, only_edges=True))
        vor = np.asarray(shapely.get_parts(shapely.voronoi_polygons(gens, extend_to=area, ordered=True)))
    else:
        vor = np.asarray([area], dtype=object)
    noded = shapely.union_all(np.asarray(lines, dtype=object))
    faces = np.asarray(_polygons(shapely.polygonize(shapely.get_parts(noded))), dtype=object)
    rep = shapely.point_on_surface(faces)
    keep = shapely.within(rep, area)
    faces, rep = faces[keep], rep[keep]
    face_block = np.full(len(faces), -1, dtype=np.int64)
    fb = btree.query(rep, predicate="within")
    face_block[fb[0]] = fb[1]
    face_gen = np.full(len(faces), -1, dtype=np.int64)
    fg = shapely.STRtree(vor).query(rep, predicate="intersects")
    face_gen[fg[0][::-1]] = fg[1][::-1]
    owner = np.where((face_gen >= 0) & (block_of[np.maximum(face_gen, 0)] == face_block), face_gen, -1)
    gens_in_block: dict[int, np.ndarray] = {}
    for blk, members in pd.Series(np.arange(n)).groupby(block_of):
        gens_in_block[int(blk)] = members.to_numpy()
    rep_xy = shapely.get_coordinates(rep)
    for f in np.flatnonzero(owner < 0).tolist():
        cand = gens_in_block.get(int(face_block[f]))
        if cand is not None and len(cand):
            owner[f] = cand[int(np.argmin(np.hypot(*(xy[cand] - rep_xy[f]).T)))]
    cells = np.empty(n, dtype=object)
    orphans: list[shapely.Polygon] = [faces[f] for f in np.flatnonzero(owner < 0).tolist()]
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(n + 1))
    gen_pts = shapely.points(xy)
    for u in range(n):
        mine = faces[order[starts[u] : starts[u + 1]]]
        if len(mine) == 0:
            cells[u] = shapely.Polygon()
            continue
        polys = _polygons(_dissolve(mine)) if len(mine) > 1 else [mine[0]]
        if len(polys) == 1:
            cells[u] = polys[0]
            continue
        main = next((p for p in polys if p.intersects(gen_pts[u])), max(polys, key=lambda p: p.area))
        cells[u] = main
        orphans.extend(p for p in polys if p is not main)
    _attach_orphans(cells, orphans)
    return _adjacency(cells, xy, major_lines)


def _attach_orphans(cells: np.ndarray, orphans: list[shapely.Polygon]) -> None:
    """Give every orphan piece to the cell it shares the longest border with (in place)."""
    extra: dict[int, list[shapely.Polygon]] = {}
    pending = [o for o in orphans if o.area > 0]
    while pending:
        tree = shapely.STRtree(cells)
        left: list[shapely.Polygon] = []
        for o in pending:
            cand = tree.query(o, predicate="intersects")
            best, best_len = -1, 0.0
            for c in sorted(cand):
                shared = shapely.length(shapely.intersection(cells[c].boundary, o.boundary))
                if shared > best_len + 1e-12:
                    best, best_len = int(c), float(shared)
            if best < 0:
                left.append(o)
            else:
                extra.setdefault(best, []).append(o)
        if extra:
            for c, pieces in sorted(extra.items()):
                cells[c] = _dissolve([cells[c], *pieces])
            extra.clear()
        if len(left) == len(pending):  # touches no cell at all: give it to the nearest
            for o in left:
                c = int(tree.query_nearest(o, all_matches=False)[0])
                cells[c] = _dissolve([cells[c], o])
            break
        pending = left


def _adjacency(cells: np.ndarray, points: np.ndarray, major_lines: np.ndarray) -> _Tessellation:
    tree = shapely.STRtree(cells)
    i, j = tree.query(cells, predicate="dwithin", distance=_SNAP_M)
    keep = i < j
    i, j = i[keep], j[keep]
    bounds = shapely.boundary(cells)
    # the cells come from one noded linework, so shared borders have identical vertices
    shared = shapely.length(shapely.intersection(bounds[i], bounds[j]))
    pos = shared > 10 * _SNAP_M  # a millimetre: corners touching at a point are not neighbours
    i, j, shared = i[pos], j[pos], shared[pos]
    weak = np.zeros(len(i), dtype=bool)
    if len(major_lines) and len(i):
        segs = shapely.linestrings(np.stack([points[i], points[j]], axis=1))
        hit = shapely.STRtree(major_lines).query(segs, predicate="intersects")[0]
        weak[np.unique(hit)] = True
    return _Tessellation(
        cells=cells,
        area=shapely.area(cells),
        perimeter=shapely.length(bounds),
        eu=i.astype(np.int64),
        ev=j.astype(np.int64),
        length=shared,
        weak=weak,
    )


# ---------------------------------------------------------------------------------------- inputs
def _check_community(community: Any) -> Any:
    if not isinstance(community, shapely.Polygon | shapely.MultiPolygon) or community.is_empty:
        raise GeometryError(
            "the community must be a non-empty Polygon or MultiPolygon (EPSG:4326)",
            field="community", rule="polygonal community",
        )
    if not community.is_valid:
        raise GeometryError(
            f"the community geometry is invalid: {shapely.is_valid_reason(community)}",
            field="community", rule="valid geometry",
        )
    minx, miny, maxx, maxy = community.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise CRSError(
            "the community is not in lon/lat degrees (EPSG:4326)", field="community", rule="EPSG:4326"
        )
    return community


def _to_wgs84(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise CRSError(f"{name} have no CRS", field=f"{name}.crs", rule="a CRS is required")
    return gdf if gdf.crs.equals(pyproj.CRS.from_epsg(4326)) else gdf.to_crs(_WGS84)


def _int_column(buildings: gpd.GeoDataFrame, column: str, *, minimum: int) -> np.ndarray:
    values = pd.to_numeric(buildings[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < minimum) | (values != np.round(values))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"building {buildings.index[pos]!r} has {column}={buildings[column].iloc[pos]!r}; "
            f"it must be a whole number ≥ {minimum}",
            field=column, feature=_plain(buildings.index[pos]), rule=f"whole number ≥ {minimum}",
        )
    return values.astype(np.int64)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _complex_keys(buildings: gpd.GeoDataFrame, complexes: gpd.GeoDataFrame | None) -> np.ndarray:
    for col in ("complex_key", "complex_id"):
        if col in buildings.columns:
            keys = buildings[col].to_numpy(dtype=object)
            return np.asarray([None if pd.isna(k) else _plain(k) for k in keys], dtype=object)
    out = np.full(len(buildings), None, dtype=object)
    if complexes is None or len(complexes) == 0:
        return out
    cx = _to_wgs84(complexes, "complexes")
    cols = [c for c in ("complex_key", "complex_id") if c in cx.columns]
    labels = cx[cols[0]].to_numpy(dtype=object) if cols else cx.index.to_numpy(dtype=object)
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    b, c = shapely.STRtree(cx.geometry.to_numpy()).query(pts, predicate="within")
    for bi, ci in zip(b[::-1], c[::-1], strict=True):
        out[bi] = _plain(labels[ci])
    return out


def _street_lines(streets: gpd.GeoDataFrame | None, frame: _Frame,
                  major: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    if streets is None or len(streets) == 0:
        empty = np.empty(0, dtype=object)
        return empty, empty
    s = _to_wgs84(streets, "streets")
    geoms = s.geometry.to_numpy()
    highway = s["highway"].astype(str).to_numpy() if "highway" in s.columns else np.full(len(s), "")
    lines = shapely.get_type_id(geoms)
    ok = np.isin(lines, [1, 2, 5]) & ~shapely.is_empty(geoms)  # LineString, LinearRing, MultiLineString
    cut = ok & ~np.isin(highway, list(NON_STREET_HIGHWAYS))
    is_major = ok & np.isin(highway, list(major))
    return frame.fwd(geoms[cut]), frame.fwd(geoms[is_major])


# ------------------------------------------------------------------------------------------ units
@dataclass
class _Units:
    xy: np.ndarray
    hh: np.ndarray
    building: np.ndarray  # position of the building
    entrances: list[list[tuple[int, int]]]  # (entrance number, households) per unit
    complex_code: np.ndarray  # int, -1 = none


def _entrance_runs(households: np.ndarray, maximum: int) -> list[list[int]]:
    """Consecutive runs of entrances: the fewest that fit under ``maximum``, balanced by households."""
    u = len(households)
    for parts in range(max(1, math.ceil(households.sum() / maximum)), u + 1):
        runs = _balanced_runs(households, parts)
        if max(int(households[r].sum()) for r in runs) <= maximum:
            return runs
    return [[e] for e in range(u)]


def _balanced_runs(w: np.ndarray, parts: int) -> list[list[int]]:
    """Split the sequence ``w`` into ``parts`` consecutive runs minimising the largest sum (small DP)."""
    n = len(w)
    pre = np.concatenate([[0], np.cumsum(w)])
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(parts + 1)]
    cut = [[0] * (n + 1) for _ in range(parts + 1)]
    best[0][0] = 0.0
    for p in range(1, parts + 1):
        for i in range(p, n + 1):
            for j in range(p - 1, i):
                v = max(best[p - 1][j], float(pre[i] - pre[j]))
                if v < best[p][i]:
                    best[p][i], cut[p][i] = v, j
    runs: list[list[int]] = []
    i = n
    for p in range(parts, 0, -1):
        j = cut[p][i]
        runs.append(list(range(j, i)))
        i = j
    return runs[::-1]


def _make_units(
    b: gpd.GeoDataFrame, hh: np.ndarray, entrances: np.ndarray, frame: _Frame, community_local: Any,
    maximum: int, complex_code: np.ndarray,
) -> _Units:
    local = frame.fwd(b.geometry.to_numpy())
    inside = _clip(local, community_local)
    use = np.where(shapely.is_empty(inside) | (shapely.area(inside) <= 0), local, inside)
    rep = shapely.get_coordinates(shapely.point_on_surface(use))
    xy: list[np.ndarray] = []
    out_hh: list[int] = []
    building: list[int] = []
    ent: list[list[tuple[int, int]]] = []
    cx: list[int] = []
    for i in range(len(b)):
        u = int(entrances[i])
        if hh[i] <= maximum or u <= 1:
            xy.append(rep[i])
            out_hh.append(int(hh[i]))
            building.append(i)
            ent.append([(1, int(hh[i]))])
            cx.append(int(complex_code[i]))
            continue
        per = np.full(u, hh[i] // u, dtype=np.int64)
        per[: hh[i] % u] += 1
        axis = _long_axis(use[i])
        for run in _entrance_runs(per, maximum):
            weights = per[run].astype(float)
            t = float(np.average([(e + 0.5) / u for e in run], weights=weights if weights.sum() else None))
            xy.append(axis[0] + t * (axis[1] - axis[0]))
            out_hh.append(int(per[run].sum()))
            building.append(i)
            ent.append([(e + 1, int(per[e])) for e in run])
            cx.append(int(complex_code[i]))
    return _Units(np.asarray(xy, dtype=float), np.asarray(out_hh, dtype=np.int64), np.asarray(building),
                  ent, np.asarray(cx, dtype=np.int64))


def _long_axis(poly: Any) -> tuple[np.ndarray, np.ndarray]:
    """End points of the long centre line of the footprint's minimum rotated rectangle (inset 10 %)."""
    rect = shapely.oriented_envelope(poly)
    c = shapely.get_coordinates(rect)[:4]
    if len(c) < 4:
        p = shapely.get_coordinates(shapely.point_on_surface(poly))[0]
        return p, p
    e1, e2 = c[1] - c[0], c[2] - c[1]
    if np.hypot(*e1) >= np.hypot(*e2):
        a, b = (c[0] + c[3]) / 2, (c[1] + c[2]) / 2
    else:
        a, b = (c[0] + c[1]) / 2, (c[3] + c[2]) / 2
    return a + 0.1 * (b - a), b - 0.1 * (b - a)


# ------------------------------------------------------------------------------------ partitioner
class _Partitioner:
    """Recursive weighted bisection + local search over units on the cell adjacency."""

    def __init__(self, t: _Tessellation, xy: np.ndarray, hh: np.ndarray, complex_code: np.ndarray,
                 lo: int, hi: int, seed: int) -> None:
        self.n = len(hh)
        self.xy, self.hh, self.lo, self.hi = xy, hh.astype(np.int64), lo, hi
        self.area, self.perim = t.area.astype(float), t.perimeter.astype(float)
        self.eu, self.ev, self.length = t.eu, t.ev, t.length.astype(float)
        self.weight = np.where(t.weak, WEAK_LINK, 1.0) * self.length
        self.nbrs: list[list[int]] = [[] for _ in range(self.n)]
        self.nlen: list[list[float]] = [[] for _ in range(self.n)]
        self.nw: list[list[float]] = [[] for _ in range(self.n)]
        for a, b, w, ww in zip(self.eu.tolist(), self.ev.tolist(), self.length.tolist(), self.weight.tolist(),
                               strict=True):
            for x, y in ((a, b), (b, a)):
                self.nbrs[x].append(y)
                self.nlen[x].append(w)
                self.nw[x].append(ww)
        self.rng = np.random.default_rng(seed)
        self.angle0 = float(self.rng.uniform(0.0, math.pi / 8))
        # complexes that fit in one grid move and sweep as blocks
        cx = complex_code.copy()
        self.cx = cx
        self.cx_members: dict[int, list[int]] = {}
        for u in np.flatnonzero(cx >= 0).tolist():
            self.cx_members.setdefault(int(cx[u]), []).append(u)
        self.keepable = {c for c, m in self.cx_members.items() if len(m) > 1 and hh[m].sum() <= hi}
        self.block = np.array([c if c in self.keepable else -1 for c in cx.tolist()], dtype=np.int64)

    # -- bisection ------------------------------------------------------------------------------
    def bisect(self, k: int) -> np.ndarray:
        labels = np.full(self.n, -1, dtype=np.int64)
        out: list[np.ndarray] = []
        self._split(np.arange(self.n), k, out)
        for g, members in enumerate(out):
            labels[members] = g
        return labels

    def _split(self, idx: np.ndarray, k: int, out: list[np.ndarray]) -> None:
        if k <= 1 or len(idx) <= 1:
            out.append(idx)
            return
        k1 = k // 2
        k2 = k - k1
        total = int(self.hh[idx].sum())
        lo = max(k1 * self.lo, total - k2 * self.hi)
        hi = min(k1 * self.hi, total - k2 * self.lo)
        target = total * k1 / k
        inset = np.zeros(self.n, dtype=bool)
        inset[idx] = True
        emask = inset[self.eu] & inset[self.ev]
        eu, ev, ew = self.eu[emask], self.ev[emask], self.weight[emask]
        scale = math.sqrt(max(float(self.area[idx].sum()), 1e-9))
        m = len(idx)
        pos = np.zeros(self.n, dtype=np.int64)
        dev_scale = max(k1 * (self.hi - self.lo), 1)
        cx_size: dict[int, int] = {}
        for c in self.block[idx].tolist():
            if c >= 0:
                cx_size[c] = cx_size.get(c, 0) + 1
        # (cost, tie-break, left members, the order they come from, cut position)
        candidates: list[tuple[float, int, np.ndarray]] = []
        blk = self.block[idx]
        has_blocks = bool((blk >= 0).any())
        if has_blocks:
            blk_ids, blk_inv = np.unique(blk, return_inverse=True)
            blk_count = np.bincount(blk_inv).astype(float)
        growth_starts: list[tuple[int, np.ndarray]] = []
        for a in range(8):
            ang = self.angle0 + a * math.pi / 8
            proj = self.xy[idx] @ np.array([math.cos(ang), math.sin(ang)])
            key = proj.copy()
            if has_blocks:
                mean = np.bincount(blk_inv, weights=proj) / blk_count
                key = np.where(blk >= 0, mean[blk_inv], proj)
            order = np.lexsort((idx, proj, key))
            seq = idx[order]
            pos[seq] = np.arange(m)
            left = np.cumsum(self.hh[seq])[:-1]  # households left of cut c (c = 1..m-1)
            pu, pv = pos[eu], pos[ev]
            a_, b_ = np.minimum(pu, pv), np.maximum(pu, pv)
            diff = np.zeros(m + 1)
            np.add.at(diff, a_ + 1, ew)
            np.add.at(diff, b_ + 1, -ew)
            cutw = np.cumsum(diff)[1:m]
            cxcut = np.zeros(m - 1)
            if has_blocks:
                inv_seq = blk_inv[order]
                first = np.full(len(blk_count), m)
                last = np.full(len(blk_count), -1)
                np.minimum.at(first, inv_seq, np.arange(m))
                np.maximum.at(last, inv_seq, np.arange(m))
                real = blk_ids >= 0
                d2 = np.zeros(m + 1)
                np.add.at(d2, first[real] + 1, 1.0)
                np.add.at(d2, last[real] + 1, -1.0)
                cxcut = np.cumsum(d2)[1:m]
            viol = np.maximum(0, lo - left) + np.maximum(0, left - hi)
            cost = (_INFEASIBLE * (viol > 0) + 1e3 * viol / max(self.hi, 1) + cutw / scale + 0.35 * cxcut
                    + 0.6 * np.abs(left - target) / dev_scale)
            counts = np.arange(1, m)
            cost = np.where((counts < k1) | (m - counts < k2), np.inf, cost)
            for c in np.argsort(cost, kind="stable")[:12]:
                if np.isfinite(cost[c]):
                    candidates.append((float(cost[c]), len(candidates), seq[: c + 1]))
            growth_starts.append((int(seq[0]), key))
        candidates.sort(key=lambda t: (t[0], t[1]))
        chosen = self._first_contiguous(candidates, inset, feasible_only=True)
        if chosen is None:
            # no straight cut keeps both sides whole: grow connected regions from each extreme unit,
            # in sweep order and as a disc around it
            for start, key in growth_starts:
                disc = np.hypot(*(self.xy[idx] - self.xy[start]).T)
                for grow_key in (key, disc):
                    keyarr = np.zeros(self.n)
                    keyarr[idx] = grow_key
                    for cost_g, members in self._grow(start, keyarr, inset, m, k1, k2, lo, hi, target, scale,
                                                      dev_scale, cx_size):
                        candidates.append((cost_g, len(candidates), members))
            candidates.sort(key=lambda t: (t[0], t[1]))
            chosen = self._first_contiguous(candidates, inset, feasible_only=False)
        if not candidates:
            out.append(idx)
            return
        if chosen is None:  # no contiguous cut: the local search will repair what it can
            right_mask = inset.copy()
            right_mask[candidates[0][2]] = False
            chosen = (candidates[0][2], np.flatnonzero(right_mask))
        self._split(np.sort(chosen[0]), k1, out)
        self._split(np.sort(chosen[1]), k2, out)

    def _first_contiguous(self, candidates: list[tuple[float, int, np.ndarray]], inset: np.ndarray, *,
                          feasible_only: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """The cheapest candidate whose both sides are connected (only in-window ones if asked)."""
        for cost, _, left_members in candidates[:80]:
            if feasible_only and cost >= _INFEASIBLE:
                return None
            right_mask = inset.copy()
            right_mask[left_members] = False
            right = np.flatnonzero(right_mask)
            if self._connected(left_members) and self._connected(right):
                return left_members, right
        return None

    def _grow(self, start: int, keyarr: np.ndarray, inset: np.ndarray, m: int, k1: int, k2: int, lo: float,
              hi: float, target: float, scale: float, dev_scale: float,
              cx_size: dict[int, int]) -> list[tuple[float, np.ndarray]]:
        """Grow a connected region from ``start`` in ``keyarr`` order; the best prefixes in the window."""
        inside = np.zeros(self.n, dtype=bool)
        queued = np.zeros(self.n, dtype=bool)
        heap = [(float(keyarr[start]), start)]
        queued[start] = True
        order: list[int] = []
        cut = 0.0
        households = 0
        cx_count: dict[int, int] = {}
        cx_cut = 0
        found: list[tuple[float, int]] = []
        while heap:
            _, x = heapq.heappop(heap)
            inside[x] = True
            order.append(x)
            households += int(self.hh[x])
            for v, w in zip(self.nbrs[x], self.nw[x], strict=True):
                if not inset[v]:
                    continue
                if inside[v]:
                    cut -= w
                else:
                    cut += w
                    if not queued[v]:
                        queued[v] = True
                        heapq.heappush(heap, (float(keyarr[v]), v))
            c = int(self.block[x])
            if c >= 0:
                before = cx_count.get(c, 0)
                cx_count[c] = before + 1
                cx_cut += int(0 < before + 1 < cx_size[c]) - int(0 < before < cx_size[c])
            size = len(order)
            if households > hi or m - size < k2:
                break
            if households >= lo and size >= k1:
                found.append((cut / scale + 0.35 * cx_cut + 0.6 * abs(households - target) / dev_scale, size))
        found.sort()
        return [(cost, np.asarray(order[:size], dtype=np.int64)) for cost, size in found[:6]]

    def _connected(self, members: np.ndarray) -> bool:
        if len(members) <= 1:
            return True
        inside = set(members.tolist())
        start = int(members[0])
        seen = {start}
        stack = [start]
        while stack:
            u = stack.pop()
            for v in self.nbrs[u]:
                if v in inside and v not in seen:
                    seen.add(v)
                    stack.append(v)
        return len(seen) == len(inside)

    # -- local search ---------------------------------------------------------------------------
    def _viol(self, h: float) -> float:
        return max(0.0, self.lo - h) + max(0.0, h - self.hi)

    def improve(self, labels: np.ndarray, *, max_passes: int = 40, deadline: float = math.inf) -> np.ndarray:
        """Repair (contiguity, then households by recombination) and polish by moving boundary units."""
        labels = labels.copy()
        k = int(labels.max()) + 1
        self._fix_contiguity(labels, k)
        self._recombine(labels, k, deadline)
        labels = self._local(labels, k, max_passes, deadline)
        if self.score(labels)[0] > 0:
            self._recombine(labels, k, deadline)
            labels = self._local(labels, k, max_passes, deadline)
        return labels

    def _recombine(self, labels: np.ndarray, k: int, deadline: float) -> None:
        """Merge a grid outside the window with one or two neighbours and re-split the union (in place).

        The same idea as GerryChain's ReCom step, used deterministically as a repair: the union of two or
        three adjacent grids is bisected afresh, which can shift many units at once where single moves
        are stuck.
        """
        for _ in range(3 * k):
            if time.perf_counter() > deadline:
                return
            gh = np.bincount(labels, weights=self.hh, minlength=k)
            viol = np.array([self._viol(h) for h in gh])
            if viol.sum() == 0:
                return
            grid_nbrs: list[dict[int, float]] = [{} for _ in range(k)]
            diff = labels[self.eu] != labels[self.ev]
            for a, b, w in zip(labels[self.eu[diff]].tolist(), labels[self.ev[diff]].tolist(),
                               self.length[diff].tolist(), strict=True):
                grid_nbrs[a][b] = grid_nbrs[a].get(b, 0.0) + w
                grid_nbrs[b][a] = grid_nbrs[b].get(a, 0.0) + w
            done = False
            for g in np.argsort(-viol, kind="stable").tolist():
                if viol[g] == 0:
                    break
                near = sorted(grid_nbrs[g], key=lambda h: (-grid_nbrs[g][h], h))
                groups: list[tuple[int, ...]] = [(g, h) for h in near]
                groups += [(g, h, j) for i, h in enumerate(near) for j in near[i + 1 :]]
                groups += [(g, h, j) for h in near for j in sorted(grid_nbrs[h]) if j != g and j not in near]
                for group in groups[:40]:
                    union = np.flatnonzero(np.isin(labels, group))
                    before = float(viol[list(group)].sum())
                    out: list[np.ndarray] = []
                    self._split(union, len(group), out)
                    if len(out) != len(group):
                        continue
                    after = sum(self._viol(float(self.hh[part].sum())) for part in out)
                    if after < before and all(self._connected(part) for part in out):
                        for gid, part in zip(group, out, strict=True):
                            labels[part] = gid
                        done = True
                        break
                if done:
                    break
            if not done:
                return

    def _local(self, labels: np.ndarray, k: int, max_passes: int, deadline: float) -> np.ndarray:
        gh = np.bincount(labels, weights=self.hh, minlength=k).astype(float)
        ga = np.bincount(labels, weights=self.area, minlength=k)
        gp = np.bincount(labels, weights=self.perim, minlength=k)
        same = labels[self.eu] == labels[self.ev]
        np.subtract.at(gp, labels[self.eu[same]], 2 * self.length[same])
        members: list[set[int]] = [set() for _ in range(k)]
        for u, g in enumerate(labels.tolist()):
            members[g].add(u)
        cx_in: dict[int, dict[int, int]] = {}
        for c in self.keepable:
            cnt: dict[int, int] = {}
            for u in self.cx_members[c]:
                cnt[int(labels[u])] = cnt.get(int(labels[u]), 0) + 1
            cx_in[c] = cnt

        def pp(a: float, p: float) -> float:
            return 4 * math.pi * a / (p * p) if p > 0 else 0.0

        repairs = 0
        for _ in range(max_passes + 4 * k):
            moved = 0
            cross = labels[self.eu] != labels[self.ev]
            border = np.unique(np.concatenate([self.eu[cross], self.ev[cross]]))
            for u in border[self.rng.permutation(len(border))].tolist():
                if time.perf_counter() > deadline:
                    return labels
                g = int(labels[u])
                targets = sorted({int(labels[v]) for v in self.nbrs[u]} - {g})
                if not targets:
                    continue
                c = int(self.block[u])
                sets: list[list[int]] = [[u]]
                if c >= 0 and len(cx_in[c]) == 1:
                    sets.append(self.cx_members[c])
                best: tuple[float, float, float] | None = None
                best_move: tuple[list[int], int] | None = None
                for s in sets:
                    sset = set(s)
                    if len(sset) >= len(members[g]):
                        continue
                    s_hh = float(self.hh[s].sum())
                    s_area = float(self.area[s].sum())
                    s_perim = float(self.perim[s].sum())
                    to_grid: dict[int, float] = {}
                    inner = 0.0
                    for x in s:
                        for v, w in zip(self.nbrs[x], self.nlen[x], strict=True):
                            if v in sset:
                                inner += w  # counted twice, as perimeter needs
                            else:
                                lv = int(labels[v])
                                to_grid[lv] = to_grid.get(lv, 0.0) + w
                    s_perim -= inner
                    to_g = to_grid.get(g, 0.0)
                    pg_new = gp[g] - s_perim + 2 * to_g
                    old_g = pp(ga[g], gp[g])
                    new_g = pp(ga[g] - s_area, pg_new)
                    for h in targets:
                        to_h = to_grid.get(h, 0.0)
                        if to_h <= 0:
                            continue
                        dv = (self._viol(gh[g] - s_hh) + self._viol(gh[h] + s_hh)
                              - self._viol(gh[g]) - self._viol(gh[h]))
                        ds = 0.0
                        if len(s) == 1 and c >= 0:
                            cnt = cx_in[c]
                            before = len(cnt) > 1
                            after_cnt = dict(cnt)
                            after_cnt[g] -= 1
                            if after_cnt[g] == 0:
                                del after_cnt[g]
                            after_cnt[h] = after_cnt.get(h, 0) + 1
                            ds = float(len(after_cnt) > 1) - float(before)
                        ph_new = gp[h] + s_perim - 2 * to_h
                        dpp = new_g + pp(ga[h] + s_area, ph_new) - old_g - pp(ga[h], gp[h])
                        key = (dv, ds, -dpp)
                        if key < (0.0, 0.0, -1e-6) and (best is None or key < best):
                            best, best_move = key, (s, h)
                if best_move is None:
                    continue
                s, h = best_move
                rest = np.fromiter(members[g] - set(s), dtype=np.int64)
                if not self._connected(rest):
                    continue
                if len(s) > 1 and not self._connected(np.fromiter(members[h] | set(s), dtype=np.int64)):
                    continue
                self._apply(s, g, h, labels, gh, ga, gp, members, cx_in)
                moved += 1
            if moved == 0:
                if sum(self._viol(h) for h in gh) == 0 or repairs >= 4 * k:
                    break
                if not self._pair_repair(labels, gh, ga, gp, members, cx_in):
                    break
                repairs += 1
        return labels

    def _pair_repair(self, labels: np.ndarray, gh: np.ndarray, ga: np.ndarray, gp: np.ndarray,
                     members: list[set[int]], cx_in: dict[int, dict[int, int]]) -> bool:
        """Two chained moves (push on, pull in, or swap) that lower the households outside the window.

        Single moves cannot take a 530-household grid into range when every neighbour is near the
        maximum; moving a unit on *and* letting the receiver pass another one further can.
        """
        viol = self._viol
        bad = [g for g in np.argsort(-np.array([viol(h) for h in gh]), kind="stable").tolist() if viol(gh[g]) > 0]
        cands: list[tuple[float, int, int, int, int, int, int]] = []
        for a in bad:
            # first move: u from a to b (push) or from b into a (pull)
            firsts: list[tuple[int, int, int]] = []
            for u in sorted(members[a]):
                for v in self.nbrs[u]:
                    b = int(labels[v])
                    if b != a:
                        firsts.append((u, a, b))
                        firsts.append((v, b, a))
            for u, src, dst in dict.fromkeys(firsts):
                hu = float(self.hh[u])
                # second move: v leaves dst to any neighbour grid j, or enters src from any grid j
                seconds: list[tuple[int, int, int]] = []
                for w in sorted(members[dst]):
                    if w == u:
                        continue
                    for x in self.nbrs[w]:
                        j = int(labels[x]) if x != u else dst
                        if j != dst:
                            seconds.append((w, dst, j))
                for w in sorted(members[src]):
                    if w == u:
                        continue
                    for x in self.nbrs[w]:
                        j = int(labels[x])
                        if j != src and x != u:
                            seconds.append((x, j, src))
                for w, s2, d2 in dict.fromkeys(seconds):
                    hw = float(self.hh[w])
                    change = {src: -hu, dst: hu}
                    change[s2] = change.get(s2, 0.0) - hw
                    change[d2] = change.get(d2, 0.0) + hw
                    dv = sum(viol(gh[g] + dh) - viol(gh[g]) for g, dh in change.items())
                    if dv < 0:
                        cands.append((dv, u, src, dst, w, s2, d2))
        cands.sort()
        for _, u, src, dst, w, s2, d2 in cands[:300]:
            after = {g: set(members[g]) for g in {src, dst, s2, d2}}
            after[src].discard(u)
            after[dst].add(u)
            if w not in after[s2]:
                continue
            after[s2].discard(w)
            after[d2].add(w)
            if any(not m for m in after.values()):
                continue
            if all(self._connected(np.fromiter(m, dtype=np.int64)) for m in after.values()):
                self._apply([u], src, dst, labels, gh, ga, gp, members, cx_in)
                self._apply([w], s2, d2, labels, gh, ga, gp, members, cx_in)
                return True
        return False

    def _apply(self, s: Sequence[int], g: int, h: int, labels: np.ndarray, gh: np.ndarray, ga: np.ndarray,
               gp: np.ndarray, members: list[set[int]], cx_in: dict[int, dict[int, int]]) -> None:
        for x in s:
            for v, w in zip(self.nbrs[x], self.nlen[x], strict=True):
                lv = int(labels[v])
                if lv == g:
                    gp[g] += 2 * w
                if lv == h:
                    gp[h] -= 2 * w
            gp[g] -= self.perim[x]
            gp[h] += self.perim[x]
            labels[x] = h
            members[g].discard(x)
            members[h].add(x)
            gh[g] -= self.hh[x]
            gh[h] += self.hh[x]
            ga[g] -= self.area[x]
            ga[h] += self.area[x]
            c = int(self.block[x])
            if c >= 0:
                cnt = cx_in[c]
                cnt[g] -= 1
                if cnt[g] == 0:
                    del cnt[g]
                cnt[h] = cnt.get(h, 0) + 1

    def _fix_contiguity(self, labels: np.ndarray, k: int) -> None:
        """Give every detached piece of a grid to the neighbouring grid it shares most border with."""
        for _ in range(5):
            changed = False
            for g in range(k):
                units = np.flatnonzero(labels == g)
                comps = self._components(units)
                if len(comps) <= 1:
                    continue
                comps.sort(key=lambda comp: (-int(self.hh[comp].sum()), -len(comp), min(comp)))
                for comp in comps[1:]:
                    border: dict[int, float] = {}
                    for x in comp:
                        for v, w in zip(self.nbrs[x], self.nlen[x], strict=True):
                            lv = int(labels[v])
                            if lv != g:
                                border[lv] = border.get(lv, 0.0) + w
                    if border:
                        labels[comp] = max(sorted(border), key=lambda h: border[h])
                        changed = True
            if not changed:
                return

    def _components(self, units: np.ndarray) -> list[list[int]]:
        inside = set(units.tolist())
        seen: set[int] = set()
        comps: list[list[int]] = []
        for s in units.tolist():
            if s in seen:
                continue
            comp = [s]
            seen.add(s)
            stack = [s]
            while stack:
                u = stack.pop()
                for v in self.nbrs[u]:
                    if v in inside and v not in seen:
                        seen.add(v)
                        comp.append(v)
                        stack.append(v)
            comps.append(comp)
        return comps

    def score(self, labels: np.ndarray) -> tuple[float, int, float]:
        k = int(labels.max()) + 1
        gh = np.bincount(labels, weights=self.hh, minlength=k)
        viol = float(sum(self._viol(h) for h in gh))
        splits = sum(1 for c in self.keepable if len({int(labels[u]) for u in self.cx_members[c]}) > 1)
        ga = np.bincount(labels, weights=self.area, minlength=k)
        gp = np.bincount(labels, weights=self.perim, minlength=k)
        same = labels[self.eu] == labels[self.ev]
        np.subtract.at(gp, labels[self.eu[same]], 2 * self.length[same])
        mean_pp = float(np.mean(4 * math.pi * ga / np.maximum(gp, 1e-9) ** 2))
        return viol, splits, -mean_pp


# ------------------------------------------------------------------------------------- adjacency
def _prepare(buildings: gpd.GeoDataFrame, community: Any, streets: gpd.GeoDataFrame | None,
             major_highways: Iterable[str]) -> tuple[gpd.GeoDataFrame, Any, _Frame, Any, np.ndarray, np.ndarray]:
    if not isinstance(buildings, gpd.GeoDataFrame):
        raise InvalidInputError("buildings must be a GeoDataFrame", field="buildings", rule="GeoDataFrame")
    if len(buildings) == 0:
        raise InvalidInputError("there are no buildings to partition", field="buildings", rule="non-empty")
    if not buildings.index.is_unique:
        raise InvalidInputError("the buildings' index must identify buildings (it has duplicates)",
                                field="index", rule="unique index")
    b = _to_wgs84(buildings, "buildings")
    geoms = b.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise GeometryError(f"building {b.index[pos]!r} has no geometry", field="geometry",
                            feature=_plain(b.index[pos]), rule="non-empty geometry")
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():  # self-touching OSM footprints are common; only their point and area are used
        b = b.copy()
        b.loc[b.index[invalid], b.geometry.name] = shapely.make_valid(geoms[invalid])
    community = _check_community(community)
    c = community.centroid
    frame = _Frame(float(c.x), float(c.y))
    community_local = frame.fwd(community)
    cut, major = _street_lines(streets, frame, major_highways)
    return b, community, frame, community_local, cut, major


def building_adjacency(buildings: gpd.GeoDataFrame, community: shapely.Geometry,
                       streets: gpd.GeoDataFrame | None = None,
                       major_highways: Sequence[str] = DEFAULT_MAJOR_HIGHWAYS) -> nx.Graph:
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

    Returns
    -------
    networkx.Graph
        Nodes are the buildings' index labels with ``households``, ``complex``, ``cell`` (EPSG:4326
        polygon), ``area_m2``, ``perimeter_m``; edges have ``length_m`` (shared border), ``major_street``
        (the pair is separated by a major road) and ``weight`` (``length_m``, × :data:`WEAK_LINK` across a
        major road).
    """
    b, _, frame, community_local, cut, major = _prepare(buildings, community, streets, major_highways)
    local = frame.fwd(b.geometry.to_numpy())
    inside = _clip(local, community_local)
    use = np.where(shapely.is_empty(inside) | (shapely.area(inside) <= 0), local, inside)
    xy = shapely.get_coordinates(shapely.point_on_surface(use))
    t = _tessellate(xy, community_local, cut, major)
    cells = frame.inv(t.cells)
    hh = (pd.to_numeric(b["households"], errors="coerce").fillna(0).astype(int).to_numpy()
          if "households" in b.columns else np.zeros(len(b), dtype=int))
    cx = _complex_keys(b, None)
    graph = nx.Graph()
    labels = [_plain(x) for x in b.index]
    for i, label in enumerate(labels):
        graph.add_node(label, households=int(hh[i]), complex=cx[i], cell=cells[i],
                       area_m2=float(t.area[i]), perimeter_m=float(t.perimeter[i]))
    for a, c, ln, wk in zip(t.eu.tolist(), t.ev.tolist(), t.length.tolist(), t.weak.tolist(), strict=True):
        graph.add_edge(labels[a], labels[c], length_m=ln, major_street=wk, weight=ln * (WEAK_LINK if wk else 1.0))
    return graph


# ---------------------------------------------------------------------------------------- planner
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
               min_households: int = MIN_HOUSEHOLDS, max_households: int = MAX_HOUSEHOLDS, seed: int = 0) -> GridPlan:
    """Partition one community into grids of ``[min_households, max_households]`` households.

    Parameters
    ----------
    buildings
        Polygons (EPSG:4326; another CRS is reprojected) indexed by building id, with ``households``
        (whole numbers ≥ 0), optional ``units`` (entrances, 单元, ≥ 1) and optional ``complex_key`` or
        ``complex_id``.
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
    seed
        Fixes the sweep directions and the visiting order; the same seed gives the same plan.

    Returns
    -------
    GridPlan

    Raises
    ------
    InvalidInputError, GeometryError, CRSError
        Malformed input (named field and feature); nothing is planned.
    """
    started = time.perf_counter()
    check_community_code(community_code)
    if not (isinstance(min_households, int | np.integer) and isinstance(max_households, int | np.integer)) or \
            min_households < 1 or max_households < min_households:
        raise InvalidInputError(
            f"household window [{min_households}, {max_households}] is not 1 ≤ min ≤ max",
            field="min_households", rule="1 ≤ min_households ≤ max_households",
        )
    lo, hi = int(min_households), int(max_households)
    b, community, frame, community_local, cut, major = _prepare(buildings, community, streets,
                                                                DEFAULT_MAJOR_HIGHWAYS)
    if "households" not in b.columns:
        raise InvalidInputError("the buildings have no 'households' column", field="households",
                                rule="households required")
    hh = _int_column(b, "households", minimum=0)
    if "units" in b.columns:  # an unknown entrance count means one entrance (indivisible)
        entrances = _int_column(b.assign(units=b["units"].fillna(1)), "units", minimum=1)
    else:
        entrances = np.ones(len(b), dtype=np.int64)
    cx_keys = _complex_keys(b, complexes)
    cx_names = sorted({k for k in cx_keys if k is not None}, key=str)
    cx_index = {k: i for i, k in enumerate(cx_names)}
    cx_code = np.array([cx_index[k] if k is not None else -1 for k in cx_keys], dtype=np.int64)

    units = _make_units(b, hh, entrances, frame, community_local, hi, cx_code)
    t = _tessellate(units.xy, community_local, cut, major)
    problems: list[Problem] = []
    total = int(units.hh.sum())
    k_range, ks, valid = _k_choice(total, lo, hi, len(units.hh))
    if not valid:
        problems.append(Problem(
            feature=community_code, field="households", rule="no valid k",
            message=(f"{total} households cannot be split into grids of {lo}–{hi}: "
                     f"⌈H/max⌉ = {k_range[0]} > ⌊H/min⌋ = {k_range[1]}; the closest plan has {ks[0]} grid(s)"),
            action="warned"))
    # parts of the community that no adjacency joins (a MultiPolygon, an enclave) get grids of their own
    parts = t.components()
    labels = np.full(len(units.hh), -1, dtype=np.int64)
    offset = 0
    deadline = started + 30.0
    for number, members in enumerate(parts, start=1):
        part_hh = int(units.hh[members].sum())
        _, part_ks, part_valid = _k_choice(part_hh, lo, hi, len(members))
        if valid and not part_valid:
            problems.append(Problem(
                feature=community_code, field="households", rule="no valid k",
                message=(f"part {number} of {len(parts)} of the community ({part_hh} households, not adjacent "
                         f"to the rest) cannot be split into grids of {lo}–{hi}; it gets {part_ks[0]} grid(s)"),
                action="warned"))
        part = _Partitioner(t.subset(members), units.xy[members], units.hh[members],
                            units.complex_code[members], lo, hi, seed)
        best_labels: np.ndarray | None = None
        best_score: tuple[float, int, float] | None = None
        for attempt, k in enumerate(part_ks[:4]):
            tried = part.improve(part.bisect(k), deadline=deadline)
            score = part.score(tried)
            if best_score is None or score < best_score:
                best_labels, best_score = tried, score
            if score[0] == 0 or (attempt >= 1 and time.perf_counter() > deadline - 20.0):
                break
        assert best_labels is not None
        labels[members] = best_labels + offset
        offset += int(best_labels.max()) + 1
    return _assemble(b, units, t, labels, frame, community_code, cx_keys, lo, hi, k_range, problems, started)


def _assemble(b: gpd.GeoDataFrame, units: _Units, t: _Tessellation, labels: np.ndarray, frame: _Frame,
              community_code: str, cx_keys: np.ndarray, lo: int, hi: int, k_range: tuple[int, int],
              problems: list[Problem], started: float) -> GridPlan:
    used = np.unique(labels)
    remap = np.full(int(labels.max()) + 1, -1)
    remap[used] = np.arange(len(used))
    labels = remap[labels]
    k = len(used)
    polys = [_dissolve(t.cells[labels == g]) for g in range(k)]
    geoms = [_multi(p) for p in frame.inv(np.asarray(polys, dtype=object))]
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
    n_units = np.bincount(units.building, minlength=len(b))
    split_buildings = set(np.flatnonzero(n_units > 1).tolist())
    for u in range(len(units.hh)):
        i = int(units.building[u])
        if i in split_buildings:
            for e, h in units.entrances[u]:
                rows.append({"building": _plain(b.index[i]), "unit": e, "households": h,
                             "grid_code": unit_code[u]})
    pieces = pd.DataFrame(rows, columns=["building", "unit", "households", "grid_code"])

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
    grids["complexes"] = [sorted(grid_cx[c], key=str) for c in grids["code"]]
    metric = grids.to_crs(metric_crs_for(grids))
    grids["polsby_popper"] = [polsby_popper(g) for g in metric.geometry]
    grids = grids[["code", "seq", "households", "buildings", "complexes", "polsby_popper", "geometry"]]

    # problems
    cx_hh: dict[Any, int] = {}
    b_hh = pd.to_numeric(b["households"]).to_numpy()
    for i, key in enumerate(cx_keys.tolist()):
        if key is not None:
            cx_hh[key] = cx_hh.get(key, 0) + int(b_hh[i])
    for u in range(len(units.hh)):
        if units.hh[u] > hi:
            i = int(units.building[u])
            problems.append(Problem(
                feature=_plain(b.index[i]), field="households", rule="indivisible building over maximum",
                message=(f"building {b.index[i]!r} has {units.hh[u]} households in one entrance run, more than "
                         f"{hi}; it cannot be split (give its 'units' to split it by entrance)"),
                action="warned"))
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
        if not _is_connected(members, nbrs):
            problems.append(Problem(
                feature=code_of[g], field="geometry", rule="non-contiguous",
                message=f"grid {code_of[g]} is not one connected piece over the building adjacency",
                action="warned"))
    whole = 0
    for key in sorted(cx_grids, key=str):
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
    stats = {
        "in_range_share": in_range / k if k else 0.0,
        "mean_polsby_popper": float(grids["polsby_popper"].mean()) if k else 0.0,
        "complexes_whole_share": whole / len(cx_grids) if cx_grids else 1.0,
        "complexes": len(cx_grids),
        "complexes_split": len(cx_grids) - whole,
        "buildings_split": len(split_buildings),
        "households": int(units.hh.sum()),
        "seconds": time.perf_counter() - started,
    }
    return GridPlan(grids=grids.reset_index(drop=True), assignment=assignment, pieces=pieces, k=k,
                    k_range=k_range, problems=problems, stats=stats)


def _is_connected(members: np.ndarray, nbrs: list[set[int]]) -> bool:
    if len(members) <= 1:
        return True
    inside = set(members.tolist())
    start = int(members[0])
    seen = {start}
    stack = [start]
    while stack:
        u = stack.pop()
        for v in nbrs[u]:
            if v in inside and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == len(inside)


def _multi(geom: Any) -> shapely.MultiPolygon:
    polys = _polygons(geom)
    return shapely.MultiPolygon(polys)
