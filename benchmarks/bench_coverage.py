"""Walking-distance coverage: ours against scipy's ``dijkstra(min_only=True)`` and networkx, same graphs,
same run, each case in its own process (peak memory is its own).

* **graph** — a 200,000-node synthetic street graph (a jittered lattice, 15 % of the streets missing,
  lengths 0–15 % above the straight line), 200 stations at nodes: the nearest-station distance within
  1,000 m of every node. Peers: networkx Dijkstra per station (then the minimum), networkx multi-source,
  scipy ``min_only`` (its CSR built from the edge arrays, and from networkx). Ours: the same query
  through :func:`gisgrid.coverage.cover` from the kept :class:`~gisgrid.network.StreetNetwork`.
* **district** — ``generate_district`` (demo 60,000 and 1,000,000 households), its streets as the
  network, every building (doors snapped) and every open station of the five kinds, each kind within
  its cap. Ours: the full recomputation from the cached network and snapped buildings (and once cold:
  network build and snapping included). Peer: scipy building one CSR of the streets with the stations
  as extra nodes, then one ``min_only`` query per kind — graph build included. The building distances
  are compared; so is one incremental update per station change (open, close) against a full pass.
* **database** — the same district in PostGIS: a full recomputation with its writes, and station status
  changes through :mod:`layers.stations` (each a transaction, rolled back), incremental update included.

Distances are saved by each case and compared by the parent: "identical" means equal to 1e-9 m. The district
passes are timed by the clock and, beside it, by processor time (``time.process_time``), which the shared
machine's load moves far less.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import case, run_in_subprocess

GRAPH_NODES, GRAPH_STATIONS, GRAPH_LIMIT_M = 200_000, 200, 1000.0
SIZES = (60_000, 1_000_000)


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _median_ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 2)


# ------------------------------------------------------------------------------------------ the graph
def _graph(seed: int = 11) -> dict[str, Any]:
    """The synthetic street graph: node positions, edges by position, lengths, station node positions."""
    import numpy as np

    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(GRAPH_NODES)))
    n = side * side
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    xy = np.column_stack([gx.ravel() * 60.0, gy.ravel() * 60.0]) + rng.uniform(-10, 10, (n, 2))
    k = np.arange(n)
    right = k[(k % side) < side - 1]
    down = k[k < n - side]
    u = np.concatenate([right, down])
    v = np.concatenate([right + 1, down + side])
    keep = rng.random(len(u)) >= 0.15
    u, v = u[keep], v[keep]
    length = np.hypot(*(xy[u] - xy[v]).T) * rng.uniform(1.0, 1.15, len(u))
    stations = rng.choice(n, GRAPH_STATIONS, replace=False)
    return {"xy": xy, "u": u, "v": v, "length": length, "stations": stations, "n": n}


@case("graph_networkx")
def graph_networkx(*, method: str, out: str) -> dict[str, Any]:
    import networkx as nx
    import numpy as np

    g = _graph()
    t0 = time.perf_counter()
    graph = nx.Graph()
    graph.add_nodes_from(range(g["n"]))
    graph.add_weighted_edges_from(zip(g["u"].tolist(), g["v"].tolist(), g["length"].tolist(), strict=True))
    build = time.perf_counter() - t0
    best = np.full(g["n"], np.inf)
    t0 = time.perf_counter()
    if method == "per_station":
        for s in g["stations"].tolist():
            for node, d in nx.single_source_dijkstra_path_length(graph, s, cutoff=GRAPH_LIMIT_M).items():
                if d < best[node]:
                    best[node] = d
    else:
        for node, d in nx.multi_source_dijkstra_path_length(graph, set(g["stations"].tolist()),
                                                            cutoff=GRAPH_LIMIT_M).items():
            best[node] = d
    query = time.perf_counter() - t0
    np.save(out, best)
    return {"build_s": round(build, 3), "query_s": round(query, 3)}


@case("graph_scipy")
def graph_scipy(*, out: str) -> dict[str, Any]:
    import networkx as nx
    import numpy as np
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    g = _graph()
    n, u, v, w = g["n"], g["u"], g["v"], g["length"]
    t0 = time.perf_counter()
    csr = csr_array((np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n))
    build_arrays = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        dist = dijkstra(csr, directed=True, indices=g["stations"], min_only=True, limit=GRAPH_LIMIT_M)
        times.append(time.perf_counter() - t0)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(u.tolist(), v.tolist(), w.tolist(), strict=True))
    t0 = time.perf_counter()
    from_nx = nx.to_scipy_sparse_array(graph, nodelist=range(n), weight="weight", format="csr")
    build_nx = time.perf_counter() - t0
    np.save(out, dist)
    return {"csr_from_arrays_s": round(build_arrays, 4), "csr_from_networkx_s": round(build_nx, 3),
            "query_s": round(statistics.median(times), 4), "queries_s": [round(t, 4) for t in times],
            "nnz": int(from_nx.nnz)}


@case("graph_ours")
def graph_ours(*, out: str) -> dict[str, Any]:
    import numpy as np
    import shapely

    from gisgrid.coverage.compute import cover, node_places, place_stations
    from gisgrid.network import StreetNetwork

    g = _graph()
    t0 = time.perf_counter()
    net = StreetNetwork.from_arrays(np.arange(g["n"]), g["xy"], g["u"], g["v"], g["length"], crs="EPSG:32650")
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    nodes = node_places(net)
    stations = place_stations(net, np.arange(GRAPH_STATIONS), shapely.points(g["xy"][g["stations"]]))
    place = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        got = cover(net, nodes, stations, GRAPH_LIMIT_M)
        times.append(time.perf_counter() - t0)
    np.savez(out, distance=got.distance, island=nodes.island)  # islands: never covered, compared without
    return {"network_build_s": round(build, 3), "place_s": round(place, 3),
            "query_s": round(statistics.median(times), 4), "queries_s": [round(t, 4) for t in times],
            "components": int(net.component.max()) + 1}


# ------------------------------------------------------------------------------------------ a district
def _district(households: int) -> dict[str, Any]:
    """The district's network, buildings placed on it, and its open stations placed, by kind."""
    import numpy as np

    from gisgrid.coverage import Thresholds, place_buildings, place_stations
    from gisgrid.network import StreetNetwork
    from gisgrid.synth import generate_district

    d = generate_district(seed=7, households=households)
    t0 = time.perf_counter()
    nodes = d.street_nodes.rename(columns={"node_key": "id"})
    edges = d.street_edges.rename(columns={"source_node_key": "source_node", "target_node_key": "target_node",
                                           "edge_key": "id"})
    net = StreetNetwork.from_frames(nodes, edges)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = d.buildings
    places = place_buildings(net, np.arange(len(b)), net.to_metric(b.geometry), net.to_metric(b["entrance"]))
    st = d.stations[d.stations["status"] == "open"]
    stations = {kind: place_stations(net, np.flatnonzero(st["kind"] == kind),
                                     net.to_metric(st.geometry[st["kind"] == kind]))
                for kind in ("service_centre", "service_station", "service_post", "red_heart_station", "police_room")}
    snap = time.perf_counter() - t0
    return {"net": net, "buildings": places, "stations": stations, "thresholds": Thresholds(),
            "build_s": build, "snap_s": snap, "n_buildings": len(b), "n_stations": len(st)}


@case("district_ours")
def district_ours(*, households: int, repeats: int, out: str) -> dict[str, Any]:
    import numpy as np

    from gisgrid.coverage.compute import close_station, cover, cover_kinds, open_station

    w = _district(households)
    net, places, stations, thr = w["net"], w["buildings"], w["stations"], w["thresholds"]
    caps = {k: thr.cap(k) for k in stations}
    t0 = time.perf_counter()
    first = cover_kinds(net, places, stations, caps)
    cold = w["build_s"] + w["snap_s"] + time.perf_counter() - t0  # network build and snapping included
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        full = cover_kinds(net, places, stations, caps)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    rng = np.random.default_rng(5)
    opened, closed, mismatches = [], [], 0
    kinds = [k for k, s in stations.items() if len(s) > 1]
    for trial in range(40):
        kind = kinds[trial % len(kinds)]
        every = stations[kind]
        pick = int(rng.integers(len(every)))
        rest = every.take(np.flatnonzero(np.arange(len(every)) != pick))
        t0 = time.perf_counter()
        after_close, _ = close_station(net, places, full[kind], every.take([pick]), rest, thr.cap(kind))
        closed.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reopened, _ = open_station(net, places, after_close, every.take([pick]), thr.cap(kind))
        opened.append(time.perf_counter() - t0)
        if trial < 6:  # against full passes over the same stations
            want = cover(net, places, rest, thr.cap(kind)).distance
            mismatches += int(np.sum(~np.isclose(after_close.distance, want, rtol=0, atol=1e-9)
                                     & ~(np.isinf(want) & np.isinf(after_close.distance))))
            mismatches += int(np.sum(~np.isclose(reopened.distance, full[kind].distance, rtol=0, atol=1e-9)
                                     & ~(np.isinf(reopened.distance) & np.isinf(full[kind].distance))))
    np.savez(out, **{k: v.distance for k, v in first.items()})
    return {"buildings": w["n_buildings"], "open_stations": w["n_stations"], "nodes": net.n_nodes,
            "edges": net.n_edges, "network_build_s": round(w["build_s"], 3), "snap_s": round(w["snap_s"], 3),
            "cold_s": round(cold, 3), "full_ms": _median_ms(times), "full_runs_ms": [round(t * 1000, 2) for t in times],
            "full_cpu_ms": _median_ms(cpu),
            "open_ms": _median_ms(opened), "open_max_ms": round(1000 * max(opened), 2),
            "close_ms": _median_ms(closed), "close_max_ms": round(1000 * max(closed), 2),
            "incremental_mismatches": mismatches}


@case("district_scipy")
def district_scipy(*, households: int, repeats: int, out: str) -> dict[str, Any]:
    """The peer: one CSR of streets plus stations as nodes (built each time), one min_only query per kind."""
    import numpy as np
    import pandas as pd
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    w = _district(households)
    net, places, stations, thr = w["net"], w["buildings"], w["stations"], w["thresholds"]
    u, v, length, n = net.edge_u, net.edge_v, net.edge_length, net.n_nodes
    kinds = list(stations)
    snaps = [stations[k].snap for k in kinds]
    first = np.cumsum([n] + [len(s) for s in snaps])
    t = places.snap

    def buildings(dist: dict[str, Any]) -> dict[str, Any]:
        """Building distances from the node distances, as ours gives them: through either end of the
        building's edge, or straight along an edge it shares with a station."""
        found = {}
        for i, k in enumerate(kinds):
            d, s = dist[k], snaps[i]
            best = np.minimum(d[u[t.edge]] + t.along, d[v[t.edge]] + (length[t.edge] - t.along)) + t.offset
            pairs = pd.DataFrame({"edge": t.edge, "b": np.arange(len(t))}).merge(
                pd.DataFrame({"edge": s.edge, "s": np.arange(len(s))}), on="edge")
            if len(pairs):
                bi, si = pairs["b"].to_numpy(), pairs["s"].to_numpy()
                np.minimum.at(best, bi, np.abs(t.along[bi] - s.along[si]) + t.offset[bi] + s.offset[si])
            best[best > thr.cap(k)] = np.inf
            best[places.island] = np.inf
            found[k] = best
        return found

    times, cpu, building_times, dist, out_d = [], [], [], {}, {}
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        rows, cols, data = [u, v], [v, u], [length, length]
        for start, s in zip(first, snaps, strict=False):
            node = start + np.arange(len(s))
            su, sv, sl = u[s.edge], v[s.edge], length[s.edge]
            rows += [node, node, su, sv]
            cols += [su, sv, node, node]
            data += [s.offset + s.along, s.offset + sl - s.along] * 2
        size = int(first[-1])
        csr = csr_array((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))
        dist = {k: dijkstra(csr, directed=True, indices=first[i] + np.arange(len(snaps[i])), min_only=True,
                            limit=thr.cap(k)) for i, k in enumerate(kinds)}
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        out_d = buildings(dist)
        building_times.append(time.perf_counter() - t0)
    import networkx as nx

    t0 = time.perf_counter()  # the CSR as the reference peers built it: from a networkx graph
    graph = nx.Graph()
    graph.add_nodes_from(range(int(first[-1])))
    graph.add_weighted_edges_from(zip(np.concatenate(rows).tolist(), np.concatenate(cols).tolist(),
                                      np.concatenate(data).tolist(), strict=True))
    nx.to_scipy_sparse_array(graph, nodelist=range(int(first[-1])), weight="weight", format="csr")
    from_nx_ms = round(1000 * (time.perf_counter() - t0), 2)
    np.savez(out, **out_d)
    return {"full_ms": _median_ms(times), "full_runs_ms": [round(x * 1000, 2) for x in times],
            "full_cpu_ms": _median_ms(cpu),
            "buildings_ms": _median_ms(building_times), "csr_from_networkx_ms": from_nx_ms}


@case("district_db")
def district_db(*, households: int, url: str, changes: int) -> dict[str, Any]:
    """The district in PostGIS: a full recomputation with its writes, then station changes through the flows."""
    import numpy as np
    from sqlalchemy import text

    from gisgrid.synth import generate_district
    from layers import coverage as lc
    from layers import stations as ls
    from layers.db import make_engine, make_sessionmaker
    from layers.demo import load_district
    from layers.settings import get_settings

    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        have = s.execute(text("SELECT coalesce(sum(households), 0) FROM building WHERE source = 'synthetic'")).scalar()
    if have != households:
        load_district(engine, generate_district(seed=7, households=households))
    thr = lc.thresholds_from(get_settings().coverage)
    runs = []
    for _ in range(2):  # the first reads the network and snaps the buildings; the second has them cached
        with factory() as s, s.begin():
            t0 = time.perf_counter()
            lc.lock(s)
            lc.recompute(s, thr)
            runs.append(time.perf_counter() - t0)
    with factory() as s:
        rows = s.execute(text("SELECT id, status FROM station WHERE status IN ('open', 'building', 'planned')"
                              " ORDER BY id")).all()
    rng = np.random.default_rng(9)
    picks = [rows[i] for i in rng.choice(len(rows), min(changes, len(rows)), replace=False)]
    actor = ls.Actor("bench")
    times, modes = [], []
    for sid, status in picks:
        with factory() as s:
            s.begin()
            t0 = time.perf_counter()
            got = ls.change_status(s, thr, actor, sid, status="closed" if status == "open" else "open")
            times.append(time.perf_counter() - t0)
            modes += [c["mode"] for c in got["coverage"]]
            s.rollback()
    engine.dispose()
    return {"full_cold_s": round(runs[0], 3), "full_warm_s": round(runs[1], 3), "change_ms": _median_ms(times),
            "change_p90_ms": round(1000 * float(np.percentile(times, 90)), 2),
            "change_max_ms": round(1000 * max(times), 2), "changes": len(times),
            "modes": sorted(set(modes))}


def _compare(a: Any, b: Any) -> dict[str, Any]:
    import numpy as np

    both = np.isfinite(a) & np.isfinite(b)
    same_reach = bool(np.array_equal(np.isfinite(a), np.isfinite(b)))
    diff = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
    return {"identical": same_reach and diff <= 1e-9, "max_abs_diff_m": diff, "reached": int(both.sum())}


def run(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    import numpy as np

    quick = bool(ctx.get("quick"))
    repeats = 3 if quick else 20
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not quick:
            load0 = _load()
            g = {name: run_in_subprocess(__name__, f"graph_{name}" if name in ("scipy", "ours") else "graph_networkx",
                                         out=str(folder / f"g_{name}.npy"),
                                         **({"method": name} if name in ("per_station", "multi") else {}))
                 for name in ("ours", "scipy", "per_station", "multi")}
            ours_npz = np.load(folder / "g_ours.npy.npz")
            mainland = ~ours_npz["island"]
            arrays = {name: np.load(folder / f"g_{name}.npy")[mainland] for name in g if name != "ours"}
            arrays["ours"] = ours_npz["distance"][mainland]
            results.append({
                "benchmark": f"nearest of {GRAPH_STATIONS} stations within {GRAPH_LIMIT_M:g} m, every node of a "
                             f"{GRAPH_NODES:,}-node street graph",
                "ours": g["ours"], "scipy": g["scipy"], "networkx_per_station": g["per_station"],
                "networkx_multi_source": g["multi"],
                "identical_to_scipy": _compare(arrays["ours"], arrays["scipy"]),
                "identical_to_networkx": _compare(arrays["ours"], arrays["multi"]),
                "networkx_per_station_vs_multi": _compare(arrays["per_station"], arrays["multi"]),
                "load_before_after": [load0, _load()],
            })
        for households in ctx.get("demo_sizes", SIZES):
            load0 = _load()
            ours = run_in_subprocess(__name__, "district_ours", households=households, repeats=repeats,
                                     out=str(folder / f"d_ours_{households}.npz"))
            peer = run_in_subprocess(__name__, "district_scipy", households=households, repeats=repeats,
                                     out=str(folder / f"d_scipy_{households}.npz"))
            db = run_in_subprocess(__name__, "district_db", households=households, url=ctx["url"],
                                   changes=10 if quick else 40)
            a, b = np.load(folder / f"d_ours_{households}.npz"), np.load(folder / f"d_scipy_{households}.npz")
            results.append({
                "benchmark": f"coverage of a {households:,}-household district",
                "ours": ours, "scipy_peer": peer, "database": db,
                "ours_over_peer": round(ours["full_ms"] / peer["full_ms"], 2) if peer["full_ms"] else None,
                "ours_over_peer_with_buildings": round(ours["full_ms"] / (peer["full_ms"] + peer["buildings_ms"]), 2),
                # processor time: what each side computed, less what the shared machine's load adds to the clock
                "ours_over_peer_cpu": round(ours["full_cpu_ms"] / peer["full_cpu_ms"], 2)
                if peer["full_cpu_ms"] else None,
                "identical": {k: _compare(a[k], b[k]) for k in a.files},
                "load_before_after": [load0, _load()],
            })
    return results
