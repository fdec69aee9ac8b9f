"""Incidents: intake (the hot path, async on asyncpg), read with history, actions, merge, tick.

``POST /api/v1/incidents`` is an ``async`` endpoint on an asyncpg pool: the sync psycopg2 path costs
a thread hop and a pool checkout per request (PITFALLS.md, "psycopg2 pool under def endpoints"),
which is where a plain FastAPI + psycopg2 endpoint loses half its throughput. Intake is two round
trips in autocommit: :data:`layers.incidents.LOOKUP_SQL` (read only; it also loads the reporter) and
:data:`layers.incidents.INSERT_SQL` (the incident and its event in one statement). A transaction
around them would add two round trips and change nothing: under READ COMMITTED each statement takes
its own snapshot either way. The other endpoints are ordinary ``def`` endpoints on the request session.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.background import incident_settings, intake_pool
from api.deps import AdminDep, CurrentUser, IncidentReaderDep, SessionDep, TokenDep
from api.schemas import ErrorResponse
from api.security import decode_access_token
from gisgrid import vocab
from gisgrid.errors import AuthenticationError, InvalidInputError
from gisgrid.incidents import Action, Actor
from layers import incidents

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no or invalid token"},
    403: {"model": ErrorResponse, "description": "role or area scope does not allow this"},
    404: {"model": ErrorResponse, "description": "no such incident"},
    409: {"model": ErrorResponse, "description": "illegal transition (details.allowed lists the actions)"},
    422: {"model": ErrorResponse, "description": "malformed input, or a point outside the district"},
}


class IncidentCreate(BaseModel):
    """A report. The point is in ``crs``; GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are converted."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = "wgs84"
    category_code: str = Field(pattern=r"^[0-9]{5}$", description="gisgrid/data/categories.csv")
    source: Literal[vocab.INCIDENT_SOURCES]  # type: ignore[valid-type]
    description: str = Field("", max_length=incidents.MAX_DESCRIPTION)
    photos: list[str] = Field(default_factory=list, max_length=incidents.MAX_PHOTOS)
    reporter_contact: str | None = Field(None, max_length=100)
    reported_at: dt.datetime | None = Field(None, description="ISO 8601 with offset; default now")
    idempotency_key: str | None = Field(None, min_length=1, max_length=128,
                                        description="or the Idempotency-Key header")


class ActionBody(BaseModel):
    note: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class MergeBody(BaseModel):
    merge_ids: list[int] = Field(min_length=1)
    note: str = ""


def actor_of(user: CurrentUser) -> Actor:
    return Actor(role=user.role, user_id=user.id, staff_id=user.staff_id, department_id=user.department_id,
                 scope_code=None if user.role == "admin" else user.scope_area_code)


@router.post("", status_code=201, responses={200: {"description": "an idempotent retry: the first answer"},
                                             **ERRORS})
async def create_incident(
    request: Request,
    body: IncidentCreate,
    token: TokenDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> JSONResponse:
    """Report an incident: assigned to the grid valid at ``reported_at``, routed, checked for duplicates.

    201 with ``{incident, assignment, possible_duplicates}``; a retry with the same idempotency key
    answers 200 with the same body and writes nothing.
    """
    if not token:
        raise AuthenticationError("Not authenticated: send 'Authorization: Bearer <token>'.",
                                  field="Authorization", rule="a bearer token is required")
    claims = decode_access_token(token, settings=request.app.state.settings)
    key = idempotency_key or body.idempotency_key
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise InvalidInputError("the Idempotency-Key header and the idempotency_key field differ",
                                field="idempotency_key", rule="one key")
    pool = await intake_pool(request.app)
    options = incident_settings(request.app).options()
    async with pool.acquire() as conn:
        # the reporter is loaded by the lookup statement itself (one round trip less); no BEGIN/COMMIT
        # (two more): the lookup only reads and the insert is one statement
        result = await incidents.intake_async(
            conn, body.model_dump(exclude={"idempotency_key"}), username=claims.username, idempotency_key=key,
            options=options,
        )
    return JSONResponse(result.to_dict(), status_code=201 if result.created else 200)


@router.post("/tick", responses=ERRORS)
def run_tick(
    session: SessionDep, user: AdminDep, now: Annotated[dt.datetime | None, Body(embed=True)] = None
) -> dict[str, Any]:
    """Run the scheduled job now (admin): escalate or backlog overdue cases, flag overdue whistles."""
    return incidents.tick(session, now)


@router.get("/{incident_id}", responses=ERRORS)
def read_incident(
    session: SessionDep, user: IncidentReaderDep, incident_id: Annotated[int, Path(ge=1)]
) -> dict[str, Any]:
    """The incident with its full history (``events``: action, actor, time, note, data)."""
    actor = actor_of(user)
    incidents.scope_check(session, incident_id, actor)
    return incidents.get_incident(session, incident_id)


@router.post("/{incident_id}/actions/{action}", responses=ERRORS)
def take_action(
    session: SessionDep,
    user: IncidentReaderDep,
    incident_id: Annotated[int, Path(ge=1)],
    action: Annotated[str, Path(description=", ".join(a.value for a in Action if a is not Action.REPORT))],
    body: ActionBody | None = None,
) -> dict[str, Any]:
    """Take a lifecycle action; 409 lists the allowed ones, 403 names the role or scope rule broken."""
    body = body or ActionBody()
    return incidents.apply_action(session, incident_id, action, actor_of(user), body.note, body.params)


@router.post("/{incident_id}/merge", responses=ERRORS)
def merge_incidents(
    session: SessionDep, user: IncidentReaderDep, incident_id: Annotated[int, Path(ge=1)], body: MergeBody
) -> dict[str, Any]:
    """Fold possible duplicates into this incident (dispatcher): each becomes rejected, merged into this one."""
    return incidents.merge(session, incident_id, body.merge_ids, actor_of(user), note=body.note)
