"""Case-handling KPIs by grid, community, street or district, and by period.

:func:`compute_kpis` takes a snapshot of the ``incident`` and ``incident_event`` tables (as taken
at ``now``) and counts, per group, the cases **reported** in each period (a cohort view: a case
received in March stays in March when it is closed in April, so every rate is between 0 and 1 and
the groups add up). Definitions:

================================ ================================================================
column                           definition
================================ ================================================================
received                         cases reported (``reported_at <= now``), rejected ones included
rejected                         status ``rejected`` (不予立案)
closed                           status ``closed`` or ``rated`` (结案)
completion_rate                  closed / (received − rejected)
on_time                          closed cases resolved by their deadline: the last ``resolve`` event
                                 (else ``closed_at``) at or before ``deadline_at``; a closed case
                                 without a deadline counts as on time
on_time_rate                     on_time / closed
hours_to_close_sum               Σ (closed_at − reported_at) in clock hours over closed cases
mean_hours_to_close              hours_to_close_sum / closed
rated                            cases with a satisfaction score (评价)
satisfied                        rated 4 or 5
satisfaction_rate                satisfied / rated
backlog                          status ``backlog`` (挂账)
overdue_open                     still open (reported … in_progress) with ``deadline_at < now``
escalations                      ``escalate`` events
whistles                         departments whistled: Σ over ``whistle`` events of the number of
                                 departments in the event's ``data['departments']`` (1 if absent)
department_arrivals              ``department_accept`` events (报到)
timed_arrivals                   those of them whose ``data`` carries ``arrival_minutes``
arrival_minutes_sum              Σ ``data['arrival_minutes']`` (minutes from whistle to report)
mean_department_arrival_minutes  arrival_minutes_sum / timed_arrivals
================================ ================================================================

Rates are recomputed from the counts, never averaged; a rate whose denominator is 0 is NaN. Count
and sum columns add up: the sum over the grids of a street equals the street's row, and
:func:`rollup` re-aggregates any KPI frame (e.g. to the district total) the same way. Cases with no
code at the grouping level (the demo data has no grid codes yet) form the group ``"unassigned"``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

import numpy as np
import pandas as pd

from gisgrid.codes import CHINA_TZ_NAME
from gisgrid.errors import InvalidInputError
from gisgrid.incidents.deadlines import OPEN_STATUSES  # the statuses whose deadline is running

GROUP_LEVELS: Final = ("grid", "community", "street", "district")
PERIODS: Final = ("M", "Q", "Y")
UNASSIGNED: Final = "unassigned"
COUNT_COLUMNS: Final = (
    "received",
    "rejected",
    "closed",
    "on_time",
    "rated",
    "satisfied",
    "backlog",
    "overdue_open",
    "escalations",
    "whistles",
    "department_arrivals",
    "timed_arrivals",
)
SUM_COLUMNS: Final = ("hours_to_close_sum", "arrival_minutes_sum")
TZ: Final = CHINA_TZ_NAME

_INCIDENT_COLUMNS: Final = ("status", "reported_at", "deadline_at", "closed_at", "satisfaction")


def _id_column(frame: pd.DataFrame, candidates: tuple[str, ...], name: str) -> str:
    for c in candidates:
        if c in frame.columns:
            return c
    raise InvalidInputError(
        f"{name} needs one of the columns {', '.join(candidates)}", field=candidates[0], rule="id column"
    )


def _aware_series(values: pd.Series, name: str) -> pd.Series:
    s = pd.to_datetime(values)
    if len(s) and s.dt.tz is None:
        raise InvalidInputError(
            f"{name} holds naive datetimes; pass timezone-aware ones", field=name, rule="aware datetime"
        )
    return s.dt.tz_convert(TZ) if s.dt.tz is not None else s.dt.tz_localize(TZ)


def _group_key(incidents: pd.DataFrame, by: str) -> pd.Series:
    if by == "district":
        if "district_code" in incidents.columns:
            key = incidents["district_code"].astype("object")
        else:
            key = pd.Series(None, index=incidents.index, dtype="object")
            for col in ("street_code", "community_code", "grid_code"):
                if col in incidents.columns:
                    src = incidents[col].astype("object")
                    key = key.where(key.notna(), src.where(src.isna(), src.astype(str).str[:6] + "000000"))
    else:
        col = f"{by}_code"
        if col not in incidents.columns:
            raise InvalidInputError(
                f"incidents need a {col} column to group by {by}", field=col, rule="group column"
            )
        key = incidents[col].astype("object")
    key = key.where(key.notna() & (key.astype(str) != ""), UNASSIGNED)
    return key.astype(str)


def _period_label(ts: pd.Series, period: str) -> pd.Series:
    year = ts.dt.year.astype(str)
    if period == "Y":
        return year
    if period == "Q":
        return year + "Q" + ts.dt.quarter.astype(str)
    return year + "-" + ts.dt.month.map("{:02d}".format)


def _data_field(data: Any, key: str) -> Any:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    return data.get(key) if isinstance(data, dict) else None


def compute_kpis(
    incidents: pd.DataFrame,
    events: pd.DataFrame,
    *,
    by: str,
    period: str | None = None,
    now: dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """KPIs per group (and period) of the cases reported up to ``now``.

    Parameters
    ----------
    incidents
        One row per case with an id (``id`` or ``incident_key``), ``status``, ``reported_at``,
        ``deadline_at``, ``closed_at``, ``satisfaction`` and the code column of the grouping
        (``grid_code``, ``community_code``, ``street_code``; the district is ``district_code`` or
        the first 6 digits of the finest code present). Datetimes must be timezone-aware.
    events
        ``incident_event`` rows: ``incident_id`` (or ``incident_key``), ``action``, ``at`` and
        optionally ``data`` (dicts or JSON text). May be empty.
    by
        ``'grid'``, ``'community'``, ``'street'`` or ``'district'``.
    period
        ``'M'``, ``'Q'``, ``'Y'`` (by the report date in Asia/Shanghai) or ``None`` for one period.
    now
        The time of the snapshot (aware); cases reported and events after it are left out, and
        open cases past their deadline at ``now`` count as ``overdue_open``. Default: the latest
        report or event time.

    Returns
    -------
    pandas.DataFrame
        Indexed by the group code (named ``by``) and, with a ``period``, the period label
        (``2025-03``, ``2025Q1``, ``2025``); the columns of the module table.
    """
    if by not in GROUP_LEVELS:
        raise InvalidInputError(
            f"by must be one of {GROUP_LEVELS}", field="by", feature=by, rule="group level"
        )
    if period is not None and period not in PERIODS:
        raise InvalidInputError(f"period must be one of {PERIODS} or None", field="period", feature=period)
    missing = [c for c in _INCIDENT_COLUMNS if c not in incidents.columns]
    if missing:
        raise InvalidInputError(
            f"incidents lack the columns {', '.join(missing)}", field=missing[0], rule="incident columns"
        )
    inc_id = _id_column(incidents, ("id", "incident_key"), "incidents")
    inc = pd.DataFrame(
        {
            "id": incidents[inc_id].to_numpy(),
            "status": incidents["status"].astype(str).to_numpy(),
            "reported_at": _aware_series(incidents["reported_at"], "reported_at").to_numpy(),
            "deadline_at": _aware_series(incidents["deadline_at"], "deadline_at").to_numpy(),
            "closed_at": _aware_series(incidents["closed_at"], "closed_at").to_numpy(),
            "satisfaction": pd.to_numeric(incidents["satisfaction"], errors="coerce").to_numpy(dtype=float),
            "group": _group_key(incidents, by).to_numpy(),
        }
    )
    for col in ("reported_at", "deadline_at", "closed_at"):
        inc[col] = pd.to_datetime(inc[col], utc=True).dt.tz_convert(TZ)

    ev = events
    if len(ev):
        ev_id = _id_column(ev, ("incident_id", "incident_key"), "events")
        ev = pd.DataFrame(
            {
                "id": ev[ev_id].to_numpy(),
                "action": ev["action"].astype(str).to_numpy(),
                "at": _aware_series(ev["at"], "at").to_numpy(),
                "data": ev["data"].to_numpy()
                if "data" in ev.columns
                else np.full(len(ev), None, dtype=object),
            }
        )
        ev["at"] = pd.to_datetime(ev["at"], utc=True).dt.tz_convert(TZ)
    else:
        ev = pd.DataFrame({"id": [], "action": [], "at": pd.to_datetime([], utc=True), "data": []})

    if now is None:
        candidates = [inc["reported_at"].max(), ev["at"].max() if len(ev) else pd.NaT]
        now_ts = max((c for c in candidates if pd.notna(c)), default=pd.Timestamp.now(tz=TZ))
    else:
        now_ts = pd.Timestamp(now)
        if now_ts.tzinfo is None:
            raise InvalidInputError("now must be timezone-aware", field="now", rule="aware datetime")
    inc = inc[inc["reported_at"] <= now_ts]
    ev = ev[(ev["at"] <= now_ts) & ev["id"].isin(inc["id"])]

    # the last resolution before now, for on-time
    resolved_at = ev[ev["action"] == "resolve"].groupby("id")["at"].max()
    inc = inc.set_index("id")
    done_at = resolved_at.reindex(inc.index).fillna(inc["closed_at"])
    closed = inc["status"].isin(["closed", "rated"])
    facts = pd.DataFrame(
        {
            "received": 1,
            "rejected": inc["status"].eq("rejected"),
            "closed": closed,
            "on_time": closed & (inc["deadline_at"].isna() | (done_at <= inc["deadline_at"])),
            "rated": inc["satisfaction"].notna(),
            "satisfied": inc["satisfaction"].ge(4),
            "backlog": inc["status"].eq("backlog"),
            "overdue_open": inc["status"].isin(OPEN_STATUSES) & (inc["deadline_at"] < now_ts),
            "hours_to_close_sum": ((inc["closed_at"] - inc["reported_at"]).dt.total_seconds() / 3600.0).where(
                closed, 0.0
            ),
        },
        index=inc.index,
    )
    facts["group"] = inc["group"]
    if period is not None:
        facts["period"] = _period_label(inc["reported_at"], period)

    whistle = ev[ev["action"] == "whistle"]
    n_depts = whistle["data"].map(lambda d: len(_data_field(d, "departments") or [None]))
    arrivals = ev[ev["action"] == "department_accept"]
    minutes = pd.to_numeric(
        arrivals["data"].map(lambda d: _data_field(d, "arrival_minutes")), errors="coerce"
    )
    per_incident = {
        "escalations": ev[ev["action"] == "escalate"].groupby("id").size(),
        "whistles": n_depts.groupby(whistle["id"]).sum(),
        "department_arrivals": arrivals.groupby("id").size(),
        "timed_arrivals": minutes.notna().groupby(arrivals["id"]).sum(),
        "arrival_minutes_sum": minutes.fillna(0.0).groupby(arrivals["id"]).sum(),
    }
    for name, series in per_incident.items():
        facts[name] = series.reindex(facts.index).fillna(0)

    keys = ["group", "period"] if period is not None else ["group"]
    out = facts.groupby(keys, sort=True)[[*COUNT_COLUMNS, *SUM_COLUMNS]].sum()
    out.index = out.index.set_names([by, "period"] if period is not None else [by])
    return _finish(out)


def _finish(counts: pd.DataFrame) -> pd.DataFrame:
    """Cast counts to int and (re)compute the rates and means from the counts."""
    out = counts.copy()
    for c in COUNT_COLUMNS:
        out[c] = out[c].astype("int64")
    for c in SUM_COLUMNS:
        out[c] = out[c].astype(float)

    def ratio(num: str, den: pd.Series) -> pd.Series:
        return out[num] / den.where(den > 0)

    out["completion_rate"] = ratio("closed", out["received"] - out["rejected"])
    out["on_time_rate"] = ratio("on_time", out["closed"])
    out["mean_hours_to_close"] = ratio("hours_to_close_sum", out["closed"])
    out["satisfaction_rate"] = ratio("satisfied", out["rated"])
    out["mean_department_arrival_minutes"] = ratio("arrival_minutes_sum", out["timed_arrivals"])
    order = [
        "received",
        "rejected",
        "closed",
        "completion_rate",
        "on_time",
        "on_time_rate",
        "hours_to_close_sum",
        "mean_hours_to_close",
        "rated",
        "satisfied",
        "satisfaction_rate",
        "backlog",
        "overdue_open",
        "escalations",
        "whistles",
        "department_arrivals",
        "timed_arrivals",
        "arrival_minutes_sum",
        "mean_department_arrival_minutes",
    ]
    return out[order]


def rollup(kpis: pd.DataFrame, level: str | None = None) -> pd.DataFrame:
    """Re-aggregate a KPI frame: sum the counts over the other index levels, recompute the rates.

    ``level=None`` gives one row (index ``'total'``); ``level='period'`` totals each period over the
    groups. The result of ``rollup(compute_kpis(..., by='grid'))`` equals ``compute_kpis(...,
    by='district')`` for a one-district frame.
    """
    cols = [*COUNT_COLUMNS, *SUM_COLUMNS]
    counts = kpis[cols].sum().to_frame("total").T if level is None else kpis[cols].groupby(level=level).sum()
    return _finish(counts)
