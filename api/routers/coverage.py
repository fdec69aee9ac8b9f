"""Walking-distance coverage: figures by area and the rollout curve (JSON or CSV), buildings as GeoJSON.

* ``GET /api/v1/coverage/figures?level=community&code=370403001000&as_of=2026-06-30[&format=csv]`` —
  households and complexes covered per kind, stations by status, island buildings; rows that add up
  to ``totals``;
* ``GET /api/v1/coverage/rollout?kind=red_heart_station&code=…&from=…&as_of=…[&format=csv]`` — month ends:
  stations open, households and complexes covered; the year-end target and when the pace reaches it;
* ``GET /api/v1/coverage/buildings?kind=…&code=…&as_of=…&bbox=…`` — buildings with their walks, paged.

Every logged-in role reads them, limited to its area by code (``code`` defaults to the caller's area;
a code outside it is 403). ``as_of`` defaults to today (China time) and is read from the stored table;
an earlier day is computed from the station status history. CSV is UTF-8 with a BOM, like the KPIs.
Definitions: ``docs/coverage.md``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.deps import CurrentUser, CurrentUserDep, SessionDep
from api.schemas import ErrorResponse
from gisgrid import vocab
from gisgrid.codes import in_scope
from gisgrid.coverage import Thresholds
from gisgrid.errors import PermissionDeniedError
from layers import coverage as lc
from layers.geojson import DEFAULT_LIMIT, MAX_LIMIT, parse_bbox
from layers.kpis import kpis_to_csv

router = APIRouter(prefix="/api/v1/coverage", tags=["coverage"])

CSV_MEDIA = "text/csv; charset=utf-8"
GEOJSON = "application/geo+json"
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no or invalid token"},
    403: {"model": ErrorResponse, "description": "the area is outside the caller's"},
    422: {"model": ErrorResponse, "description": "unknown level or kind, malformed code, as_of after today"},
}

CodeQuery = Annotated[str | None, Query(pattern=r"^[0-9]{12}([0-9]{3})?$",
                                        description="12-digit area code or 15-digit grid code; default your area")]
AsOfQuery = Annotated[dt.date | None, Query(description="the day (China time), default today")]
FormatQuery = Annotated[Literal["json", "csv"], Query(description="json, or csv (UTF-8 with BOM)")]


def get_thresholds(request: Request) -> Thresholds:
    """The thresholds of the settings the app started with, made once."""
    thresholds: Thresholds | None = getattr(request.app.state, "coverage_thresholds", None)
    if thresholds is None:
        thresholds = lc.thresholds_from(request.app.state.settings.coverage)
        request.app.state.coverage_thresholds = thresholds
    return thresholds


ThresholdsDep = Annotated[Thresholds, Depends(get_thresholds)]


def area_for(user: CurrentUser, code: str | None) -> str | None:
    """``code``, or the caller's area when none is given; a code outside the caller's area is refused."""
    scope = None if user.role == "admin" else user.scope_area_code
    if code is None:
        return scope
    if not in_scope(scope, code):
        raise PermissionDeniedError(f"the area {code} is outside your area ({scope})", field="code",
                                    feature=code, rule="areas inside the user's area (by code)")
    return code


def _csv(records: list[dict[str, Any]], columns: list[str], filename: str) -> Response:
    return Response(kpis_to_csv(records, columns=columns), media_type=CSV_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/figures", summary="Coverage by grid, community, street or district, as of a day", responses=RESPONSES)
def read_figures(
    session: SessionDep,
    user: CurrentUserDep,
    thresholds: ThresholdsDep,
    level: Annotated[Literal["grid", "community", "street", "district"], Query(description="rows at this level")]
    = "community",
    code: CodeQuery = None,
    as_of: AsOfQuery = None,
    format: FormatQuery = "json",
) -> Any:
    """One row per area at ``level`` inside ``code`` (plus an ``unassigned`` row when something has no area
    there) and ``totals``; counts add up, shares are recomputed (null when there is nothing to share)."""
    fig = lc.figures(session, thresholds, level=level, code=area_for(user, code), as_of=as_of)
    if format == "csv":
        return _csv([*fig["rows"], fig["totals"]], fig["columns"],
                    f"coverage_{level}_{fig['code'] or 'all'}_{fig['as_of']}.csv")
    return fig


@router.get("/rollout", summary="The rollout month by month, and when the pace covers every complex",
            responses=RESPONSES)
def read_rollout(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    thresholds: ThresholdsDep,
    kind: Annotated[str, Query(description="one of " + ", ".join(vocab.STATION_KINDS))] = "red_heart_station",
    code: CodeQuery = None,
    start: Annotated[dt.date | None, Query(alias="from", description="first month (default: the first change)")]
    = None,
    as_of: AsOfQuery = None,
    format: FormatQuery = "json",
) -> Any:
    curve = lc.rollout(session, thresholds, kind=kind, code=area_for(user, code), start=start, as_of=as_of,
                       pace_months=request.app.state.settings.coverage.pace_months)
    if format == "csv":
        return _csv(curve["months"], curve["columns"], f"rollout_{kind}_{curve['code'] or 'all'}_{curve['as_of']}.csv")
    return curve


@router.get("/buildings", summary="Buildings with their walk to the nearest open station of each kind",
            response_class=Response,
            responses={200: {"content": {GEOJSON: {"schema": {"type": "object"}}}}, **RESPONSES})
def read_buildings(
    session: SessionDep,
    user: CurrentUserDep,
    thresholds: ThresholdsDep,
    kind: Annotated[str | None, Query(description="one kind only (default: every kind)")] = None,
    code: CodeQuery = None,
    as_of: AsOfQuery = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat in WGS84")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    page = lc.buildings_geojson(session, thresholds, kind=kind, code=area_for(user, code), bbox=parse_bbox(bbox),
                                limit=limit, offset=offset, as_of=as_of)
    return Response(content=page.to_json(), media_type=GEOJSON)
