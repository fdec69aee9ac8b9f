"""Residential complex indicators: ``GET /api/v1/complexes/indicators`` (JSON or CSV) and the
choropleth page ``GET /map/complexes``.

By community, street or district (``level``) inside an area (``code``, default your scope): the
share of complexes with professional property management, with an owners' committee (against the
90 % target, and how many more are needed), with a party organisation (independent / joint /
affiliated), the 三无 complexes and who stands in for them (street / community / nobody), and the
complexes whose company is on the red or the black list. Counts add up from community to street to
district; shares are recomputed at each level. CSV is UTF-8 **with a BOM** for Excel.

Who: ``admin``, ``leader`` and ``planner``; everyone but admins inside their area.

Wiring (``api/main.py``): ``app.include_router(complexes.router)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import CurrentUser, SessionDep, require_roles
from api.routers.coverage_maps import NO_STORE, LangQuery, page_look
from api.schemas import ErrorResponse
from gisgrid.maps import render_html
from gisgrid.maps.indicator_map import build_indicator_map
from layers.indicators import indicator_map_areas, indicators, indicators_csv

router = APIRouter(tags=["complexes"])

READERS = ("admin", "leader", "planner")
IndicatorReaderDep = Annotated[CurrentUser, Depends(require_roles(*READERS))]
CSV_MEDIA = "text/csv; charset=utf-8"
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no or invalid token"},
    403: {
        "model": ErrorResponse,
        "description": "not an admin, leader or planner, or the area is outside yours",
    },
    404: {"model": ErrorResponse, "description": "no such area"},
    422: {"model": ErrorResponse, "description": "unknown level, or a level above the area's"},
}
LevelQuery = Annotated[
    Literal["community", "street", "district"], Query(description="one row per area of this level")
]
CodeQuery = Annotated[
    str | None, Query(pattern=r"^[0-9]{12}$", description="12-digit area; default your scope")
]
DateQuery = Annotated[
    dt.date | None, Query(description="owners' committees founded by this day; default today")
]


def _scope(user: CurrentUser) -> str | None:
    return None if user.role == "admin" else user.scope_area_code


@router.get(
    "/api/v1/complexes/indicators",
    summary="Complex management, owners' committee and party organisation indicators (JSON or CSV)",
    responses={200: {"content": {"application/json": {}, CSV_MEDIA: {}}}, **RESPONSES},
)
def read_indicators(
    session: SessionDep,
    user: IndicatorReaderDep,
    level: LevelQuery = "community",
    code: CodeQuery = None,
    date: DateQuery = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format", description="json or csv")] = "json",
) -> Response:
    figures = indicators(session, level=level, code=code, scope_code=_scope(user), as_of=date)
    figures.pop("_table")
    if output == "csv":
        name = f"complex_indicators_{level}_{figures['area']['code'] or 'all'}_{figures['as_of']}.csv"
        return Response(
            indicators_csv(figures),
            media_type=CSV_MEDIA,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(figures)


@router.get(
    "/map/complexes",
    response_class=HTMLResponse,
    responses=RESPONSES,
    summary="Choropleth of one complex indicator by community or street (admin, leader, planner)",
)
def indicator_map(
    request: Request,
    session: SessionDep,
    user: IndicatorReaderDep,
    indicator: Annotated[
        Literal["professional", "owners_committee", "party_org"], Query()
    ] = "owners_committee",
    level: Annotated[Literal["community", "street"], Query(description="areas shaded")] = "community",
    code: CodeQuery = None,
    date: DateQuery = None,
    lang: LangQuery = None,
) -> HTMLResponse:
    figures = indicators(session, level=level, code=code, scope_code=_scope(user), as_of=date)
    areas = indicator_map_areas(session, figures)
    m = build_indicator_map(
        areas=areas,
        indicator=indicator,
        totals=figures["totals"],
        synthetic=figures["synthetic"],
        **page_look(request, lang),
    )
    return HTMLResponse(render_html(m), headers=NO_STORE)


__all__ = ["READERS", "router"]
