"""Residential complex indicators from PostGIS, for the API, the CLI and the choropleth map.

Each complex is read with what :func:`gisgrid.estate.complex_indicators` counts:

* its **community**: ``complex.community_id``, else the community its interior point lies in (a
  complex imported without one is still counted where it is);
* its property company's **credit** (red / normal / black list), when it has a company;
* **who stands in for a 三无 complex**: the current assignments of staff to the complex
  (``assignment.target_kind = 'complex'``) — a street office's staff make it the street's (街道托管),
  a community's staff or its grid chief / worker the community's (社区托管); nobody assigned, no
  fallback (shown, so it can be fixed);
* its **households**: the sum over its buildings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from gisgrid.codes import SIGNIFICANT_DIGITS, area_level, scope_prefix
from gisgrid.errors import InvalidInputError, NotFoundError
from gisgrid.estate import LEVELS, IndicatorTable, complex_indicators
from layers.coverage_inputs import effective_area, today
from layers.kpis import area_names, kpis_to_csv

__all__ = [
    "COMMUNITY_ROLES",
    "STREET_ROLES",
    "indicator_areas",
    "indicator_map_areas",
    "indicators",
    "indicators_csv",
    "read_complex_facts",
]

STREET_ROLES = ("street_staff",)
COMMUNITY_ROLES = ("community_staff", "grid_chief", "grid_worker")

_FACTS_SQL = """
    SELECT x.id, x.name, x.management, x.party_org, x.owners_committee_since, x.red_property,
           COALESCE(c.code, cs.code) AS community_code, pc.credit, x.source,
           COALESCE((SELECT sum(b.households) FROM building b WHERE b.complex_id = x.id), 0) AS households,
           fb.fallback
    FROM complex x
    LEFT JOIN admin_area c ON c.id = x.community_id AND c.level = 'community'
    LEFT JOIN LATERAL (
        SELECT a.code FROM admin_area a
        WHERE c.id IS NULL AND a.level = 'community' AND ST_Intersects(a.geom, ST_PointOnSurface(x.geom))
        ORDER BY a.code LIMIT 1
    ) cs ON TRUE
    LEFT JOIN property_company pc ON pc.id = x.property_company_id
    LEFT JOIN LATERAL (
        SELECT CASE WHEN bool_or(s.role IN :street_roles) THEN 'street'
                    WHEN bool_or(s.role IN :community_roles) THEN 'community' END AS fallback
        FROM assignment a JOIN staff s ON s.id = a.staff_id
        WHERE a.target_kind = 'complex' AND a.target_ref = x.id::text AND s.active
          AND a.valid_from <= :as_of AND (a.valid_to IS NULL OR a.valid_to > :as_of)
    ) fb ON TRUE
    ORDER BY x.id
"""


def read_complex_facts(session: Session, *, as_of: dt.date) -> pd.DataFrame:
    """Every complex with its community code, company credit, fallback manager and households."""
    rows = (
        session.execute(
            text(_FACTS_SQL).bindparams(
                bindparam("street_roles", expanding=True), bindparam("community_roles", expanding=True)
            ),
            {"as_of": as_of, "street_roles": list(STREET_ROLES), "community_roles": list(COMMUNITY_ROLES)},
        )
        .mappings()
        .all()
    )
    return pd.DataFrame(
        [dict(r) for r in rows],
        columns=[
            "id",
            "name",
            "management",
            "party_org",
            "owners_committee_since",
            "red_property",
            "community_code",
            "credit",
            "source",
            "households",
            "fallback",
        ],
    )


def _check_level(level: str, area: str | None) -> None:
    if level not in LEVELS:
        raise InvalidInputError(
            f"level must be one of {', '.join(LEVELS)}",
            field="level",
            feature=level,
            rule="community|street|district",
        )
    if area is not None:
        have = area_level(area, field="code")
        if have == "grid" or SIGNIFICANT_DIGITS[level] < SIGNIFICANT_DIGITS[have]:
            raise InvalidInputError(
                f"a {have} ({area}) cannot be split by {level}: choose a level at or below it",
                field="level",
                feature=level,
                rule="level at or below the area's",
            )


def indicators(
    session: Session,
    *,
    level: str = "community",
    code: str | None = None,
    scope_code: str | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """The indicators of the complexes in ``code`` (default: the caller's scope, or everything),
    one row per area of ``level``, with names and the totals row."""
    area = effective_area(scope_code, code)
    _check_level(level, area)
    if code is not None and area is not None:
        known = session.execute(text("SELECT 1 FROM admin_area WHERE code = :c"), {"c": area}).first()
        if known is None:  # all-empty figures would read like an area with no complexes
            raise NotFoundError(f"no area with code {area}", field="code", feature=area, rule="an existing area")
    day = as_of or today()
    facts = read_complex_facts(session, as_of=day)
    if area is not None:
        prefix = scope_prefix(area, field="code")[:12]
        facts = facts[facts["community_code"].fillna("").astype(str).str.startswith(prefix)]
    table = complex_indicators(facts, level=level, as_of=day, areas=indicator_areas(session, level, area))
    codes = [c for c in table.rows.index if c]
    names = area_names(session, codes + ([area] if area else []))
    return {
        "level": level,
        "as_of": day.isoformat(),
        "area": {"code": area, "name": names.get(area, "") if area else ""},
        "owners_committee_target": float(table.totals["owners_committee_target"]),
        "columns": list(table.rows.columns),
        "rows": table.records(names),
        "totals": table.total_record(),
        "synthetic": bool((facts.get("source", pd.Series(dtype=object)) == "synthetic").any()),
        "definitions": "docs/coverage-maps.md#complex-indicators",
        "_table": table,
    }


def indicator_areas(session: Session, level: str, area: str | None) -> list[str]:
    """Codes of every area of ``level`` under ``area``: each gets a row, with zeros when it has no complex."""
    wanted = {"community": ("community",), "street": ("street", "town"), "district": ("district",)}[level]
    sql = "SELECT code FROM admin_area WHERE level IN :levels"
    params: dict[str, Any] = {"levels": list(wanted)}
    if area is not None:
        sql += " AND code LIKE :prefix"
        params["prefix"] = scope_prefix(area, field="code")[:12] + "%"
    return [
        r[0] for r in session.execute(text(sql).bindparams(bindparam("levels", expanding=True)), params).all()
    ]


def indicators_csv(figures: dict[str, Any]) -> bytes:
    """The rows and the totals as CSV, UTF-8 with a BOM (Excel on Chinese Windows)."""
    totals = {**figures["totals"], "name": "合计 total"}
    return kpis_to_csv(figures["rows"] + [totals], columns=["code", "name", *figures["columns"]])


def indicator_map_areas(session: Session, figures: dict[str, Any]) -> gpd.GeoDataFrame:
    """The polygons of the rows' areas with their figures, for the choropleth."""
    table: IndicatorTable = figures["_table"]
    codes = [c for c in table.rows.index if c]
    areas = gpd.read_postgis(
        text("SELECT code, name, geom FROM admin_area WHERE code = ANY(:codes) ORDER BY code"),
        session.connection(),
        geom_col="geom",
        crs=4326,
        params={"codes": codes},
    )
    return areas.merge(table.rows, left_on="code", right_index=True, how="left")
