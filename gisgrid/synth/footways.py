"""Footways inside the complexes: from the gates on the perimeter roads to every building's door.

A household is reached on foot through its complex, not along the fence: each block gets

* **gates** at the midpoints of its four sides, which are nodes of the perimeter roads
  (:func:`gisgrid.synth.layout.make_roads` splits every road segment there);
* a **ring** footway ``RING_INSET`` metres inside the block edge (5 m inside the complex fence, clear
  of every building), joined to each gate by a short stub;
* an **aisle** (宅前路) between every two rows of buildings, from the ring's west side to its east side,
  and **connectors** through each row in every gap between two neighbouring slots, so aisles and
  connectors form a spine from the south gate to the north gate and a lattice of paths between the
  buildings;
* a **branch** from each building's door (the middle of its south side) south to the aisle (or the
  ring) in front of it — straight, or to a junction less than ``MERGE_M`` to the side. The door is a
  node: the building is walked to from its own door.

All of it is ``highway = 'footway'`` without a name; footways do not cut blocks into grids
(:data:`gisgrid.grids.partition.inputs.NON_STREET_HIGHWAYS`). Nothing here draws a random number.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from gisgrid.synth.geometry import WGS84, reproject
from gisgrid.synth.housing import Housing, Row, slot_rows
from gisgrid.synth.layout import CELL_H, CELL_W, SOURCE, Roads

__all__ = ["RING_INSET", "make_footways"]

RING_INSET = 20.0  # metres from the block edge: 5 m inside the complex (15 m), 5 m outside the buildings (25 m)
_MM = 1000.0  # node positions are matched to the millimetre
MERGE_M = 2.0  # a branch meets its aisle at a node already this close rather than beside it


def _lines(rows: list[Row]) -> tuple[np.ndarray, list[list[float]]]:
    """The east–west lines of a complex type south to north — the ring's south side, the aisles in the
    middle of each gap between rows, the ring's north side — and each row's connectors (their x): one
    in every gap between two neighbouring buildings' slots."""
    ry = CELL_H / 2 - RING_INSET
    aisles = [((a.y + a.half_h) + (b.y - b.half_h)) / 2 for a, b in itertools.pairwise(rows)]
    conn = []
    for r in rows:
        xs = np.asarray(r.xs)
        conn.append(((xs[:-1] + xs[1:]) / 2).tolist() if xs.size > 1 else [])
    return np.array([-ry, *aisles, ry]), conn


def make_footways(
    housing: Housing,
    cell_x: np.ndarray,
    cell_y: np.ndarray,
    doors: np.ndarray,
    roads: Roads,
    to_wgs: Transformer,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Footway nodes and edges of every complex (WGS84), keyed after the roads' nodes and edges.

    ``cell_x``, ``cell_y`` are the centres of the built blocks (UTM 50N); ``doors`` each building's door
    (``(n, 2)``, UTM 50N); the gates are ``roads.gates``.
    """
    rows = slot_rows()
    lines = {t: _lines(r) for t, r in rows.items()}
    rx, ry = CELL_W / 2 - RING_INSET, CELL_H / 2 - RING_INSET
    first_node, first_edge = len(roads.nodes), len(roads.edges)
    b_start = np.searchsorted(housing.complex_of, np.arange(housing.n_complexes + 1))
    node_xy: list[tuple[float, float]] = [tuple(p) for p in roads.xy.tolist()]
    node_ref: list[str] = []
    seg_a: list[int] = []
    seg_b: list[int] = []
    gate_at = ((0.0, -CELL_H / 2), (CELL_W / 2, 0.0), (0.0, CELL_H / 2), (-CELL_W / 2, 0.0))  # S, E, N, W
    for k in range(housing.n_complexes):
        cx, cy = float(cell_x[k]), float(cell_y[k])
        t = int(housing.complex_type[k])
        ys, conn = lines[t]
        row_y = np.array([r.y for r in rows[t]])
        index = {(round(gx * _MM), round(gy * _MM)): int(g) for g, (gx, gy) in zip(roads.gates[k], gate_at,
                                                                                     strict=True)}

        def node(x: float, y: float, exact: tuple[float, float] | None = None, *, k: int = k,
                 index: dict[tuple[int, int], int] = index, cx: float = cx, cy: float = cy) -> int:
            at = (round(x * _MM), round(y * _MM))
            if at not in index:
                index[at] = len(node_xy)
                node_ref.append(f"synthetic:foot:{k}:{len(index) - 4}")
                node_xy.append(exact if exact is not None else (cx + x, cy + y))
            return index[at]

        def path(points: list[tuple[float, float]], first: tuple[float, float] | None = None) -> None:
            keys = [node(x, y, first if i == 0 else None) for i, (x, y) in enumerate(points)]
            for a, b in itertools.pairwise(keys):
                if a != b:
                    seg_a.append(a)
                    seg_b.append(b)

        # what meets each east-west line (by its x) and each side of the ring (by its y)
        on_line: list[set[float]] = [{-rx, rx} for _ in ys]
        on_line[0].add(0.0)  # south gate stub
        on_line[-1].add(0.0)  # north gate stub
        for r, xs in enumerate(conn):
            for x in xs:
                on_line[r].add(x)
                on_line[r + 1].add(x)
        b = np.arange(b_start[k], b_start[k + 1])
        door = doors[b] - (cx, cy)
        line_of = np.searchsorted(row_y, housing.dy[b])  # a building's door faces the line south of its row
        foot_x = np.empty(len(b))
        for m, ((dx, _), ln) in enumerate(zip(door, line_of, strict=True)):
            nearest = min(sorted(on_line[ln]), key=lambda x: abs(x - float(dx)))
            # no sliver edges: a branch meets a node close by rather than beside it
            foot_x[m] = nearest if abs(nearest - dx) < MERGE_M else float(dx)
            on_line[ln].add(float(foot_x[m]))
        for ln, at_x in enumerate(on_line):
            path([(x, float(ys[ln])) for x in sorted(at_x)])
        close = ys[np.abs(ys) < MERGE_M]
        ew = float(close[0]) if close.size else 0.0  # where the east and west gate stubs meet the ring
        side = sorted({*ys.tolist(), ew})
        path([(-rx, y) for y in side])
        path([(rx, y) for y in side])
        for r, xs in enumerate(conn):
            for x in xs:
                path([(x, float(ys[r])), (x, float(ys[r + 1]))])
        for (gx, gy), (sx, sy) in zip(gate_at, ((0.0, -ry), (rx, ew), (0.0, ry), (-rx, ew)), strict=True):
            path([(gx, gy), (sx, sy)])
        for (dx, dy), fx, ln, exact in zip(door, foot_x, line_of, doors[b], strict=True):  # door node = entrance
            path([(float(dx), float(dy)), (float(fx), float(ys[ln]))], (float(exact[0]), float(exact[1])))

    xy = np.asarray(node_xy, dtype=float)
    nodes = gpd.GeoDataFrame(
        {"node_key": np.arange(first_node, len(xy)), "source_ref": node_ref, "component": None},
        geometry=gpd.GeoSeries(reproject(shapely.points(xy[first_node:]), to_wgs), crs=WGS84),
    ).rename_geometry("geom")
    a, b = np.asarray(seg_a, dtype=np.int64), np.asarray(seg_b, dtype=np.int64)
    lines_m = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
    n = len(a)
    edges = gpd.GeoDataFrame(
        {
            "edge_key": first_edge + np.arange(n),
            "source_node_key": a,
            "target_node_key": b,
            "length_m": shapely.length(lines_m),
            "name": None,
            "highway": "footway",
            "source": SOURCE,
            "source_ref": [f"syn-foot-{k:06d}" for k in range(n)],
        },
        geometry=gpd.GeoSeries(reproject(lines_m, to_wgs), crs=WGS84),
    ).rename_geometry("geom")
    return nodes, edges
