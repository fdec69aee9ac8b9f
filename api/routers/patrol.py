"""Patrols: weekly plans, a worker's own area and route, check-in batches, compliance and the patrol map.

* ``POST /api/v1/patrol/plans`` — plan (and store, replacing) a week for a community or a worker
  (admin, leader, dispatcher, planner; inside their area);
* ``GET /api/v1/me/area`` and ``GET /api/v1/me/route?date=`` — a worker's grids, buildings, open
  incidents, and the day's route as GeoJSON. A ``patrol`` user (linked to a ``staff`` row through
  ``user.staff_id``) reads only their own; a leader, dispatcher or admin reads a worker of their area with
  ``?staff_id=``; anyone else gets 403;
* ``POST /api/v1/patrol/checkins`` — a batch of check-ins, idempotent by the phone's ids (patrol: their
  own; admin: any worker with ``staff_id``);
* ``GET /api/v1/patrol/compliance`` (JSON), ``…/compliance.csv`` (UTF-8 with a BOM) and ``GET /map/patrol``
  (the map, Chinese by default, ``lang=en``) — per worker, grid and week; a patrol user sees their own.

Every request is one transaction (``SessionDep``); bad input gets 422 naming the field and the rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from api.deps import CurrentUser, CurrentUserDep, SessionDep, require_roles
from api.pages import static_url_for
from api.schemas import ErrorResponse
from gisgrid.codes import CHINA_TZ, check_community_code, in_scope
from gisgrid.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from gisgrid.maps import Basemap, Language
from gisgrid.patrol import PatrolRules, week_start
from layers import patrol as lp

router = APIRouter(tags=["patrol"])

PLANNERS = ("admin", "leader", "dispatcher", "planner")
SUPERVISORS = ("admin", "leader", "dispatcher")
PlannerDep = Annotated[CurrentUser, Depends(require_roles(*PLANNERS))]
CSV_MEDIA = "text/csv; charset=utf-8"
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no or invalid token"},
    403: {"model": ErrorResponse, "description": "not this user's worker, area or role"},
    404: {"model": ErrorResponse, "description": "no such worker or grid"},
    422: {"model": ErrorResponse, "description": "a field breaks a rule (the field and the rule are named)"},
}
WeekQuery = Annotated[dt.date | None, Query(description="any day of the week (its Monday is used); default this week")]
StaffQuery = Annotated[int | None, Query(description="the worker (leaders, dispatchers, admins); a patrol user: own")]
LangQuery = Annotated[Literal["zh-CN", "en"] | None, Query(description="UI language; default from settings")]


class Point(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class PlanRequest(BaseModel):
    week: dt.date = Field(description="any day of the week to plan (its Monday is used)")
    community_code: str | None = Field(None, description="plan this community's workers (12 digits)")
    staff_id: int | None = Field(None, description="plan this worker only")
    base: Point | None = Field(None, description="start and end every walk here instead of the station (WGS84)")


class CheckinBatch(BaseModel):
    checkins: list[dict[str, Any]] = Field(description="[{id, at, lon, lat, crs: wgs84|gcj02, accuracy_m}, …]")
    staff_id: int | None = Field(None, description="admins only: the worker the batch belongs to")


def _rules(request: Request) -> PatrolRules:
    return cast(PatrolRules, request.app.state.settings.patrol.rules())


def _scope(user: CurrentUser) -> str | None:
    return None if user.role == "admin" else user.scope_area_code


def worker_for(session: SessionDep, user: CurrentUser, staff_id: int | None) -> int:
    """The worker whose data ``user`` may read: a patrol user's own, else one of their area (403)."""
    if user.role == "patrol":
        if user.staff_id is None:
            raise PermissionDeniedError("this login is not linked to a grid worker (user.staff_id)",
                                        field="staff_id", rule="a patrol login linked to a staff row")
        if staff_id is not None and staff_id != user.staff_id:
            raise PermissionDeniedError("a grid worker reads only their own patrol data", field="staff_id",
                                        rule="own staff_id only")
        return user.staff_id
    if user.role not in SUPERVISORS:
        raise PermissionDeniedError(f"the role {user.role!r} may not read patrol data", field="role",
                                    rule="role in (patrol, " + ", ".join(SUPERVISORS) + ")")
    if staff_id is None:
        raise InvalidInputError("name the worker with ?staff_id=", field="staff_id", rule="required for this role")
    try:
        staff = lp.staff_row(session, staff_id)
    except NotFoundError:
        if user.role == "admin":
            raise
        staff = None  # outside the area and unknown look the same
    if staff is None or not in_scope(_scope(user), staff.community_code):
        raise PermissionDeniedError("this worker is outside your area", field="staff_id",
                                    rule="a worker of the caller's area")
    return int(staff_id)


@router.post("/api/v1/patrol/plans", summary="Plan a week of patrol (replacing that week's plans)",
             responses=RESPONSES)
def create_plans(body: PlanRequest, request: Request, session: SessionDep, user: PlannerDep) -> dict[str, Any]:
    """Per worker and grid: the days, metres, minutes against the shift, balance and islands."""
    scope = _scope(user)
    if body.community_code is not None:
        code = check_community_code(body.community_code)
        if not in_scope(scope, code):
            raise PermissionDeniedError("this community is outside your area", field="community_code",
                                        rule="a community of the caller's area")
    if body.staff_id is not None:
        staff = lp.staff_row(session, body.staff_id)
        if not in_scope(scope, staff.community_code):
            raise PermissionDeniedError("this worker is outside your area", field="staff_id",
                                        rule="a worker of the caller's area")
    base = (body.base.lon, body.base.lat) if body.base is not None else None
    return lp.plan_patrol_week(session, body.week, rules=_rules(request), community_code=body.community_code,
                               staff_id=body.staff_id, scope_code=scope, base=base)


@router.get("/api/v1/me/area", summary="A worker's grids, buildings and open incidents (GeoJSON)",
            responses=RESPONSES)
def my_area(session: SessionDep, user: CurrentUserDep, staff_id: StaffQuery = None) -> dict[str, Any]:
    return lp.my_area(session, worker_for(session, user, staff_id))


@router.get("/api/v1/me/route", summary="A worker's planned walk on a day (GeoJSON legs and stops)",
            responses=RESPONSES)
def my_route(
    session: SessionDep, user: CurrentUserDep,
    date: Annotated[dt.date | None, Query(description="the day (default today, China time)")] = None,
    staff_id: StaffQuery = None,
) -> dict[str, Any]:
    """One feature per leg (walking order, metres, street geometry) and one per stop."""
    day = date or dt.datetime.now(CHINA_TZ).date()
    return lp.day_route(session, worker_for(session, user, staff_id), day)


@router.post("/api/v1/patrol/checkins", summary="Upload a batch of check-ins (idempotent by client id)",
             responses=RESPONSES)
def upload_checkins(body: CheckinBatch, request: Request, session: SessionDep, user: CurrentUserDep) -> dict[str, Any]:
    """Stored, already stored (sent before), visits, and the flagged ones with their flags."""
    if user.role == "admin" and body.staff_id is not None:
        staff_id = lp.staff_row(session, body.staff_id).id
    elif user.role == "patrol":
        staff_id = worker_for(session, user, body.staff_id)
    else:
        raise PermissionDeniedError("check-ins are uploaded by grid workers (or an admin for one)", field="role",
                                    rule="role patrol, or admin with staff_id")
    return lp.record_checkins(session, int(staff_id), body.checkins, rules=_rules(request))


def _compliance(session: SessionDep, request: Request, user: CurrentUser, week: dt.date | None,
                staff_id: int | None, grid_code: str | None) -> tuple[dt.date, list[dict[str, Any]]]:
    monday = week_start(week or dt.datetime.now(CHINA_TZ).date())
    if user.role == "patrol" or staff_id is not None:
        staff_id = worker_for(session, user, staff_id)
    elif user.role not in SUPERVISORS:
        raise PermissionDeniedError(f"the role {user.role!r} may not read compliance", field="role",
                                    rule="role in (patrol, " + ", ".join(SUPERVISORS) + ")")
    rows = lp.compliance_rows(session, monday, rules=_rules(request), scope_code=_scope(user), staff_id=staff_id,
                              grid_code=grid_code)
    return monday, rows


GridQuery = Annotated[str | None, Query(pattern=r"^[0-9]{15}$", description="one grid (15 digits)")]


@router.get("/api/v1/patrol/compliance", summary="Weekly patrol compliance per worker and grid (JSON)",
            responses=RESPONSES)
def compliance(request: Request, session: SessionDep, user: CurrentUserDep, week: WeekQuery = None,
               staff_id: StaffQuery = None, grid_code: GridQuery = None) -> dict[str, Any]:
    """Days present, buildings and households visited / total, metres planned and walked, the building
    left longest without a visit (definitions: docs/patrol.md)."""
    monday, rows = _compliance(session, request, user, week, staff_id, grid_code)
    return {"week": monday.isoformat(), "rows": rows, "definitions": "docs/patrol.md#compliance"}


@router.get("/api/v1/patrol/compliance.csv", summary="The same compliance as CSV (UTF-8 with BOM)",
            response_class=Response,
            responses={200: {"content": {CSV_MEDIA: {}}, "description": "CSV with a header row"}, **RESPONSES})
def compliance_csv(request: Request, session: SessionDep, user: CurrentUserDep, week: WeekQuery = None,
                   staff_id: StaffQuery = None, grid_code: GridQuery = None) -> Response:
    monday, rows = _compliance(session, request, user, week, staff_id, grid_code)
    return Response(lp.compliance_csv(rows), media_type=CSV_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="patrol_compliance_{monday}.csv"'})


@router.get("/map/patrol", response_class=HTMLResponse, summary="Patrol map of a worker's grid and week",
            responses=RESPONSES)
def patrol_map(request: Request, session: SessionDep, user: CurrentUserDep, week: WeekQuery = None,
               staff_id: StaffQuery = None, grid_code: GridQuery = None, lang: LangQuery = None) -> HTMLResponse:
    """Planned routes by day, buildings visited (green) and not visited (red), check-ins."""
    settings = request.app.state.settings
    worker = worker_for(session, user, staff_id)
    monday = week_start(week or dt.datetime.now(CHINA_TZ).date())
    page = lp.render_patrol_map(session, monday, worker, grid_code, static_url=static_url_for(request),
                             basemap=cast(Basemap, settings.basemap), tianditu_key=settings.tianditu_key,
                             language=cast(Language, lang or settings.language))
    return HTMLResponse(page, headers={"Cache-Control": "private, no-store"})


__all__ = ["router", "worker_for"]
