"""The synthetic year of incidents: where (near buildings, by households), what (by category
weight), who handles them, and every state change up to ``today``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisgrid import vocab
from gisgrid.codes import CHINA_TZ
from gisgrid.synth.geometry import WGS84, reproject

INCIDENTS_PER_HOUSEHOLD = 0.1
_INCIDENT_SOURCES_P = {
    "patrol": 0.45,
    "resident": 0.14,
    "hotline": 0.20,
    "app": 0.12,
    "video": 0.05,
    "assigned": 0.03,
    "whistle": 0.01,
}
_LEVEL_ORDER = ("grid", "community", "street", "district")
_DEADLINE_DAYS = {"grid": 1.0, "community": 3.0, "street": 7.0, "district": 15.0}
_RESOLVE_MEDIAN_H = {"grid": 4.0, "community": 12.0, "street": 36.0, "district": 72.0}
_STAGES = (
    "reported",
    "registered",
    "dispatched",
    "accepted",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "rated",
    "rejected",
    "backlog",
)
_ACTIONS = {
    "reported": "report",
    "registered": "register",
    "dispatched": "dispatch",
    "accepted": "accept",
    "in_progress": "start",
    "resolved": "resolve",
    "verified": "verify",
    "closed": "close",
    "rated": "rate",
    "rejected": "reject",
    "backlog": "backlog",
}
_NOTES = {
    "reported": "事件上报",
    "registered": "核实立案",
    "dispatched": "派遣处置",
    "accepted": "已受理",
    "in_progress": "正在处置",
    "resolved": "处置完毕，反馈结果",
    "verified": "现场核查通过",
    "closed": "结案",
    "rated": "群众评价",
    "rejected": "不予立案",
    "backlog": "短期无法解决，挂账",
}



def make_incidents(
    rng: np.random.Generator,
    today: dt.date,
    households: int,
    categories: pd.DataFrame,
    departments: pd.DataFrame,
    bx: np.ndarray,
    by: np.ndarray,
    b_hh: np.ndarray,
    b_comm: np.ndarray,
    comm_street: np.ndarray,
    comm_codes: np.ndarray,
    street_codes: list[str],
    complexes: gpd.GeoDataFrame,
    b_cx: np.ndarray,
    roster: dict[str, Any],
    to_wgs: Transformer,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """A year of incidents before ``today`` and their events, as far as each has got by then.

    Points are scattered within 25 m of buildings drawn by households (``bx``, ``by`` in UTM 50N);
    the handler follows the level (grid worker, street staff or the district department); the
    ``roster`` comes from :func:`gisgrid.synth.people.make_people`.
    """
    n = max(1, round(households * INCIDENTS_PER_HOUSEHOLD))
    w = b_hh / b_hh.sum()
    bsel = rng.choice(b_hh.size, n, p=w)
    r = 25.0 * np.sqrt(rng.random(n))
    a = rng.uniform(0, 2 * np.pi, n)
    pts = reproject(shapely.points(bx[bsel] + r * np.cos(a), by[bsel] + r * np.sin(a)), to_wgs)
    cw = categories["weight"].to_numpy(float)
    cat = rng.choice(len(categories), n, p=cw / cw.sum())
    cat_code = categories["code"].astype(str).to_numpy(dtype=object)[cat]
    default_level = categories["default_level"].map(_LEVEL_ORDER.index).to_numpy()[cat]
    level_i = np.minimum(default_level + (rng.random(n) < 0.15), 3)
    level = np.asarray(_LEVEL_ORDER, dtype=object)[level_i]
    src_names = np.asarray(list(_INCIDENT_SOURCES_P), dtype=object)
    src_p = np.asarray(list(_INCIDENT_SOURCES_P.values()))
    source = rng.choice(src_names, n, p=src_p / src_p.sum())
    comm = b_comm[bsel]
    street = comm_street[comm]

    # who handles it
    worker = roster["worker_keys"][
        roster["worker_first"][comm] + rng.integers(0, 1 << 30, n) % roster["workers"][comm]
    ]
    chief = roster["chief_keys"][
        roster["chief_first"][comm] + rng.integers(0, 1 << 30, n) % roster["chiefs"][comm]
    ]
    comm_staff = roster["comm_staff"][comm]
    dept_of_cat: dict[str, str] = {}
    for _, d in departments.iterrows():
        for c in d["categories"]:
            dept_of_cat.setdefault(c, d["code"])
    dept = np.array([dept_of_cat.get(c) for c in cat_code], dtype=object)
    district = (level_i == 3) & pd.notna(dept)
    dept_key = np.array([roster["dept_staff"].get(d, -1) for d in dept], dtype=np.int64)
    assignee = np.where(level_i <= 1, worker, roster["street_staff"][street])
    assignee = np.where(district, dept_key, assignee)
    assignee_dept = np.where(district, dept, None)  # type: ignore[call-overload]

    # timeline in seconds since the start of ``today`` (Asia/Shanghai); everything happens before it
    days = rng.integers(1, 366, n)
    hour = np.clip(rng.normal(13.0, 3.5, n), 0.0, 23.99)
    t0 = -days * 86400.0 + hour * 3600.0
    mins, hours = 60.0, 3600.0
    gaps = np.stack(
        [
            rng.uniform(5 * mins, 60 * mins, n),  # registered
            rng.uniform(5 * mins, 60 * mins, n),  # dispatched
            rng.uniform(5 * mins, 2 * hours, n),  # accepted
            rng.uniform(10 * mins, 6 * hours, n),  # in_progress
            np.exp(rng.normal(np.log(np.array([_RESOLVE_MEDIAN_H[lv] for lv in _LEVEL_ORDER])[level_i]), 0.7))
            * hours,  # resolved
            rng.uniform(30 * mins, 24 * hours, n),  # verified
            rng.uniform(5 * mins, 4 * hours, n),  # closed
            rng.uniform(1 * hours, 72 * hours, n),  # rated
        ],
        axis=1,
    )
    slow = rng.random(n) < 0.05  # hard cases that take weeks
    gaps[slow, 4] *= rng.uniform(5.0, 40.0, slow.sum())
    times = np.concatenate([t0[:, None], t0[:, None] + np.cumsum(gaps, axis=1)], axis=1)  # (n, 9)
    stage = np.broadcast_to(np.arange(9), (n, 9)).copy()
    n_stage = np.full(n, 9)
    kind = rng.random(n)
    rejected = kind < 0.03
    backlog = (kind >= 0.03) & (kind < 0.05)
    unrated = (kind >= 0.05) & (kind < 0.20)
    stage[rejected, 1] = _STAGES.index("rejected")
    times[rejected, 1] = t0[rejected] + rng.uniform(10 * mins, 2 * hours, rejected.sum())
    n_stage[rejected] = 2
    stage[backlog, 5] = _STAGES.index("backlog")
    times[backlog, 5] = times[backlog, 4] + rng.uniform(3 * 86400, 10 * 86400, backlog.sum())
    n_stage[backlog] = 6
    n_stage[unrated] = 8
    valid = (np.arange(9)[None, :] < n_stage[:, None]) & (times < 0.0)
    valid = np.cumprod(valid, axis=1).astype(bool)  # a prefix of the path
    last = valid.sum(axis=1) - 1
    rows = np.arange(n)
    stage_names = np.asarray(_STAGES, dtype=object)
    status = stage_names[stage[rows, last]]
    finished = np.isin(status, ["closed", "rated"])
    closed_at = np.where(finished, times[rows, np.minimum(7, last)], np.nan)
    dispatched = (last >= 2) & ~rejected
    deadline = np.where(
        dispatched,
        times[:, 2] + np.array([_DEADLINE_DAYS[lv] for lv in _LEVEL_ORDER])[level_i] * 86400,
        np.nan,
    )
    sat = rng.choice(np.arange(1, 6), n, p=[0.02, 0.03, 0.08, 0.25, 0.62])
    satisfaction = pd.array(np.where(status == "rated", sat, 0), dtype="Int64")
    satisfaction[status != "rated"] = pd.NA

    start = pd.Timestamp(dt.datetime.combine(today, dt.time(0), tzinfo=CHINA_TZ))

    def stamp(sec: np.ndarray) -> pd.DatetimeIndex:
        return start + pd.to_timedelta(np.round(sec), unit="s")

    cx_names = complexes["name"].to_numpy(dtype=object)[b_cx[bsel]]
    cat_names = categories["name"].to_numpy(dtype=object)[cat]
    keys = np.arange(n)
    incidents = gpd.GeoDataFrame(
        {
            "incident_key": keys,
            "idempotency_key": [f"synthetic:incident:{k:07d}" for k in keys],
            "category_code": cat_code,
            "source": source,
            "description": pd.Series(cat_names) + "（" + pd.Series(cx_names) + "附近，合成数据）",
            "reporter_contact": None,
            "reported_at": stamp(t0),
            "grid_code": None,
            "community_code": comm_codes[comm],
            "street_code": np.asarray(street_codes, dtype=object)[street],
            "level": level,
            "assignee_staff_key": pd.array(np.where(dispatched, assignee, -1), dtype="Int64"),
            "assignee_department_code": np.where(dispatched, assignee_dept, None),
            "status": status,
            "deadline_at": stamp(deadline),
            "closed_at": stamp(closed_at),
            "satisfaction": satisfaction,
        },
        geometry=gpd.GeoSeries(pts, crs=WGS84),
    ).rename_geometry("geom")
    incidents.loc[~dispatched, "assignee_staff_key"] = pd.NA

    # events: one per valid stage, in order
    ei, ej = np.nonzero(valid)
    to_st = stage_names[stage[ei, ej]]
    from_st = np.where(ej > 0, stage_names[stage[ei, np.maximum(ej - 1, 0)]], None)  # type: ignore[call-overload]
    actor = np.full(ei.size, -1, dtype=np.int64)
    to_idx = stage[ei, ej]
    by_assignee = np.isin(to_idx, [3, 4, 5, 10])
    actor[by_assignee] = assignee[ei[by_assignee]]
    by_comm = np.isin(to_idx, [1, 2, 7, 9])
    actor[by_comm] = comm_staff[ei[by_comm]]
    actor[to_idx == 6] = chief[ei[to_idx == 6]]
    patrol_report = (to_idx == 0) & (source[ei] == "patrol")
    actor[patrol_report] = worker[ei[patrol_report]]
    events = pd.DataFrame(
        {
            "incident_key": ei,
            "action": pd.Series(to_st).map(_ACTIONS).to_numpy(dtype=object),
            "from_status": from_st,
            "to_status": to_st,
            "actor_staff_key": pd.array(np.where(actor >= 0, actor, 0), dtype="Int64"),
            "at": stamp(times[ei, ej]),
            "note": pd.Series(to_st).map(_NOTES).to_numpy(dtype=object),
        }
    )
    events.loc[actor < 0, "actor_staff_key"] = pd.NA
    assert set(status) <= set(vocab.INCIDENT_STATUSES)
    return incidents, events
