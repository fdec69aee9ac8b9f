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
between the two units crosses a major road, and the search then weighs it by :data:`WEAK_LINK`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import shapely

__all__ = ["WEAK_LINK"]

#: Factor on the border length of an edge that crosses a major road: cutting there costs a tenth of an
#: ordinary border, so grids end at arterials unless that makes a cut ten times longer.
WEAK_LINK = 0.1

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


def _multi(geom: Any) -> shapely.MultiPolygon:
    return shapely.MultiPolygon(_polygons(geom))


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
    for u in range(n):
        key = (round(float(xy[u, 0]), _COINCIDENT_DIGITS), round(float(xy[u, 1]), _COINCIDENT_DIGITS))
        c = seen.get(key, 0)
        seen[key] = c + 1
        if c:
            xy[u, 0] += _NUDGE_M * c
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
                if shared > best_len + _LONGER_M:
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
    pos = shared > _MIN_BORDER_M
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
