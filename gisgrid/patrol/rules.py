"""The numbers of patrol planning and check-in checking, as one frozen value handed to the core.

The defaults are the issue's: three patrol days a week, a three-hour shift walked at 4.5 km/h plus a
few minutes per household visited, each day's longest route at most 1.10 × the shortest. Solver budgets
are **counts** (iterations of the route search), never seconds: the same input gives the same plan on
any machine and under any load. ``layers.settings.PatrolSettings`` fills these from
``GISGRID_PATROL_*``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gisgrid.errors import InvalidInputError

__all__ = ["PatrolRules"]


@dataclass(frozen=True)
class PatrolRules:
    """Everything that shapes a weekly plan and the judgement of a check-in."""

    days: int = 3
    walk_kmh: float = 4.5
    shift_minutes: float = 180.0
    minutes_per_household: float = 0.25
    balance: float = 1.10  # longest day ≤ balance × shortest day
    margin_m: float = 150.0  # streets this far outside the grid may be walked
    route_work: int = 60_000  # route search budget in node-iterations (PyVRP); a count, never a clock
    seed: int = 0
    match_m: float = 30.0  # a check-in this close to a footprint visits it
    max_accuracy_m: float = 100.0  # a fix less accurate than this is kept but is no visit
    max_speed_kmh: float = 30.0
    future_s: float = 300.0  # clock skew tolerated on a phone before a time counts as future
    outside_m: float = 500.0  # a point farther than this from the grid is implausible

    def __post_init__(self) -> None:
        checks = (
            ("days", 1 <= self.days <= 7, "1 ≤ days ≤ 7"),
            ("walk_kmh", 0 < self.walk_kmh <= 10, "0 < walk_kmh ≤ 10"),
            ("shift_minutes", 0 < self.shift_minutes <= 24 * 60, "0 < shift_minutes ≤ 1440"),
            ("minutes_per_household", 0 <= self.minutes_per_household <= 60, "0 ≤ minutes_per_household ≤ 60"),
            ("balance", self.balance >= 1.0, "balance ≥ 1"),
            ("margin_m", 0 <= self.margin_m <= 5_000, "0 ≤ margin_m ≤ 5000"),
            ("route_work", 1 <= self.route_work <= 100_000_000, "1 ≤ route_work ≤ 100,000,000"),
            ("match_m", 0 < self.match_m <= 500, "0 < match_m ≤ 500"),
            ("max_accuracy_m", self.max_accuracy_m > 0, "max_accuracy_m > 0"),
            ("max_speed_kmh", self.max_speed_kmh > 0, "max_speed_kmh > 0"),
            ("future_s", self.future_s >= 0, "future_s ≥ 0"),
            ("outside_m", self.outside_m >= 0, "outside_m ≥ 0"),
        )
        for field, ok, rule in checks:
            if not ok:
                raise InvalidInputError(f"patrol setting {field} = {getattr(self, field)!r} breaks {rule}",
                                        field=field, rule=rule)

    @property
    def metres_per_minute(self) -> float:
        return self.walk_kmh * 1000.0 / 60.0

    def day_minutes(self, metres: float, households: int) -> float:
        """Minutes a day takes: walking plus the visits."""
        return metres / self.metres_per_minute + households * self.minutes_per_household
