"""The demo district's walking network: roads split at the gates, footways from every gate to every door."""

from __future__ import annotations

import datetime as dt

import networkx as nx
import numpy as np
import pytest
import shapely

from gisgrid.coverage.sites import candidate_sites
from gisgrid.grids.partition.inputs import NON_STREET_HIGHWAYS
from gisgrid.network import StreetNetwork, nearest, snap_buildings, snap_points
from gisgrid.synth import DemoDistrict, generate_district
from gisgrid.synth.layout import CELL_H, CELL_W, COMPLEX_INSET

TODAY = dt.date(2026, 11, 23)
METRIC = 32650


@pytest.fixture(scope="module")
def district() -> DemoDistrict:
    return generate_district(seed=5, households=12_000, today=TODAY)


def _network(d: DemoDistrict) -> StreetNetwork:
    nodes = d.street_nodes.rename(columns={"node_key": "id"})
    edges = d.street_edges.rename(
        columns={"edge_key": "id", "source_node_key": "source_node", "target_node_key": "target_node"}
    )
    return StreetNetwork.from_frames(nodes, edges, crs=METRIC)


def _xy(frame_geoms: object) -> np.ndarray:
    return shapely.get_coordinates(frame_geoms)


def test_keys_unique_and_edges_end_at_their_nodes(district: DemoDistrict) -> None:
    n, e = district.street_nodes, district.street_edges
    assert n["node_key"].is_unique and e["edge_key"].is_unique
    assert n["source_ref"].is_unique and e["source_ref"].is_unique
    assert n["source_ref"].str.startswith("synthetic:").all()  # the demo loader's marker
    pos = dict(zip(n["node_key"], n.geometry.values, strict=True))
    start = shapely.get_point(e.geometry.values, 0)
    end = shapely.get_point(e.geometry.values, -1)
    src = np.array([pos[k] for k in e["source_node_key"]], dtype=object)
    dst = np.array([pos[k] for k in e["target_node_key"]], dtype=object)
    assert (shapely.distance(start, src) < 1e-9).all() and (shapely.distance(end, dst) < 1e-9).all()
    metric = e.to_crs(METRIC).length.to_numpy()
    assert np.allclose(metric, e["length_m"], atol=0.01) and (e["length_m"] > 0.5).all()


def test_network_is_one_component(district: DemoDistrict) -> None:
    net = _network(district)
    assert net.n_nodes == len(district.street_nodes) and net.n_edges == len(district.street_edges)
    assert (net.edge_component == 0).all()


def test_roads_are_split_at_block_side_midpoints(district: DemoDistrict) -> None:
    e = district.street_edges
    roads = e[e["highway"] != "footway"]
    assert roads["name"].notna().all() and len(roads) % 2 == 0
    first, second = roads.iloc[0::2], roads.iloc[1::2]
    # each lattice segment is two consecutive halves of equal length, name and class meeting at a midpoint
    assert (first["target_node_key"].to_numpy() == second["source_node_key"].to_numpy()).all()
    assert (first["name"].to_numpy() == second["name"].to_numpy()).all()
    assert (first["highway"].to_numpy() == second["highway"].to_numpy()).all()
    assert np.allclose(first["length_m"].to_numpy(), second["length_m"].to_numpy(), atol=1e-6)
    half = np.sort(np.unique(np.round(roads["length_m"].to_numpy(), 3)))
    assert half.tolist() == pytest.approx(sorted([CELL_H / 2, CELL_W / 2]), abs=0.01)
    assert district.summary()["road_km"] == round(roads["length_m"].sum() / 1000)
    assert district.summary()["footway_km"] == round(e.loc[e["highway"] == "footway", "length_m"].sum() / 1000)


def test_footways_do_not_cut_grids_and_have_no_name(district: DemoDistrict) -> None:
    f = district.street_edges[district.street_edges["highway"] == "footway"]
    assert len(f) > 10 * len(district.complexes)
    assert "footway" in NON_STREET_HIGHWAYS
    assert f["name"].isna().all()
    # street heads look after named roads only
    a = district.assignments
    assert a.loc[a["target_kind"] == "street", "target_ref"].notna().all()


def _footway_graph(d: DemoDistrict) -> nx.Graph:
    f = d.street_edges[d.street_edges["highway"] == "footway"]
    g = nx.Graph()
    g.add_edges_from(zip(f["source_node_key"], f["target_node_key"], strict=True))
    return g


def test_every_door_reaches_the_gates_of_its_own_block(district: DemoDistrict) -> None:
    n, e = district.street_nodes, district.street_edges
    node_xy = dict(zip(n["node_key"], _xy(n.to_crs(METRIC).geometry.values).tolist(), strict=True))
    at = {tuple(np.round(xy, 6)): k for k, xy in zip(n["node_key"], _xy(n.geometry.values), strict=True)}
    road_nodes = set(e.loc[e["highway"] != "footway", "source_node_key"]) | set(
        e.loc[e["highway"] != "footway", "target_node_key"]
    )
    g = _footway_graph(district)
    inner = g.subgraph([k for k in g.nodes if k not in road_nodes])  # the footways, gates cut off
    complexes = district.complexes.set_index("complex_key").to_crs(METRIC)
    doors = _xy(district.buildings["entrance"].values)
    for ck, door in zip(district.buildings["complex_key"], doors, strict=True):
        key = at.get(tuple(np.round(door, 6)))
        assert key is not None, f"the door of a building of {ck} is no network node"
        reached = nx.node_connected_component(inner, key)
        gates = sorted({nb for k in reached for nb in g.neighbors(k) if nb in road_nodes})
        poly = complexes.geometry[ck]
        minx, miny, maxx, maxy = poly.bounds
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        block = shapely.box(minx - COMPLEX_INSET, miny - COMPLEX_INSET, maxx + COMPLEX_INSET, maxy + COMPLEX_INSET)
        pts = shapely.points([node_xy[k] for k in reached])
        assert shapely.covers(block.buffer(0.01), pts).all(), f"footways of {ck} leave its block"
        assert len(gates) == 4, f"{ck} has {len(gates)} gates"
        gate_xy = np.array([node_xy[k] for k in gates])
        sides = np.array([[cx, cy - CELL_H / 2], [cx + CELL_W / 2, cy], [cx, cy + CELL_H / 2], [cx - CELL_W / 2, cy]])
        dist = np.hypot(*(gate_xy[:, None, :] - sides[None, :, :]).transpose(2, 0, 1))
        assert (dist.min(axis=0) < 0.01).all(), f"{ck}: gates are not the midpoints of its block's sides"


def test_gates_lie_on_the_perimeter_roads(district: DemoDistrict) -> None:
    e = district.street_edges
    roads = e[e["highway"] != "footway"]
    foot = e[e["highway"] == "footway"]
    road_nodes = set(roads["source_node_key"]) | set(roads["target_node_key"])
    gates = (set(foot["source_node_key"]) | set(foot["target_node_key"])) & road_nodes
    assert len(gates) >= 2 * len(district.complexes)  # neighbours share a gate across their road
    degree_on_roads = np.bincount(np.r_[roads["source_node_key"], roads["target_node_key"]])
    assert all(degree_on_roads[g] == 2 for g in gates)  # the midpoint of a road segment, not a crossing
    refs = district.street_nodes.set_index("node_key").loc[sorted(gates), "source_ref"]
    assert refs.str.match(r"^synthetic:node:-?\d+:-?\d+:[hv]$").all()


def test_footways_stay_clear_of_buildings(district: DemoDistrict) -> None:
    foot = district.street_edges[district.street_edges["highway"] == "footway"].to_crs(METRIC).geometry.values
    inner = shapely.buffer(district.buildings.to_crs(METRIC).geometry.values, -0.01)
    tree = shapely.STRtree(inner)
    left, _ = tree.query(foot, predicate="intersects")
    assert left.size == 0, "a footway runs through a building"
    # and every building is reached from its own door: the door's snap is the branch's end, offset 0
    net = _network(district)
    snaps, used = snap_buildings(
        net, net.to_metric(district.buildings.geometry), net.to_metric(district.buildings["entrance"])
    )
    assert used.all() and np.allclose(snaps.offset, 0.0, atol=1e-6)


def test_doors_are_a_short_walk_from_a_gate_and_red_heart_stations(district: DemoDistrict) -> None:
    net = _network(district)
    b = district.buildings
    doors = snap_buildings(net, net.to_metric(b.geometry), net.to_metric(b["entrance"]))[0]
    roads = district.street_edges[district.street_edges["highway"] != "footway"]
    foot = district.street_edges[district.street_edges["highway"] == "footway"]
    gate_keys = sorted((set(foot["source_node_key"]) | set(foot["target_node_key"]))
                       & (set(roads["source_node_key"]) | set(roads["target_node_key"])))
    gate_pts = district.street_nodes.set_index("node_key").loc[gate_keys].geometry
    gates = snap_points(net, net.to_metric(gate_pts))
    walk = nearest(net, gates, doors).distance
    straight = shapely.distance(
        net.to_metric(b["entrance"]), shapely.multipoints(net.to_metric(gate_pts))
    )
    assert np.isfinite(walk).all()
    # through the complex, not around it: the walk to the nearest gate stays close to the straight line
    assert np.max(walk) < 260.0 and np.median(walk / np.maximum(straight, 1.0)) < 1.6
    # a red heart station just inside the fence reaches households of its complex within 100 m
    st = district.stations[district.stations["kind"] == "red_heart_station"]
    src = snap_points(net, net.to_metric(st.geometry))
    assert (src.offset < 2.0).all()  # on the ring footway, not out on the road
    rh = nearest(net, src, doors)
    near = rh.distance <= 100.0
    # ... in its own complex, every one of them, and never across the road in the next complex
    assert set(b.loc[near, "complex_key"]) == set(st["complex_key"])
    assert (st["complex_key"].to_numpy()[rh.source[near]] == b.loc[near, "complex_key"].to_numpy()).all()


def test_complex_entrance_candidates_are_gates(district: DemoDistrict) -> None:
    net = _network(district)
    cx = district.complexes.rename(columns={"complex_key": "id"})
    sites = candidate_sites(net, complexes=cx)
    outline = shapely.boundary(net.to_metric(cx.geometry))
    assert len(sites.site) == len(cx)
    assert (shapely.distance(sites.site, outline) < 1e-6).all()
    assert np.allclose(sites.snap.offset, 0.0, atol=1e-6)  # where a gate stub crosses the fence


def test_footways_deterministic_by_seed(district: DemoDistrict) -> None:
    again = generate_district(seed=5, households=12_000, today=TODAY)
    for name in ("street_nodes", "street_edges"):
        a, b = getattr(district, name), getattr(again, name)
        assert a.drop(columns=a.geometry.name).equals(b.drop(columns=b.geometry.name))
        assert np.array_equal(shapely.to_wkb(a.geometry.values), shapely.to_wkb(b.geometry.values))
    other = generate_district(seed=6, households=12_000, today=TODAY)
    assert not np.array_equal(
        shapely.to_wkb(district.street_edges.geometry.values[-50:]),
        shapely.to_wkb(other.street_edges.geometry.values[-50:]),
    ) or len(district.street_edges) != len(other.street_edges)
