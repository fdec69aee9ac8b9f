"""Where new stations should open: ``GET`` and ``POST /api/v1/coverage/suggestions``.

* ``method=mclp`` (default) with ``count=N``: the N new sites that reach the most households not yet
  within walking reach of an open station of the kind (maximal covering);
* ``method=lscp``: the fewest new sites that reach every household any candidate can reach (set
  covering); households no candidate reaches are counted in ``households.unreachable``.

Candidates are the complexes' entrances and the buildings' doors of the area; ``POST`` may instead
give its own candidate points (rooms on offer, say) in ``candidates``. Each suggestion says how many
households it adds given the ones before it, so the list reads as a build order. Nothing is written.

Who: ``admin``, ``leader`` and ``planner``; everyone but admins only inside their area (``area``
must lie in it; by default the whole of it).

Wiring (``api/main.py``): ``app.include_router(siting.router)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep, require_roles
from api.schemas import ErrorResponse
from gisgrid import vocab
from layers.coverage.siting import MAX_COUNT, MAX_GIVEN, suggest, suggestions_payload

router = APIRouter(prefix="/api/v1/coverage", tags=["coverage"])

READERS = ("admin", "leader", "planner")
# a web request waits for the answer: the solver stops here and answers its best (status time_limit, gap)
API_TIME_LIMIT_S = 30.0
SitingReaderDep = Annotated[CurrentUser, Depends(require_roles(*READERS))]

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no or invalid token"},
    403: {
        "model": ErrorResponse,
        "description": "not an admin, leader or planner, or the area is outside yours",
    },
    404: {"model": ErrorResponse, "description": "no such area"},
    422: {"model": ErrorResponse, "description": "unknown kind or method, a count out of range, a bad point"},
}
Kind = Literal["service_centre", "service_station", "service_post", "red_heart_station", "police_room"]
assert set(get_args(Kind)) == set(vocab.STATION_KINDS)


class CandidatePoint(BaseModel):
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude")
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude")
    name: str | None = Field(None, max_length=200)


class SuggestionRequest(BaseModel):
    kind: Kind = "red_heart_station"
    method: Literal["mclp", "lscp"] = "mclp"
    count: int | None = Field(None, ge=1, le=MAX_COUNT, description="new sites (maximal covering)")
    date: dt.date | None = Field(
        None, description="stations open on this day count as existing; default today"
    )
    area: str | None = Field(None, pattern=r"^[0-9]{12}$", description="12-digit area code inside your scope")
    threshold_m: float | None = Field(None, gt=0, le=20_000, description="walking metres; default per kind")
    include_planned: bool = Field(False, description="count planned and building stations as existing")
    time_limit_s: float = Field(
        API_TIME_LIMIT_S, gt=0, le=120, description="stop the solver after this long and answer its best"
    )
    candidates: list[CandidatePoint] | None = Field(
        None, max_length=MAX_GIVEN, description="candidate points to choose from instead of entrances"
    )


def _scope(user: CurrentUser) -> str | None:
    return None if user.role == "admin" else user.scope_area_code


def _run(session: SessionDep, user: CurrentUser, req: SuggestionRequest) -> dict[str, Any]:
    given = [(c.lon, c.lat, c.name or "") for c in req.candidates] if req.candidates else None
    inputs, candidates, result = suggest(
        session,
        kind=req.kind,
        method=req.method,
        count=req.count,
        as_of=req.date,
        threshold_m=req.threshold_m,
        area_code=req.area,
        scope_code=_scope(user),
        include_planned=req.include_planned,
        given=given,
        time_limit=req.time_limit_s,
    )
    return suggestions_payload(session, inputs, candidates, result)


@router.get(
    "/suggestions", summary="Suggested new station sites (maximal or set covering)", responses=RESPONSES
)
def get_suggestions(
    session: SessionDep,
    user: SitingReaderDep,
    kind: Annotated[Kind, Query(description="station kind")] = "red_heart_station",
    method: Annotated[
        Literal["mclp", "lscp"], Query(description="mclp: best `count` sites; lscp: fewest for all")
    ] = "mclp",
    count: Annotated[int | None, Query(ge=1, le=MAX_COUNT, description="new sites (mclp)")] = None,
    date: Annotated[
        dt.date | None, Query(description="open stations of this day count; default today")
    ] = None,
    area: Annotated[str | None, Query(pattern=r"^[0-9]{12}$", description="area inside your scope")] = None,
    threshold_m: Annotated[float | None, Query(gt=0, le=20_000, description="walking metres")] = None,
    include_planned: Annotated[
        bool, Query(description="planned and building stations count as existing")
    ] = False,
    time_limit_s: Annotated[float, Query(gt=0, le=120, description="the solver's time limit")] = API_TIME_LIMIT_S,
) -> dict[str, Any]:
    """The suggestions with what each adds, the households covered before and after, and the solver."""
    req = SuggestionRequest(
        kind=kind,
        method=method,
        count=count,
        date=date,
        area=area,
        threshold_m=threshold_m,
        include_planned=include_planned,
        time_limit_s=time_limit_s,
    )
    return _run(session, user, req)


@router.post(
    "/suggestions", summary="Suggested new station sites, optionally from given points", responses=RESPONSES
)
def post_suggestions(
    session: SessionDep, user: SitingReaderDep, req: Annotated[SuggestionRequest, Body()]
) -> dict[str, Any]:
    """As ``GET``, with the options in the body and, optionally, the candidate points to choose from."""
    return _run(session, user, req)


__all__ = ["READERS", "router"]
