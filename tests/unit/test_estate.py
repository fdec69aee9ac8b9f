"""gisgrid.estate: complex indicators add up from community to street to district; shares are
recomputed from the counts; the owners' committee gap to 90 %."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gisgrid.errors import InvalidInputError
from gisgrid.estate import COUNT_COLUMNS, complex_indicators

AS_OF = dt.date(2026, 6, 30)
COMMUNITIES = ["370403001001", "370403001002", "370403002001", "370403002002", "370403002003", "370403101001"]


def complexes(seed: int, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    management = rng.choice(["professional", "self", "none", "unknown"], n, p=[0.6, 0.2, 0.15, 0.05])
    credit = np.where(management == "professional", rng.choice(["red", "normal", "black"], n), None)
    community = rng.choice(np.array([*COMMUNITIES, None], dtype=object), n)
    since = [AS_OF - dt.timedelta(days=int(d)) if d > -200 else None for d in rng.integers(-400, 900, n)]
    return pd.DataFrame({
        "community_code": community, "management": management,
        "party_org": rng.choice(["independent", "joint", "affiliated", "none"], n),
        "owners_committee_since": since, "red_property": rng.random(n) < 0.2, "credit": credit,
        "fallback": np.where(management == "none", rng.choice(np.array(["street", "community", None], dtype=object), n),
                             None),
        "households": rng.integers(50, 3000, n),
    })


@pytest.mark.parametrize("seed", range(5))
def test_communities_add_up_to_streets_and_streets_to_the_district(seed: int) -> None:
    frame = complexes(seed)
    counts = list(COUNT_COLUMNS)
    community = complex_indicators(frame, level="community", as_of=AS_OF)
    street = complex_indicators(frame, level="street", as_of=AS_OF)
    district = complex_indicators(frame, level="district", as_of=AS_OF)
    placed = community.rows.drop(index="")
    by_street = placed[counts].groupby([c[:9] + "000" for c in placed.index]).sum()
    assert by_street.equals(street.rows.drop(index="")[counts])
    assert street.rows.drop(index="")[counts].sum().equals(district.rows.drop(index="")[counts].sum())
    for table in (community, street, district):
        assert table.rows[counts].sum().equals(table.totals[counts].astype(np.int64))
        assert int(table.totals["complexes"]) == len(frame)
        assert table.rows.index[-1] == ""  # complexes in no community: counted, on the last row
    t = district.totals
    # the parts of each whole
    assert t["professional"] + t["self_managed"] + t["unmanaged"] + t["management_unknown"] == t["complexes"]
    assert (t["unmanaged_street_fallback"] + t["unmanaged_community_fallback"] + t["unmanaged_no_fallback"]
            == t["unmanaged"])
    assert t["party_independent"] + t["party_joint"] + t["party_affiliated"] + t["party_none"] == t["complexes"]
    assert t["company_red"] + t["company_normal"] + t["company_black"] == t["with_company"]
    assert t["households"] == frame["households"].sum()


def test_shares_are_recomputed_not_averaged_and_the_gap_to_ninety_percent() -> None:
    frame = pd.DataFrame({
        "community_code": ["370403001001"] * 10 + ["370403001002"] * 2,
        "management": ["professional"] * 12,
        "credit": ["normal"] * 12,
        "party_org": ["joint"] * 12,
        "owners_committee_since": [dt.date(2020, 1, 1)] * 8 + [dt.date(2027, 1, 1), None]
        + [dt.date(2021, 5, 1)] * 2,
        "households": [100] * 12,
    })
    street = complex_indicators(frame, level="street", as_of=AS_OF)
    row = street.rows.loc["370403001000"]
    assert row["owners_committee"] == 10  # the one founded after the day does not count
    assert row["owners_committee_share"] == pytest.approx(10 / 12, abs=1e-4)  # not the mean of 0.8 and 1.0
    assert row["owners_committee_gap"] == 1  # 90 % of 12 is 10.8: 11 needed
    community = complex_indicators(frame, level="community", as_of=AS_OF).rows
    assert community.loc["370403001001", "owners_committee_gap"] == 1
    assert bool(community.loc["370403001002", "owners_committee_meets_target"])


def test_areas_without_complexes_get_a_row_of_zeros() -> None:
    frame = complexes(1).dropna(subset=["community_code"])
    table = complex_indicators(frame[frame["community_code"] != "370403101001"], level="community", as_of=AS_OF,
                               areas=COMMUNITIES)
    empty = table.rows.loc["370403101001"]
    assert empty["complexes"] == 0 and empty["owners_committee_share"] is None
    assert not bool(empty["owners_committee_meets_target"])


def test_bad_level_or_target_is_refused() -> None:
    with pytest.raises(InvalidInputError) as err:
        complex_indicators(complexes(0), level="grid", as_of=AS_OF)
    assert err.value.field == "level"
    with pytest.raises(InvalidInputError):
        complex_indicators(complexes(0), level="street", as_of=AS_OF, target=1.5)
