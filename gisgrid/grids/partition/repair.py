"""Repair of a labelling: detached pieces rejoined, grids outside the window recombined or fixed by pairs.

* :meth:`_Repairer._fix_contiguity` — pieces of a grid cut off from it join the neighbouring grid they
  share most border with.
* :meth:`_Repairer._recombine` — a grid still outside the window is merged with one or two neighbours and
  the union is bisected afresh (the idea of GerryChain's ReCom, used deterministically as a repair), which
  shifts many units at once where single moves are stuck.
* :meth:`_Repairer._rejoin_complexes` — a complex that fits in a grid but is split: the grids it spans
  (with a neighbour) are re-bisected with it as one block, or the complex is carved out as a grid of its
  own (grown to the window) and the rest bisected, when that leaves households no worse off and every
  grid one polygon.
* :meth:`_Repairer._pair_repair` — two chained moves (push on, pull in, or swap) that lower the
  households outside the window; the local search calls it when no single move helps.

Every step is paid for from the plan's :class:`~gisgrid.grids.partition.budget.SearchBudget`.
"""

from __future__ import annotations

import heapq

import numpy as np

from gisgrid.grids.partition.bisection import COMPLEX_CUT_PENALTY, REJOIN_CUT_PENALTY, _Bisector
from gisgrid.grids.partition.budget import RECOMBINATION_COST, SearchBudget
from gisgrid.grids.partition.graph import _Tallies

#: Rounds of rejoining detached pieces: a piece moved can detach another; what is left after five
#: rounds (never seen) is reported as ``non-contiguous``.
CONTIGUITY_ROUNDS = 5
#: Recombination rounds per grid: each round fixes (part of) one grid's excess, three per grid leave room
#: for the knock-on on its neighbours.
RECOMBINATION_ROUNDS_PER_GRID = 3
#: Unions tried per grid out of range: with ~6 neighbours there are 6 pairs and 15 triples of them, the
#: rest go to neighbours of neighbours.
GROUPS_PER_GRID = 40
#: A split complex spread over more grids than this is not rejoined by re-bisection (a union that large
#: is a bisection of its own, not a repair).
REJOIN_MAX_GRIDS = 3
#: Unions tried per split complex: the grids it spans, then with each of its three longest-bordering
#: neighbours.
REJOIN_GROUPS = 4
#: Best-scoring move pairs checked for contiguity (up to four graph searches each) per pair repair.
PAIR_REPAIR_TRIES = 300


class _Repairer(_Bisector):
    """Repair steps over the unit graph; they change ``labels`` in place."""

    def _fix_contiguity(self, labels: np.ndarray, k: int) -> None:
        """Give every detached piece of a grid to the neighbouring grid it shares most border with."""
        for _ in range(CONTIGUITY_ROUNDS):
            changed = False
            for g in range(k):
                units = np.flatnonzero(labels == g)
                comps = self._components(units)
                if len(comps) <= 1:
                    continue
                comps.sort(key=lambda comp: (-int(self.hh[comp].sum()), -len(comp), min(comp)))
                for comp in comps[1:]:
                    border: dict[int, float] = {}
                    for x in comp:
                        for v, w in zip(self.nbrs[x], self.nlen[x], strict=True):
                            lv = int(labels[v])
                            if lv != g:
                                border[lv] = border.get(lv, 0.0) + w
                    if border:
                        labels[comp] = max(sorted(border), key=lambda h: border[h])
                        changed = True
            if not changed:
                return

    def _recombine(self, labels: np.ndarray, k: int, budget: SearchBudget) -> None:
        """Merge a grid outside the window with one or two neighbours and re-split the union (in place).

        The same idea as GerryChain's ReCom step, used deterministically as a repair: the union of two or
        three adjacent grids is bisected afresh, which can shift many units at once where single moves
        are stuck.
        """
        for _ in range(RECOMBINATION_ROUNDS_PER_GRID * k):
            gh = np.bincount(labels, weights=self.hh, minlength=k)
            viol = np.array([self._viol(h) for h in gh])
            if viol.sum() == 0:
                return
            grid_nbrs: list[dict[int, float]] = [{} for _ in range(k)]
            diff = labels[self.eu] != labels[self.ev]
            for a, b, w in zip(labels[self.eu[diff]].tolist(), labels[self.ev[diff]].tolist(),
                               self.length[diff].tolist(), strict=True):
                grid_nbrs[a][b] = grid_nbrs[a].get(b, 0.0) + w
                grid_nbrs[b][a] = grid_nbrs[b].get(a, 0.0) + w
            done = False
            for g in np.argsort(-viol, kind="stable").tolist():
                if viol[g] == 0:
                    break
                near = sorted(grid_nbrs[g], key=lambda h: (-grid_nbrs[g][h], h))
                groups: list[tuple[int, ...]] = [(g, h) for h in near]
                groups += [(g, h, j) for i, h in enumerate(near) for j in near[i + 1 :]]
                groups += [(g, h, j) for h in near for j in sorted(grid_nbrs[h]) if j != g and j not in near]
                for group in groups[:GROUPS_PER_GRID]:
                    if not budget.take(RECOMBINATION_COST):
                        return
                    union = np.flatnonzero(np.isin(labels, group))
                    before = float(viol[list(group)].sum())
                    out: list[np.ndarray] = []
                    self._split(union, len(group), out)
                    if len(out) != len(group):
                        continue
                    after = sum(self._viol(float(self.hh[part].sum())) for part in out)
                    if after < before and all(self._connected(part) for part in out):
                        for gid, part in zip(group, out, strict=True):
                            labels[part] = gid
                        done = True
                        break
                if done:
                    break
            if not done:
                return

    def _splits_in(self, labels: np.ndarray, complexes: list[int]) -> int:
        return sum(1 for c in complexes if len({int(labels[u]) for u in self.cx_members[c]}) > 1)

    def _rejoin_complexes(self, labels: np.ndarray, budget: SearchBudget) -> bool:
        """Make whole the complexes that fit in a grid but are split, by re-bisecting the grids they span
        (alone, or with one neighbouring grid) when that keeps every grid's households at least as well in
        the window and splits fewer complexes (in place). Whether anything changed."""
        changed = False
        for c in self.keepable:
            spanned = sorted({int(labels[u]) for u in self.cx_members[c]})
            if len(spanned) == 1 or len(spanned) > REJOIN_MAX_GRIDS:
                continue
            inside = np.isin(labels, spanned)
            border: dict[int, float] = {}
            for a, b, w in zip(self.eu.tolist(), self.ev.tolist(), self.length.tolist(), strict=True):
                if inside[a] != inside[b]:
                    h = int(labels[b] if inside[a] else labels[a])
                    border[h] = border.get(h, 0.0) + w
            near = sorted(border, key=lambda h: (-border[h], h))
            groups = [tuple(spanned)] + [(*spanned, h) for h in near[: REJOIN_GROUPS - 1]]
            for group in groups:
                if not budget.take(RECOMBINATION_COST):
                    return changed
                union = np.flatnonzero(np.isin(labels, group))
                touched = sorted({int(self.block[u]) for u in union.tolist() if self.block[u] >= 0})
                before = sum(self._viol(float(self.hh[labels == g].sum())) for g in group)
                splits_before = self._splits_in(labels, touched)
                # two ways to cut the union: a bisection that cuts complexes only at a heavy cost, and the
                # complex carved out as one grid (grown to the window) with the rest bisected — a complex
                # near the maximum in the middle of the union is a grid of its own, which no straight
                # sweep finds (its other side would hold the complex and more)
                for out in (self._rejoin_split(union, len(group)), self._carve(union, c, len(group))):
                    if len(out) != len(group):
                        continue
                    after = sum(self._viol(float(self.hh[part].sum())) for part in out)
                    trial = labels.copy()
                    for gid, part in zip(group, out, strict=True):
                        trial[part] = gid
                    if not all(self._solid(part) for part in out) or \
                            self._splits_in(trial, touched) >= splits_before:
                        continue
                    if after > before:  # a few households out: recombination may restore the window
                        k = int(labels.max()) + 1
                        self._recombine(trial, k, budget)
                        viol_all = sum(self._viol(float(h)) for h in np.bincount(trial, weights=self.hh, minlength=k))
                        viol_now = sum(self._viol(float(h)) for h in np.bincount(labels, weights=self.hh, minlength=k))
                        if viol_all > viol_now or self._splits_in(trial, self.keepable) >= \
                                self._splits_in(labels, self.keepable) or \
                                not all(self._solid(np.flatnonzero(trial == g)) for g in range(k)):
                            continue
                    labels[:] = trial
                    changed = True
                    break
                else:
                    continue
                break
        return changed

    def _solid(self, members: np.ndarray) -> bool:
        """Whether ``members`` are connected over borders of positive length (one polygon, not two banks
        joined by a bridge edge): a repair that makes complexes whole should not make a grid of two pieces."""
        if len(members) <= 1:
            return True
        inside = np.zeros(self.n, dtype=bool)
        inside[members] = True
        seen = {int(members[0])}
        stack = [int(members[0])]
        while stack:
            x = stack.pop()
            for v, length in zip(self.nbrs[x], self.nlen[x], strict=True):
                if length > 0 and inside[v] and v not in seen:
                    seen.add(v)
                    stack.append(v)
        return len(seen) == len(members)

    def _rejoin_split(self, union: np.ndarray, parts: int) -> list[np.ndarray]:
        """``union`` bisected into ``parts`` grids with complex cuts at :data:`REJOIN_CUT_PENALTY`."""
        out: list[np.ndarray] = []
        self.complex_cut_penalty = REJOIN_CUT_PENALTY
        try:
            self._split(union, parts, out)
        finally:
            self.complex_cut_penalty = COMPLEX_CUT_PENALTY
        return out

    def _carve(self, union: np.ndarray, c: int, parts: int) -> list[np.ndarray]:
        """Complex ``c`` as one grid — grown to the minimum by the nearest neighbouring units that are not
        in another complex kept whole — and the rest of ``union`` bisected into ``parts − 1`` grids; empty
        when the grid cannot be made (the complex is not connected, or no growth reaches the window)."""
        core = np.asarray(self.cx_members[c], dtype=np.int64)
        if not self._connected(core):
            return []
        inset = np.zeros(self.n, dtype=bool)
        inset[union] = True
        inside = np.zeros(self.n, dtype=bool)
        inside[core] = True
        households = int(self.hh[core].sum())
        centre = self.xy[core].mean(axis=0)
        heap: list[tuple[float, int]] = []
        queued = inside.copy()

        def push(x: int) -> None:
            for v, length in zip(self.nbrs[x], self.nlen[x], strict=True):
                if length > 0 and inset[v] and not queued[v] and self.block[v] < 0:
                    queued[v] = True
                    heapq.heappush(heap, (float(np.hypot(*(self.xy[v] - centre))), v))

        for x in core.tolist():
            push(x)
        while households < self.lo and heap:
            _, v = heapq.heappop(heap)
            if households + int(self.hh[v]) > self.hi:
                continue
            inside[v] = True
            households += int(self.hh[v])
            push(v)
        if not self.lo <= households <= self.hi:
            return []
        rest = np.flatnonzero(inset & ~inside)
        # pieces of the rest cut off by the carved grid join it while it stays in the window
        comps = sorted(self._components(rest), key=lambda comp: (-int(self.hh[comp].sum()), -len(comp), min(comp)))
        for comp in comps[1:]:
            touches = any(inside[v] for x in comp for v, length in zip(self.nbrs[x], self.nlen[x], strict=True)
                          if length > 0)
            if touches and households + int(self.hh[comp].sum()) <= self.hi:
                inside[comp] = True
                households += int(self.hh[comp].sum())
        grid = np.flatnonzero(inside)
        rest = np.flatnonzero(inset & ~inside)
        if parts == 1 or len(rest) == 0:
            return [grid] if parts == 1 and len(rest) == 0 else []
        out = [grid]
        if parts == 2:
            out.append(rest)
        else:
            out += self._rejoin_split(rest, parts - 1)
        return out

    def _pair_repair(self, t: _Tallies, budget: SearchBudget) -> bool:
        """Two chained moves (push on, pull in, or swap) that lower the households outside the window.

        Single moves cannot take a 530-household grid into range when every neighbour is near the
        maximum; moving a unit on *and* letting the receiver pass another one further can. Each first
        move whose follow-ups are scored costs one move evaluation.
        """
        viol = self._viol
        labels, gh, members = t.labels, t.households, t.members
        bad = [g for g in np.argsort(-np.array([viol(h) for h in gh]), kind="stable").tolist() if viol(gh[g]) > 0]
        cands: list[tuple[float, int, int, int, int, int, int]] = []
        for a in bad:
            # first move: u from a to b (push) or from b into a (pull)
            firsts: list[tuple[int, int, int]] = []
            for u in sorted(members[a]):
                for v in self.nbrs[u]:
                    b = int(labels[v])
                    if b != a:
                        firsts.append((u, a, b))
                        firsts.append((v, b, a))
            for u, src, dst in dict.fromkeys(firsts):
                if not budget.take():
                    break
                hu = float(self.hh[u])
                # second move: v leaves dst to any neighbour grid j, or enters src from any grid j
                seconds: list[tuple[int, int, int]] = []
                for w in sorted(members[dst]):
                    if w == u:
                        continue
                    for x in self.nbrs[w]:
                        j = int(labels[x]) if x != u else dst
                        if j != dst:
                            seconds.append((w, dst, j))
                for w in sorted(members[src]):
                    if w == u:
                        continue
                    for x in self.nbrs[w]:
                        j = int(labels[x])
                        if j != src and x != u:
                            seconds.append((x, j, src))
                for w, s2, d2 in dict.fromkeys(seconds):
                    hw = float(self.hh[w])
                    change = {src: -hu, dst: hu}
                    change[s2] = change.get(s2, 0.0) - hw
                    change[d2] = change.get(d2, 0.0) + hw
                    dv = sum(viol(gh[g] + dh) - viol(gh[g]) for g, dh in change.items())
                    if dv < 0:
                        cands.append((dv, u, src, dst, w, s2, d2))
        cands.sort()
        for _, u, src, dst, w, s2, d2 in cands[:PAIR_REPAIR_TRIES]:
            after = {g: set(members[g]) for g in sorted({src, dst, s2, d2})}
            after[src].discard(u)
            after[dst].add(u)
            if w not in after[s2]:
                continue
            after[s2].discard(w)
            after[d2].add(w)
            if any(not m for m in after.values()):
                continue
            if all(self._connected(np.fromiter(m, dtype=np.int64)) for m in after.values()):
                self._apply([u], src, dst, t)
                self._apply([w], s2, d2, t)
                return True
        return False
