"""Where new stations should open: maximal covering (MCLP) and set covering (LSCP), solved by HiGHS.

Input is a boolean *reach* matrix, candidates × demand (:func:`gisgrid.coverage.reach.reach`), the
demand's weights (households) and which demand the open stations already cover (they stay fixed).

* **Maximal covering** (MCLP; Church & ReVelle 1974): open at most ``count`` sites so that the
  households within reach of at least one of them — beyond those already covered — are the most.
  ``max Σ wᵢ yᵢ`` subject to ``yᵢ ≤ Σ_{j reaches i} xⱼ``, ``Σ xⱼ ≤ count``, ``x`` binary,
  ``0 ≤ y ≤ 1``. (``y`` need not be declared integer: with ``x`` integral, each ``yᵢ`` is 1 exactly
  when some chosen site reaches ``i``.)
* **Set covering** (LSCP; Toregas et al. 1971): the fewest sites that reach every household that any
  candidate can reach. ``min Σ xⱼ`` subject to ``Σ_{j reaches i} xⱼ ≥ 1``. Demand no candidate
  reaches is *reported* (``unreachable``), never made a constraint that cannot hold.

Before the solver sees it the model is made small without changing its optimum: demand already
covered or unreachable is dropped; demand points reached by the very same set of candidates become
one row with their weights summed (a block of flats off one street is one row); candidates reaching
nothing new, the same rows as an earlier one, or strictly fewer rows than another one, are dropped
(the other does at least as well); for set covering, a row whose candidates include all of another
row's is dropped too (covering the other covers it). The sparse matrix goes to HiGHS column-wise in
one call (no modelling layer in between: on the issue's case a PuLP model took seconds to build, the
arrays here take milliseconds), with the greedy solution as its start.

Optimality is meant literally: the relative MIP gap is 0 and, with whole households, the absolute gap
is under one household. A time limit that stops the solver first is reported (``status``
``time_limit`` and the gap), and its answer is never worse than the greedy start.

The chosen sites are then listed in the order that adds the most households first (greedy over the
optimal set); a chosen site that adds nothing given the others (HiGHS may return one when fewer sites
suffice) is dropped — a suggestion always adds households.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.sparse import csc_array, csr_array

from gisgrid.errors import InvalidInputError

__all__ = ["Method", "SitingResult", "Suggestion", "maximal_covering", "order_by_gain", "set_covering"]

Method = Literal["mclp", "lscp"]
TIME_LIMIT_S = 60.0
_BANNER = threading.Lock()
_banner_done = False


@dataclass(frozen=True)
class Suggestion:
    """One suggested site: its position among the candidates, the households it adds given the
    suggestions before it, and the running total added."""

    candidate: int
    adds: float
    cumulative: float


@dataclass(frozen=True)
class SitingResult:
    """What a siting run found; weights are households unless the caller weighted otherwise."""

    method: str
    requested: int | None
    suggestions: tuple[Suggestion, ...]
    demand_total: float
    covered_before: float
    covered_after: float
    unreachable: float
    unreachable_demand: np.ndarray = field(repr=False)
    status: str = "optimal"
    mip_gap: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    model: dict[str, int] = field(default_factory=dict)

    @property
    def chosen(self) -> np.ndarray:
        return np.array([s.candidate for s in self.suggestions], dtype=np.int64)

    @property
    def added(self) -> float:
        return self.covered_after - self.covered_before

    def summary(self) -> dict[str, Any]:
        """The figures as plain JSON values (the suggestions' details are the caller's to add)."""
        total = self.demand_total or 1.0
        return {
            "method": self.method,
            "requested": self.requested,
            "suggested": len(self.suggestions),
            "demand_total": self.demand_total,
            "covered_before": self.covered_before,
            "covered_after": self.covered_after,
            "added": self.added,
            "share_before": round(self.covered_before / total, 4),
            "share_after": round(self.covered_after / total, 4),
            "unreachable": self.unreachable,
            "unreachable_points": len(self.unreachable_demand),
            "status": self.status,
            "mip_gap": self.mip_gap,
            "seconds": self.seconds,
            "model": self.model,
        }


# --------------------------------------------------------------------------------------------------
# Making the model small
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reduced:
    candidates: np.ndarray  # original positions of the candidates kept
    matrix: csr_array  # kept candidates × demand rows (boolean)
    weight: np.ndarray  # per demand row: the summed weight of its demand points
    unreachable: np.ndarray  # original positions of open demand no candidate reaches


def _group(keys_from: csr_array | csc_array, n: int) -> np.ndarray:
    """Group number per row (CSR) or column (CSC): equal index sets, equal numbers, in first-seen order."""
    groups: dict[bytes, int] = {}
    out = np.empty(n, dtype=np.int64)
    indptr, indices = keys_from.indptr, keys_from.indices
    for k in range(n):
        out[k] = groups.setdefault(indices[indptr[k] : indptr[k + 1]].tobytes(), len(groups))
    return out


_OVERLAP_BUDGET = 20_000_000  # most pairwise overlaps computed to find contained rows (~0.3 GB at worst)


def _containment(m: csr_array) -> tuple[np.ndarray, np.ndarray]:
    """For a boolean matrix with distinct rows: which rows lie strictly inside another row's column set,
    and which strictly contain another's. Skipped (nothing found) when the pairwise product would be
    too large; HiGHS's presolve then does what it can."""
    n = m.shape[0]
    per_col = np.bincount(m.indices, minlength=m.shape[1]).astype(float)
    if n == 0 or float((per_col**2).sum()) > _OVERLAP_BUDGET:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    a = csr_array(m, dtype=np.int32)
    size = np.diff(a.indptr)
    overlap = (a @ a.T).tocoo()
    r, c, v = overlap.row, overlap.col, overlap.data
    pair = (r != c) & (v == size[r]) & (size[c] > size[r])  # row r inside row c
    inside, holds = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    inside[r[pair]] = True
    holds[c[pair]] = True
    return inside, holds


def _reduce(cover: csr_array, weight: np.ndarray, covered: np.ndarray, *, covering: bool = False) -> _Reduced:
    """The model made small with its optimum unchanged. Always: covered and unreachable demand dropped,
    demand points with the same candidates merged (weights summed), candidates reaching no demand, the
    same demand as an earlier one, or strictly less than another one dropped. For set covering also
    demand rows that strictly contain another's candidates (covering the smaller covers them)."""
    open_cols = np.flatnonzero(~covered & (weight > 0))
    sub = csr_array(cover[:, open_cols])
    hits = np.bincount(sub.indices, minlength=len(open_cols))
    unreachable = open_cols[hits == 0]
    cols = open_cols[hits > 0]
    sub = csr_array(sub[:, np.flatnonzero(hits > 0)])
    csc = csc_array(sub)
    csc.sort_indices()
    group = _group(csc, len(cols))
    merged_weight = np.bincount(group, weights=weight[cols]) if len(cols) else np.zeros(0)
    first = np.unique(group, return_index=True)[1]
    rows = csr_array(sub[:, first])
    rows.sort_indices()
    useful = np.flatnonzero(np.diff(rows.indptr) > 0)
    rows = csr_array(rows[useful])
    rows.sort_indices()
    keep = np.unique(_group(rows, len(useful)), return_index=True)[1]
    kept, rows = useful[keep], csr_array(rows[keep])
    demand = np.arange(rows.shape[1])
    for _ in range(8):  # dropping rows can make candidates comparable: a few rounds reach the fixpoint
        inside = _containment(rows)[0]
        kept, rows = kept[~inside], csr_array(rows[np.flatnonzero(~inside)])
        dropped = 0
        if covering:
            holds = _containment(csr_array(rows.T))[1]
            demand, rows, dropped = demand[~holds], csr_array(rows[:, np.flatnonzero(~holds)]), int(holds.sum())
        if not inside.any() and not dropped:
            break
    rows.sort_indices()
    return _Reduced(kept, rows, merged_weight[demand], unreachable)


def _greedy(matrix: csr_array, weight: np.ndarray, count: int | None) -> np.ndarray:
    """A start for the solver: add the candidate that covers the most remaining weight, ``count`` times
    (or, without a count, until every row is covered)."""
    remaining = weight.astype(float).copy()
    take = np.zeros(matrix.shape[0], dtype=bool)
    values = csr_array(matrix, dtype=float)
    while count is None or take.sum() < count:
        gains = values @ remaining
        gains[take] = -1.0
        best = int(np.argmax(gains)) if len(gains) else 0
        if not len(gains) or gains[best] <= 0:
            break
        take[best] = True
        remaining[matrix.indices[matrix.indptr[best] : matrix.indptr[best + 1]]] = 0.0
    return take


# --------------------------------------------------------------------------------------------------
# HiGHS
# --------------------------------------------------------------------------------------------------


def _new_highs() -> Any:
    """A silent HiGHS instance. The first one in a process prints a banner straight to file
    descriptor 1 from C++ — that would corrupt a ``--json`` answer on stdout — so it is created with
    descriptor 1 pointed at /dev/null (Python's ``redirect_stdout`` cannot reach C++'s output)."""
    global _banner_done
    import highspy

    with _BANNER:
        if _banner_done:
            h = highspy.Highs()
        else:
            sys.stdout.flush()
            saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                h = highspy.Highs()
                ctypes.CDLL(None).fflush(None)  # the banner sits in C's buffer until flushed
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
            _banner_done = True
    h.setOptionValue("output_flag", False)
    return h


def _solve(
    *,
    cost: np.ndarray,
    col_upper: np.ndarray,
    integer: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    matrix: csc_array,
    maximise: bool,
    abs_gap: float,
    time_limit: float,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, str, float]:
    import highspy

    h = _new_highs()
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", abs_gap)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("random_seed", 0)
    n_col, n_row = len(cost), len(row_lower)
    h.passModel(
        n_col,
        n_row,
        int(matrix.nnz),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize),
        0.0,
        cost.astype(np.float64),
        np.zeros(n_col),
        col_upper.astype(np.float64),
        row_lower.astype(np.float64),
        row_upper.astype(np.float64),
        matrix.indptr.astype(np.int32),
        matrix.indices.astype(np.int32),
        matrix.data.astype(np.float64),
        integer.astype(np.int32),
    )
    if start is not None:  # a feasible start: a time limit then never leaves less than greedy found
        solution = highspy.HighsSolution()
        solution.col_value = start.astype(float).tolist()
        solution.value_valid = True
        h.setSolution(solution)
    h.run()
    status = h.getModelStatus()
    name = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kTimeLimit: "time_limit",
        highspy.HighsModelStatus.kInfeasible: "infeasible",
    }.get(status, h.modelStatusToString(status))
    values = np.asarray(h.getSolution().col_value, dtype=float)
    gap = float(h.getInfo().mip_gap) if name != "infeasible" else float("inf")
    if not np.isfinite(gap) or gap < 0:
        gap = 0.0 if name == "optimal" else float("inf")
    if len(values) != n_col:  # no solution at all (e.g. the time limit came before the first one)
        values = np.zeros(n_col)
    return values, name, gap


def _abs_gap(weight: np.ndarray) -> float:
    """Whole households: any objective within one household of the bound is optimal."""
    whole = len(weight) == 0 or np.allclose(weight, np.round(weight))
    return 1.0 - 1e-6 if whole else 1e-9


# --------------------------------------------------------------------------------------------------
# The two models
# --------------------------------------------------------------------------------------------------


def order_by_gain(
    cover: csr_array, weight: np.ndarray, covered: np.ndarray, chosen: np.ndarray
) -> list[Suggestion]:
    """The ``chosen`` candidates in the order that adds the most not-yet-covered weight first (ties:
    the lower position), each with what it adds; a candidate adding nothing at its turn is dropped
    (coverage only shrinks what a site can add, so it adds nothing to the whole set either)."""
    remaining = np.where(covered, 0.0, weight).astype(float)
    left = [int(c) for c in chosen]
    out: list[Suggestion] = []
    total = 0.0
    while left:
        gains = [float(remaining[cover.indices[cover.indptr[c] : cover.indptr[c + 1]]].sum()) for c in left]
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        c = left.pop(best)
        total += gains[best]
        remaining[cover.indices[cover.indptr[c] : cover.indptr[c + 1]]] = 0.0
        out.append(Suggestion(c, gains[best], total))
    return out


def _inputs(
    cover: csr_array, weight: np.ndarray, covered: np.ndarray | None
) -> tuple[csr_array, np.ndarray, np.ndarray]:
    cover = csr_array(cover, dtype=bool)
    weight = np.asarray(weight, dtype=float)
    if cover.shape[1] != len(weight):
        raise InvalidInputError(
            f"the reach matrix has {cover.shape[1]} demand columns but {len(weight)} weights are given",
            field="weight",
            rule="one weight per demand point",
        )
    if np.any(weight < 0) or not np.all(np.isfinite(weight)):
        raise InvalidInputError("demand weights must be finite and ≥ 0", field="weight", rule="0 <= weight")
    covered = np.zeros(len(weight), dtype=bool) if covered is None else np.asarray(covered, dtype=bool)
    if len(covered) != len(weight):
        raise InvalidInputError("one covered flag per demand point is needed", field="covered", rule="len")
    cover.sort_indices()
    return cover, weight, covered


def _result(
    method: str,
    requested: int | None,
    cover: csr_array,
    weight: np.ndarray,
    covered: np.ndarray,
    reduced: _Reduced,
    chosen: np.ndarray,
    status: str,
    gap: float,
    seconds: dict[str, float],
    model: dict[str, int],
) -> SitingResult:
    suggestions = order_by_gain(cover, weight, covered, chosen)
    before = float(weight[covered].sum())
    return SitingResult(
        method=method,
        requested=requested,
        suggestions=tuple(suggestions),
        demand_total=float(weight.sum()),
        covered_before=before,
        covered_after=before + (suggestions[-1].cumulative if suggestions else 0.0),
        unreachable=float(weight[reduced.unreachable].sum()),
        unreachable_demand=reduced.unreachable,
        status=status,
        mip_gap=gap,
        seconds={k: round(v, 4) for k, v in seconds.items()},
        model=model,
    )


def maximal_covering(
    cover: csr_array,
    weight: np.ndarray,
    count: int,
    *,
    covered: np.ndarray | None = None,
    time_limit: float = TIME_LIMIT_S,
) -> SitingResult:
    """At most ``count`` new sites covering the most uncovered weight (MCLP, exact on HiGHS).

    ``cover`` is candidates × demand (True where the candidate reaches the demand point), ``weight``
    the demand's households, ``covered`` what the open stations already reach.
    """
    if not isinstance(count, int | np.integer) or count < 1:
        raise InvalidInputError(
            f"count must be a whole number ≥ 1, not {count!r}", field="count", rule="count >= 1"
        )
    t0 = time.perf_counter()
    cover, weight, covered = _inputs(cover, weight, covered)
    red = _reduce(cover, weight, covered)
    n_c, n_d = red.matrix.shape
    model = {"candidates": n_c, "demand_rows": n_d, "nonzeros": int(red.matrix.nnz)}
    if n_c <= count:  # every useful candidate fits: nothing to choose
        t1 = time.perf_counter()
        return _result("mclp", int(count), cover, weight, covered, red, red.candidates, "optimal", 0.0,
                       {"build": t1 - t0, "solve": 0.0}, model)
    # columns: x (candidates) then y (demand rows); rows: y_i - Σ x_j <= 0, then Σ x_j <= count
    x_cols = _with_count_row(csc_array(red.matrix.T.astype(float)), n_d)
    y_cols = csc_array((np.ones(n_d), np.arange(n_d), np.arange(n_d + 1)), shape=(n_d + 1, n_d))
    matrix = _hstack(x_cols, y_cols)
    take = _greedy(red.matrix, red.weight, int(count))
    reached = np.bincount(red.matrix[np.flatnonzero(take)].indices, minlength=n_d) > 0
    t1 = time.perf_counter()
    values, status, gap = _solve(
        cost=np.concatenate([np.zeros(n_c), red.weight]), col_upper=np.ones(n_c + n_d),
        integer=np.concatenate([np.ones(n_c), np.zeros(n_d)]), row_lower=np.full(n_d + 1, -np.inf),
        row_upper=np.concatenate([np.zeros(n_d), [float(count)]]), matrix=matrix, maximise=True,
        abs_gap=_abs_gap(red.weight), time_limit=time_limit, start=np.concatenate([take, reached]),
    )
    t2 = time.perf_counter()
    chosen = red.candidates[values[:n_c] > 0.5]
    return _result("mclp", int(count), cover, weight, covered, red, chosen, status, gap,
                   {"build": t1 - t0, "solve": t2 - t1}, {**model, "rows": n_d + 1, "columns": n_c + n_d})


def set_covering(
    cover: csr_array,
    weight: np.ndarray,
    *,
    covered: np.ndarray | None = None,
    time_limit: float = TIME_LIMIT_S,
) -> SitingResult:
    """The fewest new sites that reach every uncovered demand point some candidate can reach (LSCP,
    exact on HiGHS); what no candidate reaches is in ``unreachable``."""
    t0 = time.perf_counter()
    cover, weight, covered = _inputs(cover, weight, covered)
    red = _reduce(cover, weight, covered, covering=True)
    n_c, n_d = red.matrix.shape
    model = {"candidates": n_c, "demand_rows": n_d, "nonzeros": int(red.matrix.nnz)}
    if n_d == 0:
        t1 = time.perf_counter()
        return _result("lscp", None, cover, weight, covered, red, np.zeros(0, np.int64), "optimal", 0.0,
                       {"build": t1 - t0, "solve": 0.0}, model)
    matrix = csc_array(red.matrix.T.astype(float))
    matrix.sort_indices()
    t1 = time.perf_counter()
    values, status, gap = _solve(
        cost=np.ones(n_c), col_upper=np.ones(n_c), integer=np.ones(n_c), row_lower=np.ones(n_d),
        row_upper=np.full(n_d, np.inf), matrix=matrix, maximise=False, abs_gap=1.0 - 1e-6,
        time_limit=time_limit, start=_greedy(red.matrix, np.ones(n_d), None),
    )
    t2 = time.perf_counter()
    chosen = red.candidates[values > 0.5]
    return _result("lscp", None, cover, weight, covered, red, chosen, status, gap,
                   {"build": t1 - t0, "solve": t2 - t1}, {**model, "rows": n_d, "columns": n_c})


def _with_count_row(reach_t: csc_array, count_row: int) -> csc_array:
    """The x columns of the MCLP: -1 in each demand row the candidate reaches, +1 in the count row
    (appended after each column's entries, so the columns stay sorted)."""
    n_c = reach_t.shape[1]
    indptr = reach_t.indptr + np.arange(n_c + 1)
    extra = reach_t.indptr[1:] + np.arange(n_c)
    data, index = np.empty(indptr[-1]), np.empty(indptr[-1], dtype=np.int64)
    rest = np.ones(indptr[-1], dtype=bool)
    rest[extra] = False
    data[rest], index[rest] = -1.0, reach_t.indices
    data[extra], index[extra] = 1.0, count_row
    return csc_array((data, index, indptr), shape=(count_row + 1, n_c))


def _hstack(a: csc_array, b: csc_array) -> csc_array:
    """Two CSC blocks side by side (same rows), without scipy's generic (slower) stacking."""
    return csc_array(
        (
            np.concatenate([a.data, b.data]),
            np.concatenate([a.indices, b.indices]),
            np.concatenate([a.indptr, a.indptr[-1] + b.indptr[1:]]),
        ),
        shape=(a.shape[0], a.shape[1] + b.shape[1]),
    )
