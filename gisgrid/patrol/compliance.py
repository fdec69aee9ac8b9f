"""Weekly compliance of one worker in one grid: days present, buildings and households visited, metres
planned and walked, and the building left longest without a visit.

Pure arithmetic over what the database layer hands in (plausible check-ins only: flagged ones never
count). Definitions:

* **days present** — distinct days (China time) with at least one plausible check-in;
* **visited** — the grid's buildings matched by at least one plausible check-in in the week; households
  are those of the visited buildings;
* **walked** — per day, the straight distance between consecutive plausible check-ins in time order,
  summed (a lower bound of the walk: the phone only knows the fixes);
* **longest unvisited** — among the grid's buildings, the one whose last visit (any week, up to the end
  of this one) is oldest; a building never visited beats any visited one, the lowest id breaking ties.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gisgrid.codes import CHINA_TZ

__all__ = ["COLUMNS", "weekly_compliance"]

COLUMNS = (
    "staff_id", "staff_name", "grid_code", "week", "days_required", "days_present", "buildings_total",
    "buildings_visited", "buildings_visited_share", "households_total", "households_visited",
    "households_visited_share", "planned_m", "walked_m", "checkins", "flagged_checkins",
    "longest_unvisited_building", "longest_unvisited_days",
)


def _walked(track: Sequence[tuple[dt.datetime, float, float]]) -> float:
    by_day: dict[dt.date, list[tuple[dt.datetime, float, float]]] = {}
    for at, x, y in track:
        by_day.setdefault(at.astimezone(CHINA_TZ).date(), []).append((at, x, y))
    total = 0.0
    for points in by_day.values():
        points.sort(key=lambda p: p[0])
        xy = np.array([[p[1], p[2]] for p in points], dtype=float)
        if len(xy) > 1:
            total += float(np.hypot(*np.diff(xy, axis=0).T).sum())
    return total


def weekly_compliance(
    *,
    staff_id: int,
    grid_code: str,
    week: dt.date,
    days_required: int,
    households: Mapping[int, int],
    visits: Sequence[tuple[int, dt.datetime]],
    track: Sequence[tuple[dt.datetime, float, float]],
    planned_m: float,
    last_visits: Mapping[int, dt.datetime],
    flagged: int = 0,
    staff_name: str = "",
) -> dict[str, Any]:
    """One row of the compliance table (keys :data:`COLUMNS`).

    ``households``: building id → households of every building of the grid; ``visits``: (building id,
    time) of this week's plausible, matched check-ins; ``track``: (time, x, y) of this week's plausible
    check-ins in a metric CRS; ``last_visits``: building id → last plausible visit up to the week's end.
    """
    end = dt.datetime.combine(week + dt.timedelta(days=7), dt.time(), CHINA_TZ)
    visited = {b for b, _ in visits if b in households}
    days = {at.astimezone(CHINA_TZ).date() for at, _, _ in track}
    hh_total = int(sum(households.values()))
    hh_visited = int(sum(households[b] for b in visited))
    oldest: int | None = None
    oldest_at: dt.datetime | None = None
    for b in sorted(households):
        seen = last_visits.get(b)
        if oldest is None or (oldest_at is not None and (seen is None or seen < oldest_at)):
            oldest, oldest_at = b, seen
    return {
        "staff_id": staff_id,
        "staff_name": staff_name,
        "grid_code": grid_code,
        "week": week.isoformat(),
        "days_required": days_required,
        "days_present": len(days),
        "buildings_total": len(households),
        "buildings_visited": len(visited),
        "buildings_visited_share": round(len(visited) / len(households), 4) if households else None,
        "households_total": hh_total,
        "households_visited": hh_visited,
        "households_visited_share": round(hh_visited / hh_total, 4) if hh_total else None,
        "planned_m": round(planned_m, 1),
        "walked_m": round(_walked(track), 1),
        "checkins": len(track) + flagged,
        "flagged_checkins": flagged,
        "longest_unvisited_building": oldest,
        "longest_unvisited_days": None if oldest_at is None else round((end - oldest_at).total_seconds() / 86400, 1),
    }
