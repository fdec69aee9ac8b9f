"""Patrol planning, check-ins and compliance (pure core: no database, no HTTP).

* :mod:`~gisgrid.patrol.rules` — :class:`PatrolRules`, every number (days, shift, speed, budgets);
* :mod:`~gisgrid.patrol.tsp` — one day's tour (exact when small, else PyVRP with a counted budget);
* :mod:`~gisgrid.patrol.days` — splitting a grid's stops into balanced days;
* :mod:`~gisgrid.patrol.plan` — :func:`plan_week`: street, stops, days and walks of a grid;
* :mod:`~gisgrid.patrol.week` — the patrol days of a week;
* :mod:`~gisgrid.patrol.checkins` — batch validation, GCJ-02, plausibility, matching to buildings;
* :mod:`~gisgrid.patrol.compliance` — one worker's week in one grid.
"""

from gisgrid.patrol.checkins import CHECKIN_CRS, FLAGS, Checkin, assess_track, match_buildings, parse_checkins
from gisgrid.patrol.compliance import COLUMNS, weekly_compliance
from gisgrid.patrol.days import balance_ratio, balanced_cuts, improve_days, split_days
from gisgrid.patrol.plan import DayRoute, Stop, WeekPlan, plan_week
from gisgrid.patrol.rules import PatrolRules
from gisgrid.patrol.tsp import solve_tour, tour_length
from gisgrid.patrol.week import patrol_days, week_start

__all__ = [
    "CHECKIN_CRS",
    "COLUMNS",
    "FLAGS",
    "Checkin",
    "DayRoute",
    "PatrolRules",
    "Stop",
    "WeekPlan",
    "assess_track",
    "balance_ratio",
    "balanced_cuts",
    "improve_days",
    "match_buildings",
    "parse_checkins",
    "patrol_days",
    "plan_week",
    "solve_tour",
    "split_days",
    "tour_length",
    "week_start",
    "weekly_compliance",
]
