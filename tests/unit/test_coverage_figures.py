"""gisgrid.coverage figures and rollout, and gisgrid.stations: counts that add up across levels, the complex
rule, the pace projection, and the status history rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gisgrid import vocab
from gisgrid.coverage.figures import KindTotals, area_figures
from gisgrid.coverage.rollout import month_ends, project, statuses_on
from gisgrid.coverage.thresholds import DEFAULT_THRESHOLDS_M, Thresholds
from gisgrid.errors import ConflictError, InvalidInputError
from gisgrid.stations import (
    StatusEvent,
    check_change,
    merge_timeline,
    row_dates,
    status_on,
    timeline,
    to_wgs84_point,
)

T = Thresholds()
COMMUNITIES = ["370403001001", "370403001002", "370403002001"]


def frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 200
    community = rng.choice(COMMUNITIES, n)
    grid = np.array([f"{c}{rng.integers(1, 4):03d}" for c in community], dtype=object)
    grid[:5] = None  # five buildings in no grid
    b = pd.DataFrame({
        "id": np.arange(n), "households": rng.integers(0, 80, n), "complex_id": rng.integers(0, 30, n),
        "community_code": community, "grid_code": grid, "island": rng.random(n) < 0.05,
    })
    for kind in vocab.STATION_KINDS:
        d = rng.uniform(0, 3 * DEFAULT_THRESHOLDS_M[kind], n)
        d[rng.random(n) < 0.2] = np.inf
        b[f"distance_{kind}"] = d
    cx = pd.DataFrame({"id": np.arange(32), "community_code": rng.choice(COMMUNITIES, 32)})  # 30, 31: empty
    st = pd.DataFrame({
        "id": np.arange(40), "kind": rng.choice(vocab.STATION_KINDS, 40),
        "status": rng.choice([*vocab.STATION_STATUSES, None], 40), "complex_id": rng.integers(0, 32, 40),
        "community_code": rng.choice([*COMMUNITIES, None], 40), "grid_code": None,
    })
    return b, cx, st


def counted(columns: list[str]) -> list[str]:
    return [c for c in columns if c not in ("code", "name") and not c.endswith("_share")]


def test_rows_sum_to_totals_and_levels_nest() -> None:
    b, cx, st = frames()
    by = {lv: area_figures(b, cx, st, T, level=lv) for lv in ("grid", "community", "street", "district")}
    cols = counted(by["grid"].columns)
    for fig in by.values():
        for c in cols:
            assert sum(r[c] for r in fig.rows) == fig.totals[c], (fig.level, c)
        assert fig.totals["households"] == b["households"].sum()
        assert fig.totals["complexes"] == len(cx)
        assert sum(fig.totals[f"{k}_stations_{s}"] for k in vocab.STATION_KINDS for s in vocab.STATION_STATUSES) \
            == st["status"].notna().sum()
    community = {r["code"]: r for r in by["community"].rows}
    for code, row in community.items():
        if code is None:
            continue
        inside = area_figures(b, cx, st, T, level="grid", code=code)
        for c in cols:
            assert inside.totals[c] == row[c], (code, c)
            assert sum(r[c] for r in inside.rows) == row[c]
    street = area_figures(b, cx, st, T, level="community", code="370403001000")
    assert [r["code"] for r in street.rows] == COMMUNITIES[:2]


def test_kind_totals_equal_the_figures_totals() -> None:
    b, cx, st = frames(1)
    for code in (None, "370403001000", "370403001002"):
        for kind in ("red_heart_station", "service_station"):
            fig = area_figures(b, cx, st, T, level="district" if code is None else "community", code=code).totals
            opened = st[(st["status"] == "open") & (st["kind"] == "red_heart_station")]["complex_id"]
            got = KindTotals(b, cx, kind=kind, threshold=T.threshold(kind), code=code)(
                b[f"distance_{kind}"].to_numpy(), b["island"].to_numpy(), opened)
            assert got == {"households": fig["households"], "households_covered": fig[f"{kind}_households_covered"],
                           "households_share": fig[f"{kind}_households_share"], "complexes": fig["complexes"],
                           "complexes_covered": fig[f"{kind}_complexes_covered"],
                           "complexes_share": fig[f"{kind}_complexes_share"]}, (code, kind)


def test_complex_rule_and_one_home_per_complex() -> None:
    b = pd.DataFrame({
        "id": [1, 2, 3, 4], "households": [100, 20, 30, 0], "complex_id": [7, 7, 8, 8],
        "community_code": ["370403001001"] * 4,
        "grid_code": ["370403001001001", "370403001001002", "370403001001002", "370403001001002"],
        "island": [False, False, False, False],
    })
    for kind in vocab.STATION_KINDS:
        b[f"distance_{kind}"] = np.inf
    b.loc[:, "distance_red_heart_station"] = [90.0, 120.0, 50.0, 500.0]  # the empty building does not count
    cx = pd.DataFrame({"id": [7, 8, 9], "community_code": ["370403001001"] * 3})
    st = pd.DataFrame({"id": [1], "kind": ["red_heart_station"], "status": ["open"], "complex_id": [9],
                       "community_code": ["370403001001"], "grid_code": [None]})
    fig = area_figures(b, cx, st, T, level="grid")
    rows = {r["code"]: r for r in fig.rows}
    # complex 7 lives in grid 001 (its biggest building) though a building of it is in 002
    assert rows["370403001001001"]["complexes"] == 1
    assert rows["370403001001002"]["complexes"] == 1
    assert rows[None]["complexes"] == 1  # complex 9 has no buildings: no grid
    assert fig.totals["red_heart_station_complexes_covered"] == 2  # 8 by distance, 9 by its station
    assert fig.totals["red_heart_station_households_covered"] == 130
    assert fig.totals["red_heart_station_households_share"] == pytest.approx(130 / 150)


def test_level_coarser_than_the_area_is_refused() -> None:
    b, cx, st = frames()
    with pytest.raises(InvalidInputError) as info:
        area_figures(b, cx, st, T, level="street", code="370403001001")
    assert info.value.field == "level"


def test_month_ends_end_on_the_day_asked() -> None:
    assert month_ends(dt.date(2025, 11, 5), dt.date(2026, 2, 10)) == [
        dt.date(2025, 11, 30), dt.date(2025, 12, 31), dt.date(2026, 1, 31), dt.date(2026, 2, 10)]


def test_projection_rising_flat_and_reached() -> None:
    days = month_ends(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    rising = project(list(zip(days, [0.4, 0.45, 0.5, 0.55, 0.6, 0.65], strict=True)), months=6,
                     target_date=dt.date(2026, 12, 31))
    assert rising.pace_per_month == pytest.approx(0.05, rel=0.05)
    assert dt.date(2027, 1, 1) <= rising.reaches_on <= dt.date(2027, 1, 31)  # 7 more months
    assert not rising.on_track
    flat = project(list(zip(days, [0.5, 0.6, 0.6, 0.6, 0.6, 0.6], strict=True)), months=4,
                   target_date=dt.date(2026, 12, 31))
    assert flat.reaches_on is None and flat.message == "never at this pace"
    done = project(list(zip(days, [0.5, 1.0, 1.0, 1.0, 1.0, 1.0], strict=True)), months=3,
                   target_date=dt.date(2026, 12, 31))
    assert done.reached and done.on_track and done.reaches_on == days[1]


def test_statuses_on_a_day() -> None:
    h = pd.DataFrame({"station_id": [1, 1, 1, 2, 2], "status": ["planned", "building", "open", "planned", "closed"],
                      "since": [dt.date(2025, 1, 1), dt.date(2025, 3, 1), dt.date(2025, 3, 1), dt.date(2025, 6, 1),
                                dt.date(2025, 7, 1)], "seq": [1, 2, 3, 4, 5]})
    assert statuses_on(h, dt.date(2024, 12, 31)).empty
    assert statuses_on(h, dt.date(2025, 3, 1)).to_dict() == {1: "open"}
    assert statuses_on(h, dt.date(2025, 7, 1)).to_dict() == {1: "open", 2: "closed"}


TODAY = dt.date(2026, 12, 2)


def test_timeline_from_dates() -> None:
    dates = {"planned_on": dt.date(2025, 1, 1), "building_since": dt.date(2025, 2, 1), "opened_on": dt.date(2025, 5, 1)}
    events = timeline(None, dates, today=TODAY)
    assert [e.status for e in events] == ["planned", "building", "open"]
    assert row_dates(events)["status"] == "open"
    assert timeline(None, {}, today=TODAY) == [StatusEvent(TODAY, "planned")]
    for bad, field in (
        ({"planned_on": dt.date(2025, 3, 1), "opened_on": dt.date(2025, 2, 1)}, "opened_on"),
        ({"opened_on": dt.date(2027, 1, 1)}, "opened_on"),
    ):
        with pytest.raises(InvalidInputError) as info:
            timeline(None, bad, today=TODAY)
        assert info.value.field == field
    with pytest.raises(InvalidInputError) as info:
        timeline("open", {"planned_on": dt.date(2025, 1, 1)}, today=TODAY)
    assert info.value.field == "opened_on"
    with pytest.raises(InvalidInputError):
        timeline("building", {"building_since": dt.date(2025, 1, 1), "closed_on": dt.date(2025, 5, 1)}, today=TODAY)


def test_changes_move_forward_with_dates_in_order() -> None:
    last = StatusEvent(dt.date(2026, 3, 1), "open")
    assert check_change(last, "closed", dt.date(2026, 3, 1), today=TODAY).status == "closed"
    with pytest.raises(InvalidInputError) as info:
        check_change(last, "closed", dt.date(2026, 2, 28), today=TODAY)
    assert (info.value.field, info.value.rule) == ("since", "since ≥ the previous change's date")
    with pytest.raises(ConflictError):
        check_change(last, "building", dt.date(2026, 4, 1), today=TODAY)
    with pytest.raises(ConflictError):
        check_change(last, "open", dt.date(2026, 4, 1), today=TODAY)
    reopened = [StatusEvent(dt.date(2025, 1, 1), "open"), StatusEvent(dt.date(2025, 6, 1), "closed"),
                check_change(StatusEvent(dt.date(2025, 6, 1), "closed"), "open", dt.date(2025, 9, 1), today=TODAY)]
    row = row_dates(reopened)
    assert (row["status"], row["opened_on"], row["closed_on"]) == ("open", dt.date(2025, 9, 1), None)
    assert status_on(reopened, dt.date(2025, 7, 1)) == "closed"


def test_a_reimport_only_adds_later_changes() -> None:
    history = [StatusEvent(dt.date(2025, 1, 1), "planned"), StatusEvent(dt.date(2025, 2, 1), "building")]
    later = [*history, StatusEvent(dt.date(2025, 4, 1), "open")]
    assert merge_timeline(history, later) == [StatusEvent(dt.date(2025, 4, 1), "open")]
    assert merge_timeline(history, history) == []
    with pytest.raises(InvalidInputError) as info:
        merge_timeline(history, [StatusEvent(dt.date(2025, 1, 1), "planned"),
                                 StatusEvent(dt.date(2025, 1, 15), "building")], feature="S1")
    assert info.value.field == "building_since" and info.value.feature == "S1"
    with pytest.raises(InvalidInputError) as info:
        merge_timeline(later, history)
    assert info.value.field == "status"


def test_points_swapped_and_converted() -> None:
    with pytest.raises(InvalidInputError) as info:
        to_wgs84_point(34.80, 117.26)
    assert info.value.field == "lat" and "swapped" in info.value.message
    with pytest.raises(InvalidInputError) as info:
        to_wgs84_point(117.26, 34.80, "epsg:3857")
    assert info.value.field == "crs"
    x, y = to_wgs84_point(117.266, 34.798, "gcj02")
    assert 0.001 < abs(x - 117.266) + abs(y - 34.798) < 0.02


def test_a_split_building_counts_part_by_part_in_its_grids() -> None:
    b, cx, st = frames()
    community = b.loc[10, "community_code"]
    g1, g2 = community + "001", community + "002"
    b.loc[10, ["households", "grid_code", "island"]] = [900, g1, False]
    for kind in vocab.STATION_KINDS:
        b.loc[10, f"distance_{kind}"] = 0.0  # covered by every kind
    parts = pd.DataFrame({"building": [10, 10], "households": [450, 450], "grid_code": [g2, g1]})
    whole = {r["code"]: r for r in area_figures(b, cx, st, T, level="grid").rows}
    split = {r["code"]: r for r in area_figures(b, cx, st, T, level="grid", parts=parts).rows}
    assert split[g1]["households"] == whole[g1]["households"] - 450
    assert split[g2]["households"] == whole[g2]["households"] + 450
    assert split[g2]["service_centre_households_covered"] == whole[g2]["service_centre_households_covered"] + 450
    # the building is still one building, in its own grid
    assert split[g1]["buildings"] == whole[g1]["buildings"] and split[g2]["buildings"] == whole[g2]["buildings"]
    totals = area_figures(b, cx, st, T, level="grid", parts=parts).totals
    assert totals == area_figures(b, cx, st, T, level="grid").totals
    assert area_figures(b, cx, st, T, level="community", parts=parts).totals == totals
