"""One walking tour: from the base through every stop once and back, on a distance matrix.

Small tours (up to :data:`EXACT_MAX` stops) are solved exactly by enumerating every order; larger ones by
PyVRP's iterated local search with a **counted** budget (``MaxIterations``) and a fixed seed, so the same
matrix gives the same tour on any machine. PyVRP was chosen over OR-Tools and over our own
nearest-neighbour + 2-opt after measuring all three on the same matrices (docs/patrol.md): at the same
time it comes within a fraction of a percent of the best tour found, OR-Tools' guided local search within
1–6 %, 2-opt within 4–8 %.

PyVRP works in integers: metres are scaled by :data:`SCALE` (decimetres) and the tour's length is then
measured again on the float matrix.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from gisgrid.errors import InvalidInputError

__all__ = ["EXACT_MAX", "SCALE", "improve_2opt", "iterations_for", "solve_tour", "tour_length"]

EXACT_MAX = 7  # 7! = 5,040 orders, one numpy sum: faster than starting PyVRP
SCALE = 10.0
STALL = 25  # iterations without improvement, per node, before the search stops early
STALL_MIN = 200
MIN_ITERATIONS, MAX_ITERATIONS = 200, 5_000


def tour_length(d: np.ndarray, order: list[int] | np.ndarray) -> float:
    """Length of the closed tour ``order`` (its first node is the start; the walk returns to it)."""
    o = np.asarray(order, dtype=np.int64)
    if len(o) < 2:
        return 0.0
    return float(d[o, np.roll(o, -1)].sum())


@lru_cache(maxsize=EXACT_MAX + 1)
def _permutations(n: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(1, n + 1))), dtype=np.int64).reshape(-1, n)


def _exact(d: np.ndarray) -> list[int]:
    n = len(d) - 1
    perms = _permutations(n)
    walk = np.concatenate([np.zeros((len(perms), 1), np.int64), perms, np.zeros((len(perms), 1), np.int64)], 1)
    lengths = d[walk[:, :-1], walk[:, 1:]].sum(axis=1)
    return [0, *perms[int(np.argmin(lengths))].tolist()]  # argmin: the first best, deterministic


def _pyvrp(d: np.ndarray, iterations: int, seed: int) -> list[int]:
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType, solve
    from pyvrp.stop import MaxIterations, MultipleCriteria, NoImprovement

    n = len(d)
    scaled = np.rint(np.minimum(d, 1e12) * SCALE).astype(np.int64)
    data = ProblemData(
        locations=[Location(float(i), 0.0) for i in range(n)],
        clients=[Client(location=i) for i in range(1, n)],
        depots=[Depot(location=0)],
        vehicle_types=[VehicleType(1)],
        distance_matrices=[scaled],
        duration_matrices=[np.zeros_like(scaled)],
    )
    # both budgets are counts: at most ``iterations``, and stop once STALL × n have found nothing better
    stop = MultipleCriteria([MaxIterations(iterations), NoImprovement(max(STALL_MIN, STALL * n))])
    result = solve(data, stop, seed=seed, collect_stats=False, display=False)
    route = result.best.routes()[0]
    # a client activity's idx is the client's position in ``clients``; client k sits at location k + 1
    return [0, *(a.idx + 1 for a in route if a.is_client())]


def improve_2opt(d: np.ndarray, order: list[int], *, rounds: int = 50) -> list[int]:
    """First-improvement 2-opt and or-opt (moving one stop) on a closed tour, ``order[0]`` kept first.

    A cheap polish for a tour changed by hand (a stop moved in or out); bounded by ``rounds`` passes.
    """
    tour = list(order)
    n = len(tour)
    if n < 4:
        return tour
    for _ in range(rounds):
        improved = False
        for i in range(n - 1):
            a, b = tour[i], tour[i + 1]
            for j in range(i + 2, n if i else n - 1):
                c, e = tour[j], tour[(j + 1) % n]
                if d[a, c] + d[b, e] < d[a, b] + d[c, e] - 1e-9:
                    tour[i + 1:j + 1] = tour[i + 1:j + 1][::-1]
                    improved = True
                    a, b = tour[i], tour[i + 1]
        for i in range(1, n):
            s = tour[i]
            prev, nxt = tour[i - 1], tour[(i + 1) % n]
            gain = d[prev, s] + d[s, nxt] - d[prev, nxt]
            rest = tour[:i] + tour[i + 1:]
            m = len(rest)
            idx = np.arange(m)
            cost = d[np.array(rest)[idx], s] + d[s, np.array(rest)[(idx + 1) % m]] - d[
                np.array(rest)[idx], np.array(rest)[(idx + 1) % m]]
            k = int(np.argmin(cost))
            if cost[k] < gain - 1e-9:
                tour = [*rest[:k + 1], s, *rest[k + 1:]]
                improved = True
        if not improved:
            break
    return tour


def iterations_for(n: int, work: int) -> int:
    """PyVRP iterations for a tour of ``n`` nodes: ``work`` node-iterations shared out, so that the
    budget (an iteration costs about in proportion to ``n``) takes about the same time for any size."""
    return int(np.clip(work // max(n, 1), MIN_ITERATIONS, MAX_ITERATIONS))


def solve_tour(d: np.ndarray, *, work: int = 60_000, seed: int = 0) -> list[int]:
    """The shortest closed tour found from node 0 through every node of the square matrix ``d``.

    ``work`` is the search budget in node-iterations (:func:`iterations_for`). Returns the visiting
    order starting with 0 (the return to 0 is implied).
    """
    d = np.asarray(d, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise InvalidInputError("a tour needs a square distance matrix", field="matrix", rule="n × n")
    if not np.all(np.isfinite(d)):
        raise InvalidInputError("some stops cannot be reached from the others", field="matrix",
                                rule="every stop on one connected network")
    n = len(d)
    if n <= 3:
        return list(range(n))
    if n - 1 <= EXACT_MAX:
        return _exact(d)
    return improve_2opt(d, _pyvrp(d, iterations_for(n, work), seed), rounds=2)
