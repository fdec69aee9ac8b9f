"""Recursive weighted bisection: ``k`` grids by straight sweeps, cut ``⌊k/2⌋ : ⌈k/2⌉`` level by level.

The unit set is split by a straight sweep along one of :data:`DIRECTIONS` directions (offset by the seed).
Admissible cuts give the left side ``[k₁·min, k₁·max] ∩ [H − k₂·max, H − k₂·min]`` households, which
keeps every sub-problem feasible. Among them the cheapest is taken by *cut weight* (street-weighted border
length between the sides, relative to the size of the set — the perimeter the cut adds), plus
:data:`COMPLEX_CUT_PENALTY` per complex cut (complexes that fit in a grid are swept as one block, so cuts
fall between them), plus a pull of :data:`SHARE_PULL` towards the proportional share. A cut must leave
both sides contiguous over the adjacency (checked by graph search); cuts are evaluated for all positions
at once with difference arrays, so a level costs O(E) per direction. When no straight cut keeps both sides
whole and in range, connected regions are grown from the extreme units instead (in sweep order, and as
discs) and the cheapest is taken.

Cost terms, for a set of area A: the cut weight is divided by √A, so a straight cut across a compact set
scores about 1; the share term is the distance from ``H·k₁/k`` over the left side's slack
``k₁·(max − min)``.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from gisgrid.grids.partition.graph import _UnitGraph
from gisgrid.grids.partition.tessellation import _Tessellation

#: Complex cut penalty when re-bisecting grids to make a complex whole: any cut that keeps complexes
#: whole and the households in the window beats one through a complex.
REJOIN_CUT_PENALTY = 20.0
#: Sweep directions, π/8 apart: a cut's angle is within 11° of the best straight cut through the set.
DIRECTIONS = 8
#: A complex cut costs about a third of a cut straight across the set: a cut bends round a complex
#: unless that adds more than a third to its length.
COMPLEX_CUT_PENALTY = 0.35
#: Weight of the distance from the proportional share (0.3 at the middle of the slack): enough to prefer
#: balanced halves, which leave both sides room, over a marginally shorter cut.
SHARE_PULL = 0.6
#: Share of the window kept free on both sides of each side's *mean* grid, growing with its number of
#: grids as ``BALANCE_MARGIN · (1 − 1/k)``: a side of many grids whose mean sits at the edge of the window
#: (every one of its grids at 495, say) leaves its own cuts no room, and lumpy units (towers of 200–480
#: households) then push grids out of range by a few households each, in a whole region, which the local
#: search cannot undo (it would need a long chain of moves). 0.35 keeps the mean of a large side within
#: the middle 30 % of the window (370–430 for 300–500) and a pair of grids within 335–465.
BALANCE_MARGIN = 0.35
#: Cost of a cut outside that balanced band (but inside the window): above any balanced cut's cost, so
#: it is taken only when no balanced cut leaves both sides contiguous.
_OFF_BALANCE = 100.0
#: Cost of a cut that leaves a side outside its household window: above any admissible cut.
_INFEASIBLE = 1e6
#: Per maximum-grid's worth of households outside the window, so infeasible cuts rank by how far out.
_VIOLATION_WEIGHT = 1e3
#: Cheapest positions kept per direction: enough for the contiguity test to find one that holds.
CUTS_PER_DIRECTION = 12
#: Candidates (all directions together) tested for contiguity before falling back to grown regions.
CONTIGUITY_TESTS = 80
#: Cheapest in-window prefixes kept per grown region.
GROWN_PER_START = 6
_MIN_AREA_M2 = 1e-9  # an all-zero-area set (degenerate input) still gets a finite scale


class _Bisector(_UnitGraph):
    """Recursive weighted bisection over the unit graph."""

    def __init__(self, t: _Tessellation, xy: np.ndarray, hh: np.ndarray, complex_code: np.ndarray,
                 lo: int, hi: int, seed: int) -> None:
        super().__init__(t, xy, hh, complex_code, lo, hi, seed)
        # the seed turns the whole fan of directions by up to one step, so seeds cover every angle
        self.angle0 = float(self.rng.uniform(0.0, math.pi / DIRECTIONS))
        self.complex_cut_penalty = COMPLEX_CUT_PENALTY

    def bisect_best(self, k: int, starts: int) -> np.ndarray:
        """The best of ``starts`` bisections, their fans of directions turned by equal fractions of a step
        (ties: the first)."""
        base = self.angle0
        best: tuple[tuple[float, int, float], np.ndarray] | None = None
        try:
            for j in range(max(1, starts)):
                self.angle0 = base + j * math.pi / DIRECTIONS / max(1, starts)
                labels = self.bisect(k)
                score = self.score(labels)
                if best is None or score < best[0]:
                    best = (score, labels)
        finally:
            self.angle0 = base
        assert best is not None
        return best[1]

    def bisect(self, k: int) -> np.ndarray:
        labels = np.full(self.n, -1, dtype=np.int64)
        out: list[np.ndarray] = []
        self._split(np.arange(self.n), k, out)
        for g, members in enumerate(out):
            labels[members] = g
        return labels

    def _split(self, idx: np.ndarray, k: int, out: list[np.ndarray]) -> None:
        if k <= 1 or len(idx) <= 1:
            out.append(idx)
            return
        k1 = k // 2
        k2 = k - k1
        total = int(self.hh[idx].sum())
        lo = max(k1 * self.lo, total - k2 * self.hi)
        hi = min(k1 * self.hi, total - k2 * self.lo)
        target = total * k1 / k
        width = self.hi - self.lo
        m1, m2 = BALANCE_MARGIN * (1 - 1 / k1) * width, BALANCE_MARGIN * (1 - 1 / k2) * width
        soft_lo = max(lo, k1 * (self.lo + m1), total - k2 * (self.hi - m2))
        soft_hi = min(hi, k1 * (self.hi - m1), total - k2 * (self.lo + m2))
        if soft_lo > soft_hi:  # the households leave no balanced band: the window alone
            soft_lo, soft_hi = lo, hi
        inset = np.zeros(self.n, dtype=bool)
        inset[idx] = True
        emask = inset[self.eu] & inset[self.ev]
        eu, ev, ew = self.eu[emask], self.ev[emask], self.weight[emask]
        scale = math.sqrt(max(float(self.area[idx].sum()), _MIN_AREA_M2))
        m = len(idx)
        pos = np.zeros(self.n, dtype=np.int64)
        dev_scale = max(k1 * (self.hi - self.lo), 1)
        cx_size: dict[int, int] = {}
        for c in self.block[idx].tolist():
            if c >= 0:
                cx_size[c] = cx_size.get(c, 0) + 1
        # (cost, tie-break, left members)
        candidates: list[tuple[float, int, np.ndarray]] = []
        blk = self.block[idx]
        has_blocks = bool((blk >= 0).any())
        if has_blocks:
            blk_ids, blk_inv = np.unique(blk, return_inverse=True)
            blk_count = np.bincount(blk_inv).astype(float)
        growth_starts: list[tuple[int, np.ndarray]] = []
        for a in range(DIRECTIONS):
            ang = self.angle0 + a * math.pi / DIRECTIONS
            proj = self.xy[idx] @ np.array([math.cos(ang), math.sin(ang)])
            key = proj.copy()
            if has_blocks:
                mean = np.bincount(blk_inv, weights=proj) / blk_count
                key = np.where(blk >= 0, mean[blk_inv], proj)
            order = np.lexsort((idx, proj, key))
            seq = idx[order]
            pos[seq] = np.arange(m)
            left = np.cumsum(self.hh[seq])[:-1]  # households left of cut c (c = 1..m-1)
            pu, pv = pos[eu], pos[ev]
            a_, b_ = np.minimum(pu, pv), np.maximum(pu, pv)
            diff = np.zeros(m + 1)
            np.add.at(diff, a_ + 1, ew)
            np.add.at(diff, b_ + 1, -ew)
            cutw = np.cumsum(diff)[1:m]
            cxcut = np.zeros(m - 1)
            if has_blocks:
                inv_seq = blk_inv[order]
                first = np.full(len(blk_count), m)
                last = np.full(len(blk_count), -1)
                np.minimum.at(first, inv_seq, np.arange(m))
                np.maximum.at(last, inv_seq, np.arange(m))
                real = blk_ids >= 0
                d2 = np.zeros(m + 1)
                np.add.at(d2, first[real] + 1, 1.0)
                np.add.at(d2, last[real] + 1, -1.0)
                cxcut = np.cumsum(d2)[1:m]
            viol = np.maximum(0, lo - left) + np.maximum(0, left - hi)
            off = (left < soft_lo) | (left > soft_hi)
            cost = (_INFEASIBLE * (viol > 0) + _VIOLATION_WEIGHT * viol / max(self.hi, 1) + _OFF_BALANCE * off
                    + cutw / scale
                    + self.complex_cut_penalty * cxcut + SHARE_PULL * np.abs(left - target) / dev_scale)
            counts = np.arange(1, m)
            cost = np.where((counts < k1) | (m - counts < k2), np.inf, cost)
            for c in np.argsort(cost, kind="stable")[:CUTS_PER_DIRECTION]:
                if np.isfinite(cost[c]):
                    candidates.append((float(cost[c]), len(candidates), seq[: c + 1]))
            growth_starts.append((int(seq[0]), key))
        candidates.sort(key=lambda t: (t[0], t[1]))
        chosen = self._first_contiguous(candidates, inset, feasible_only=True)
        if chosen is None:
            # no straight cut keeps both sides whole: grow connected regions from each extreme unit,
            # in sweep order and as a disc around it
            for start, key in growth_starts:
                disc = np.hypot(*(self.xy[idx] - self.xy[start]).T)
                for grow_key in (key, disc):
                    keyarr = np.zeros(self.n)
                    keyarr[idx] = grow_key
                    for cost_g, members in self._grow(start, keyarr, inset, m, k1, k2, lo, hi, target, scale,
                                                      dev_scale, cx_size, (soft_lo, soft_hi)):
                        candidates.append((cost_g, len(candidates), members))
            candidates.sort(key=lambda t: (t[0], t[1]))
            chosen = self._first_contiguous(candidates, inset, feasible_only=False)
        if not candidates:
            out.append(idx)
            return
        if chosen is None:  # no contiguous cut: the local search will repair what it can
            right_mask = inset.copy()
            right_mask[candidates[0][2]] = False
            chosen = (candidates[0][2], np.flatnonzero(right_mask))
        self._split(np.sort(chosen[0]), k1, out)
        self._split(np.sort(chosen[1]), k2, out)

    def _first_contiguous(self, candidates: list[tuple[float, int, np.ndarray]], inset: np.ndarray, *,
                          feasible_only: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """The cheapest candidate whose both sides are connected (only in-window ones if asked)."""
        for cost, _, left_members in candidates[:CONTIGUITY_TESTS]:
            if feasible_only and cost >= _INFEASIBLE:
                return None
            right_mask = inset.copy()
            right_mask[left_members] = False
            right = np.flatnonzero(right_mask)
            if self._connected(left_members) and self._connected(right):
                return left_members, right
        return None

    def _grow(self, start: int, keyarr: np.ndarray, inset: np.ndarray, m: int, k1: int, k2: int, lo: float,
              hi: float, target: float, scale: float, dev_scale: float,
              cx_size: dict[int, int], soft: tuple[float, float]) -> list[tuple[float, np.ndarray]]:
        """Grow a connected region from ``start`` in ``keyarr`` order; the best prefixes in the window."""
        inside = np.zeros(self.n, dtype=bool)
        queued = np.zeros(self.n, dtype=bool)
        heap = [(float(keyarr[start]), start)]
        queued[start] = True
        order: list[int] = []
        cut = 0.0
        households = 0
        cx_count: dict[int, int] = {}
        cx_cut = 0
        found: list[tuple[float, int]] = []
        while heap:
            _, x = heapq.heappop(heap)
            inside[x] = True
            order.append(x)
            households += int(self.hh[x])
            for v, w in zip(self.nbrs[x], self.nw[x], strict=True):
                if not inset[v]:
                    continue
                if inside[v]:
                    cut -= w
                else:
                    cut += w
                    if not queued[v]:
                        queued[v] = True
                        heapq.heappush(heap, (float(keyarr[v]), v))
            c = int(self.block[x])
            if c >= 0:
                before = cx_count.get(c, 0)
                cx_count[c] = before + 1
                cx_cut += int(0 < before + 1 < cx_size[c]) - int(0 < before < cx_size[c])
            size = len(order)
            if households > hi or m - size < k2:
                break
            if households >= lo and size >= k1:
                found.append((cut / scale + self.complex_cut_penalty * cx_cut
                              + SHARE_PULL * abs(households - target) / dev_scale
                              + _OFF_BALANCE * (not soft[0] <= households <= soft[1]), size))
        found.sort()
        return [(cost, np.asarray(order[:size], dtype=np.int64)) for cost, size in found[:GROWN_PER_START]]
