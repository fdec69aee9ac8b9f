"""The rollout over time: statuses on a day from the history, month ends, and when the pace reaches the target.

The status of a station on a day is that of its latest change dated on or before it (ties by the order
they were recorded). A rollout curve samples the coverage at each month end; the last point is the day
asked about, which need not end a month. The **pace** is the least-squares slope of the covered share
over the last ``months`` points; the date it reaches 100 % is where that line meets it. A flat or
falling line never does: "never at this pace".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gisgrid.errors import InvalidInputError

__all__ = ["DAYS_PER_MONTH", "Projection", "month_ends", "project", "statuses_on"]

DAYS_PER_MONTH = 365.2425 / 12
NEVER = "never at this pace"


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    """The last day of every month from ``first``'s to ``last``'s; the final point is ``last`` itself."""
    if last < first:
        raise InvalidInputError(f"the rollout ends ({last}) before it starts ({first})", field="from",
                                rule="from ≤ as_of")
    out = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        out.append(min(nxt - dt.timedelta(days=1), last))
        year, month = nxt.year, nxt.month
    return out


def statuses_on(history: pd.DataFrame, day: dt.date) -> pd.Series:
    """The status of every station with a change on or before ``day`` (index: station id).

    ``history``: ``station_id, status, since`` and ``seq`` (the order changes were recorded in).
    """
    done = history[history["since"] <= day]
    if done.empty:
        return pd.Series(dtype=object)
    last = done.sort_values(["since", "seq"]).drop_duplicates("station_id", keep="last")
    return pd.Series(last["status"].to_numpy(), index=last["station_id"].to_numpy(), dtype=object)


@dataclass(frozen=True)
class Projection:
    """When the covered share reaches ``target_share`` at the recent pace, against ``target_date``."""

    target_date: dt.date
    target_share: float
    months_used: int
    pace_per_month: float | None
    reaches_on: dt.date | None
    reached: bool
    message: str

    @property
    def on_track(self) -> bool:
        return self.reached or (self.reaches_on is not None and self.reaches_on <= self.target_date)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_date": self.target_date.isoformat(), "target_share": self.target_share,
            "months_used": self.months_used, "pace_per_month": self.pace_per_month,
            "reaches_on": self.reaches_on.isoformat() if self.reaches_on else None,
            "reached": self.reached, "on_track": self.on_track, "message": self.message,
        }


def project(
    points: Sequence[tuple[dt.date, float | None]], *, months: int, target_date: dt.date, target_share: float = 1.0
) -> Projection:
    """Fit a line to the last ``months`` points (date, share) and find where it reaches ``target_share``."""
    if months < 2:
        raise InvalidInputError(f"the pace needs at least 2 months; got {months}", field="months",
                                rule="months ≥ 2")
    known = [(d, s) for d, s in points if s is not None]
    reached_at = next((d for d, s in known if s >= target_share - 1e-12), None)
    if known and known[-1][1] >= target_share - 1e-12:
        return Projection(target_date, target_share, 0, None, reached_at, True,
                          f"reached on {reached_at.isoformat() if reached_at else '?'}")
    recent = known[-months:]
    if len(recent) < 2:
        return Projection(target_date, target_share, len(recent), None, None, False,
                          f"{NEVER} (fewer than 2 months of figures)")
    origin = recent[0][0]
    x = np.array([(d - origin).days / DAYS_PER_MONTH for d, _ in recent])
    y = np.array([s for _, s in recent], dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    if not slope > 1e-9:
        return Projection(target_date, target_share, len(recent), float(slope), None, False, NEVER)
    at = (target_share - intercept) / slope
    reaches = origin + dt.timedelta(days=float(np.ceil(at * DAYS_PER_MONTH)))
    reaches = max(reaches, recent[-1][0])
    verdict = "on track for" if reaches <= target_date else "late for"
    return Projection(target_date, target_share, len(recent), float(slope), reaches, False,
                      f"reaches {target_share:.0%} on {reaches.isoformat()} at this pace — {verdict} "
                      f"{target_date.isoformat()}")
