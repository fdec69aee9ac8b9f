"""Local search: boundary units, whole complexes, the pieces of split complexes and the pieces of street
blocks (the units of one block in one grid) move to a neighbouring grid while that helps.

A move is taken when it lexicographically improves (total households outside the window, complexes
split, sum of Polsby–Popper less :data:`STREET_PULL` × the grid boundary off streets and barriers per mean
grid perimeter) and leaves the donor grid connected. Units are visited in a seeded random
order, pass after pass, until a pass moves nothing; then a chained pair repair is tried while grids are
still out of range. :meth:`_Partitioner.improve` runs the whole sequence: contiguity, recombination, local
search, both repairs once more if households are still outside the window, and the rejoining of split
complexes that fit in a grid (then the local search once more).
"""

from __future__ import annotations

import math

import numpy as np

from gisgrid.grids.partition.budget import SearchBudget
from gisgrid.grids.partition.repair import _Repairer

#: Passes over the boundary however few grids: enough for a compact shape to settle (most stop in < 10).
BASE_PASSES = 40
#: Further passes per grid: every pair repair (at most this many per grid) is followed by a pass.
PASSES_PER_GRID = 4
#: Pair repairs per grid and local search: past this, the last violations are not worth more passes.
PAIR_REPAIRS_PER_GRID = 4
#: Weight of grid boundary off streets and barriers against compactness: a move that puts a tenth of the
#: mean grid perimeter of boundary off the streets must gain 0.1 × this in summed Polsby–Popper. At 2.0
#: boundaries stay on streets where the shape costs little (on the hard districts: +3 points of boundary
#: on streets for −0.007 mean Polsby–Popper; 30 adds less than one point more).
STREET_PULL = 2.0
#: Largest piece of a street block (units of one grid) moved at once, in blocks of at most four times as
#: many units: moving the piece puts its border with the donor grid on the street; larger pieces are
#: rarely a move that keeps both grids in the window, and cost O(piece) to evaluate.
BLOCK_PIECE_MAX = 30
#: Smallest gain in summed Polsby–Popper that counts as a gain: below it float noise could make two
#: units swap back and forth.
MIN_COMPACTNESS_GAIN = 1e-6


def _pp(a: float, p: float) -> float:
    return 4 * math.pi * a / (p * p) if p > 0 else 0.0


class _Partitioner(_Repairer):
    """Recursive weighted bisection, repair and local search over the units of one part of a community."""

    def improve(self, labels: np.ndarray, budget: SearchBudget, *, max_passes: int = BASE_PASSES) -> np.ndarray:
        """Repair (contiguity, then households by recombination) and polish by moving boundary units."""
        labels = labels.copy()
        k = int(labels.max()) + 1
        self._fix_contiguity(labels, k)
        self._recombine(labels, k, budget)
        labels = self._local(labels, k, max_passes, budget)
        if self.score(labels)[0] > 0:
            self._recombine(labels, k, budget)
            labels = self._local(labels, k, max_passes, budget)
        if self.score(labels)[1] > 0 and self._rejoin_complexes(labels, budget):
            labels = self._local(labels, k, max_passes, budget)
        return labels

    def _local(self, labels: np.ndarray, k: int, max_passes: int, budget: SearchBudget) -> np.ndarray:
        t = self._tallies(labels, k)
        gh, ga, gp, members, cx_in = t.households, t.area, t.perimeter, t.members, t.cx_in
        pull = STREET_PULL / max(float(gp.mean()), 1e-9)  # per metre of boundary off the streets
        repairs = 0
        for _ in range(max_passes + PASSES_PER_GRID * k):
            moved = 0
            cross = labels[self.eu] != labels[self.ev]
            border = np.unique(np.concatenate([self.eu[cross], self.ev[cross]]))
            for u in border[self.rng.permutation(len(border))].tolist():
                if not budget.take():
                    return labels
                g = int(labels[u])
                targets = sorted({int(labels[v]) for v in self.nbrs[u]} - {g})
                if not targets:
                    continue
                c = int(self.block[u])
                sets: list[list[int]] = [[u]]
                if c >= 0 and len(cx_in[c]) == 1:
                    sets.append(self.cx_members[c])
                elif c >= 0:  # a split complex: its units in this grid may join the rest of it at once
                    here = [x for x in self.cx_members[c] if int(labels[x]) == g]
                    if len(here) > 1:
                        sets.append(here)
                block = self.block_members[int(self.street_block[u])]
                if 1 < len(block) <= BLOCK_PIECE_MAX * 4:
                    piece = [x for x in block if int(labels[x]) == g]
                    if 1 < len(piece) <= BLOCK_PIECE_MAX and all(piece != s for s in sets):
                        sets.append(piece)
                best: tuple[float, float, float] | None = None
                best_move: tuple[list[int], int] | None = None
                for s in sets:
                    sset = set(s)
                    if len(sset) >= len(members[g]):
                        continue
                    s_hh = float(self.hh[s].sum())
                    s_cx: dict[int, int] = {}
                    for x in s:
                        cb = int(self.block[x])
                        if cb >= 0:
                            s_cx[cb] = s_cx.get(cb, 0) + 1
                    s_area = float(self.area[s].sum())
                    s_perim = float(self.perim[s].sum())
                    to_grid: dict[int, float] = {}
                    off_to: dict[int, float] = {}
                    inner = 0.0
                    for x in s:
                        for v, w, wo in zip(self.nbrs[x], self.nlen[x], self.noff[x], strict=True):
                            if v in sset:
                                inner += w  # counted twice, as perimeter needs
                            else:
                                lv = int(labels[v])
                                to_grid[lv] = to_grid.get(lv, 0.0) + w
                                off_to[lv] = off_to.get(lv, 0.0) + wo
                    s_perim -= inner
                    to_g = to_grid.get(g, 0.0)
                    pg_new = gp[g] - s_perim + 2 * to_g
                    old_g = _pp(ga[g], gp[g])
                    new_g = _pp(ga[g] - s_area, pg_new)
                    for h in targets:
                        to_h = to_grid.get(h, 0.0)
                        if to_h <= 0:
                            continue
                        dv = (self._viol(gh[g] - s_hh) + self._viol(gh[h] + s_hh)
                              - self._viol(gh[g]) - self._viol(gh[h]))
                        ds = 0.0
                        for cc, moved_n in s_cx.items():  # keepable complexes the set holds units of
                            cnt = cx_in[cc]
                            before = len(cnt) > 1
                            after_cnt = dict(cnt)
                            after_cnt[g] -= moved_n
                            if after_cnt[g] == 0:
                                del after_cnt[g]
                            after_cnt[h] = after_cnt.get(h, 0) + moved_n
                            ds += float(len(after_cnt) > 1) - float(before)
                        ph_new = gp[h] + s_perim - 2 * to_h
                        dpp = new_g + _pp(ga[h] + s_area, ph_new) - old_g - _pp(ga[h], gp[h])
                        # boundary off the streets: the set's borders with g become boundary, with h stop being
                        d_off = off_to.get(g, 0.0) - off_to.get(h, 0.0)
                        key = (dv, ds, -(dpp - pull * d_off))
                        if key < (0.0, 0.0, -MIN_COMPACTNESS_GAIN) and (best is None or key < best):
                            best, best_move = key, (s, h)
                if best_move is None:
                    continue
                s, h = best_move
                rest = np.fromiter(members[g] - set(s), dtype=np.int64)
                if not self._connected(rest):
                    continue
                if len(s) > 1 and not self._connected(np.fromiter(members[h] | set(s), dtype=np.int64)):
                    continue
                self._apply(s, g, h, t)
                moved += 1
            if moved == 0:
                if sum(self._viol(h) for h in gh) == 0 or repairs >= PAIR_REPAIRS_PER_GRID * k:
                    break
                if not self._pair_repair(t, budget):
                    break
                repairs += 1
        return labels
