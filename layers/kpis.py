"""Case-handling KPIs from PostGIS: read a scope and period of ``incident`` / ``incident_event``, hand them to
the pure core :func:`gisgrid.incidents.kpi.compute_kpis` / :func:`gisgrid.incidents.kpi.rollup` (definitions in
``docs/incidents.md``, "KPIs").

What is read
------------
* incidents **reported** in ``[start, end)`` (a cohort view, as the core counts them), with the
  group codes the core expects: ``grid_code`` (stored on the incident: the grid valid at report
  time), ``community_code`` (from ``community_id``), ``street_code`` (from ``street_id``, else the
  first 9 digits of the community code + ``000``) and ``district_code`` (the first 6 digits of the
  finest code + ``000000``);
* of their events only those the KPIs count: ``resolve``, ``escalate``, ``whistle`` and
  ``department_accept`` (with ``data``).

Scope
-----
``scope_code`` is a user's area (12-digit code; ``None`` = everything) with the meaning of
:func:`gisgrid.codes.in_scope`: a district covers the cases whose area code shares its first 6
digits, a street the first 9, a community all 12 (its grids included). A case's area is its grid
code, else its community code, else its street code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Mapping
from typing import Any, Final

import geopandas as gpd
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ_NAME, scope_prefix
from gisgrid.errors import InvalidInputError
from gisgrid.incidents import kpi

__all__ = [
    "KPI_EVENT_ACTIONS",
    "area_names",
    "compute",
    "kpis_to_csv",
    "kpis_to_records",
    "load_frames",
    "load_heatmap_layers",
    "scope_condition",
]

TZ: Final = CHINA_TZ_NAME
KPI_EVENT_ACTIONS: Final = ("resolve", "escalate", "whistle", "department_accept")

# The area codes of a case. ``c`` and ``s`` are the community and street rows of admin_area.
STREET_CODE_SQL: Final = (
    "COALESCE(s.code, CASE WHEN c.code IS NOT NULL THEN substr(c.code, 1, 9) || '000' END)"
)
AREA_CODE_SQL: Final = f"COALESCE(i.grid_code, c.code, {STREET_CODE_SQL})"
AREA_JOINS: Final = (
    "LEFT JOIN admin_area c ON c.id = i.community_id LEFT JOIN admin_area s ON s.id = i.street_id"
)


def scope_condition(scope_code: str | None, *, param: str = "scope_prefix") -> tuple[str, dict[str, Any]]:
    """A SQL condition (over :data:`AREA_JOINS`) limiting incidents ``i`` to ``scope_code``.

    ``("TRUE", {})`` for no scope. The prefix test is exactly :func:`gisgrid.codes.in_scope`:
    street codes are 001–399 and community codes 001+, so a coarser area never shares a finer prefix.
    """
    if scope_code is None:
        return "TRUE", {}
    return f"{AREA_CODE_SQL} LIKE :{param}", {param: scope_prefix(scope_code, field="scope") + "%"}


def _aware(value: dt.datetime | dt.date | None, name: str) -> dt.datetime | None:
    """A date is the start of that day in Asia/Shanghai; a datetime must be aware."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        return pd.Timestamp(value).tz_localize(TZ).to_pydatetime()
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{name} must be timezone-aware", field=name, rule="aware datetime")
    return value


_INCIDENTS_SQL = f"""
    SELECT i.id, i.status, i.category_code, i.level, i.reported_at, i.deadline_at, i.closed_at,
           i.satisfaction, i.grid_code,
           c.code AS community_code,
           {STREET_CODE_SQL} AS street_code
    FROM incident i {AREA_JOINS}
    WHERE {{where}}
    ORDER BY i.id
"""
_EVENTS_SQL = f"""
    SELECT e.incident_id, e.action, e.at, e.data
    FROM incident_event e
    JOIN incident i ON i.id = e.incident_id {AREA_JOINS}
    WHERE e.action IN ('resolve', 'escalate', 'whistle', 'department_accept') AND {{where}}
    ORDER BY e.id
"""


def _scope_and_period(scope_code: str | None, start: Any, end: Any) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions (alias ``i`` = incident) for the caller's area and ``start <= reported_at < end``."""
    start_at, end_at = _aware(start, "from"), _aware(end, "to")
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidInputError(
            "the period is empty: 'to' must be after 'from'", field="to", feature=str(end), rule="from < to"
        )
    where, params = scope_condition(scope_code)
    conditions = [where]
    if start_at is not None:
        conditions.append("i.reported_at >= :start_at")
        params["start_at"] = start_at
    if end_at is not None:
        conditions.append("i.reported_at < :end_at")
        params["end_at"] = end_at
    return conditions, params


def load_frames(
    session: Session,
    *,
    scope_code: str | None = None,
    start: dt.datetime | dt.date | None = None,
    end: dt.datetime | dt.date | None = None,
    category: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The incidents reported in ``[start, end)`` inside ``scope_code`` and their KPI events.

    Dates are whole days in Asia/Shanghai (``end`` exclusive: pass the day after the last one).
    Returns ``(incidents, events)`` with the columns :func:`gisgrid.incidents.kpi.compute_kpis` reads, the
    datetimes timezone-aware.
    """
    conditions, params = _scope_and_period(scope_code, start, end)
    if category is not None:
        conditions.append("i.category_code LIKE :category")
        params["category"] = category + "%"
    clause = " AND ".join(conditions)
    conn = session.connection()
    incidents = pd.DataFrame(
        conn.execute(text(_INCIDENTS_SQL.format(where=clause)), params).mappings().all(),
        columns=[
            "id",
            "status",
            "category_code",
            "level",
            "reported_at",
            "deadline_at",
            "closed_at",
            "satisfaction",
            "grid_code",
            "community_code",
            "street_code",
        ],
    )
    events = pd.DataFrame(
        conn.execute(text(_EVENTS_SQL.format(where=clause)), params).mappings().all(),
        columns=["incident_id", "action", "at", "data"],
    )
    for col in ("reported_at", "deadline_at", "closed_at"):
        incidents[col] = pd.to_datetime(incidents[col], utc=True).dt.tz_convert(TZ)
    events["at"] = pd.to_datetime(events["at"], utc=True).dt.tz_convert(TZ)
    incidents["satisfaction"] = pd.to_numeric(incidents["satisfaction"], errors="coerce")
    return incidents, events


def compute(
    session: Session,
    *,
    by: str,
    period: str | None = None,
    scope_code: str | None = None,
    start: dt.datetime | dt.date | None = None,
    end: dt.datetime | dt.date | None = None,
    now: dt.datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KPIs by ``by`` (and ``period``) and their totals (one row per period, or one ``total`` row).

    ``now`` is the snapshot time (default: the current time): open cases past their deadline then
    count as overdue, and later events are ignored.
    """
    if by not in kpi.GROUP_LEVELS:
        raise InvalidInputError(
            f"by must be one of {', '.join(kpi.GROUP_LEVELS)}", field="by", feature=by, rule="one of"
        )
    if period is not None and period not in kpi.PERIODS:
        raise InvalidInputError(
            f"period must be one of {', '.join(kpi.PERIODS)}", field="period", feature=period, rule="one of"
        )
    incidents, events = load_frames(session, scope_code=scope_code, start=start, end=end)
    snapshot = _aware(now, "now") or dt.datetime.now(dt.UTC)
    table = kpi.compute_kpis(incidents, events, by=by, period=period, now=snapshot)
    totals = kpi.rollup(table, "period" if period is not None else None)
    return table, totals


def area_names(session: Session, codes: list[str]) -> dict[str, str]:
    """Names of admin areas (12-digit codes) and grids (15-digit codes, current version) by code."""
    areas = [c for c in codes if len(c) == 12]
    grids = [c for c in codes if len(c) == 15]
    names: dict[str, str] = {}
    if areas:
        rows = session.execute(
            text("SELECT code, name FROM admin_area WHERE code = ANY(:codes)"), {"codes": areas}
        )
        names.update({r.code: r.name for r in rows})
    if grids:
        rows = session.execute(
            text(
                "SELECT DISTINCT ON (code) code, COALESCE(name, code) AS name FROM grid"
                " WHERE code = ANY(:codes) ORDER BY code, (valid_to IS NULL) DESC, version DESC"
            ),
            {"codes": grids},
        )
        names.update({r.code: r.name for r in rows})
    return names


def _plain(value: Any) -> Any:
    """A JSON/CSV value: NaN → None, numpy scalars → Python numbers."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def kpis_to_records(
    table: pd.DataFrame, *, names: Mapping[str, str] | None = None, code_key: str = "code"
) -> list[dict[str, Any]]:
    """Rows of a KPI frame as dicts: the group code (and ``name``, ``period``) then every column."""
    flat = table.reset_index()
    index_cols = [c for c in flat.columns if c not in table.columns]
    out = []
    for row in flat.itertuples(index=False):
        rec = dict(zip(flat.columns, row, strict=True))
        item: dict[str, Any] = {}
        for col in index_cols:
            if col != "period":
                item[code_key] = _plain(rec[col])
        if names is not None:
            item["name"] = names.get(str(item.get(code_key)), "")
        if "period" in index_cols:
            item["period"] = _plain(rec["period"])
        item.update({c: _plain(rec[c]) for c in table.columns})
        out.append(item)
    return out


def kpis_to_csv(records: list[dict[str, Any]], *, columns: list[str] | None = None) -> bytes:
    """UTF-8 CSV **with a BOM** (Excel on Chinese Windows reads BOM-less UTF-8 as GBK) and CRLF lines.

    Rates are written as fractions with 6 decimals, sums with 3; empty for an undefined rate.
    """
    cols = columns or (list(records[0]) if records else [])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(cols)
    for rec in records:
        row = []
        for c in cols:
            v = rec.get(c)
            if v is None:
                row.append("")
            elif isinstance(v, float):
                row.append(f"{v:.6f}" if c.endswith("_rate") else f"{v:.3f}")
            else:
                row.append(str(v))
        writer.writerow(row)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def load_heatmap_layers(
    session: Session,
    *,
    scope_code: str | None = None,
    start: dt.datetime | dt.date | None = None,
    end: dt.datetime | dt.date | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """The heat map's inputs: incident points and the communities of the scope, and whether synthetic.

    Keys ``incidents`` (``id``, ``category_code``, ``reported_at``, point geometry), ``communities``
    (``code``, ``name``, polygons) — both EPSG:4326 — and ``synthetic`` (any demo row among them).
    ``category`` is a 5-digit code or a code prefix (``"06"`` for the class 市容环境).
    """
    conditions, params = _scope_and_period(scope_code, start, end)
    if category:
        if not (category.isdigit() and 1 <= len(category) <= 5):
            raise InvalidInputError(
                "category is a 5-digit category code or its leading digits (e.g. 06 for a class)",
                field="category",
                feature=category,
                rule="digits",
            )
        conditions.append("i.category_code LIKE :category")
        params["category"] = category + "%"
    conn = session.connection()
    incidents = gpd.read_postgis(
        text(
            "SELECT i.id, i.category_code, i.reported_at,"
            " (i.idempotency_key LIKE 'synthetic:%') AS synthetic, i.geom"
            f" FROM incident i {AREA_JOINS} WHERE {' AND '.join(conditions)} ORDER BY i.id"
        ),
        conn,
        geom_col="geom",
        crs=4326,
        params=params,
    )
    area_where, area_params = "TRUE", {}
    if scope_code is not None:
        prefix = scope_prefix(scope_code)[:12]
        area_where, area_params = "code LIKE :area_prefix", {"area_prefix": prefix + "%"}
    communities = gpd.read_postgis(
        text(f"SELECT code, name, source, geom FROM admin_area WHERE level = 'community' AND {area_where}"
             " ORDER BY code"),
        conn,
        geom_col="geom",
        crs=4326,
        params=area_params,
    )
    synthetic = bool(incidents["synthetic"].any()) or bool((communities["source"] == "synthetic").any())
    return {"incidents": incidents, "communities": communities, "synthetic": synthetic}
