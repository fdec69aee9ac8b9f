"""The walkable street network as a compressed sparse row (CSR) graph in a metric CRS.

One network module serves coverage (nearest station over the street network) and patrol routing. The
graph is kept in scipy's CSR form, never as a networkx graph: measured on a 200,000-node street graph,
``scipy.sparse.csgraph.dijkstra(min_only=True)`` answered the nearest of 200 stations for every node in
0.019 s, networkx's multi-source Dijkstra in 0.55 s — and building the CSR matrix *from* networkx cost
1.2 s, more than the query. So the CSR is built once from plain edge arrays and kept.

Two traps are handled here:

* **Parallel edges** (two ways between the same nodes, or an edge listed in both directions): a CSR
  built from COO triplets *sums* duplicate entries (as ``networkx.to_scipy_sparse_array`` does on a
  multigraph), which gives wrong distances. The shortest edge of each node pair is kept instead.
* **Islands**: the network is kept whole (every component), and each node carries its component number
  (0 = the largest). A building that snaps to another component is reported, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from gisgrid.crs import metric_crs_for
from gisgrid.errors import GeometryError, InvalidInputError

__all__ = ["MIN_EDGE_M", "Leaves", "StreetNetwork"]

# scipy's csgraph keeps an explicit zero in a CSR matrix as a zero-length edge (two OSM nodes at the
# same spot), so no minimum length is imposed; a negative length is refused
MIN_EDGE_M = 0.0


@dataclass(frozen=True, eq=False)
class Leaves:
    """The network's dead ends (a door at the end of its branch) and the graph a search runs on without them.

    ``node``: nodes with one neighbour whose neighbour has others (a two-node island keeps both);
    ``parent``: that neighbour; ``weight``: the walk between them (the shortest of parallel edges).
    ``csr``: the network's CSR (int32 indices) without the entries *into* these nodes: no shortest path
    runs through a dead end, so a search never needs to enter one; its distance is its parent's plus
    ``weight`` (or less, from a place on its own edge: the entries *out of* it are kept).
    """

    node: np.ndarray
    parent: np.ndarray
    weight: np.ndarray
    csr: csr_array = field(repr=False)


@dataclass(frozen=True, eq=False)
class StreetNetwork:
    """A walkable, undirected street graph with metric coordinates.

    Node and edge *positions* (0 … n-1) index every array; ``node_ids`` / ``edge_ids`` hold the
    database ids. ``csr`` is symmetric (both directions stored), with the shortest edge of each node
    pair; ``csr_edge`` gives, for each stored entry of ``csr``, the edge position it came from (for
    turning node paths back into street geometry).
    """

    node_ids: np.ndarray
    xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_ids: np.ndarray
    edge_lines: np.ndarray
    crs: pyproj.CRS
    csr: csr_array = field(repr=False)
    csr_edge: np.ndarray = field(repr=False)
    component: np.ndarray = field(repr=False)

    # ------------------------------------------------------------------------------------ building
    @classmethod
    def from_arrays(
        cls,
        node_ids: Sequence[int] | np.ndarray,
        xy: np.ndarray,
        edge_source: Sequence[int] | np.ndarray,
        edge_target: Sequence[int] | np.ndarray,
        edge_length: Sequence[float] | np.ndarray,
        *,
        crs: Any,
        edge_ids: Sequence[int] | np.ndarray | None = None,
        edge_lines: np.ndarray | None = None,
    ) -> StreetNetwork:
        """A network from node ids + metric coordinates and edges given by their end nodes' *ids*.

        ``edge_lines`` (metric LineStrings) default to the straight segment between the two nodes.
        Self-loops are dropped; an edge naming an unknown node is an :class:`InvalidInputError`.
        """
        node_ids = np.asarray(node_ids, dtype=np.int64)
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        if len(node_ids) != len(xy):
            raise InvalidInputError("one coordinate pair per node is needed", field="xy", rule="len(xy) == nodes")
        if len(np.unique(node_ids)) != len(node_ids):
            raise InvalidInputError("node ids repeat", field="node_ids", rule="unique node ids")
        src = np.asarray(edge_source, dtype=np.int64)
        dst = np.asarray(edge_target, dtype=np.int64)
        length = np.asarray(edge_length, dtype=float)
        eids = np.arange(len(src), dtype=np.int64) if edge_ids is None else np.asarray(edge_ids, dtype=np.int64)
        if not (len(src) == len(dst) == len(length) == len(eids)):
            raise InvalidInputError("edge arrays differ in length", field="edges", rule="equal lengths")
        if len(length) and (not np.all(np.isfinite(length)) or length.min() < 0):
            raise InvalidInputError(
                "edge lengths must be finite and ≥ 0 metres", field="length_m", rule="0 <= length_m < inf"
            )
        order = np.argsort(node_ids, kind="stable")
        sorted_ids = node_ids[order]

        def positions(ids: np.ndarray, name: str) -> np.ndarray:
            at = np.searchsorted(sorted_ids, ids)
            at = np.minimum(at, max(len(sorted_ids) - 1, 0))
            bad = (len(sorted_ids) == 0) | (sorted_ids[at] != ids) if len(ids) else np.zeros(0, bool)
            if np.any(bad):
                raise InvalidInputError(
                    f"{int(np.sum(bad))} edges name nodes that do not exist, e.g. {int(ids[bad][0])}",
                    field=name, feature=int(ids[bad][0]), rule="edges join known nodes",
                )
            return order[at]

        u, v = positions(src, "source_node"), positions(dst, "target_node")
        keep = u != v  # a self-loop never shortens a walk
        u, v, length, eids = u[keep], v[keep], length[keep], eids[keep]
        if edge_lines is None:
            lines = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1)) if len(u) else np.array([], dtype=object)
        else:
            lines = np.asarray(edge_lines, dtype=object)[keep]
        csr, csr_edge = _symmetric_min_csr(len(node_ids), u, v, np.maximum(length, MIN_EDGE_M))
        return cls(
            node_ids=node_ids, xy=xy, edge_u=u, edge_v=v, edge_length=length, edge_ids=eids,
            edge_lines=lines, crs=pyproj.CRS.from_user_input(crs), csr=csr, csr_edge=csr_edge,
            component=_components(csr),
        )

    @classmethod
    def from_frames(
        cls, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, *, crs: Any = None
    ) -> StreetNetwork:
        """A network from ``street_node``/``street_edge`` rows (any CRS; measured in ``crs``).

        ``nodes``: point geometry and an ``id`` column (or the index). ``edges``: ``source_node``,
        ``target_node``, ``length_m`` (metres; measured from the geometry where missing), line geometry
        and an optional ``id``. ``crs`` defaults to :func:`gisgrid.crs.metric_crs_for` of the nodes.
        """
        for frame, name in ((nodes, "nodes"), (edges, "edges")):
            if frame.crs is None:
                raise InvalidInputError(f"the {name} have no CRS", field=f"{name}.crs", rule="a CRS is required")
        if len(nodes) == 0:
            raise GeometryError("the street network has no nodes", field="street_node", rule="a network")
        metric = pyproj.CRS.from_user_input(crs) if crs is not None else metric_crs_for(nodes)
        node_ids = nodes["id"].to_numpy() if "id" in nodes else nodes.index.to_numpy()
        pts = nodes.geometry.to_crs(metric)
        xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
        lines = np.asarray(edges.geometry.to_crs(metric).values, dtype=object)
        length = edges["length_m"].to_numpy(dtype=float, copy=True) if "length_m" in edges else shapely.length(lines)
        missing = ~np.isfinite(length)
        length[missing] = shapely.length(lines[missing])
        return cls.from_arrays(
            node_ids, xy, edges["source_node"].to_numpy(), edges["target_node"].to_numpy(), length,
            crs=metric, edge_ids=edges["id"].to_numpy() if "id" in edges else None, edge_lines=lines,
        )

    # ------------------------------------------------------------------------------------ queries
    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.edge_lines)

    @cached_property
    def leaves(self) -> Leaves:
        """The dead ends and the CSR without the entries into them (built once, kept)."""
        indptr, indices = self.csr.indptr, self.csr.indices
        degree = np.diff(indptr)
        one = np.flatnonzero(degree == 1)
        parent = indices[indptr[one]].astype(np.int64)
        keep = degree[parent] > 1
        node, parent, weight = one[keep], parent[keep], self.csr.data[indptr[one[keep]]]
        dead = np.zeros(self.n_nodes, dtype=bool)
        dead[node] = True
        stay = ~dead[indices]
        row = np.repeat(np.arange(self.n_nodes), degree)
        counts = np.bincount(row[stay], minlength=self.n_nodes)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        csr = csr_array((self.csr.data[stay], indices[stay].astype(np.int32), ptr), shape=self.csr.shape)
        return Leaves(node.astype(np.int64), parent, weight.astype(float), csr)

    @cached_property
    def edge_component(self) -> np.ndarray:
        return self.component[self.edge_u] if self.n_edges else np.zeros(0, dtype=np.int64)

    def components(self) -> list[dict[str, float | int]]:
        """Each connected component: number, nodes, edges, metres of street (0 = the largest)."""
        out = []
        for c in range(int(self.component.max()) + 1 if self.n_nodes else 0):
            on = self.edge_component == c
            out.append({"component": c, "nodes": int(np.sum(self.component == c)), "edges": int(np.sum(on)),
                        "length_m": float(self.edge_length[on].sum())})
        return out

    def to_metric(self, geoms: gpd.GeoSeries | gpd.GeoDataFrame) -> np.ndarray:
        """Geometries (with a CRS) in this network's metric CRS, as a shapely array."""
        if geoms.crs is None:
            raise InvalidInputError("geometries without a CRS", field="crs", rule="a CRS is required")
        series = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
        return np.asarray(series.to_crs(self.crs).values, dtype=object)

    def subnetwork(self, keep_nodes: np.ndarray) -> StreetNetwork:
        """The network induced by the nodes where ``keep_nodes`` is True (edges with both ends kept)."""
        keep_nodes = np.asarray(keep_nodes, dtype=bool)
        on = keep_nodes[self.edge_u] & keep_nodes[self.edge_v]
        return StreetNetwork.from_arrays(
            self.node_ids[keep_nodes], self.xy[keep_nodes], self.node_ids[self.edge_u[on]],
            self.node_ids[self.edge_v[on]], self.edge_length[on], crs=self.crs, edge_ids=self.edge_ids[on],
            edge_lines=self.edge_lines[on],
        )

    def around(self, area: shapely.Geometry, margin_m: float) -> StreetNetwork:
        """The part of the network within ``margin_m`` metres of ``area`` (metric CRS): enough street
        around a grid to route inside and along it without the whole district's graph."""
        zone = shapely.buffer(area, margin_m)
        shapely.prepare(zone)
        return self.subnetwork(shapely.contains_xy(zone, self.xy[:, 0], self.xy[:, 1]))

    def edge_between(self, a: int, b: int) -> int:
        """The position of the (shortest) edge joining node positions ``a`` and ``b``."""
        lo, hi = self.csr.indptr[a], self.csr.indptr[a + 1]
        hit = np.flatnonzero(self.csr.indices[lo:hi] == b)
        if not len(hit):
            raise InvalidInputError(f"nodes {a} and {b} are not joined", field="path", rule="adjacent nodes")
        return int(self.csr_edge[lo + hit[0]])


def _symmetric_min_csr(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[csr_array, np.ndarray]:
    """Both directions of every edge, the minimum weight per node pair, as a CSR with its edge index."""
    a = np.concatenate([u, v])
    b = np.concatenate([v, u])
    weight = np.concatenate([w, w])
    edge = np.concatenate([np.arange(len(u)), np.arange(len(u))])
    order = np.lexsort((weight, b, a))  # by row, then column, then the shortest first
    a, b, weight, edge = a[order], b[order], weight[order], edge[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, weight, edge = a[first], b[first], weight[first], edge[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, a + 1, 1)
    indptr = np.cumsum(indptr)
    # rows are already sorted (lexsort on a first), so data/indices are in CSR order
    csr = csr_array((weight, b.astype(np.int32), indptr.astype(np.int32)), shape=(n, n))
    return csr, edge.astype(np.int64)


def _components(csr: csr_array) -> np.ndarray:
    """Component number per node, renumbered so that 0 is the largest, then by decreasing size."""
    if csr.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    _, labels = connected_components(csr, directed=False)
    sizes = np.bincount(labels)
    rank = np.empty_like(sizes)
    rank[np.lexsort((np.arange(len(sizes)), -sizes))] = np.arange(len(sizes))
    return rank[labels].astype(np.int64)
