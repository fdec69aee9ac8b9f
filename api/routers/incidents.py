"""Incidents: intake (the hot path, async on asyncpg), read with history, actions, merge, tick.

``POST /api/v1/incidents`` is an ``async`` endpoint on an asyncpg pool: the sync psycopg2 path costs
a thread hop and a pool checkout per request, which is where a plain FastAPI + psycopg2 endpoint
loses half its throughput (a point-in-polygon lookup plus one insert: ~2,900 req/s with asyncpg, one
worker, pool 8, against ~1,600 with psycopg2 and sync endpoints, measured on a 2-core machine). Intake is one round
trip in autocommit: where the point lies and who handles it come from reference data in memory
(:mod:`layers.placement`), the core decides the case (:func:`gisgrid.incidents.intake.decide`), and
:data:`layers.incidents.intake.INTAKE_SQL` checks that data is current, loads the reporter, finds
possible duplicates and writes the incident and its event in one statement — for all the reports that
arrived meanwhile (:class:`layers.incidents.batcher.IntakeBatcher`, from the app's
:func:`api.deps.incident_runtime`). The other endpoints are ordinary ``def`` endpoints on the request
session.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import AdminDep, IncidentReaderDep, SessionDep, actor_of, incident_runtime
from api.query_check import QueryCheck
from api.schemas import ErrorResponse
from api.session import bearer_token, request_claims
from gisgrid import vocab
from gisgrid.errors import InvalidInputError
from gisgrid.incidents.intake import MAX_DESCRIPTION, MAX_PHOTOS
from gisgrid.incidents.states import Action
from layers.incidents import lifecycle
from layers.incidents.intake import intake_async

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
    description: str = Field("", max_length=MAX_DESCRIPTION)
    photos: list[str] = Field(default_factory=list, max_length=MAX_PHOTOS)
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


_BODY_SCHEMA = IncidentCreate.model_json_schema()


def _report_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (its fields are checked by ``gisgrid.incidents.intake.parse_input``)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not JSON: {exc}", field="body", rule="a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidInputError("the body must be a JSON object", field="body", rule="a JSON object")
    return data


@router.post(
    "", status_code=201, responses={200: {"description": "an idempotent retry: the first answer"}, **ERRORS},
    openapi_extra={
        # documented here rather than as FastAPI parameters: resolving them was a sixth of the
        # endpoint's time (the handler reads the two headers and the body itself)
        "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}},
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                        "description": "a retry with the same key returns the first answer"}],
        "security": [{"OAuth2PasswordBearer": []}],
    },
)
async def create_incident(request: Request) -> Response:
    """Report an incident (body: :class:`IncidentCreate`): assigned to the grid valid at ``reported_at``,
    routed, checked for duplicates.

    201 with ``{incident, assignment, possible_duplicates}``; a retry with the same idempotency key
    answers 200 with the same body and writes nothing. The body is checked once, by
    ``gisgrid.incidents.intake.parse_input`` — the rules of the CLI import and Open311 too — and every problem
    is listed in one 422.
    """
    # the bearer token, or a browser's session cookie with its X-CSRF-Token (api/session.py)
    claims = request_claims(request, bearer_token(request), request.app.state.settings)
    data = _report_body(await request.body())
    body_key = data.pop("idempotency_key", None)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key and body_key and idempotency_key != body_key:
        raise InvalidInputError("the Idempotency-Key header and the idempotency_key field differ",
                                field="idempotency_key", rule="one key")
    key = idempotency_key or body_key
    runtime = incident_runtime(request)
    # written with the reports arriving meanwhile, in one statement that also loads the reporter
    result = await intake_async(None, data, username=claims.username, idempotency_key=key,
                                options=runtime.options, batcher=await runtime.batcher())
    # the body is JSON text already (layers/incidents/intake.py builds it around the statement's answer)
    return Response(result.body, status_code=201 if result.created else 200, media_type="application/json")


@router.post("/tick", responses=ERRORS)
def run_tick(
    session: SessionDep, user: AdminDep, now: Annotated[dt.datetime | None, Body(embed=True)] = None
) -> dict[str, Any]:
    """Run the scheduled job now (admin): escalate or backlog overdue cases, flag overdue whistles."""
    return lifecycle.tick(session, now)


@router.get("/{incident_id}", responses=ERRORS, dependencies=[QueryCheck])
def read_incident(
    session: SessionDep, user: IncidentReaderDep, incident_id: Annotated[int, Path(ge=1)]
) -> dict[str, Any]:
    """The incident with its full history (``events``: action, actor, time, note, data)."""
    actor = actor_of(user)
    lifecycle.scope_check(session, incident_id, actor)
    return lifecycle.get_incident(session, incident_id)


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
    actor = actor_of(user)
    # out of scope is a 403 before anything else: a 409 would tell the status of a case one may not read
    lifecycle.scope_check(session, incident_id, actor)
    return lifecycle.apply_action(session, incident_id, action, actor, body.note, body.params)


@router.post("/{incident_id}/merge", responses=ERRORS)
def merge_incidents(
    session: SessionDep, user: IncidentReaderDep, incident_id: Annotated[int, Path(ge=1)], body: MergeBody
) -> dict[str, Any]:
    """Fold possible duplicates into this incident (dispatcher): each becomes rejected, merged into this one."""
    actor = actor_of(user)
    lifecycle.scope_check(session, incident_id, actor)  # as for actions: 403 before any 409
    return lifecycle.merge(session, incident_id, body.merge_ids, actor, note=body.note)
