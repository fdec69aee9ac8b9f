"""gisgrid.network: distances over the CSR graph equal networkx's, parallel edges take the minimum,
places snap onto edges, islands are reported, paths are connected walks of the stated length."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import shapely

from gisgrid.network import (
    Snap,
    StreetNetwork,
    distance_matrix,
    nearest,
    nearest_each,
    node_distances,
    path_between,
    place_distances,
    snap_buildings,
    snap_points,
)

CRS = "EPSG:32650"


def random_network(seed: int, n: int = 60, extra: int = 40) -> tuple[StreetNetwork, nx.Graph]:
    """A random planar-ish street network: a spanning tree plus extra edges, some of them parallel."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, size=(n, 2))
    ids = rng.permutation(np.arange(100, 100 + n))  # database ids are not positions
    edges = [(int(i), int(rng.integers(0, i))) for i in range(1, n)]
    edges += [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(extra)]
    edges += edges[:5]  # exact parallels, given a different (longer) length below
    src, dst, length = [], [], []
    for k, (a, b) in enumerate(edges):
        straight = float(np.hypot(*(xy[a] - xy[b])))
        src.append(ids[a])
        dst.append(ids[b])
        length.append(straight * (1.5 if k >= len(edges) - 5 else 1.0))
    net = StreetNetwork.from_arrays(ids, xy, src, dst, length, crs=CRS)
    g = nx.MultiGraph()
    g.add_nodes_from(range(n))
    for a, b, w in zip(src, dst, length, strict=True):
        pa, pb = int(np.flatnonzero(ids == a)[0]), int(np.flatnonzero(ids == b)[0])
        g.add_edge(pa, pb, weight=w)
    return net, g


def place_on_edge(net: StreetNetwork, edge: int, frac: float, offset: float) -> shapely.Point:
    a, b = net.xy[net.edge_u[edge]], net.xy[net.edge_v[edge]]
    p = a + frac * (b - a)
    normal = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a)
    return shapely.Point(*(p + offset * normal))


@pytest.mark.parametrize("seed", range(6))
def test_nearest_equals_networkx(seed: int) -> None:
    net, g = random_network(seed)
    rng = np.random.default_rng(seed + 100)
    # sources and targets exactly at nodes: the offsets are zero and networkx can answer directly
    src_nodes = rng.choice(net.n_nodes, 5, replace=False)
    tgt_nodes = np.arange(net.n_nodes)
    srcs = snap_points(net, shapely.points(net.xy[src_nodes]))
    tgts = snap_points(net, shapely.points(net.xy[tgt_nodes]))
    got = nearest(net, srcs, tgts)
    want = nx.multi_source_dijkstra_path_length(g, set(int(s) for s in src_nodes))
    for t in tgt_nodes:
        assert got.distance[t] == pytest.approx(want.get(int(t), np.inf), abs=1e-6)
        if np.isfinite(got.distance[t]):
            # the named source is at that distance
            assert nx.dijkstra_path_length(g, int(src_nodes[got.source[t]]), int(t)) == pytest.approx(
                got.distance[t], abs=1e-6)


def lattice(n: int = 6, step: float = 100.0) -> tuple[StreetNetwork, nx.Graph]:
    """Streets on a square lattice: no crossings between nodes, so a place snaps where it is put."""
    ids = np.arange(n * n) + 1
    xy = np.array([(i * step, j * step) for j in range(n) for i in range(n)], dtype=float)
    src, dst = [], []
    for j in range(n):
        for i in range(n):
            k = j * n + i
            if i + 1 < n:
                src.append(ids[k]), dst.append(ids[k + 1])
            if j + 1 < n:
                src.append(ids[k]), dst.append(ids[k + n])
    length = [step] * len(src)
    net = StreetNetwork.from_arrays(ids, xy, src, dst, length, crs=CRS)
    g = nx.Graph()
    g.add_weighted_edges_from((int(a) - 1, int(b) - 1, step) for a, b in zip(src, dst, strict=True))
    return net, g


def test_places_on_edges_and_offsets() -> None:
    net, g = lattice()
    e_s, e_t = 4, 37
    s = snap_points(net, [place_on_edge(net, e_s, 0.25, 12.0)])
    t = snap_points(net, [place_on_edge(net, e_t, 0.6, 7.0)])
    assert (s.edge[0], t.edge[0]) == (e_s, e_t)
    assert s.offset[0] == pytest.approx(12.0, abs=1e-6) and t.offset[0] == pytest.approx(7.0, abs=1e-6)
    got = nearest(net, s, t).distance[0]
    # by hand: from the source's snap point to either end, the graph, then into the target's edge
    ls, lt = net.edge_length[e_s], net.edge_length[e_t]
    ends_s = {int(net.edge_u[e_s]): 0.25 * ls, int(net.edge_v[e_s]): 0.75 * ls}
    ends_t = {int(net.edge_u[e_t]): 0.6 * lt, int(net.edge_v[e_t]): 0.4 * lt}
    best = min(ds + nx.dijkstra_path_length(g, a, b) + dt for a, ds in ends_s.items() for b, dt in ends_t.items())
    assert got == pytest.approx(best + 19.0, rel=1e-9)


def test_same_edge_walks_straight_along_it() -> None:
    net, _ = lattice()
    e = 10
    pts = [place_on_edge(net, e, 0.2, 3.0), place_on_edge(net, e, 0.7, 4.0)]
    snaps = snap_points(net, pts)
    d = distance_matrix(net, snaps)
    assert d[0, 1] == pytest.approx(0.5 * net.edge_length[e] + 7.0, rel=1e-9)
    length, line = path_between(net, snaps, 0, 1)
    assert length == pytest.approx(d[0, 1])
    assert line.length == pytest.approx(0.5 * net.edge_length[e], rel=1e-6)


def test_parallel_edges_take_the_minimum_not_the_sum() -> None:
    ids, xy = [1, 2], np.array([[0.0, 0.0], [100.0, 0.0]])
    net = StreetNetwork.from_arrays(ids, xy, [1, 1, 2], [2, 2, 1], [100.0, 140.0, 120.0], crs=CRS)
    a, b = snap_points(net, [shapely.Point(0, 0)]), snap_points(net, [shapely.Point(100, 0)])
    assert nearest(net, a, b).distance[0] == pytest.approx(100.0)


def test_islands_are_numbered_and_unreachable() -> None:
    ids = [1, 2, 3, 4, 5]
    xy = np.array([[0, 0], [100, 0], [200, 0], [5000, 0], [5100, 0]], dtype=float)
    net = StreetNetwork.from_arrays(ids, xy, [1, 2, 4], [2, 3, 5], [100.0, 100.0, 100.0], crs=CRS)
    assert list(net.component) == [0, 0, 0, 1, 1]
    src = snap_points(net, [shapely.Point(0, 5)])
    tgt = snap_points(net, [shapely.Point(150, 5), shapely.Point(5050, 5)])
    got = nearest(net, src, tgt)
    assert np.isfinite(got.distance[0]) and got.source[0] == 0
    assert np.isinf(got.distance[1]) and got.source[1] == -1
    assert net.edge_component[tgt.edge].tolist() == [0, 1]


def test_limit_cuts_the_search() -> None:
    net, _ = random_network(2)
    s = snap_points(net, shapely.points(net.xy[:1]))
    t = snap_points(net, shapely.points(net.xy))
    full = nearest(net, s, t).distance
    cut = nearest(net, s, t, limit=300.0).distance
    assert np.all(cut[full <= 300.0] == full[full <= 300.0])
    assert np.all(np.isinf(cut[full > 300.0]))


def test_paths_are_connected_walks_of_the_stated_length() -> None:
    net, _ = lattice()
    rng = np.random.default_rng(9)
    edges = rng.choice(net.n_edges, 6, replace=False)
    snaps = snap_points(net, [place_on_edge(net, int(e), float(rng.uniform(0.1, 0.9)), 0.0) for e in edges])
    d = distance_matrix(net, snaps)
    for i, j in itertools.permutations(range(6), 2):
        if not np.isfinite(d[i, j]):
            continue
        length, line = path_between(net, snaps, i, j)
        assert length == pytest.approx(d[i, j], rel=1e-9)
        # straight-line edges: the drawn walk is as long as the distance (offsets are zero here)
        assert line.length == pytest.approx(d[i, j], rel=1e-6)
        assert line.coords[0] == pytest.approx(snaps.point[i].coords[0])
        assert line.coords[-1] == pytest.approx(snaps.point[j].coords[0])
    assert np.allclose(d, d.T)


def test_buildings_use_a_door_on_the_outline_else_the_nearest_footprint_point() -> None:
    ids, xy = [1, 2], np.array([[0.0, 0.0], [200.0, 0.0]])
    net = StreetNetwork.from_arrays(ids, xy, [1], [2], [200.0], crs=CRS)
    box = shapely.box(50, 20, 90, 60)
    door = shapely.Point(90, 40)  # on the east wall
    inside = shapely.Point(70, 40)  # a point-on-surface placeholder
    snaps, used = snap_buildings(net, np.array([box, box]), np.array([door, inside]))
    assert used.tolist() == [True, False]
    assert snaps.offset.tolist() == pytest.approx([40.0, 20.0])
    assert snaps.along[0] == pytest.approx(90.0, abs=1e-6)
    assert 50.0 - 1e-6 <= snaps.along[1] <= 90.0 + 1e-6  # any point of the south wall is nearest


def test_subnetwork_around_an_area_keeps_ids_and_lengths() -> None:
    net, _ = lattice(n=8)
    sub = net.around(shapely.box(0, 0, 250, 250), 80.0)
    assert set(sub.node_ids.tolist()) == {j * 8 + i + 1 for j in range(4) for i in range(4)}
    assert sub.n_edges == 24 and np.all(sub.edge_length == 100.0)
    assert set(sub.edge_ids.tolist()) <= set(net.edge_ids.tolist())


@pytest.mark.parametrize("limit", [np.inf, 250.0])
def test_place_distances_are_the_matrix_block_from_sources_to_targets(limit: float) -> None:
    net, _ = lattice()
    rng = np.random.default_rng(4)
    edges = rng.choice(net.n_edges, 9, replace=False)
    edges[1] = edges[0]  # a source and a target on the same edge walk straight along it
    pts = [place_on_edge(net, int(e), float(rng.uniform(0.1, 0.9)), float(rng.uniform(0, 20))) for e in edges]
    snaps = snap_points(net, pts)
    got = place_distances(net, snaps.take([0, 2, 4]), snaps.take([1, 3, 5, 6, 7, 8]), limit=limit)
    want = distance_matrix(net, snaps, limit=limit)[np.ix_([0, 2, 4], [1, 3, 5, 6, 7, 8])]
    assert got.shape == (3, 6)
    assert np.allclose(got, want, equal_nan=False) and np.array_equal(np.isinf(got), np.isinf(want))


@pytest.mark.parametrize(("seed", "limit"), [(0, np.inf), (1, np.inf), (2, 400.0), (3, 250.0)])
def test_places_at_nodes_and_dead_ends_equal_the_general_path(seed: int, limit: float) -> None:
    """The searches skip the dead ends and a target at its edge's first node reads that node's distance:
    the same distances (and a source at that distance) as walking every target from both ends of its edge
    over the whole graph, and one node's distance whichever edge reaches it (first or far end)."""
    net, _ = random_network(seed, n=80, extra=12)  # a spanning tree plus a few more: many dead ends
    dead = net.leaves.node
    assert len(dead) >= 10
    rng = np.random.default_rng(seed + 7)
    dead_edges = np.flatnonzero(np.isin(net.edge_u, dead) | np.isin(net.edge_v, dead))
    # sources on some dead ends' own edges (one exactly at the dead end), the rest anywhere
    edge = np.concatenate([rng.choice(dead_edges, 4, replace=False), rng.choice(net.n_edges, 5, replace=False)])
    along = rng.uniform(0, 1, len(edge)) * net.edge_length[edge]
    along[0] = 0.0 if np.isin(net.edge_u[edge[0]], dead) else net.edge_length[edge[0]]
    sources = Snap(edge, along, rng.uniform(0, 15, len(edge)), shapely.points(np.zeros((len(edge), 2))))
    # targets: at the first node of every edge (offset 0, and again with an offset), at the far end of
    # every edge (the general path), and anywhere along
    e = np.arange(net.n_edges)
    t_edge = np.concatenate([e, e, e, e])
    t_along = np.concatenate([np.zeros(2 * len(e)), net.edge_length, rng.uniform(0, 1, len(e)) * net.edge_length])
    t_off = np.concatenate([np.zeros(len(e)), rng.uniform(0, 15, len(e)), np.zeros(len(e)),
                            rng.uniform(0, 15, len(e))])
    targets = Snap(t_edge, t_along, t_off, shapely.points(np.zeros((len(t_edge), 2))))
    groups = [np.arange(4), np.arange(4, len(edge)), np.arange(len(edge))]
    got = nearest_each(net, sources, groups, targets, limits=[limit] * 3)
    for group, found in zip(groups, got, strict=True):
        want = place_distances(net, sources.take(group), targets, limit=limit).min(axis=0)
        assert np.array_equal(np.isinf(found.distance), np.isinf(want))
        reached = np.isfinite(want)
        assert reached.any() and np.allclose(found.distance[reached], want[reached], rtol=0, atol=1e-9)
        assert np.all(np.isin(found.source[reached], group)) and np.all(found.source[~reached] == -1)
        each = place_distances(net, sources, targets, limit=limit)
        assert np.allclose(each[found.source[reached], np.flatnonzero(reached)], found.distance[reached],
                           rtol=0, atol=1e-9)
        # a node's distance, whether it is a target's first node or another edge's far end, is the whole
        # graph's node distance
        nodes = node_distances(net, sources.take(group), limit=limit).min(axis=0)
        nodes[nodes > limit] = np.inf
        at = np.concatenate([net.edge_u, net.edge_v])
        d = np.concatenate([found.distance[: len(e)], found.distance[2 * len(e): 3 * len(e)]])
        fin = np.isfinite(nodes[at])
        assert np.array_equal(np.isfinite(d), fin)
        on_edge = np.isin(np.concatenate([e, e]), sources.edge[group])  # may walk straight along a source's edge
        check = fin & ~on_edge
        assert np.allclose(d[check], nodes[at][check], rtol=0, atol=1e-9)
