"""Cells of the units that tile the community exactly, and their adjacency.

The community boundary, the streets (service roads and paths excluded) and the Voronoi edges of the units'
points are noded together *once* and polygonised. A face belongs to its Voronoi generator when both lie
in the same street block, else to the nearest generator of its own block, so cells end at streets and,
wherever a street separates two grids, the grid boundary *is* the street. Faces of blocks without
buildings (parks, squares) and pieces of a cell cut off from its point join the neighbouring cell with
the longest shared border. Because every cell is a union of faces of one noded arrangement, neighbours
share identical vertices: the cells are an exact coverage, and any union of cells is exact and gap-free.

Two units are neighbours when their cells share a border of positive length (so any connected set of
cells dissolves into one polygon). The edge's ``length`` is that border; it is ``weak`` when the segment
between the two units crosses a major road, and its ``factor`` (what the search multiplies the border by)
is :data:`WEAK_LINK` across a major road or a barrier, :data:`STREET_LINK` across any other street that
cuts blocks, 1 inside a block.

The ground is followed, not fanned out:

* **open land** — the part of a block farther than :data:`OPEN_REACH_M` from every footprint is not
  shared out among the buildings by Voronoi wedges: each connected piece of it goes whole to the cell it
  shares the longest border with — in blocks where open land is at most :data:`OPEN_SHARE_MAX` of the
  area (a sparse block keeps its Voronoi cells, so its buildings stay neighbours);
* **water** — water polygons are cut out of the cells (``water``) and handed whole to a neighbouring grid
  only when the grids are assembled, to tile the community; cells on the two banks of a river line are
  not neighbours, unless a bridge (a street crossing the water) lies within :data:`BRIDGE_REACH_M`, and
  cells on either side of a bridge over a water polygon are joined by a *bridge edge* of no border length
  (it keeps a grid on both banks contiguous but costs nothing to cut).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import shapely

from gisgrid.grids.partition.inputs import _Lines

__all__ = ["BRIDGE_REACH_M", "OPEN_REACH_M", "STREET_LINK", "WEAK_LINK"]

#: Factor on the border length of an edge that crosses a major road or a barrier: cutting there costs a
#: tenth of an ordinary border, so grids end at arterials unless that makes a cut ten times longer.
WEAK_LINK = 0.1
#: Factor on a border along a minor street (the two cells lie in different blocks): a quarter, so a grid
#: boundary takes a street over a line between buildings unless that makes it four times longer (on the
#: hard districts of ``benchmarks/bench_partition.py`` 0.25 puts 4 points more of the boundary on
#: streets than 0.5 at no cost in compactness; 0.1 adds nothing more).
STREET_LINK = 0.25
#: Open land farther than this from every footprint is not cut into Voronoi wedges: about the depth of
#: a front garden and a lane on each side of a building row, beyond which land belongs to no building.
OPEN_REACH_M = 60.0
#: Open land is kept whole only in blocks where it is at most this share of the area: in a sparse block
#: (a village, a campus of scattered halls) one open piece would border every cell, and giving it to one
#: of them would leave the others neighbours of that cell only — a star no grid window fits.
OPEN_SHARE_MAX = 1 / 3
#: A bridge joins cells on the two banks when it lies within this distance of both: a short walk along
#: the embankment to the bridge head.
BRIDGE_REACH_M = 150.0
_ON_LINE_M = 0.05  # a border within this of a river line lies on it (noding moves vertices by far less)

_SNAP_M = 1e-4  # metres: cells closer than this are candidate neighbours (far below any real gap)
_MIN_BORDER_M = 10 * _SNAP_M  # a millimetre: cells whose corners touch at a point are not neighbours
_NUDGE_M = 1e-3  # coincident points are moved a millimetre apart, so each keeps a cell of its own
_COINCIDENT_DIGITS = 6  # points equal to a micrometre are coincident (Voronoi would merge them)
_PULL_IN_M = 1.0  # a point outside its block is moved to the block's surface within this much past it
_LONGER_M = 1e-12  # an orphan's border with a cell must be longer by this to win (rounding noise ties)


@dataclass
class _Tessellation:
    cells: np.ndarray  # Polygon (or rarely MultiPolygon) per unit, local frame
    area: np.ndarray
    perimeter: np.ndarray
    eu: np.ndarray  # edges u < v
    ev: np.ndarray
    length: np.ndarray  # shared border, metres (0 for a bridge edge)
    weak: np.ndarray  # crosses a major road
    factor: np.ndarray  # multiplies the border in cut costs
    water: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))  # pieces no cell holds

    def subset(self, members: np.ndarray) -> _Tessellation:
        """The cells ``members`` (sorted positions) with the edges among them, renumbered 0…"""
        new = np.full(len(self.cells), -1, dtype=np.int64)
        new[members] = np.arange(len(members))
        keep = (new[self.eu] >= 0) & (new[self.ev] >= 0)
        return _Tessellation(self.cells[members], self.area[members], self.perimeter[members],
                             new[self.eu[keep]], new[self.ev[keep]], self.length[keep], self.weak[keep],
                             self.factor[keep])

    def components(self) -> list[np.ndarray]:
        """Connected parts of the adjacency, as sorted arrays, in order of their first cell."""
        graph = nx.Graph()
        graph.add_nodes_from(range(len(self.cells)))
        graph.add_edges_from(zip(self.eu.tolist(), self.ev.tolist(), strict=True))
        parts = [np.asarray(sorted(c), dtype=np.int64) for c in nx.connected_components(graph)]
        return sorted(parts, key=lambda c: int(c[0]))


def _polygons(geom: Any) -> list[shapely.Polygon]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, shapely.Polygon) and not g.is_empty]


def _multi(geom: Any) -> shapely.MultiPolygon:
    return shapely.MultiPolygon(_polygons(geom))


def valid_multi(geom: Any) -> shapely.MultiPolygon:
    """``geom`` as a *valid* MultiPolygon: pieces that touch along an edge, or a ring that the transform back to
    lon/lat made cross itself, are mended (``make_valid``, then the polygonal parts unioned), so a plan never
    hands the publisher a grid it must refuse ("Ring Self-intersection")."""
    multi = _multi(geom)
    if multi.is_valid:
        return multi
    mended = _multi(shapely.union_all(_polygons(shapely.make_valid(multi))))
    return mended if mended.is_valid else _multi(shapely.make_valid(mended))


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
    return shapely.point_on_surface(face.intersection(point.buffer(d + _PULL_IN_M)))  # type: ignore[no-any-return]


def _tessellate(points: np.ndarray, area: Any, lines: _Lines, footprints: np.ndarray | None = None) -> _Tessellation:
    """Cells of ``points`` that tile ``area`` (with the ``water`` pieces) exactly: Voronoi within blocks.

    All edges — community boundary, streets and barriers, the reach of open land, Voronoi edges — are
    noded together once and polygonised, so neighbouring cells share identical vertices and any union of
    cells is exact. A face is owned by its Voronoi generator when both lie in the same block, else by the
    nearest generator of its own block (so cells end at streets); faces of open land and of blocks without
    buildings, and pieces of a cell cut off from its generator, join (as connected pieces) the
    neighbouring cell with the longest shared border; faces of water are kept apart.
    """
    n = len(points)
    blocks = _blocks(area, lines.cut)
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
    for u in range(n):
        key = (round(float(xy[u, 0]), _COINCIDENT_DIGITS), round(float(xy[u, 1]), _COINCIDENT_DIGITS))
        c = seen.get(key, 0)
        seen[key] = c + 1
        if c:
            xy[u, 0] += _NUDGE_M * c
    noded_lines = [area.boundary, *_lines_touching(lines.cut, area).tolist()]
    reach = None
    if footprints is not None and len(footprints):
        reach = shapely.intersection(
            shapely.union_all(shapely.buffer(np.asarray(footprints, dtype=object), OPEN_REACH_M, quad_segs=2)), area)
        if reach.is_empty or reach.covers(area):
            reach = None
        else:
            noded_lines.append(reach.boundary)
    if n > 1:
        gens = shapely.multipoints(xy)
        noded_lines.append(shapely.voronoi_polygons(gens, extend_to=area, only_edges=True))
        vor = np.asarray(shapely.get_parts(shapely.voronoi_polygons(gens, extend_to=area, ordered=True)))
    else:
        vor = np.asarray([area], dtype=object)
    noded = shapely.union_all(np.asarray(noded_lines, dtype=object))
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
    wet = np.zeros(len(faces), dtype=bool)
    if len(lines.water):
        wet[shapely.STRtree(lines.water).query(rep, predicate="within")[0]] = True
    open_land = np.zeros(len(faces), dtype=bool) if reach is None else ~shapely.within(rep, reach)
    if open_land.any():  # a sparse block keeps its Voronoi cells: one open piece would join them all to one
        face_area = shapely.area(faces)
        open_area = np.bincount(np.maximum(face_block, 0), weights=face_area * open_land, minlength=len(blocks))
        all_area = np.bincount(np.maximum(face_block, 0), weights=face_area, minlength=len(blocks))
        sparse = open_area > OPEN_SHARE_MAX * np.maximum(all_area, 1e-12)
        open_land &= (face_block >= 0) & ~sparse[np.maximum(face_block, 0)]
    owner = np.where((face_gen >= 0) & (block_of[np.maximum(face_gen, 0)] == face_block) & ~open_land,
                     face_gen, -1)
    gens_in_block: dict[int, np.ndarray] = {}
    for blk, members in pd.Series(np.arange(n)).groupby(block_of):
        gens_in_block[int(blk)] = members.to_numpy()
    rep_xy = shapely.get_coordinates(rep)
    for f in np.flatnonzero((owner < 0) & ~wet & ~open_land).tolist():
        cand = gens_in_block.get(int(face_block[f]))
        if cand is not None and len(cand):
            owner[f] = cand[int(np.argmin(np.hypot(*(xy[cand] - rep_xy[f]).T)))]
    cells = np.empty(n, dtype=object)
    loose = (owner < 0) & ~wet
    orphans: list[shapely.Polygon] = []
    for blk in sorted(set(face_block[loose].tolist())):  # one piece per block: a street is never crossed
        orphans.extend(_polygons(_dissolve(faces[loose & (face_block == blk)])))
    water = np.asarray(_polygons(_dissolve(faces[(owner < 0) & wet])) if ((owner < 0) & wet).any() else [],
                       dtype=object)
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
    river = (shapely.union_all(shapely.buffer(np.asarray(lines.river, dtype=object), _ON_LINE_M))
             if len(lines.river) else None)
    _attach_orphans(cells, orphans, blocks, block_of, river)
    return _adjacency(cells, xy, block_of, lines, water)


def _attach_orphans(cells: np.ndarray, orphans: list[shapely.Polygon], blocks: list[shapely.Polygon] | None = None,
                    cell_block: np.ndarray | None = None, river: Any = None) -> None:
    """Give every orphan piece to the cell it shares the longest border with (in place); with ``blocks``,
    to a cell of its own block when it borders one (a street is no reason to jump across it); border on
    ``river`` (a zone around water lines) does not count (a piece never crosses a river to join a cell)."""
    extra: dict[int, list[shapely.Polygon]] = {}
    kept = [o for o in orphans if o.area > 0]
    homes = [-1] * len(kept)
    if blocks is not None and cell_block is not None and kept:
        reps = shapely.point_on_surface(np.asarray(kept, dtype=object))
        hit = shapely.STRtree(blocks).query(reps, predicate="within")
        for o, bk in zip(hit[0][::-1], hit[1][::-1], strict=True):
            homes[int(o)] = int(bk)
    pending = list(zip(kept, homes, strict=True))
    stalled = False  # no piece found a cell of its own block: let them join across a street
    while pending:
        tree = shapely.STRtree(cells)
        left: list[tuple[shapely.Polygon, int]] = []
        for o, home in pending:
            cand = tree.query(o, predicate="intersects")
            best, best_len, best_same = -1, 0.0, False
            for c in sorted(cand):
                border = shapely.intersection(cells[c].boundary, o.boundary)
                if river is not None:
                    border = shapely.difference(border, river)
                shared = shapely.length(border)
                if shared <= _MIN_BORDER_M:
                    continue
                same = home >= 0 and cell_block is not None and int(cell_block[c]) == home
                if (same, shared) > (best_same, best_len + _LONGER_M):
                    best, best_len, best_same = int(c), float(shared), same
            if best < 0 or (home >= 0 and not best_same and not stalled):
                left.append((o, home))
            else:
                extra.setdefault(best, []).append(o)
        if extra:
            for c, pieces in sorted(extra.items()):
                cells[c] = _dissolve([cells[c], *pieces])
            extra.clear()
            stalled = False
        elif not stalled:
            stalled = True
        else:  # touches no cell at all: give it to the nearest
            for o, _ in left:
                c = int(tree.query_nearest(o, all_matches=False)[0])
                cells[c] = _dissolve([cells[c], o])
            break
        pending = left


def _adjacency(cells: np.ndarray, points: np.ndarray, block_of: np.ndarray, lines: _Lines,
               water: np.ndarray) -> _Tessellation:
    tree = shapely.STRtree(cells)
    i, j = tree.query(cells, predicate="dwithin", distance=_SNAP_M)
    keep = i < j
    i, j = i[keep], j[keep]
    bounds = shapely.boundary(cells)
    # the cells come from one noded linework, so shared borders have identical vertices
    borders = shapely.intersection(bounds[i], bounds[j])
    shared = shapely.length(borders)
    pos = shared > _MIN_BORDER_M
    i, j, shared, borders = i[pos], j[pos], shared[pos], borders[pos]
    weak = np.zeros(len(i), dtype=bool)
    factor = np.where(block_of[i] != block_of[j], STREET_LINK, 1.0)
    segs = shapely.linestrings(np.stack([points[i], points[j]], axis=1)) if len(i) else np.empty(0, dtype=object)
    if len(lines.major) and len(i):
        hit = shapely.STRtree(lines.major).query(segs, predicate="intersects")[0]
        weak[np.unique(hit)] = True
    across = weak.copy()
    if len(lines.barrier) and len(i):
        across[np.unique(shapely.STRtree(lines.barrier).query(segs, predicate="intersects")[0])] = True
    factor[across] = WEAK_LINK
    bridges = np.asarray(lines.bridges, dtype=object)
    bridge_tree = shapely.STRtree(bridges) if len(bridges) else None
    drop = np.zeros(len(i), dtype=bool)
    if len(lines.river) and len(i):
        zone = shapely.union_all(shapely.buffer(np.asarray(lines.river, dtype=object), _ON_LINE_M))
        on_river = shapely.length(shapely.intersection(borders, zone)) > 0.5 * shared
        on_river[shapely.STRtree(np.asarray(lines.river, dtype=object)).query(segs, predicate="intersects")[0]] = True
        for e in np.flatnonzero(on_river).tolist():
            near = bridge_tree is not None and len(bridge_tree.query(segs[e], predicate="dwithin",
                                                                      distance=BRIDGE_REACH_M)) > 0
            if near:
                factor[e] = WEAK_LINK
            else:
                drop[e] = True
    i, j, shared, weak, factor = i[~drop], j[~drop], shared[~drop], weak[~drop], factor[~drop]
    bi, bj = _bridge_edges(cells, points, water, bridges, {(int(a), int(b)) for a, b in zip(i, j, strict=True)})
    return _Tessellation(
        cells=cells,
        area=shapely.area(cells),
        perimeter=shapely.length(bounds),
        eu=np.concatenate([i, bi]).astype(np.int64),
        ev=np.concatenate([j, bj]).astype(np.int64),
        length=np.concatenate([shared, np.zeros(len(bi))]),
        weak=np.concatenate([weak, np.zeros(len(bi), dtype=bool)]),
        factor=np.concatenate([factor, np.full(len(bi), WEAK_LINK)]),
        water=water,
    )


def _bridge_edges(cells: np.ndarray, points: np.ndarray, water: np.ndarray, bridges: np.ndarray,
                  existing: set[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Edges of no border length between cells on the two banks of a water piece a bridge crosses."""
    if len(water) == 0 or len(bridges) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    wtree = shapely.STRtree(water)
    ctree = shapely.STRtree(cells)
    pairs: set[tuple[int, int]] = set()
    for p in bridges.tolist():
        wet = wtree.query(p, predicate="dwithin", distance=_SNAP_M)
        if len(wet) == 0:
            continue
        pieces = water[wet]
        near = sorted(int(c) for c in ctree.query(p, predicate="dwithin", distance=BRIDGE_REACH_M))
        banks = [c for c in near if bool(shapely.intersects(cells[c], pieces).any())]
        for a_pos, a in enumerate(banks):
            for b in banks[a_pos + 1 :]:
                seg = shapely.LineString([points[a], points[b]])
                if (a, b) not in existing and bool(shapely.intersects(seg, pieces).any()):
                    pairs.add((a, b))
    ordered = sorted(pairs)
    return (np.asarray([a for a, _ in ordered], dtype=np.int64), np.asarray([b for _, b in ordered], dtype=np.int64))
