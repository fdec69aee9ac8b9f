"""Case-handling KPIs by grid, community, street or district and by period — JSON, CSV — and the
incident heat map page.

* ``GET /api/v1/kpis?by=community&period=M&from=2025-01-01&to=2025-12-31`` — JSON;
* ``GET /api/v1/kpis.csv?...`` — the same figures as CSV, UTF-8 **with a BOM** so that Excel on a
  Chinese Windows opens the names correctly;
* ``GET /map/incidents?category=06&from=...&to=...&lang=en`` — a heat map of where cases cluster.

Who: ``leader``, ``dispatcher`` and ``admin``. Everyone but admins sees only their area
(``scope_area``): the cases whose grid / community / street lies inside it.

The figures are those of :func:`gisgrid.incidents.kpi.compute_kpis` (definitions in ``docs/incidents.md``,
"KPIs"): a cohort view by report date, so a case reported in March counts in March even when it
closed in April; counts and sums of the groups add up to the totals; rates are recomputed from
counts (null when the denominator is 0). ``from`` and ``to`` are whole days in Asia/Shanghai, both
included; without them the last 365 days up to today.

The map page needs a login like the API (it shows where incidents are): a bearer token, or the browser
session of ``/login`` (without one the browser is sent to the login page; ``api/session.py``). It draws
from the vendored leaflet.heat, never a CDN.

Wiring (``api/main.py``): ``app.include_router(kpis.router)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import CurrentUser, SessionDep, require_roles, scope_of
from api.pages import static_url_for
from api.schemas import ErrorResponse
from gisgrid.codes import CHINA_TZ
from gisgrid.maps import Basemap, Language, build_incident_heatmap, render_html
from layers import kpis as lk

router = APIRouter(tags=["kpis"])

READERS = ("admin", "leader", "dispatcher")
KpiReaderDep = Annotated[CurrentUser, Depends(require_roles(*READERS))]
TZ = CHINA_TZ
DEFAULT_DAYS = 365
CSV_MEDIA = "text/csv; charset=utf-8"

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no or invalid token"},
    403: {"model": ErrorResponse, "description": "not a leader, dispatcher or admin"},
    422: {"model": ErrorResponse, "description": "unknown grouping or period, or 'to' before 'from'"},
}

ByQuery = Annotated[
    Literal["grid", "community", "street", "district"],
    Query(description="group by grid (15-digit code), community, street or district"),
]
PeriodQuery = Annotated[
    Literal["M", "Q", "Y"] | None,
    Query(description="per month, quarter or year of the report date; omit for the whole window"),
]
FromQuery = Annotated[
    dt.date | None, Query(alias="from", description="first day (Asia/Shanghai), default 365 days ago")
]
ToQuery = Annotated[dt.date | None, Query(alias="to", description="last day, included; default today")]


def window(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """``(from, to)`` both included, with the defaults filled in."""
    last = end or dt.datetime.now(TZ).date()
    first = start or (last - dt.timedelta(days=DEFAULT_DAYS - 1))
    return first, last


def _figures(
    session: SessionDep, user: CurrentUser, by: str, period: str | None, start: dt.date | None, end: dt.date | None
) -> dict[str, Any]:
    first, last = window(start, end)
    now = dt.datetime.now(TZ)
    scope = scope_of(user)
    table, totals = lk.compute(
        session, by=by, period=period, scope_code=scope, start=first, end=last + dt.timedelta(days=1), now=now
    )
    codes = [str(c) for c in table.index.get_level_values(0).unique()]
    names = lk.area_names(session, codes + ([scope] if scope else []))
    rows = lk.kpis_to_records(table, names=names)
    total_rows = lk.kpis_to_records(totals)
    for row in total_rows:
        row["code"] = "total"
    return {
        "by": by,
        "period": period,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "now": now.isoformat(timespec="seconds"),
        "scope": {"code": scope, "name": names.get(scope, "")} if scope else None,
        "columns": list(table.columns),
        "rows": rows,
        "totals": total_rows,
        "definitions": "docs/incidents.md#kpis",
    }


@router.get(
    "/api/v1/kpis",
    summary="Case-handling KPIs by grid, community, street or district and period (JSON)",
    responses=RESPONSES,
)
def read_kpis(
    session: SessionDep,
    user: KpiReaderDep,
    by: ByQuery = "community",
    period: PeriodQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
) -> dict[str, Any]:
    """One row per group (and period): received, closed, completion rate, on-time rate, mean hours to
    close, satisfaction rate (rated 4–5), backlog, overdue, escalations, whistles and department
    arrival minutes, with ``totals`` (per period, or one row). Sums of the rows equal the totals.
    """
    return _figures(session, user, by, period, start, end)


@router.get(
    "/api/v1/kpis.csv",
    summary="The same KPIs as CSV (UTF-8 with BOM, for Excel)",
    response_class=Response,
    responses={200: {"content": {CSV_MEDIA: {}}, "description": "CSV with a header row"}, **RESPONSES},
)
def read_kpis_csv(
    session: SessionDep,
    user: KpiReaderDep,
    by: ByQuery = "community",
    period: PeriodQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
) -> Response:
    """Columns ``code, name, [period,]`` then every KPI; the totals close the file with code ``total``."""
    fig = _figures(session, user, by, period, start, end)
    head = ["code", "name", *(["period"] if period else []), *fig["columns"]]
    for row in fig["totals"]:
        row["name"] = "合计 total"
    body = lk.kpis_to_csv(fig["rows"] + fig["totals"], columns=head)
    filename = f"kpis_{by}_{period or 'all'}_{fig['from']}_{fig['to']}.csv"
    return Response(
        body, media_type=CSV_MEDIA, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/map/incidents",
    response_class=HTMLResponse,
    summary="Incident heat map by category and period (leader, dispatcher, admin)",
    responses=RESPONSES,
)
def incident_heatmap(
    request: Request,
    session: SessionDep,
    user: KpiReaderDep,
    category: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{2}([0-9]{3})?$", description="5-digit category code or 2-digit class, e.g. 06"),
    ] = None,
    start: FromQuery = None,
    end: ToQuery = None,
    lang: Annotated[Literal["zh-CN", "en"] | None, Query(description="UI language; default from settings")] = None,
) -> HTMLResponse:
    settings = request.app.state.settings
    first, last = window(start, end)
    scope = scope_of(user)
    layers = lk.load_heatmap_layers(
        session, scope_code=scope, start=first, end=last + dt.timedelta(days=1), category=category
    )
    language = cast(Language, lang or getattr(settings, "language", "zh-CN"))
    m = build_incident_heatmap(
        incidents=layers["incidents"],
        communities=layers["communities"],
        category=category,
        period_label=f"{first.isoformat()} – {last.isoformat()}",
        static_url=static_url_for(request),
        basemap=cast(Basemap, getattr(settings, "basemap", "none")),
        tianditu_key=getattr(settings, "tianditu_key", None),
        language=language,
        synthetic=layers["synthetic"],
    )
    return HTMLResponse(render_html(m), headers={"Cache-Control": "private, no-store"})


__all__ = ["READERS", "router"]
