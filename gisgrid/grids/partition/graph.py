"""The units' adjacency as the search sees it, and the per-grid tallies a move updates in O(degree).

:class:`_UnitGraph` holds what never changes during a plan: households, cell areas and perimeters, the
edges with their border lengths and weights (the tessellation's factor: weak across major roads,
barriers and bridges, a quarter along minor streets), the border off any street, neighbour lists, the
street blocks (units joined by borders off any street) and the residential complexes that fit in one grid
(those move and sweep as blocks). The bisection, the repair
and the local search build on it, one subclass each.

:class:`_Tallies` keeps, for a labelling, each grid's households, area, perimeter, members and the grids
each keepable complex is spread over. Perimeters are kept from cell perimeters and shared border lengths
(a grid's perimeter is the sum of its cells' less twice every border inside it), so Polsby–Popper is exact
for the cell dissolve and a move is evaluated and applied in O(degree).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from gisgrid.grids.partition.tessellation import _Tessellation

_MIN_PERIMETER_M = 1e-9  # a grid of cells with no perimeter (degenerate input) scores 0, not a division error


@dataclass
class _Tallies:
    labels: np.ndarray  # grid of every unit, changed in place by moves
    households: np.ndarray  # per grid
    area: np.ndarray
    perimeter: np.ndarray
    members: list[set[int]]
    cx_in: dict[int, dict[int, int]]  # keepable complex → grid → units of it there


class _UnitGraph:
    """Units, their cell adjacency and the household window ``[lo, hi]`` of one part of a community."""

    def __init__(self, t: _Tessellation, xy: np.ndarray, hh: np.ndarray, complex_code: np.ndarray,
                 lo: int, hi: int, seed: int) -> None:
        self.n = len(hh)
        self.xy, self.hh, self.lo, self.hi = xy, hh.astype(np.int64), lo, hi
        self.area, self.perim = t.area.astype(float), t.perimeter.astype(float)
        self.eu, self.ev, self.length = t.eu, t.ev, t.length.astype(float)
        self.weight = t.factor.astype(float) * self.length
        self.nbrs: list[list[int]] = [[] for _ in range(self.n)]
        self.nlen: list[list[float]] = [[] for _ in range(self.n)]
        self.nw: list[list[float]] = [[] for _ in range(self.n)]
        # border off any street or barrier (the cells lie in one block): what a grid boundary should avoid
        self.off_street = np.where(t.factor >= 1.0, self.length, 0.0)
        self.noff: list[list[float]] = [[] for _ in range(self.n)]
        for a, b, w, ww, wo in zip(self.eu.tolist(), self.ev.tolist(), self.length.tolist(), self.weight.tolist(),
                                   self.off_street.tolist(), strict=True):
            for x, y in ((a, b), (b, a)):
                self.nbrs[x].append(y)
                self.nlen[x].append(w)
                self.nw[x].append(ww)
                self.noff[x].append(wo)
        # street blocks: units joined by borders inside a block (no street or barrier between them); the
        # local search moves the piece of a block in one grid at once, which puts a boundary on the street
        parent = list(range(self.n))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for a, b, wo in zip(self.eu.tolist(), self.ev.tolist(), self.off_street.tolist(), strict=True):
            if wo > 0:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        self.street_block = np.array([find(x) for x in range(self.n)], dtype=np.int64)
        self.block_members: dict[int, list[int]] = {}
        for u, r in enumerate(self.street_block.tolist()):
            self.block_members.setdefault(r, []).append(u)
        self.rng = np.random.default_rng(seed)  # the only randomness; seeded, so a seed gives one plan
        # complexes that fit in one grid move and sweep as blocks
        cx = complex_code.copy()
        self.cx = cx
        self.cx_members: dict[int, list[int]] = {}
        for u in np.flatnonzero(cx >= 0).tolist():
            self.cx_members.setdefault(int(cx[u]), []).append(u)
        self.keepable = sorted(c for c, m in self.cx_members.items() if len(m) > 1 and hh[m].sum() <= hi)
        keep = set(self.keepable)
        self.block = np.array([c if c in keep else -1 for c in cx.tolist()], dtype=np.int64)

    def _viol(self, h: float) -> float:
        """Households outside the window of a grid holding ``h``."""
        return max(0.0, self.lo - h) + max(0.0, h - self.hi)

    def _connected(self, members: np.ndarray) -> bool:
        return is_connected(members, self.nbrs)

    def _components(self, units: np.ndarray) -> list[list[int]]:
        inside = set(units.tolist())
        seen: set[int] = set()
        comps: list[list[int]] = []
        for s in units.tolist():
            if s in seen:
                continue
            comp = [s]
            seen.add(s)
            stack = [s]
            while stack:
                u = stack.pop()
                for v in self.nbrs[u]:
                    if v in inside and v not in seen:
                        seen.add(v)
                        comp.append(v)
                        stack.append(v)
            comps.append(comp)
        return comps

    def score(self, labels: np.ndarray) -> tuple[float, int, float]:
        """(households outside the window, keepable complexes split, −mean Polsby–Popper): lower is better."""
        k = int(labels.max()) + 1
        gh = np.bincount(labels, weights=self.hh, minlength=k)
        viol = float(sum(self._viol(h) for h in gh))
        splits = sum(1 for c in self.keepable if len({int(labels[u]) for u in self.cx_members[c]}) > 1)
        ga = np.bincount(labels, weights=self.area, minlength=k)
        gp = self._grid_perimeters(labels, k)
        mean_pp = float(np.mean(4 * math.pi * ga / np.maximum(gp, _MIN_PERIMETER_M) ** 2))
        return viol, splits, -mean_pp

    def _grid_perimeters(self, labels: np.ndarray, k: int) -> np.ndarray:
        gp = np.bincount(labels, weights=self.perim, minlength=k)
        same = labels[self.eu] == labels[self.ev]
        np.subtract.at(gp, labels[self.eu[same]], 2 * self.length[same])
        return gp

    def _tallies(self, labels: np.ndarray, k: int) -> _Tallies:
        gh = np.bincount(labels, weights=self.hh, minlength=k).astype(float)
        ga = np.bincount(labels, weights=self.area, minlength=k)
        gp = self._grid_perimeters(labels, k)
        members: list[set[int]] = [set() for _ in range(k)]
        for u, g in enumerate(labels.tolist()):
            members[g].add(u)
        cx_in: dict[int, dict[int, int]] = {}
        for c in self.keepable:
            cnt: dict[int, int] = {}
            for u in self.cx_members[c]:
                cnt[int(labels[u])] = cnt.get(int(labels[u]), 0) + 1
            cx_in[c] = cnt
        return _Tallies(labels, gh, ga, gp, members, cx_in)

    def _apply(self, s: Sequence[int], g: int, h: int, t: _Tallies) -> None:
        """Move the units ``s`` from grid ``g`` to grid ``h``, updating the tallies."""
        labels, gh, ga, gp = t.labels, t.households, t.area, t.perimeter
        for x in s:
            for v, w in zip(self.nbrs[x], self.nlen[x], strict=True):
                lv = int(labels[v])
                if lv == g:
                    gp[g] += 2 * w
                if lv == h:
                    gp[h] -= 2 * w
            gp[g] -= self.perim[x]
            gp[h] += self.perim[x]
            labels[x] = h
            t.members[g].discard(x)
            t.members[h].add(x)
            gh[g] -= self.hh[x]
            gh[h] += self.hh[x]
            ga[g] -= self.area[x]
            ga[h] += self.area[x]
            c = int(self.block[x])
            if c >= 0:
                cnt = t.cx_in[c]
                cnt[g] -= 1
                if cnt[g] == 0:
                    del cnt[g]
                cnt[h] = cnt.get(h, 0) + 1


def is_connected(members: np.ndarray, nbrs: Sequence[Collection[int]]) -> bool:
    """Whether ``members`` form one connected piece of the graph given by neighbour sets ``nbrs``."""
    if len(members) <= 1:
        return True
    inside = set(members.tolist())
    start = int(members[0])
    seen = {start}
    stack = [start]
    while stack:
        u = stack.pop()
        for v in nbrs[u]:
            if v in inside and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == len(inside)
