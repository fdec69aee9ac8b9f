"""Stations written through the API: create, edit, dated status changes (kept as history), one station.

* ``POST /api/v1/stations`` — a new station (201); ``PATCH /api/v1/stations/{id}`` — name, kind, place,
  radius; ``POST /api/v1/stations/{id}/status`` — ``{"status", "since", "note"}``, never dated before the
  previous change nor after today; an illegal transition (back, or to the same status) is 409;
* ``GET /api/v1/stations/{id}`` — the station with its history (``/history``: the history alone).
  The GeoJSON list ``GET /api/v1/stations`` is in :mod:`api.routers.layers`.

Writers: ``admin`` and ``planner`` (community and street staff who manage stations); everyone logged in
reads. Everyone but admins acts only inside their area, by code (the community the point lies in).
Bad input — an unknown kind, dates out of order, a point outside the district, latitude first — is 422
naming the field and the rule, and writes nothing. Each write answers with how the stored coverage
was brought up to date (``coverage``: incremental or full, buildings changed).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, CurrentUserDep, SessionDep, require_roles
from api.routers.coverage import ThresholdsDep
from api.schemas import ErrorResponse
from gisgrid import vocab
from layers import stations as ls

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])

WRITERS = ("admin", "planner")
WriterDep = Annotated[CurrentUser, Depends(require_roles(*WRITERS))]
StationId = Annotated[int, Path(ge=1, description="station id")]
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text} for status, text in {
        401: "no or invalid token", 403: "not a planner/admin, or outside the user's area",
        404: "no such station", 409: "an illegal status transition",
        422: "unknown kind or status, dates out of order, a point outside the district or latitude first",
    }.items()
}
_KINDS = "one of " + ", ".join(vocab.STATION_KINDS)


class StationCreate(BaseModel):
    """A new station. Without ``status`` or dates it is planned from today."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="e.g. 幸福小区红心驿站")
    kind: str = Field(description=_KINDS)
    lon: float = Field(description="longitude (east), e.g. 117.26")
    lat: float = Field(description="latitude (north), e.g. 34.80")
    crs: str = Field("wgs84", description="wgs84, gcj02 (Amap, Tencent) or bd09 (Baidu)")
    status: str | None = Field(None, description="planned, building, open or closed; default the latest dated")
    planned_on: dt.date | None = None
    building_since: dt.date | None = None
    opened_on: dt.date | None = None
    closed_on: dt.date | None = None
    service_radius_m: float | None = Field(None, description="default: the kind's coverage threshold")
    note: str | None = Field(None, description="kept with the history")


class StationEdit(BaseModel):
    """What may change besides the status; omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: str | None = Field(None, description=_KINDS)
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    service_radius_m: float | None = None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(description="building, open or closed (open again after closed)")
    since: dt.date | None = Field(None, description="the day it happened (default today, China time)")
    note: str | None = None


def actor_of(user: CurrentUser) -> ls.Actor:
    return ls.Actor(name=user.username, user_id=user.id,
                    scope_code=None if user.role == "admin" else user.scope_area_code)


@router.post("", status_code=201, summary="Create a station with its status history", responses=RESPONSES)
def create_station(body: StationCreate, session: SessionDep, user: WriterDep, thresholds: ThresholdsDep
                   ) -> dict[str, Any]:
    dates = {f: getattr(body, f) for f in ("planned_on", "building_since", "opened_on", "closed_on")}
    return ls.create(session, thresholds, actor_of(user), name=body.name, kind=body.kind, lon=body.lon,
                     lat=body.lat, crs=body.crs, status=body.status, dates=dates,
                     service_radius_m=body.service_radius_m, note=body.note)


@router.patch("/{station_id}", summary="Rename, re-kind, move or re-radius a station", responses=RESPONSES)
def edit_station(station_id: StationId, body: StationEdit, session: SessionDep, user: WriterDep,
                 thresholds: ThresholdsDep) -> dict[str, Any]:
    return ls.edit(session, thresholds, actor_of(user), station_id, name=body.name, kind=body.kind,
                   lon=body.lon, lat=body.lat, crs=body.crs, service_radius_m=body.service_radius_m)


@router.post("/{station_id}/status", summary="A dated status change, kept as history", responses=RESPONSES)
def change_status(station_id: StationId, body: StatusChange, session: SessionDep, user: WriterDep,
                  thresholds: ThresholdsDep) -> dict[str, Any]:
    return ls.change_status(session, thresholds, actor_of(user), station_id, status=body.status,
                            since=body.since, note=body.note)


@router.get("/{station_id}", summary="One station and its status history", responses=RESPONSES)
def read_station(station_id: StationId, session: SessionDep, user: CurrentUserDep) -> dict[str, Any]:
    return ls.get(session, actor_of(user), station_id)


@router.get("/{station_id}/history", summary="A station's status history, oldest first", responses=RESPONSES)
def read_history(station_id: StationId, session: SessionDep, user: CurrentUserDep) -> list[dict[str, Any]]:
    return ls.history(session, actor_of(user), station_id)
