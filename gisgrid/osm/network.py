"""The walking network of an OSM extract: fully noded edges with lengths in metres, numbered components.

It is pyrosm's walking network (``get_network("walking", nodes=True)``), which cuts every way into one
edge per pair of consecutive OSM nodes: fully noded, nothing simplified away and every island kept
(pyrosm's ``to_graph`` defaults keep only intersections and the largest component, so buildings on
islands would silently vanish; islands are kept and reported instead). Self-loops are dropped.
``length_m`` is measured in :func:`gisgrid.crs.metric_crs_for` of the network, never in degrees. Node
``source_ref`` is ``node/ID``; edge ``source_ref`` is ``way/ID/k`` with ``k`` the segment's position
along the way. Nodes carry the number of their connected component: 0 is the largest, then by
decreasing size.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from gisgrid.crs import metric_crs_for
from gisgrid.osm.tags import NAME_TAGS, WGS84, pick_name, tag_dicts

__all__ = ["components", "network_from"]


def components(u: np.ndarray, v: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Component number of each of ``nodes`` (0 = largest), by union–find over the edges (u, v)."""
    index = {int(n): i for i, n in enumerate(nodes)}
    parent = np.arange(len(nodes))

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    for a, b in zip(u, v, strict=True):
        ra, rb = find(index[int(a)]), find(index[int(b)])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(len(nodes))], dtype=np.int64)
    uniq, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    # number by decreasing size; ties by the smallest root (the earliest node)
    order = np.lexsort((uniq, -counts))
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    return rank[inverse]


def network_from(
    network: tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None] | None,
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """Street nodes and edges from pyrosm's ``(nodes, edges)``; ``(None, None)`` when there are no edges."""
    if network is None:
        return None, None
    raw_nodes, raw_edges = network
    if raw_edges is None or raw_nodes is None or not len(raw_edges):
        return None, None
    edges = raw_edges.reset_index(drop=True)
    segment = edges.groupby("id", sort=False).cumcount().to_numpy()
    keep = (edges["u"].to_numpy() != edges["v"].to_numpy()) & edges.geometry.notna().to_numpy()
    edges = edges.loc[keep].reset_index(drop=True)
    segment = segment[keep]
    if not len(edges):
        return None, None
    tags = tag_dicts(edges, ("highway", *NAME_TAGS))
    lengths = edges.geometry.to_crs(metric_crs_for(edges)).length.to_numpy(dtype=float)
    u = edges["u"].to_numpy(dtype=np.int64)
    v = edges["v"].to_numpy(dtype=np.int64)
    ways = edges["id"].to_numpy(dtype=np.int64)
    out_edges = gpd.GeoDataFrame(
        {
            "source_ref": [f"way/{w}/{k}" for w, k in zip(ways, segment, strict=True)],
            "source_node_ref": [f"node/{a}" for a in u],
            "target_node_ref": [f"node/{b}" for b in v],
            "length_m": lengths,
            "name": [pick_name(t) for t in tags],
            "highway": [str(t["highway"])[:32] if t.get("highway") is not None else None for t in tags],
        },
        geometry=edges.geometry.values,
        crs=WGS84,
    )
    used = np.unique(np.concatenate([u, v]))
    nodes = raw_nodes.drop_duplicates("id")
    nodes = nodes.loc[nodes["id"].isin(used).to_numpy()].sort_values("id").reset_index(drop=True)
    node_ids = nodes["id"].to_numpy(dtype=np.int64)
    missing = np.setdiff1d(used, node_ids)
    if missing.size:  # edges whose end node has no coordinates cannot be kept
        bad = np.isin(u, missing) | np.isin(v, missing)
        out_edges = out_edges.loc[~bad].reset_index(drop=True)
        u, v = u[~bad], v[~bad]
    out_nodes = gpd.GeoDataFrame(
        {
            "source_ref": [f"node/{n}" for n in node_ids],
            "component": components(u, v, node_ids),
        },
        geometry=nodes.geometry.values,
        crs=WGS84,
    )
    return out_nodes, out_edges
