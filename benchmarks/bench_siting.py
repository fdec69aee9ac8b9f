"""Station siting: our maximal and set covering (HiGHS, :mod:`gisgrid.coverage.siting`) against spopt's
MCLP and LSCP (PuLP + CBC) on the very same cost matrix.

The cost matrix is built once per data set, outside every timing, from our street network (walking
metres from each candidate to each building's door, :func:`gisgrid.network.place_distances`) and
saved; each method then runs in a fresh process that loads it. Timed for both: from the cost matrix
to the chosen sites — for us the threshold test, the reduction, the model and HiGHS; for spopt
``from_cost_matrix`` (building the PuLP model) and ``solve`` (CBC). Both objectives are recomputed
from the chosen sites on the same matrix, so "equal" means the same households covered.

Data sets (``generate_district``, seed 7):

* **issue** — the issue's case: 10 of 200 candidates, 5,000 demand points (buildings weighted by
  households, drawn from a 300,000-household district), 500 m;
* **demo** — the demo district (60,000 households): every building as demand, every complex entrance
  and building door as a candidate, 10 sites at 500 m (party–masses service station) and at 100 m
  (red heart station).

Set covering is run on the demand some candidate reaches (spopt's LSCP is infeasible otherwise).
Each method runs ``REPEATS`` times in its process (a fresh model every time); the median is reported.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import case, run_in_subprocess

REPEATS = 3
DATASETS: dict[str, dict[str, Any]] = {
    "issue": {"households": 400_000, "demand": 5_000, "candidates": 200},
    "demo": {"households": 60_000, "demand": None, "candidates": None},
}
RUNS: tuple[tuple[str, str, float, int], ...] = (  # data set, method, metres, sites
    ("issue", "mclp", 500.0, 10),
    ("issue", "lscp", 500.0, 0),
    ("demo", "mclp", 500.0, 10),
    ("demo", "mclp", 100.0, 10),
    ("demo", "lscp", 500.0, 0),
)
QUICK = (("issue", "mclp", 500.0, 10),)


@case("siting_prepare")
def prepare(dataset: str, out: str) -> dict[str, Any]:
    """Demand, candidates and their walking cost matrix (demand × candidates, metres) into ``out``."""
    import numpy as np

    from gisgrid.coverage.sites import building_demand, candidate_sites
    from gisgrid.network import StreetNetwork, place_distances
    from gisgrid.synth import generate_district

    spec = DATASETS[dataset]
    t0 = time.perf_counter()
    district = generate_district(seed=7, households=spec["households"])
    nodes = district.street_nodes.rename(columns={"node_key": "id"})
    edges = district.street_edges.rename(
        columns={"edge_key": "id", "source_node_key": "source_node", "target_node_key": "target_node"})
    net = StreetNetwork.from_frames(nodes, edges)
    buildings = district.buildings.rename(columns={"building_key": "id"})
    rng = np.random.default_rng(11)
    if spec["demand"] is not None:
        buildings = buildings.iloc[np.sort(rng.choice(len(buildings), spec["demand"], replace=False))]
    demand = building_demand(net, buildings)
    complexes = district.complexes.rename(columns={"complex_key": "id"})
    sites = candidate_sites(net, complexes=complexes, buildings=buildings)
    if spec["candidates"] is not None:
        sites = sites.take(np.sort(rng.choice(len(sites), spec["candidates"], replace=False)))
    cost = place_distances(net, sites.snap, demand.snap, limit=2_000.0).T  # spopt's orientation
    cost[~np.isfinite(cost)] = 1e9
    np.savez_compressed(out, cost=cost.astype(np.float64), weight=demand.weight.astype(np.float64))
    return {"dataset": dataset, "demand": len(demand), "candidates": len(sites), "nodes": net.n_nodes,
            "edges": net.n_edges, "households": float(demand.weight.sum()),
            "prepare_seconds": round(time.perf_counter() - t0, 2)}


def _covered(cost: Any, weight: Any, radius: float, chosen: list[int]) -> float:
    if not chosen:
        return 0.0
    return float(weight[(cost[:, chosen] <= radius).any(axis=1)].sum())


def _load(path: str, method: str, radius: float) -> tuple[Any, Any]:
    import numpy as np

    data = np.load(path)
    cost, weight = data["cost"], data["weight"]
    if method == "lscp":  # what no candidate reaches cannot be a covering constraint for spopt
        keep = (cost <= radius).any(axis=1)
        cost, weight = cost[keep], weight[keep]
    return cost, weight


@case("siting_ours")
def ours(path: str, method: str, radius: float, sites: int, repeats: int) -> dict[str, Any]:
    from scipy.sparse import csr_array

    from gisgrid.coverage.siting import maximal_covering, set_covering

    cost, weight = _load(path, method, radius)
    seconds, parts, result = [], [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        cover = csr_array((cost <= radius).T)
        result = (maximal_covering(cover, weight, sites) if method == "mclp" else set_covering(cover, weight))
        seconds.append(time.perf_counter() - t0)
        parts.append(result.seconds)
    assert result is not None
    chosen = result.chosen.tolist()
    return {"solver": "ours (HiGHS)", "objective": _covered(cost, weight, radius, chosen), "sites": len(chosen),
            "status": result.status, "seconds": round(statistics.median(seconds), 3),
            "seconds_min": round(min(seconds), 3), "model": result.model,
            "build": round(statistics.median(p["build"] for p in parts), 3),
            "solve": round(statistics.median(p["solve"] for p in parts), 3)}


@case("siting_spopt")
def peer(path: str, method: str, radius: float, sites: int, repeats: int) -> dict[str, Any]:
    import warnings

    import pulp
    from spopt.locate import LSCP, MCLP

    cost, weight = _load(path, method, radius)
    seconds, builds, solves, model = [], [], [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "mclp":
                model = MCLP.from_cost_matrix(cost, weight, service_radius=radius, p_facilities=sites)
            else:
                model = LSCP.from_cost_matrix(cost, service_radius=radius)
            t1 = time.perf_counter()
            model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
        t2 = time.perf_counter()
        seconds.append(t2 - t0)
        builds.append(t1 - t0)
        solves.append(t2 - t1)
    assert model is not None
    chosen = [j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5]
    return {"solver": "spopt (PuLP + CBC)", "objective": _covered(cost, weight, radius, chosen),
            "sites": len(chosen), "status": pulp.LpStatus[model.problem.status],
            "seconds": round(statistics.median(seconds), 3), "seconds_min": round(min(seconds), 3),
            "build": round(statistics.median(builds), 3), "solve": round(statistics.median(solves), 3)}


def run(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    runs = QUICK if ctx.get("quick") else RUNS
    repeats = 1 if ctx.get("quick") else REPEATS
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_siting_") as tmp:
        prepared: dict[str, dict[str, Any]] = {}
        for dataset in dict.fromkeys(d for d, *_ in runs):
            path = str(Path(tmp) / f"{dataset}.npz")
            prepared[dataset] = {**run_in_subprocess("benchmarks.bench_siting", "siting_prepare", dataset=dataset,
                                                     out=path), "path": path}
        for dataset, method, radius, sites in runs:
            info = prepared[dataset]
            params = {"path": info["path"], "method": method, "radius": radius, "sites": sites, "repeats": repeats}
            mine = run_in_subprocess("benchmarks.bench_siting", "siting_ours", **params)
            theirs = run_in_subprocess("benchmarks.bench_siting", "siting_spopt", **params)
            base = {"case": f"{dataset}: {method.upper()}" + (f" {sites} sites" if method == "mclp" else "")
                    + f" at {radius:.0f} m", "demand": info["demand"], "candidates": info["candidates"]}
            for result in (mine, theirs):
                rows.append({**base, **result})
            same = abs(mine["objective"] - theirs["objective"]) < 0.5
            ratio = round(mine["seconds"] / theirs["seconds"], 3) if theirs["seconds"] else None
            rows.append({**base, "comparison": True, "equal_objective": same,
                         "equal_sites": mine["sites"] == theirs["sites"], "time_ratio": ratio})
    return rows
