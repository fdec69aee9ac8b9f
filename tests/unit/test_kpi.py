"""KPIs: hand-made frames with known figures, and a year of demo incidents whose groups add up."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from gisgrid.errors import InvalidInputError
from gisgrid.incidents.kpi import COUNT_COLUMNS, SUM_COLUMNS, UNASSIGNED, compute_kpis, rollup
from gisgrid.synth import DemoDistrict, generate_district

TZ = "Asia/Shanghai"
S = "370403002000"
C1, C2 = "370403002001", "370403002002"
G1, G2, G3 = C1 + "001", C1 + "002", C2 + "001"
NOW = pd.Timestamp("2025-05-01 00:00", tz=TZ)
RATES = [
    "completion_rate",
    "on_time_rate",
    "satisfaction_rate",
]


def ts(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text, tz=TZ) if text else pd.NaT


def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [
        # id, grid, community, status, reported, deadline, closed, satisfaction
        (1, G1, C1, "rated", "2025-01-06 09:00", "2025-01-07 17:30", "2025-01-07 12:00", 5),
        (2, G1, C1, "rated", "2025-01-10 09:00", "2025-01-10 17:30", "2025-01-13 15:00", 2),
        (3, G2, C1, "rejected", "2025-02-03 10:00", None, None, None),
        (4, G2, C1, "backlog", "2025-02-10 09:00", "2025-02-11 17:30", None, None),
        (5, G3, C2, "closed", "2025-04-01 09:00", "2025-04-02 17:30", "2025-04-02 10:00", None),
        (6, G3, C2, "in_progress", "2025-04-20 09:00", "2025-04-21 17:30", None, None),
        (7, G3, C2, "dispatched", "2025-05-02 09:00", "2025-05-03 17:30", None, None),  # after NOW
        (8, None, C2, "registered", "2025-04-25 09:00", None, None, None),
    ]
    incidents = pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "grid_code": [r[1] for r in rows],
            "community_code": [r[2] for r in rows],
            "street_code": S,
            "status": [r[3] for r in rows],
            "reported_at": [ts(r[4]) for r in rows],
            "deadline_at": [ts(r[5]) for r in rows],
            "closed_at": [ts(r[6]) for r in rows],
            "satisfaction": pd.array([r[7] for r in rows], dtype="Int64"),
        }
    )
    ev = [
        (1, "resolve", "2025-01-07 10:00", {}),
        (2, "resolve", "2025-01-13 09:00", {}),  # after its deadline
        (4, "whistle", "2025-02-12 09:00", json.dumps({"departments": [8, 9], "kind": "hard_case"})),
        (4, "department_accept", "2025-02-12 09:20", {"department_id": 8, "arrival_minutes": 20.0}),
        (4, "department_accept", "2025-02-12 09:50", {"department_id": 9, "arrival_minutes": 50.0}),
        (5, "escalate", "2025-04-01 15:00", {"level": "community"}),
        (7, "escalate", "2025-05-02 15:00", {}),  # after NOW: ignored
        (99, "whistle", "2025-03-01 09:00", {"departments": [1]}),  # no such incident: ignored
    ]
    events = pd.DataFrame(
        {
            "incident_id": [e[0] for e in ev],
            "action": [e[1] for e in ev],
            "at": [ts(e[2]) for e in ev],
            "data": [e[3] for e in ev],
        }
    )
    return incidents, events


def test_known_figures_by_community() -> None:
    k = compute_kpis(*small(), by="community", now=NOW)
    assert list(k.index) == [C1, C2] and k.index.name == "community"
    c1, c2 = k.loc[C1], k.loc[C2]
    assert (c1.received, c1.rejected, c1.closed, c1.on_time) == (4, 1, 2, 1)
    assert c1.completion_rate == pytest.approx(2 / 3)
    assert c1.on_time_rate == 0.5
    assert c1.hours_to_close_sum == 27 + 78 and c1.mean_hours_to_close == 52.5
    assert (c1.rated, c1.satisfied, c1.satisfaction_rate) == (2, 1, 0.5)
    assert (c1.backlog, c1.overdue_open, c1.escalations) == (1, 0, 0)
    assert (c1.whistles, c1.department_arrivals, c1.mean_department_arrival_minutes) == (2, 2, 35.0)

    assert (c2.received, c2.rejected, c2.closed, c2.on_time) == (3, 0, 1, 1)  # #5 on time by closed_at
    assert c2.completion_rate == pytest.approx(1 / 3)
    assert c2.mean_hours_to_close == 25.0
    assert c2.rated == 0 and math.isnan(c2.satisfaction_rate)
    assert (c2.backlog, c2.overdue_open, c2.escalations, c2.whistles) == (0, 1, 1, 0)
    assert math.isnan(c2.mean_department_arrival_minutes)


def test_groups_periods_and_the_unassigned() -> None:
    inc, ev = small()
    grid = compute_kpis(inc, ev, by="grid", now=NOW)
    assert grid["received"].to_dict() == {G1: 2, G2: 2, G3: 2, UNASSIGNED: 1}
    street = compute_kpis(inc, ev, by="street", now=NOW)
    district = compute_kpis(inc, ev, by="district", now=NOW)
    assert list(district.index) == ["370403000000"]
    for frame in (grid, street):
        pd.testing.assert_frame_equal(
            rollup(frame).reset_index(drop=True), district.reset_index(drop=True), check_dtype=False
        )
    q = compute_kpis(inc, ev, by="community", period="Q", now=NOW)
    assert q["received"].to_dict() == {(C1, "2025Q1"): 4, (C2, "2025Q2"): 3}
    m = compute_kpis(inc, ev, by="community", period="M", now=NOW)
    assert m.loc[C1, "received"].to_dict() == {"2025-01": 2, "2025-02": 2}
    y = compute_kpis(inc, ev, by="street", period="Y", now=NOW)
    assert list(y.index) == [(S, "2025")]
    # without ``now`` the snapshot time is the latest report or event: #7 and its escalation come in
    everything = compute_kpis(inc, ev, by="district")
    assert everything["received"].iloc[0] == 8 and everything["escalations"].iloc[0] == 2


def test_bad_arguments() -> None:
    inc, ev = small()
    with pytest.raises(InvalidInputError) as err:
        compute_kpis(inc, ev, by="province")
    assert err.value.field == "by"
    with pytest.raises(InvalidInputError) as err:
        compute_kpis(inc, ev, by="grid", period="W")
    assert err.value.field == "period"
    with pytest.raises(InvalidInputError) as err:
        compute_kpis(inc, ev, by="grid", now=dt.datetime(2025, 5, 1))
    assert err.value.field == "now"
    naive = inc.assign(reported_at=inc["reported_at"].dt.tz_localize(None))
    with pytest.raises(InvalidInputError) as err:
        compute_kpis(naive, ev, by="grid")
    assert err.value.field == "reported_at"
    with pytest.raises(InvalidInputError) as err:
        compute_kpis(inc.drop(columns=["satisfaction"]), ev, by="grid")
    assert err.value.field == "satisfaction"
    empty = compute_kpis(inc, ev.iloc[0:0], by="community", now=NOW)
    assert empty["whistles"].sum() == 0 and empty["received"].sum() == 7


@pytest.fixture(scope="module")
def district() -> DemoDistrict:
    return generate_district(seed=7, households=20_000, today=dt.date(2025, 12, 31))


@pytest.mark.parametrize("period", [None, "M", "Q"])
def test_a_year_of_demo_incidents_adds_up(district: DemoDistrict, period: str | None) -> None:
    inc, ev = district.incidents, district.incident_events
    now = pd.Timestamp("2025-12-31 00:00", tz=TZ)
    total = compute_kpis(inc, ev, by="district", now=now)
    assert len(total) == 1
    assert total["received"].iloc[0] == len(inc)
    assert total["rejected"].iloc[0] == (inc["status"] == "rejected").sum()
    assert total["closed"].iloc[0] == inc["status"].isin(["closed", "rated"]).sum()
    assert total["backlog"].iloc[0] == (inc["status"] == "backlog").sum()
    assert total["rated"].iloc[0] == inc["satisfaction"].notna().sum()
    for by in ("grid", "community", "street"):
        k = compute_kpis(inc, ev, by=by, period=period, now=now)
        assert k.index.names[0] == by
        for col in (*COUNT_COLUMNS, *SUM_COLUMNS):
            assert k[col].sum() == pytest.approx(total[col].iloc[0]), (by, col)
        for col in RATES:
            values = k[col].dropna()
            assert ((values >= 0) & (values <= 1)).all(), (by, col)
        back = rollup(k)
        for col in (*RATES, "mean_hours_to_close"):
            assert back[col].iloc[0] == pytest.approx(total[col].iloc[0])
        if period is not None:
            per_period = rollup(k, "period")
            assert per_period["received"].sum() == len(inc)
            # the 365 days before 31 Dec 2025 touch 13 months and 5 quarters
            assert len(per_period) == {"M": 13, "Q": 5}[period]
    # the demo's headline figures are plausible
    assert 0.9 < total["completion_rate"].iloc[0] <= 1
    assert 0.7 < total["satisfaction_rate"].iloc[0] <= 1
    assert np.isfinite(total["mean_hours_to_close"].iloc[0])
