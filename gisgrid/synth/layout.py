"""The urban plan: city blocks inside the real boundary, streets and communities over them, roads.

* A lattice of city blocks (cells of 320 × 260 m in UTM 50N) is laid around the real town centre.
  Cells wholly inside the boundary are ordered by a noisy, lobed distance from the centre, so the
  urban area grows outward as the household count grows.
* Blocks are split into streets (街道) and streets into communities (社区) by recursive bisection
  weighted by households, so both tile the urban area and each community has about 4,000 households.
* Roads run along every block edge: arterials every second/fourth lattice line. Each block side is two
  edges meeting at its midpoint, where the complex has a gate (:mod:`gisgrid.synth.footways`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from gisgrid.errors import InvalidInputError
from gisgrid.synth.geometry import WGS84, apportion, as_multi, bisect, rects, reproject
from gisgrid.synth.names import (
    COMMUNITY_A,
    COMMUNITY_B,
    ROAD_EW,
    ROAD_EW_B,
    ROAD_NS,
    STREET_A,
    STREET_B,
    cn_number,
    combo_names,
)

SOURCE = "synthetic"
CELL_W = 320.0  # block lattice pitch, metres (east–west)
CELL_H = 260.0  # (north–south)
COMPLEX_INSET = 15.0  # road half-width + pavement: complex polygon = cell inset by this
HOUSEHOLDS_PER_COMMUNITY = 4_000


@dataclass(frozen=True)
class Blocks:
    """Every cell of the block lattice over the boundary's bounding box (UTM 50N unless noted)."""

    x0: float  # the lattice origin: the town centre, rounded to 10 m
    y0: float
    i: np.ndarray  # column and row of each cell
    j: np.ndarray
    x: np.ndarray  # cell centres
    y: np.ndarray
    polygons: np.ndarray  # cell polygons, WGS84
    order: np.ndarray  # cells wholly inside the boundary, nearest the centre first


def city_blocks(
    rng: np.random.Generator,
    boundary: shapely.MultiPolygon,
    centre_lonlat: tuple[float, float],
    to_utm: Transformer,
    to_wgs: Transformer,
) -> Blocks:
    """The block lattice, with the cells that fit inside the boundary ordered outward from the centre."""
    cx0, cy0 = to_utm.transform(*centre_lonlat)
    cx0, cy0 = round(cx0 / 10) * 10, round(cy0 / 10) * 10
    bminx, bminy, bmaxx, bmaxy = shapely.bounds(reproject(np.array([boundary]), to_utm)[0])
    i_lo, i_hi = math.floor((bminx - cx0) / CELL_W) - 1, math.ceil((bmaxx - cx0) / CELL_W) + 1
    j_lo, j_hi = math.floor((bminy - cy0) / CELL_H) - 1, math.ceil((bmaxy - cy0) / CELL_H) + 1
    gi, gj = np.meshgrid(np.arange(i_lo, i_hi + 1), np.arange(j_lo, j_hi + 1))
    gi, gj = gi.ravel(), gj.ravel()  # type: ignore[assignment]
    ccx, ccy = cx0 + gi * CELL_W, cy0 + gj * CELL_H
    half_w, half_h = np.full(gi.size, CELL_W / 2), np.full(gi.size, CELL_H / 2)
    cell_rings = rects(ccx, ccy, half_w, half_h, np.zeros(gi.size))
    inner = shapely.buffer(boundary, -0.0004)  # ~40 m margin
    shapely.prepare(inner)
    cell_polys = reproject(shapely.polygons(cell_rings), to_wgs)
    inside = shapely.contains_properly(inner, cell_polys)
    if not inside.any():
        raise InvalidInputError("no city block fits inside the district boundary", field="boundary")
    ang = np.arctan2(ccy - cy0, ccx - cx0)
    lobes = np.ones(gi.size)
    for harmonic in (2, 3, 5):
        lobes += rng.uniform(0.05, 0.15) * np.cos(harmonic * ang + rng.uniform(0, 2 * np.pi))
    dist = np.hypot(ccx - cx0, ccy - cy0) / lobes * rng.uniform(0.93, 1.07, gi.size)
    cand = np.flatnonzero(inside)
    cand = cand[np.argsort(dist[cand], kind="stable")]
    return Blocks(cx0, cy0, gi, gj, ccx, ccy, cell_polys, cand)


@dataclass(frozen=True)
class Areas:
    """Streets (街道) and communities (社区) over the built blocks: indices, codes, names, shapes."""

    street_of: np.ndarray  # per block: its street
    community_of: np.ndarray  # per block: its community
    community_street: np.ndarray  # per community: its street
    street_codes: list[str]  # 12-digit codes
    community_codes: np.ndarray  # 12-digit codes (object array)
    street_names: list[str]
    community_names: list[str]
    street_geoms: np.ndarray  # MultiPolygons, WGS84
    community_geoms: np.ndarray

    @property
    def n_streets(self) -> int:
        return len(self.street_codes)

    @property
    def n_communities(self) -> int:
        return len(self.community_codes)


def split_areas(
    rng: np.random.Generator,
    code_prefix: str,
    x: np.ndarray,
    y: np.ndarray,
    households: np.ndarray,
    polygons: np.ndarray,
) -> Areas:
    """Streets and communities by household-weighted recursive bisection of the built blocks.

    ``x``, ``y``, ``households`` and ``polygons`` (WGS84) describe each built block; ``code_prefix``
    is the district's 6-digit code, which the street and community codes extend.
    """
    n_blocks = x.size
    total = int(households.sum())
    n_comm = max(1, min(round(total / HOUSEHOLDS_PER_COMMUNITY), n_blocks, 99 * 199))
    n_street = max(1, min(n_comm, 99, max(3, round(n_comm / 4))))
    street_of = bisect(x, y, households, n_street)
    street_hh = np.bincount(street_of, weights=households, minlength=n_street)
    street_cells = np.bincount(street_of, minlength=n_street)
    comm_per_street = apportion(street_hh, n_comm, np.minimum(street_cells, 199))
    comm_of = np.zeros(n_blocks, dtype=np.int64)
    comm_street, comm_codes, street_codes = [], [], []
    base = 0
    for s in range(n_street):
        idx = np.flatnonzero(street_of == s)
        sub = bisect(x[idx], y[idx], households[idx], int(comm_per_street[s]))
        comm_of[idx] = base + sub
        scode = f"{code_prefix}{s + 1:03d}"
        street_codes.append(scode + "000")
        for c in range(int(comm_per_street[s])):
            comm_street.append(s)
            comm_codes.append(f"{scode}{c + 1:03d}")
        base += int(comm_per_street[s])
    n_comm = base
    comm_street_arr = np.asarray(comm_street)
    street_names = combo_names(rng, STREET_A, STREET_B, n_street, "街道")
    comm_names = combo_names(rng, COMMUNITY_A, COMMUNITY_B, n_comm, "社区")
    comm_codes_arr = np.asarray(comm_codes, dtype=object)

    comm_geoms = np.array(
        [as_multi(shapely.union_all(polygons[comm_of == c], grid_size=None)) for c in range(n_comm)],
        dtype=object,
    )
    street_geoms = np.array(
        [as_multi(shapely.union_all(comm_geoms[comm_street_arr == s])) for s in range(n_street)],
        dtype=object,
    )

    return Areas(
        street_of=street_of,
        community_of=comm_of,
        community_street=comm_street_arr,
        street_codes=street_codes,
        community_codes=comm_codes_arr,
        street_names=street_names,
        community_names=comm_names,
        street_geoms=street_geoms,
        community_geoms=comm_geoms,
    )


@dataclass(frozen=True)
class Roads:
    """The road network: nodes and edges (WGS84), and the gates of every built block.

    ``gates[k]`` holds the node keys of block ``k``'s four side midpoints — south, east, north, west —
    where the complex's gates open onto the road (:mod:`gisgrid.synth.footways` walks in from there).
    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    xy: np.ndarray  # (n_nodes, 2) node positions in UTM 50N, by node key
    gates: np.ndarray  # (n_blocks, 4) node keys: S, E, N, W


def make_roads(ci: np.ndarray, cj: np.ndarray, cx0: float, cy0: float, to_wgs: Transformer) -> Roads:
    """Road segments along every block edge, each in two halves meeting at the block side's midpoint.

    Lattice corner (i, j) is the south-west corner of cell (i, j). Every road segment between two
    corners is a side of one or two blocks; its midpoint is a node (a gate of those blocks), so the
    segment is stored as two edges, one after the other in the frame (names and classes in the same
    order as the segments).
    """
    i0, j0 = int(ci.min()), int(cj.min())
    span = int(cj.max() - j0) + 2

    def key(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return (i - i0) * span + (j - j0)

    a_i = np.r_[ci, ci, ci, ci + 1]
    a_j = np.r_[cj, cj + 1, cj, cj]
    b_i = np.r_[ci + 1, ci + 1, ci, ci + 1]
    b_j = np.r_[cj, cj + 1, cj + 1, cj + 1]
    pairs = np.unique(np.stack([key(a_i, a_j), key(b_i, b_j)], axis=1), axis=0)
    corner_keys = np.unique(pairs)
    n_corner, n_seg = corner_keys.size, len(pairs)
    ni, nj = corner_keys // span + i0, corner_keys % span + j0
    nx, ny = cx0 + (ni - 0.5) * CELL_W, cy0 + (nj - 0.5) * CELL_H
    pos = np.searchsorted(corner_keys, pairs)
    mx, my = (nx[pos[:, 0]] + nx[pos[:, 1]]) / 2, (ny[pos[:, 0]] + ny[pos[:, 1]]) / 2
    ai, aj = pairs[:, 0] // span + i0, pairs[:, 0] % span + j0
    bj = pairs[:, 1] % span + j0
    horizontal = aj == bj
    node_pts = reproject(shapely.points(np.r_[nx, mx], np.r_[ny, my]), to_wgs)
    refs = [f"synthetic:node:{i}:{j}" for i, j in zip(ni, nj, strict=True)] + [
        f"synthetic:node:{i}:{j}:{'h' if h else 'v'}" for i, j, h in zip(ai, aj, horizontal, strict=True)
    ]
    nodes = gpd.GeoDataFrame(
        {"node_key": np.arange(n_corner + n_seg), "source_ref": refs, "component": None},
        geometry=gpd.GeoSeries(node_pts, crs=WGS84),
    ).rename_geometry("geom")
    line = np.where(horizontal, aj, ai)  # E-W roads are numbered by row, N-S by column
    highway = np.where(line % 4 == 0, "primary", np.where(line % 2 == 0, "secondary", "residential")).astype(
        object
    )
    ew_pool = [a + b for b in ROAD_EW_B for a in ROAD_EW]
    names = []
    for h, ln, hw in zip(horizontal, line, highway, strict=True):
        pool = ew_pool if h else ROAD_NS
        k = int(ln) % (len(pool) * 3)
        base = pool[k % len(pool)] + ("" if k < len(pool) else cn_number(k // len(pool) + 1))
        names.append(base + ("路" if h else "街") if hw != "residential" else base + "巷")
    mid = n_corner + np.arange(n_seg)
    src = np.stack([pos[:, 0], mid], axis=1).ravel()  # segment s -> edges 2s (corner–mid), 2s+1 (mid–corner)
    dst = np.stack([mid, pos[:, 1]], axis=1).ravel()
    xs, ys = np.r_[nx, mx], np.r_[ny, my]
    coords = np.stack([np.c_[xs[src], ys[src]], np.c_[xs[dst], ys[dst]]], axis=1)
    lines_m = shapely.linestrings(coords)
    n_edge = 2 * n_seg
    edges = gpd.GeoDataFrame(
        {
            "edge_key": np.arange(n_edge),
            "source_node_key": src,
            "target_node_key": dst,
            "length_m": shapely.length(lines_m),
            "name": np.repeat(np.asarray(names, dtype=object), 2),
            "highway": np.repeat(highway, 2),
            "source": SOURCE,
            "source_ref": [f"syn-edge-{k:06d}" for k in range(n_edge)],
        },
        geometry=gpd.GeoSeries(reproject(lines_m, to_wgs), crs=WGS84),
    ).rename_geometry("geom")

    def side(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        m = int(corner_keys.max()) + 1
        seg_code = pairs[:, 0] * m + pairs[:, 1]  # ascending: the pairs are sorted rows
        return n_corner + np.searchsorted(seg_code, key(*a) * m + key(*b))

    gates = np.stack(
        [
            side((ci, cj), (ci + 1, cj)),  # south
            side((ci + 1, cj), (ci + 1, cj + 1)),  # east
            side((ci, cj + 1), (ci + 1, cj + 1)),  # north
            side((ci, cj), (ci, cj + 1)),  # west
        ],
        axis=1,
    )
    return Roads(nodes, edges, np.c_[xs, ys], gates)
