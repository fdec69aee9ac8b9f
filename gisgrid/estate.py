"""Residential complex (物业小区) indicators by community, street and district.

What a street's leaders are asked about their complexes:

* **who manages them** — a professional property company, the owners themselves, or nobody
  (三无小区, "three-without" complexes: no company, no owners' committee, no competent department),
  and for a 三无 complex, who stands in: the street (街道托管) or the community (社区托管);
* **owners' committees** (业委会) — the share of complexes that have one, against a target of 90 %;
* **party organisation** coverage — set up independently (独立建), jointly with neighbours (联合建) or
  affiliated to another body (挂靠建);
* **the property companies' credit** — complexes whose company is on the red list, normal or on the
  black list.

Every figure is a *count of complexes* (and households), so the numbers add up: a street's row is
the sum of its communities' rows, the district's the sum of its streets' (plus complexes that lie in
no community, reported on a row of their own rather than dropped). Shares are recomputed from the
summed counts at each level, never averaged.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gisgrid.errors import InvalidInputError

__all__ = [
    "COUNT_COLUMNS",
    "LEVELS",
    "OWNERS_COMMITTEE_TARGET",
    "SHARE_COLUMNS",
    "IndicatorTable",
    "area_code_at",
    "complex_indicators",
]

OWNERS_COMMITTEE_TARGET = 0.90
LEVELS = ("community", "street", "district")
FALLBACKS = ("street", "community")

COUNT_COLUMNS: tuple[str, ...] = (
    "complexes",
    "households",
    "professional",
    "self_managed",
    "unmanaged",
    "management_unknown",
    "unmanaged_street_fallback",
    "unmanaged_community_fallback",
    "unmanaged_no_fallback",
    "owners_committee",
    "party_independent",
    "party_joint",
    "party_affiliated",
    "party_none",
    "with_company",
    "company_red",
    "company_normal",
    "company_black",
    "red_property",
)
#: share column → (numerator columns, denominator column)
SHARE_COLUMNS: dict[str, tuple[tuple[str, ...], str]] = {
    "professional_share": (("professional",), "complexes"),
    "unmanaged_share": (("unmanaged",), "complexes"),
    "owners_committee_share": (("owners_committee",), "complexes"),
    "party_org_share": (("party_independent", "party_joint", "party_affiliated"), "complexes"),
    "company_black_share": (("company_black",), "with_company"),
}


def area_code_at(community_code: str | None, level: str) -> str | None:
    """The 12-digit code of the ``level`` area a community lies in (None for no community)."""
    if community_code is None or (isinstance(community_code, float) and math.isnan(community_code)):
        return None
    code = str(community_code)
    if level == "community":
        return code
    if level == "street":
        return code[:9] + "000"
    return code[:6] + "000000"


def _flags(complexes: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """One row per complex, one 0/1 column per counted fact (and its households)."""
    n = len(complexes)

    def col(name: str, default: object = None) -> pd.Series:
        return complexes[name] if name in complexes else pd.Series([default] * n, index=complexes.index)

    management = col("management", "unknown").fillna("unknown").astype(str)
    party = col("party_org", "none").fillna("none").astype(str)
    credit = col("credit").astype(object)
    fallback = col("fallback").astype(object)
    since = pd.to_datetime(col("owners_committee_since"), errors="coerce")
    unmanaged = management == "none"
    flags = {
        "complexes": np.ones(n, dtype=np.int64),
        "households": pd.to_numeric(col("households", 0), errors="coerce").fillna(0).to_numpy(dtype=np.int64),
        "professional": management == "professional",
        "self_managed": management == "self",
        "unmanaged": unmanaged,
        "management_unknown": ~management.isin(["professional", "self", "none"]),
        "unmanaged_street_fallback": unmanaged & (fallback == "street"),
        "unmanaged_community_fallback": unmanaged & (fallback == "community"),
        "unmanaged_no_fallback": unmanaged & ~fallback.isin(FALLBACKS),
        "owners_committee": since.notna() & (since <= pd.Timestamp(as_of)),
        "party_independent": party == "independent",
        "party_joint": party == "joint",
        "party_affiliated": party == "affiliated",
        "party_none": ~party.isin(["independent", "joint", "affiliated"]),
        "with_company": credit.notna(),
        "company_red": credit == "red",
        "company_normal": credit == "normal",
        "company_black": credit == "black",
        "red_property": col("red_property", False).fillna(False).astype(bool),
    }
    return pd.DataFrame({k: np.asarray(v, dtype=np.int64) for k, v in flags.items()}, index=complexes.index)


def _shares(counts: pd.DataFrame, target: float) -> pd.DataFrame:
    out = counts.copy()
    for name, (numerators, denominator) in SHARE_COLUMNS.items():
        num = counts[list(numerators)].sum(axis=1).astype(float)
        den = counts[denominator].astype(float)
        out[name] = (num / den.where(den > 0)).round(4).astype(object).where(den > 0, None)
    need = np.ceil(target * counts["complexes"].to_numpy(dtype=float) - 1e-9).astype(np.int64)
    out["owners_committee_target"] = target
    out["owners_committee_gap"] = np.maximum(0, need - counts["owners_committee"].to_numpy(dtype=np.int64))
    out["owners_committee_meets_target"] = (counts["complexes"] > 0) & (out["owners_committee_gap"] == 0)
    return out


@dataclass(frozen=True)
class IndicatorTable:
    """Indicators per area of one level (``rows``, indexed by area code; a complex in no community
    falls on the row whose code is None) and the ``totals`` over every row."""

    level: str
    rows: pd.DataFrame
    totals: pd.Series

    def records(self, names: dict[str, str] | None = None) -> list[dict[str, object]]:
        names = names or {}
        out = []
        for code, row in self.rows.iterrows():
            key = None if code == "" else str(code)
            out.append({"code": key, "name": names.get(key, "") if key else "", **_plain(row)})
        return out

    def total_record(self) -> dict[str, object]:
        return {"code": "total", "name": "", **_plain(self.totals)}


def _plain(row: pd.Series) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in row.items():
        if isinstance(value, np.generic):
            value = value.item()
        out[str(key)] = value
    return out


def complex_indicators(
    complexes: pd.DataFrame,
    *,
    level: str = "community",
    as_of: dt.date,
    target: float = OWNERS_COMMITTEE_TARGET,
    areas: Sequence[str] | None = None,
) -> IndicatorTable:
    """Indicators of ``complexes`` grouped by ``level``.

    ``complexes`` has one row per complex: ``community_code`` (12 digits or None), ``management``,
    ``party_org``, ``owners_committee_since``, ``red_property``, ``credit`` (of its property company,
    None without one), ``fallback`` (who stands in for a 三无 complex: street / community / None) and
    ``households``. ``areas`` lists area codes that get a row even without complexes (zeros).
    """
    if level not in LEVELS:
        raise InvalidInputError(
            f"level must be one of {', '.join(LEVELS)}, not {level!r}",
            field="level",
            feature=level,
            rule="community|street|district",
        )
    if not 0 < target <= 1:
        raise InvalidInputError(
            "the owners' committee target is a share in (0, 1]", field="target", rule="0 < target <= 1"
        )
    flags = _flags(complexes, as_of)
    codes = (
        complexes["community_code"]
        if "community_code" in complexes
        else pd.Series(None, index=complexes.index)
    )
    flags["area"] = [area_code_at(c, level) or "" for c in codes]
    counts = flags.groupby("area", sort=True)[list(COUNT_COLUMNS)].sum()
    if areas:
        counts = counts.reindex(sorted(set(counts.index) | set(areas)), fill_value=0)
    counts = counts.astype(np.int64)
    if "" in counts.index:  # complexes in no community: their own row, last
        counts = pd.concat([counts.drop(index=""), counts.loc[[""]]])
    totals = _shares(counts.sum().to_frame().T, target).iloc[0]
    return IndicatorTable(level, _shares(counts, target), totals)
