"""Splitting a grid's stops into patrol days: balanced day routes from and back to the base.

*Route first, cluster second*, then local search:

1. one tour through every stop (:func:`~gisgrid.patrol.tsp.solve_tour`);
2. that tour cut into ``days`` consecutive pieces, each walked from and back to the base, by a dynamic
   programme that minimises the total under the balance rule (longest day ≤ ``balance`` × shortest),
   for a sweep of lower bounds on the shortest day (:func:`balanced_cuts`); the best few cuts are kept;
3. for each kept cut: priority stops (open incidents) go into the first day, each day is toured again,
   and stops are moved between days while a move shortens the week without breaking the balance (or,
   while the balance is broken, brings it closer) — :func:`improve_days`;
4. the best resulting week (balanced first, then shortest) wins.

Every loop is bounded by a count, not a clock, so a plan is reproducible byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from gisgrid.errors import InvalidInputError
from gisgrid.patrol.tsp import improve_2opt, solve_tour, tour_length

__all__ = ["balance_ratio", "balanced_cuts", "improve_days", "split_days"]

EXACT_SPLIT_MAX = 10  # up to this many stops, every split into days is tried (days ** stops ≤ EXACT_LABELLINGS)
EXACT_LABELLINGS = 200_000
LOWER_BOUNDS = 120  # lower bounds on the shortest day tried by the cut programme
KEEP_CUTS = 3  # cuts carried on to the local search
MOVE_ROUNDS_PER_STOP = 2  # relocation rounds allowed per stop
EPS = 1e-6


def balance_ratio(lengths: Iterable[float]) -> float:
    """Longest ÷ shortest of the non-empty days (1.0 with fewer than two)."""
    vals = [x for x in lengths if x > 0]
    if len(vals) < 2:
        return 1.0
    return max(vals) / min(vals)


def _segment_costs(d: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """C[i, j]: the walk base → seq[i] → … → seq[j] → base (inf where j < i)."""
    m = len(seq)
    steps = d[seq[:-1], seq[1:]] if m > 1 else np.zeros(0)
    prefix = np.concatenate([[0.0], np.cumsum(steps)])
    cost = d[0, seq][:, None] + (prefix[None, :] - prefix[:, None]) + d[seq, 0][None, :]
    cost[np.tril_indices(m, -1)] = np.inf
    return cost


def _cut_programme(cost: np.ndarray, k: int, lo: float, hi: float) -> tuple[float, list[int]] | None:
    """The cheapest cut into ``k`` consecutive pieces each costing within [lo, hi]; piece starts."""
    m = len(cost)
    allowed = np.where((cost >= lo - EPS) & (cost <= hi + EPS), cost, np.inf)
    f = allowed[0].copy()  # f[j]: best cost of t[0..j] in the pieces so far
    back: list[np.ndarray] = []
    for _ in range(1, k):
        prev = np.concatenate([[np.inf], f[:-1]])  # a piece starting at i follows one ending at i - 1
        total = prev[:, None] + allowed
        arg = np.argmin(total, axis=0)
        f = total[arg, np.arange(m)]
        back.append(arg)
    if not np.isfinite(f[m - 1]):
        return None
    starts = [0] * k
    j = m - 1
    for level in range(k - 1, 0, -1):
        i = int(back[level - 1][j])
        starts[level] = i
        j = i - 1
    return float(f[m - 1]), starts


def balanced_cuts(
    d: np.ndarray, seq: list[int], k: int, balance: float, keep: int = KEEP_CUTS
) -> list[list[list[int]]]:
    """Up to ``keep`` distinct cuts of the tour order ``seq`` (stops, no base) into ``k`` pieces, the
    cheapest balanced ones first; when no cut is balanced, the one with the shortest longest piece."""
    s = np.asarray(seq, dtype=np.int64)
    m = len(s)
    k = min(k, m)
    if k <= 1:
        return [[list(seq)]]
    cost = _segment_costs(d, s)
    finite = cost[np.isfinite(cost)]
    mean = float(tour_length(d, [0, *seq])) / k
    found: dict[tuple[int, ...], float] = {}
    for lo in np.linspace(mean * 0.3, mean * 1.2, LOWER_BOUNDS):
        hit = _cut_programme(cost, k, float(lo), float(lo) * balance)
        if hit is not None:
            found.setdefault(tuple(hit[1]), hit[0])
    if not found:  # no balanced cut: the smallest longest piece (bisection on the upper bound)
        values = np.unique(finite)
        low, high = 0, len(values) - 1
        best: list[int] | None = None
        while low <= high:
            mid = (low + high) // 2
            hit = _cut_programme(cost, k, 0.0, float(values[mid]))
            if hit is None:
                low = mid + 1
            else:
                best, high = hit[1], mid - 1
        assert best is not None  # the whole range always admits a cut
        found[tuple(best)] = 0.0
    ranked = sorted(found.items(), key=lambda kv: (kv[1], kv[0]))[:keep]
    out = []
    for starts, _ in ranked:
        bounds = [*starts, m]
        out.append([list(seq[bounds[i]:bounds[i + 1]]) for i in range(k)])
    return out


def _insertion(d: np.ndarray, tour: list[int], nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest insertion cost of each of ``nodes`` into the closed ``tour``, and after which position."""
    t = np.asarray(tour, dtype=np.int64)
    u, v = t, np.roll(t, -1)
    extra = d[u][:, nodes] + d[nodes][:, v].T - d[u, v][:, None]
    if len(t) == 1:
        extra = d[0, nodes][None, :] * 2
    at = np.argmin(extra, axis=0)
    return extra[at, np.arange(len(nodes))], at


def _removal(d: np.ndarray, tour: list[int]) -> np.ndarray:
    """What removing each stop (position ≥ 1) of ``tour`` saves."""
    t = np.asarray(tour, dtype=np.int64)
    prev, nxt = np.roll(t, 1), np.roll(t, -1)
    gain = d[prev, t] + d[t, nxt] - d[prev, nxt]
    gain[0] = -np.inf  # the base stays
    return gain


def _excess(lengths: np.ndarray, balance: float) -> float:
    """How far the days are from the balance rule (0 when kept)."""
    used = lengths[lengths > 0]
    if len(used) < 2:
        return 0.0
    return max(0.0, float(used.max() - balance * used.min()))


def improve_days(
    d: np.ndarray, tours: list[list[int]], *, fixed: set[int], balance: float, rounds: int
) -> list[list[int]]:
    """Move single stops between days (best move first) while the week gets shorter under the balance
    rule — or, while the rule is broken, while it gets closer to holding. ``fixed`` stops stay put."""
    tours = [list(t) for t in tours]
    lengths = np.array([tour_length(d, t) for t in tours])
    k = len(tours)
    for _ in range(rounds):
        excess = _excess(lengths, balance)
        best: tuple[float, int, int, int, int] | None = None  # (score, from, pos, to, after)
        for a in range(k):
            if len(tours[a]) <= 2:  # a day keeps at least one stop
                continue
            gain = _removal(d, tours[a])
            movable = np.array([p for p in range(1, len(tours[a])) if tours[a][p] not in fixed], dtype=np.int64)
            if not len(movable):
                continue
            nodes = np.asarray(tours[a], dtype=np.int64)[movable]
            for b in range(k):
                if b == a:
                    continue
                cost, after = _insertion(d, tours[b], nodes)
                new_a = lengths[a] - gain[movable]
                new_b = lengths[b] + cost
                for i in range(len(movable)):
                    trial = lengths.copy()
                    trial[a], trial[b] = new_a[i], new_b[i]
                    trial_excess = _excess(trial, balance)
                    delta = cost[i] - gain[movable[i]]
                    if excess > EPS:
                        if trial_excess >= excess - EPS:
                            continue
                        score = trial_excess * 1e6 + delta
                    else:
                        if trial_excess > EPS or delta >= -EPS:
                            continue
                        score = delta
                    if best is None or score < best[0]:
                        best = (score, a, int(movable[i]), b, int(after[i]))
        if best is None:
            break
        _, a, pos, b, at = best
        node = tours[a].pop(pos)
        tours[b].insert(at + 1, node)
        for day in (a, b):
            tours[day] = improve_2opt(d, tours[day], rounds=3)
            lengths[day] = tour_length(d, tours[day])
    return tours


def _subset_tours(sub: np.ndarray) -> np.ndarray:
    """Held–Karp: the shortest closed tour from node 0 through each subset of nodes 1 … n (bit i = node i + 1)."""
    n = len(sub) - 1
    inner = sub[1:, 1:]
    path = np.full((1 << n, n), np.inf)  # path[S, j]: base → every node of S → ending at j
    for j in range(n):
        path[1 << j, j] = sub[0, j + 1]
    bits = 1 << np.arange(n)
    for subset in range(1, 1 << n):
        ends = path[subset]
        if not np.isfinite(ends).any():
            continue
        reach = np.min(ends[:, None] + inner, axis=0)  # best way to extend the path to each k
        for k in np.flatnonzero((subset & bits) == 0):
            nxt = subset | int(bits[k])
            if reach[k] < path[nxt, k]:
                path[nxt, k] = reach[k]
    tours = np.min(path + sub[1:, 0][None, :], axis=1)
    tours[0] = 0.0
    return tours


def _exact_split(d: np.ndarray, days: int, priority: list[int], balance: float) -> list[list[int]] | None:
    """Every way to share the stops among the days, each day's tour exact: the shortest balanced week
    (else the one closest to balance). None when there are too many ways."""
    n = len(d) - 1
    if n > EXACT_SPLIT_MAX or days ** n > EXACT_LABELLINGS:
        return None
    tours = _subset_tours(d)
    labels = np.array(np.meshgrid(*([np.arange(days)] * n), indexing="ij")).reshape(n, -1).T
    if priority:
        labels = labels[np.all(labels[:, [p - 1 for p in priority]] == 0, axis=1)]
    masks = np.stack([((labels == k) * (1 << np.arange(n))).sum(axis=1) for k in range(days)], axis=1)
    # as many walking days as there are stops to share, up to the week's days: the worker is out on each
    full = (masks > 0).sum(axis=1) == min(n, days)
    labels, masks = labels[full], masks[full]
    lengths = tours[masks]
    used = np.where(masks > 0, lengths, np.nan)
    ratio = np.nan_to_num(np.nanmax(used, axis=1) / np.nanmin(used, axis=1), nan=1.0)
    total = lengths.sum(axis=1)
    ok = ratio <= balance + EPS
    pick = int(np.argmin(np.where(ok, total, np.inf))) if ok.any() else int(np.lexsort((total, ratio))[0])
    return [[0, *(int(i) + 1 for i in np.flatnonzero(labels[pick] == k))] for k in range(days)]


def _retour(d: np.ndarray, nodes: list[int], work: int, seed: int) -> list[int]:
    """The day's stops (base first) toured afresh, kept only if shorter than the order given."""
    idx = np.asarray(nodes, dtype=np.int64)
    order = solve_tour(d[np.ix_(idx, idx)], work=work, seed=seed)
    fresh = [nodes[i] for i in order]
    return fresh if tour_length(d, fresh) < tour_length(d, nodes) - EPS else list(nodes)


def split_days(
    d: np.ndarray,
    *,
    days: int,
    first_day: Iterable[int] = (),
    balance: float = 1.10,
    work: int = 60_000,
    seed: int = 0,
) -> list[list[int]]:
    """Day tours over the matrix ``d`` (node 0 the base, 1 … n the stops), each starting with 0.

    ``first_day`` stops (priority: open incidents) are all walked on the first day. Every stop is in
    exactly one day; fewer stops than days leave the last days empty (``[0]``).
    """
    d = np.asarray(d, dtype=float)
    n = len(d) - 1
    if days < 1:
        raise InvalidInputError("a week needs at least one patrol day", field="days", rule="days ≥ 1")
    priority = sorted(set(first_day))
    if any(p < 1 or p > n for p in priority):
        raise InvalidInputError("a priority stop is not a stop", field="first_day", rule="1 ≤ stop ≤ n")
    others = [s for s in range(1, n + 1) if s not in set(priority)]
    if not others:
        base = [[0, *priority]] if priority else [[0]]
        tours = base + [[0] for _ in range(days - 1)]
        tours[0] = _retour(d, tours[0], work, seed)
        return tours
    exact = _exact_split(d, days, priority, balance)
    if exact is not None:
        return [_retour(d, t, work, seed) if len(t) > 1 else t for t in exact]
    sub = np.asarray([0, *others], dtype=np.int64)
    giant = [int(sub[i]) for i in solve_tour(d[np.ix_(sub, sub)], work=work, seed=seed)][1:]
    best: tuple[tuple[int, float], list[list[int]]] | None = None
    for pieces in balanced_cuts(d, giant, days, balance):
        tours = [[0, *p] for p in pieces]
        for stop in priority:
            _cost, after = _insertion(d, tours[0], np.array([stop]))
            tours[0].insert(int(after[0]) + 1, stop)
        tours = [_retour(d, t, work, seed) for t in tours]
        tours = improve_days(d, tours, fixed=set(priority), balance=balance,
                             rounds=MOVE_ROUNDS_PER_STOP * n)
        tours = [_retour(d, t, work, seed) for t in tours]
        lengths = np.array([tour_length(d, t) for t in tours])
        if _excess(lengths, balance) > EPS:  # a fresh tour may shorten one day more than the others
            tours = improve_days(d, tours, fixed=set(priority), balance=balance, rounds=n)
            lengths = np.array([tour_length(d, t) for t in tours])
        key = (int(_excess(lengths, balance) > EPS), float(lengths.sum()))
        if best is None or key < best[0]:
            best = (key, tours)
    assert best is not None
    tours = best[1]
    while len(tours) < days:
        tours.append([0])
    return tours
