"""Walking distances and paths between snapped places, with scipy's Dijkstra on the kept CSR.

Places sit on edges, not nodes (:mod:`gisgrid.network.snap`). Each query adds one *virtual node* per
source place, joined to its edge's two ends by ``offset + along`` and ``offset + (length - along)``, as
extra CSR rows appended to the kept matrix (no copy of the graph into another form). Only the edges
*out of* a virtual node are added: a shortest path never passes through another place's virtual node,
because its two links together are never shorter than the edge they stand beside. A target's distance
is then ``min(d[u] + along, d[v] + length - along) + offset``; a source and a target on the *same* edge
may also walk straight along it, which is checked separately.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from shapely import ops

from gisgrid.errors import InvalidInputError
from gisgrid.network.graph import StreetNetwork
from gisgrid.network.snap import Snap

__all__ = [
    "Nearest",
    "distance_matrix",
    "nearest",
    "nearest_each",
    "node_distances",
    "path_between",
    "place_distances",
]


@dataclass(frozen=True, eq=False)
class Nearest:
    """For each target: walking metres to its nearest source (``inf`` beyond the limit or unreachable)
    and that source's position in the sources (``-1`` when none)."""

    distance: np.ndarray
    source: np.ndarray


def _augmented(net: StreetNetwork, sources: Snap, base: csr_array | None = None) -> csr_array:
    """``base`` (the network's CSR by default) with one row per source appended: its links to its edge's
    ends. Indices stay int32, as scipy's Dijkstra takes them (int64 would be cast on every search)."""
    base = net.csr if base is None else base
    n, k = net.n_nodes, len(sources)
    u, v = net.edge_u[sources.edge], net.edge_v[sources.edge]
    length = net.edge_length[sources.edge]
    cols = np.column_stack([u, v]).ravel()
    data = np.column_stack([sources.offset + sources.along, sources.offset + (length - sources.along)]).ravel()
    indptr = np.concatenate([base.indptr, base.indptr[-1] + 2 * np.arange(1, k + 1)])
    index = np.int32 if len(indptr) and indptr[-1] < np.iinfo(np.int32).max and n + k < np.iinfo(np.int32).max \
        else np.int64
    return csr_array(
        (np.concatenate([base.data, data]), np.concatenate([base.indices, cols]).astype(index),
         indptr.astype(index)),
        shape=(n + k, n + k),
    )


def _via_ends(net: StreetNetwork, dist: np.ndarray, targets: Snap) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each target through either end of its edge, and which end (0 = u, 1 = v)."""
    length = net.edge_length[targets.edge]
    du = dist[..., net.edge_u[targets.edge]] + targets.along
    dv = dist[..., net.edge_v[targets.edge]] + (length - targets.along)
    return np.minimum(du, dv) + targets.offset, (dv < du).astype(np.int8)


def _same_edge(sources: Snap, targets: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (target, source) on the same edge — by target, then source position — with the straight walk
    along the edge between them. Found with sorted arrays: a pandas merge cost more than the Dijkstra."""
    order = np.argsort(sources.edge, kind="stable")
    on_edge = sources.edge[order]
    lo = np.searchsorted(on_edge, targets.edge, "left")
    count = np.searchsorted(on_edge, targets.edge, "right") - lo
    ti = np.repeat(np.arange(len(targets)), count)
    first = np.cumsum(count) - count  # where each target's pairs start
    si = order[np.arange(int(count.sum())) + np.repeat(lo - first, count)]
    direct = np.abs(targets.along[ti] - sources.along[si]) + targets.offset[ti] + sources.offset[si]
    return ti, si, direct


def nearest_each(
    net: StreetNetwork, sources: Snap, groups: Sequence[np.ndarray], targets: Snap, *, limits: Sequence[float]
) -> list[Nearest]:
    """For each group of sources (positions in ``sources``), the nearest of them to every target.

    One graph with every source as a virtual node and one pairing of places on shared edges serve all
    groups; each group costs one multi-source Dijkstra. A virtual node has no edge *into* it, so the
    sources outside a group never lie on its paths. ``source`` in the answers indexes ``sources``.

    The searches run on the network without the entries into its dead ends (:attr:`StreetNetwork.leaves`,
    e.g. the branch to each door): a dead end's distance is then its parent's plus the branch, or less
    from a source on its own edge. A target at the first node of its edge (``along == 0``, every door
    that is a node) reads that node's distance: the other end is never closer, as the edge between them
    is at least the graph's shortest link. The rest walk from either end of their edge.
    """
    n = net.n_nodes
    leaves = net.leaves
    graph = _augmented(net, sources, leaves.csr) if len(sources) else None
    # what does not depend on the group, once: targets at a node, the others' edge ends and the walks
    # to them, and the same-edge pairs (by target, then source position)
    at_node = targets.along == 0
    node_t = np.flatnonzero(at_node)
    node_n, node_off = net.edge_u[targets.edge[node_t]], targets.offset[node_t]
    edge_t = np.flatnonzero(~at_node)
    edge = targets.edge[edge_t]
    eu, ev, along, off = net.edge_u[edge], net.edge_v[edge], targets.along[edge_t], targets.offset[edge_t]
    back = net.edge_length[edge] - along
    ti, si, direct = _same_edge(sources, targets)
    out = []
    for group, limit in zip(groups, limits, strict=True):
        group = np.asarray(group, dtype=np.int64)
        if graph is None or not len(group):
            out.append(Nearest(np.full(len(targets), np.inf), np.full(len(targets), -1, dtype=np.int64)))
            continue
        dist, _pred, origin = dijkstra(graph, directed=True, indices=n + group, min_only=True, limit=limit,
                                       return_predecessors=True)
        # the dead ends, from their parents (the search never entered them)
        alt = dist[leaves.parent] + leaves.weight
        lower = alt < dist[leaves.node]
        lower &= alt <= limit
        dist[leaves.node[lower]] = alt[lower]
        origin[leaves.node[lower]] = origin[leaves.parent[lower]]
        best = np.empty(len(targets))
        source = np.empty(len(targets), dtype=np.int64)
        best[node_t] = dist[node_n] + node_off
        source[node_t] = origin[node_n]
        du, dv = dist[eu] + along, dist[ev] + back
        via_v = dv < du
        best[edge_t] = np.where(via_v, dv, du) + off
        source[edge_t] = origin[np.where(via_v, ev, eu)]
        source -= n
        member = np.zeros(len(sources), dtype=bool)
        member[group] = True
        keep = member[si]
        if np.any(keep):
            gt, gs, gd = ti[keep], si[keep], direct[keep]
            low = np.full(len(targets), np.inf)
            np.minimum.at(low, gt, gd)
            win = gd == low[gt]  # each target's shortest pairs; on a tie the first, the lowest source position
            gt, gs, gd = gt[win], gs[win], gd[win]
            head = np.ones(len(gt), dtype=bool)
            head[1:] = gt[1:] != gt[:-1]
            gt, gs, gd = gt[head], gs[head], gd[head]
            better = gd < best[gt]
            best[gt[better]] = gd[better]
            source[gt[better]] = gs[better]
        best[best > limit] = np.inf
        source[~np.isfinite(best)] = -1
        out.append(Nearest(best, source))
    return out


def nearest(net: StreetNetwork, sources: Snap, targets: Snap, *, limit: float = np.inf) -> Nearest:
    """The nearest source of every target over the network (one multi-source Dijkstra)."""
    return nearest_each(net, sources, [np.arange(len(sources))], targets, limits=[limit])[0]


def node_distances(net: StreetNetwork, sources: Snap, *, limit: float = np.inf) -> np.ndarray:
    """Walking metres from each source to every node: shape ``(len(sources), n_nodes)``."""
    if len(sources) == 0:
        return np.zeros((0, net.n_nodes))
    graph = _augmented(net, sources)
    n = net.n_nodes
    dist = dijkstra(graph, directed=True, indices=np.arange(n, n + len(sources)), limit=limit)
    return np.atleast_2d(dist)[:, :n]


def distance_matrix(net: StreetNetwork, places: Snap, *, limit: float = np.inf) -> np.ndarray:
    """Walking metres between every pair of places (symmetric, zero diagonal)."""
    d = _via_ends(net, node_distances(net, places, limit=limit), places)[0]
    ti, si, direct = _same_edge(places, places)
    if len(ti):
        d[si, ti] = np.minimum(d[si, ti], direct)
    np.fill_diagonal(d, 0.0)
    d = np.minimum(d, d.T)  # the graph is undirected: equal up to rounding, take the same value both ways
    d[d > limit] = np.inf
    return d


def place_distances(net: StreetNetwork, sources: Snap, targets: Snap, *, limit: float = np.inf) -> np.ndarray:
    """Walking metres from each source place to each target place: shape ``(len(sources), len(targets))``,
    ``inf`` beyond ``limit`` or unreachable. Unlike :func:`distance_matrix`, only the sources are searched
    from, so many targets (buildings) cost one array lookup each, not a Dijkstra each."""
    d = _via_ends(net, node_distances(net, sources, limit=limit), targets)[0]
    ti, si, direct = _same_edge(sources, targets)
    if len(ti):
        d[si, ti] = np.minimum(d[si, ti], direct)
    d[d > limit] = np.inf
    return d


def _piece(net: StreetNetwork, edge: int, start: float, end: float) -> shapely.LineString:
    """The part of an edge between two distances from its first node (in edge metres), oriented."""
    line = net.edge_lines[edge]
    length = float(net.edge_length[edge]) or 1.0
    scale = line.length / length
    first = shapely.get_point(line, 0)
    forward = first.distance(shapely.Point(net.xy[net.edge_u[edge]])) <= shapely.get_point(line, -1).distance(
        shapely.Point(net.xy[net.edge_u[edge]]))
    a, b = start * scale, end * scale
    if not forward:
        a, b = line.length - a, line.length - b
    piece = ops.substring(line, a, b)
    return piece if isinstance(piece, shapely.LineString) else shapely.LineString([piece, piece])


def path_between(net: StreetNetwork, places: Snap, i: int, j: int) -> tuple[float, shapely.LineString]:
    """The walking distance and street geometry (metric CRS) from place ``i`` to place ``j``."""
    if i == j:
        p = places.point[i]
        return 0.0, shapely.LineString([p, p])
    one = places.take([i])
    graph = _augmented(net, one)
    n = net.n_nodes
    dist, pred = dijkstra(graph, directed=True, indices=n, return_predecessors=True)
    target = places.take([j])
    via, end = _via_ends(net, dist, target)
    total = float(via[0])
    e_i, e_j = int(places.edge[i]), int(places.edge[j])
    if e_i == e_j:
        direct = abs(places.along[i] - places.along[j]) + places.offset[i] + places.offset[j]
        if direct <= total:
            return float(direct), _piece(net, e_i, float(places.along[i]), float(places.along[j]))
    if not np.isfinite(total):
        raise InvalidInputError(f"place {j} cannot be reached from place {i}", field="route",
                                rule="places on one connected network")
    last = int(net.edge_v[e_j] if end[0] == 1 else net.edge_u[e_j])
    nodes = [last]
    while pred[nodes[-1]] != n:
        nodes.append(int(pred[nodes[-1]]))
        if nodes[-1] < 0:  # pragma: no cover - a finite distance always has a chain back to the source
            raise InvalidInputError("broken path", field="route", rule="connected path")
    nodes.reverse()
    first = nodes[0]
    parts = [_piece(net, e_i, float(places.along[i]), 0.0 if first == net.edge_u[e_i] else float(
        net.edge_length[e_i]))]
    for a, b in itertools.pairwise(nodes):
        e = net.edge_between(a, b)
        forward = net.edge_u[e] == a
        parts.append(_piece(net, e, 0.0 if forward else float(net.edge_length[e]),
                            float(net.edge_length[e]) if forward else 0.0))
    parts.append(_piece(net, e_j, 0.0 if last == net.edge_u[e_j] else float(net.edge_length[e_j]),
                        float(places.along[j])))
    coords: list[tuple[float, float]] = []
    for part in parts:
        xy = list(part.coords)
        if coords and xy and np.allclose(coords[-1], xy[0]):
            xy = xy[1:]
        coords.extend(xy)
    if len(coords) < 2:
        coords = coords * 2
    return total, shapely.LineString(coords)
