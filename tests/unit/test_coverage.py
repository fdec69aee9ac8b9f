"""gisgrid.coverage.compute: walking distances to the nearest open station, against networkx on graphs
whose edges are split where the places meet them; the walk, not the straight line, decides; islands are
never covered; incremental updates after any sequence of openings and closings equal a full computation."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import shapely

from gisgrid.coverage.compute import (
    Places,
    close_station,
    cover,
    node_places,
    open_station,
    place_buildings,
    place_stations,
    reach,
)
from gisgrid.network import StreetNetwork
from tests.unit.test_network import CRS, place_on_edge, random_network


def square(x: float, y: float, side: float = 8.0) -> shapely.Polygon:
    return shapely.box(x, y - side / 2, x + side, y + side / 2)


def u_street(arm: float) -> StreetNetwork:
    """A U: two arms of ``arm`` metres 50 m apart, joined at the top; the ends of the arms are 50 m apart
    in a straight line but ``2 * arm + 50`` metres apart on foot."""
    xy = np.array([[0.0, 0.0], [0.0, arm], [50.0, arm], [50.0, 0.0]])
    return StreetNetwork.from_arrays([1, 2, 3, 4], xy, [1, 2, 3], [2, 3, 4], [arm, 50.0, arm], crs=CRS)


@pytest.mark.parametrize(("arm", "covered"), [(20.0, True), (30.0, False)])
def test_the_walk_decides_not_the_straight_line(arm: float, covered: bool) -> None:
    net = u_street(arm)
    # the door on the outline, half a metre east of the right arm's foot; the station at the left foot
    building = place_buildings(net, np.array([7]), np.array([square(50.5, 0.0)]),
                               np.array([shapely.Point(50.5, 0.0)]))
    station = place_stations(net, np.array([70]), np.array([shapely.Point(0.0, 0.0)]))
    got = cover(net, building, station, cap=200.0)
    walk = 2 * arm + 50 + 0.5
    assert got.distance[0] == pytest.approx(walk)  # 90.5 m and 110.5 m
    assert shapely.distance(shapely.Point(0, 0), shapely.Point(50.5, 0)) == pytest.approx(50.5)
    assert bool(got.distance[0] <= 100.0) is covered
    assert got.station[0] == 70


def test_beyond_the_cap_is_inf_with_no_station() -> None:
    net = u_street(30.0)
    building = place_buildings(net, np.array([7]), np.array([square(50.5, 0.0)]))
    station = place_stations(net, np.array([70]), np.array([shapely.Point(0.0, 0.0)]))
    got = cover(net, building, station, cap=100.0)
    assert np.isinf(got.distance[0]) and got.station[0] == -1


def _split_graph(net: StreetNetwork, places: list[Places]) -> tuple[nx.Graph, list[list[str]]]:
    """networkx, independently: each edge cut at every place on it, each place a node joined to its cut
    by its offset. Returns the graph and the node names of each group of places."""
    g = nx.Graph()
    cuts: dict[int, list[tuple[float, str]]] = {}
    names: list[list[str]] = []
    for gi, group in enumerate(places):
        names.append([])
        for k in range(len(group)):
            name = f"p{gi}_{k}"
            names[-1].append(name)
            e = int(group.snap.edge[k])
            cut = f"cut{gi}_{k}"
            cuts.setdefault(e, []).append((float(group.snap.along[k]), cut))
            g.add_edge(name, cut, weight=float(group.snap.offset[k]))
    for e in range(net.n_edges):
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        chain = [(0.0, u), *sorted(cuts.get(e, [])), (length, v)]
        for (a0, n0), (a1, n1) in itertools.pairwise(chain):
            w = a1 - a0
            if g.has_edge(n0, n1):
                w = min(w, g[n0][n1]["weight"])
            g.add_edge(n0, n1, weight=w)
    return g, names


@pytest.mark.parametrize("seed", range(5))
def test_distances_equal_networkx_on_split_edges(seed: int) -> None:
    net, _ = random_network(seed, n=40, extra=25)
    rng = np.random.default_rng(seed)
    foot, door = [], []
    for _ in range(30):
        e = int(rng.integers(net.n_edges))
        p = place_on_edge(net, e, float(rng.uniform(0.1, 0.9)), float(rng.uniform(3, 30)))
        foot.append(shapely.buffer(p, 2.0, quad_segs=2))
        door.append(None)
    buildings = place_buildings(net, np.arange(30), np.array(foot), np.array(door, dtype=object))
    spots = [place_on_edge(net, int(rng.integers(net.n_edges)), float(rng.uniform(0.05, 0.95)),
                           float(rng.uniform(0, 15))) for _ in range(4)]
    stations = place_stations(net, np.arange(100, 104), np.array(spots))
    cap = 400.0
    got = cover(net, buildings, stations, cap)
    g, (b_names, s_names) = _split_graph(net, [buildings, stations])
    want = nx.multi_source_dijkstra_path_length(g, set(s_names))
    for k, name in enumerate(b_names):
        expected = want.get(name, np.inf)
        expected = expected if expected <= cap else np.inf
        assert got.distance[k] == pytest.approx(expected, abs=1e-6), k
        if np.isfinite(expected):
            named = s_names[int(np.flatnonzero(stations.ids == got.station[k])[0])]
            assert nx.dijkstra_path_length(g, named, name) == pytest.approx(expected, abs=1e-6)


def islands() -> StreetNetwork:
    """A 3 × 3 lattice of 100 m streets, and one 40 m street far off that nothing joins to it."""
    ids, xy = [], []
    for j in range(3):
        for i in range(3):
            ids.append(j * 3 + i + 1)
            xy.append((i * 100.0, j * 100.0))
    src, dst = [], []
    for j in range(3):
        for i in range(3):
            k = j * 3 + i + 1
            if i < 2:
                src.append(k), dst.append(k + 1)
            if j < 2:
                src.append(k), dst.append(k + 3)
    ids += [50, 51]
    xy += [(1000.0, 0.0), (1040.0, 0.0)]
    src.append(50), dst.append(51)
    return StreetNetwork.from_arrays(ids, np.array(xy), src, dst, [100.0] * (len(src) - 1) + [40.0], crs=CRS)


def test_a_building_on_an_island_is_flagged_and_never_covered() -> None:
    net = islands()
    foot = np.array([square(1010.0, 5.0), square(50.0, 5.0)])
    doors = np.array([None, shapely.Point(54.0, 1.0)], dtype=object)
    buildings = place_buildings(net, np.array([1, 2]), foot, doors)
    assert buildings.island.tolist() == [True, False]
    # a station on the island, 10 m from the island building, and one on the mainland
    stations = place_stations(net, np.array([10, 11]), np.array([shapely.Point(1020.0, 0.0), shapely.Point(80, 0)]))
    assert stations.island.tolist() == [True, False]
    got = cover(net, buildings, stations, cap=1000.0)
    assert np.isinf(got.distance[0]) and got.station[0] == -1
    assert got.distance[1] == pytest.approx(26.0 + 1.0)  # 26 m along the street, the door 1 m off it
    opened = reach(net, buildings, stations.take([0]), cap=1000.0)
    assert len(opened) == 0  # even opening the island's own station covers nothing


def test_node_places_sit_on_their_nodes() -> None:
    net, g = random_network(3, n=30, extra=10)
    nodes = node_places(net)
    stations = place_stations(net, np.array([1, 2]), shapely.points(net.xy[[0, 7]]))
    got = cover(net, nodes, stations, cap=np.inf)
    want = nx.multi_source_dijkstra_path_length(g, {0, 7})
    assert got.distance == pytest.approx([want[i] for i in range(net.n_nodes)], abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_incremental_equals_full_after_random_opens_and_closes(seed: int) -> None:
    net, _ = random_network(seed + 10, n=50, extra=30)
    rng = np.random.default_rng(seed)
    foot = [shapely.buffer(place_on_edge(net, int(rng.integers(net.n_edges)), float(rng.uniform(0.1, 0.9)),
                                         float(rng.uniform(3, 20))), 2.0) for _ in range(60)]
    buildings = place_buildings(net, np.arange(60), np.array(foot))
    spots = [place_on_edge(net, int(rng.integers(net.n_edges)), float(rng.uniform(0, 1)), 5.0) for _ in range(12)]
    every = place_stations(net, np.arange(500, 512), np.array(spots))
    cap = 250.0
    open_now: set[int] = set()
    state = cover(net, buildings, every.take([]), cap)
    for _step in range(40):
        k = int(rng.integers(12))
        one = every.take([k])
        if k in open_now:
            open_now.discard(k)
            state, _ = close_station(net, buildings, state, one, every.take(sorted(open_now)), cap)
        else:
            open_now.add(k)
            state, _ = open_station(net, buildings, state, one, cap)
        full = cover(net, buildings, every.take(sorted(open_now)), cap)
        np.testing.assert_array_equal(np.isfinite(state.distance), np.isfinite(full.distance))
        fin = np.isfinite(full.distance)
        np.testing.assert_allclose(state.distance[fin], full.distance[fin], rtol=0, atol=1e-9)
        assert set(state.station[fin]) <= {int(every.ids[i]) for i in open_now}
        assert np.all(state.station[~fin] == -1)
