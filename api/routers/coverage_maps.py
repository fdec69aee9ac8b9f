"""Coverage and rollout map pages: ``GET /map/coverage`` and ``GET /map/rollout``.

* ``/map/coverage?kind=red_heart_station&date=2026-06-30&suggest=5`` — each open station's walking
  service area (isochrone), a heat map of the households no station reaches, the complexes they live
  in (listed by size) and, with ``suggest=N``, the N suggested new sites;
* ``/map/rollout?kind=red_heart_station`` — the stations opening month by month on a time slider,
  with their service areas and the share of households covered at each month's end.

Chinese by default, English with ``lang=en``. Who: ``admin``, ``leader`` and ``planner`` (the pages
show households per building); everyone but admins sees their own area. Every asset comes from the
API's ``/static/vendor`` — the time slider included — never a CDN.

Wiring (``api/main.py``): ``app.include_router(coverage_maps.router)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import CurrentUser, SessionDep, require_roles
from api.pages import static_url_for
from api.routers.siting import RESPONSES, Kind
from gisgrid.maps import Basemap, Language, render_html
from gisgrid.maps.coverage import build_coverage_map
from gisgrid.maps.rollout import build_rollout_map
from layers.coverage.siting import suggest, suggestions_payload
from layers.coverage_maps import coverage_layers, rollout_layers, suggestion_points

router = APIRouter(tags=["coverage"])

READERS = ("admin", "leader", "planner")
MapReaderDep = Annotated[CurrentUser, Depends(require_roles(*READERS))]
MAX_SUGGEST = 50
LangQuery = Annotated[Literal["zh-CN", "en"] | None, Query(description="UI language; default from settings")]
AreaQuery = Annotated[
    str | None, Query(pattern=r"^[0-9]{12}$", description="12-digit area inside your scope")
]
NO_STORE = {"Cache-Control": "private, no-store"}


def page_look(request: Request, lang: str | None) -> dict[str, Any]:
    settings = request.app.state.settings
    return {
        "static_url": static_url_for(request),
        "basemap": cast(Basemap, getattr(settings, "basemap", "none")),
        "tianditu_key": getattr(settings, "tianditu_key", None),
        "language": cast(Language, lang or getattr(settings, "language", "zh-CN")),
    }


def _scope(user: CurrentUser) -> str | None:
    return None if user.role == "admin" else user.scope_area_code


@router.get(
    "/map/coverage",
    response_class=HTMLResponse,
    responses=RESPONSES,
    summary="Walking coverage map of one station kind (admin, leader, planner)",
)
def coverage_map(
    request: Request,
    session: SessionDep,
    user: MapReaderDep,
    kind: Annotated[Kind, Query(description="station kind")] = "red_heart_station",
    date: Annotated[dt.date | None, Query(description="the day shown; default today")] = None,
    area: AreaQuery = None,
    suggest_count: Annotated[
        int, Query(alias="suggest", ge=0, le=MAX_SUGGEST, description="suggested sites to draw")
    ] = 0,
    lang: LangQuery = None,
) -> HTMLResponse:
    layers = coverage_layers(session, kind=kind, as_of=date, area_code=area, scope_code=_scope(user))
    layers.pop("inputs")
    synthetic = layers.pop("synthetic")
    sites = None
    if suggest_count:
        inputs, candidates, result = suggest(
            session, kind=kind, count=suggest_count, as_of=date, area_code=area, scope_code=_scope(user)
        )
        sites = suggestion_points(suggestions_payload(session, inputs, candidates, result))
    m = build_coverage_map(**layers, suggestions=sites, synthetic=synthetic, **page_look(request, lang))
    return HTMLResponse(render_html(m), headers=NO_STORE)


@router.get(
    "/map/rollout",
    response_class=HTMLResponse,
    responses=RESPONSES,
    summary="Station rollout month by month on a time slider (admin, leader, planner)",
)
def rollout_map(
    request: Request,
    session: SessionDep,
    user: MapReaderDep,
    kind: Annotated[Kind, Query(description="station kind")] = "red_heart_station",
    until: Annotated[dt.date | None, Query(description="the last month on the slider; default today")] = None,
    area: AreaQuery = None,
    lang: LangQuery = None,
) -> HTMLResponse:
    layers = rollout_layers(session, kind=kind, until=until, area_code=area, scope_code=_scope(user))
    synthetic = layers.pop("synthetic")
    m = build_rollout_map(**layers, synthetic=synthetic, **page_look(request, lang))
    return HTMLResponse(render_html(m), headers=NO_STORE)


__all__ = ["READERS", "router"]
