"""Grid planning endpoints: versions, history, validation, the planner's edits, and the grid map page.

Thin over :mod:`layers.grids`. Every edit answers with the new household tallies of the grids it
changed, the new versions, and the validation of the whole community afterwards; ``dry_run: true``
answers the same without saving (the live tally while a planner draws). Each edit carries the version
the planner started from (``expected_version`` / ``expected_versions``); if someone else changed the
grid meanwhile the answer is **409** with ``error.details.current_version`` — never a silent overwrite.
The check runs under row locks (``SELECT … FOR UPDATE``), so two simultaneous edits of one version give
exactly one success and one 409.

Roles: ``planner`` and ``admin`` edit and plan; ``leader`` reads too (history, as-of, validation). Everyone but
admins is limited to their area (``scope_area``): a community inside it, by code.

``POST /api/v1/grids/plan`` partitions one community (and, with ``publish``, makes the plan its current
grids) through :func:`layers.grids.plan_community`, the flow ``gisgrid grids plan`` runs.

The page ``GET /map/grids`` is **public**, like ``/map``: grid boundaries, codes and household totals
per grid are what communities post on their notice boards; it shows no people, contacts or incidents.

Wiring (``api/main.py``): ``app.include_router(grids.router)``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, model_validator

from api.deps import CurrentUser, SessionDep, require_roles
from api.pages import page_state, static_url_for
from api.schemas import ErrorResponse
from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS, in_scope
from gisgrid.errors import InvalidInputError, PermissionDeniedError
from gisgrid.grids import format_problems, problems_to_geojson
from gisgrid.maps import Basemap, Language, build_grid_map, render_html
from layers import grids as lg
from layers.mapdata import load_grid_layers

router = APIRouter(tags=["grids"])

PREFIX = "/api/v1/grids"
GRID_CODE = r"^[0-9]{15}$"
COMMUNITY_CODE = r"^[0-9]{12}$"
EDITORS = ("admin", "planner")
READERS = ("admin", "planner", "leader")
GEOJSON = "application/geo+json"

EditorDep = Annotated[CurrentUser, Depends(require_roles(*EDITORS))]
ReaderDep = Annotated[CurrentUser, Depends(require_roles(*READERS))]
CodePath = Annotated[str, Path(pattern=GRID_CODE, description="15-digit grid code")]


def _errors(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses``: every error status has the one error body."""
    return {status: {"model": ErrorResponse, "description": text} for status, text in descriptions.items()}


EDIT_RESPONSES = _errors({
    401: "no or invalid token",
    403: "not a planner/admin, or outside the user's area",
    404: "no such grid",
    409: "stale expected_version: details.current_version is current",
    422: "malformed geometry, ids or versions",
})
READ_RESPONSES = {k: v for k, v in EDIT_RESPONSES.items() if k != 409}
PLAN_RESPONSES = {
    **READ_RESPONSES,
    **_errors({404: "no such community", 422: "malformed code, window or seed"}),
}


def check_scope(user: CurrentUser, *codes: str, field: str = "code") -> None:
    """Admins and users without a scope reach everything; others only the communities inside their area
    (``codes``: community codes, or grid codes whose first 12 digits are their community's)."""
    if user.role == "admin":
        return
    for community_code in (code[:12] for code in codes):
        if not in_scope(user.scope_area_code, community_code):
            raise PermissionDeniedError(
                f"community {community_code} is outside your area {user.scope_area_name or ''} "
                f"({user.scope_area_code})",
                field=field,
                feature=community_code,
                rule="only grids inside the user's area",
            )


# ------------------------------------------------------------------------------------------ bodies


class Window(BaseModel):
    """The household window the validation checks against (local practice 300–500)."""

    min_households: int = Field(MIN_HOUSEHOLDS, ge=0)
    max_households: int = Field(MAX_HOUSEHOLDS, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.min_households > self.max_households:
            raise ValueError("min_households must not exceed max_households")
        return self

    def window(self) -> dict[str, int]:
        return {"min_households": self.min_households, "max_households": self.max_households}


class EditBody(Window):
    """What every edit carries besides its own fields."""

    dry_run: bool = Field(False, description="answer the tallies and validation without saving")

    def options(self, user: CurrentUser) -> dict[str, Any]:
        """The keyword arguments every edit flow of :mod:`layers.grids` takes."""
        return {"user_id": user.id, "dry_run": self.dry_run, **self.window()}


class BoundaryUpdate(EditBody):
    """A grid's new boundary."""

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, WGS84")
    expected_version: int = Field(ge=1, description="the version the planner edited")


class BuildingMove(EditBody):
    """Buildings moving from one grid to its neighbour (with their Voronoi cells)."""

    from_code: str = Field(pattern=GRID_CODE)
    to_code: str = Field(pattern=GRID_CODE)
    building_ids: list[int] = Field(min_length=1)
    expected_versions: dict[str, int] = Field(description="version per code, for both grids")


class GridSplit(EditBody):
    """Split by a line across the grid, or by two building sets."""

    expected_version: int = Field(ge=1)
    line: dict[str, Any] | None = Field(None, description="GeoJSON LineString crossing the grid once")
    building_sets: list[list[int]] | None = Field(None, min_length=2, max_length=2)
    new_code: str | None = Field(None, pattern=GRID_CODE)

    @model_validator(mode="after")
    def _one_way(self) -> GridSplit:
        if (self.line is None) == (self.building_sets is None):
            raise ValueError("give either line or building_sets")
        return self


class GridMerge(EditBody):
    """Two neighbouring grids become one."""

    codes: list[Annotated[str, Field(pattern=GRID_CODE)]] = Field(min_length=2, max_length=2)
    expected_versions: dict[str, int]
    keep: str | None = Field(None, pattern=GRID_CODE, description="the surviving code (default: the lower)")


class GridRollback(EditBody):
    """Bring back an earlier version of a grid (as a new version)."""

    to_version: int | None = Field(None, ge=1)
    to_date: date | datetime | None = None
    expected_version: int | None = Field(None, ge=1, description="the current version, if known")


class CommunityPlan(Window):
    """Partition one community into grids; with ``publish``, make them its current grids."""

    community_code: str = Field(pattern=COMMUNITY_CODE, description="12-digit community code")
    seed: int = Field(0, ge=0, description="the same seed gives the same plan")
    publish: bool = Field(False, description="save the plan as new grid versions")


def _versions_for(codes: list[str], given: dict[str, int], field: str = "expected_versions") -> dict[str, int]:
    missing = [c for c in codes if c not in given]
    if missing:
        raise InvalidInputError(
            f"{field} needs the version of every grid edited; missing {', '.join(missing)}",
            field=field,
            rule="a version per grid",
        )
    return {c: given[c] for c in codes}


# ------------------------------------------------------------------------------------------ reads


@router.get(
    f"{PREFIX}/as-of",
    summary="The grids as they were on a date (or at an instant)",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, **READ_RESPONSES},
)
def grids_as_of(
    session: SessionDep,
    user: ReaderDep,
    on: Annotated[
        date | datetime, Query(description="a date (its end, China Standard Time) or an ISO date-time")
    ],
    community: Annotated[str, Query(pattern=COMMUNITY_CODE, description="12-digit community code")],
) -> Response:
    check_scope(user, community)
    gdf = lg.grids_on(session, on, community)
    for column in ("valid_from", "valid_to"):
        gdf[column] = gdf[column].map(lambda v: v.isoformat() if v is not None and v == v else None)
    return Response(gdf.to_json(drop_id=True, ensure_ascii=False), media_type=GEOJSON)


@router.get(f"{PREFIX}/validation", summary="Validation problems of a community's current grids",
            responses=READ_RESPONSES)
def validation(
    session: SessionDep,
    user: ReaderDep,
    community: Annotated[str, Query(pattern=COMMUNITY_CODE, description="12-digit community code")],
    min_households: Annotated[int, Query(ge=0)] = MIN_HOUSEHOLDS,
    max_households: Annotated[int, Query(ge=1)] = MAX_HOUSEHOLDS,
) -> dict[str, Any]:
    """Every problem (``problems``, with geometry), the same as GeoJSON for the map (``problem_locations``),
    and the text report."""
    check_scope(user, community)
    problems = lg.validate_community(
        session, community, min_households=min_households, max_households=max_households
    )
    return {
        "community_code": community,
        "valid": not any(p.severity == "error" for p in problems),
        "count": len(problems),
        "problems": [p.to_dict() for p in problems],
        "problem_locations": problems_to_geojson(problems),
        "text": format_problems(problems),
    }


@router.get(f"{PREFIX}/{{code}}/history", summary="Every version of a grid, oldest first",
            responses=READ_RESPONSES)
def grid_history(
    session: SessionDep,
    user: ReaderDep,
    code: CodePath,
    geometry: Annotated[bool, Query(description="include each version's boundary")] = True,
) -> dict[str, Any]:
    check_scope(user, code)
    versions = lg.history(session, code)
    return {"code": code, "versions": [v.to_dict(geometry=geometry) for v in versions]}


@router.get(f"{PREFIX}/{{code}}", summary="A grid's current version and the building parts it owns",
            responses=READ_RESPONSES)
def grid_detail(
    session: SessionDep,
    user: ReaderDep,
    code: CodePath,
    geometry: Annotated[bool, Query(description="include the boundary")] = True,
) -> dict[str, Any]:
    """The current version (as in the history) with ``parts``: the parts of buildings split over grids
    that this grid owns ("1–3单元", "16–30层"), and ``parts_households``, the households they hold."""
    check_scope(user, code)
    out = lg.grid_summary(session, code)
    if not geometry:
        out.pop("geometry", None)
    return out


# ------------------------------------------------------------------------------------------ edits


@router.post(f"{PREFIX}/{{code}}/boundary", summary="Replace a grid's boundary (neighbours adjust)",
             responses=EDIT_RESPONSES)
def replace_boundary(session: SessionDep, user: EditorDep, code: CodePath, body: BoundaryUpdate) -> dict[str, Any]:
    check_scope(user, code)
    return lg.replace_boundary(
        session, code, body.geometry, expected_version=body.expected_version, **body.options(user)
    ).to_dict()


@router.post(f"{PREFIX}/move-buildings", summary="Move buildings to a neighbouring grid",
             responses=EDIT_RESPONSES)
def move_buildings(session: SessionDep, user: EditorDep, body: BuildingMove) -> dict[str, Any]:
    codes = [body.from_code, body.to_code]
    check_scope(user, *codes)
    return lg.move_buildings(
        session, body.from_code, body.to_code, body.building_ids,
        expected_versions=_versions_for(codes, body.expected_versions), **body.options(user),
    ).to_dict()


@router.post(f"{PREFIX}/{{code}}/split", summary="Split a grid in two", responses=EDIT_RESPONSES)
def split_grid(session: SessionDep, user: EditorDep, code: CodePath, body: GridSplit) -> dict[str, Any]:
    check_scope(user, code)
    sets = (body.building_sets[0], body.building_sets[1]) if body.building_sets else None
    return lg.split_grid(
        session, code, expected_version=body.expected_version, line=body.line, building_sets=sets,
        new_code=body.new_code, **body.options(user),
    ).to_dict()


@router.post(f"{PREFIX}/merge", summary="Merge two neighbouring grids", responses=EDIT_RESPONSES)
def merge_grids(session: SessionDep, user: EditorDep, body: GridMerge) -> dict[str, Any]:
    check_scope(user, *body.codes)
    a, b = body.codes
    return lg.merge_grids(
        session, a, b, expected_versions=_versions_for([a, b], body.expected_versions), keep=body.keep,
        **body.options(user),
    ).to_dict()


@router.post(f"{PREFIX}/{{code}}/rollback", summary="Bring back an earlier version as a new version",
             responses=EDIT_RESPONSES)
def rollback_grid(session: SessionDep, user: EditorDep, code: CodePath, body: GridRollback) -> dict[str, Any]:
    check_scope(user, code)
    return lg.rollback(
        session, code, to_version=body.to_version, to_date=body.to_date,
        expected_version=body.expected_version, **body.options(user),
    ).to_dict()


@router.post(f"{PREFIX}/plan", summary="Plan a community's grids (and publish them)", responses=PLAN_RESPONSES)
def plan_community(session: SessionDep, user: EditorDep, body: CommunityPlan) -> dict[str, Any]:
    """The plan's grid count, households per grid, problems and figures — what ``gisgrid grids plan``
    reports; with ``publish: true`` also the new versions (``published``)."""
    check_scope(user, body.community_code, field="community_code")
    return lg.plan_community(
        session, body.community_code, seed=body.seed, publish=body.publish, user_id=user.id, **body.window()
    ).to_dict()


# ------------------------------------------------------------------------------------------ page


@router.get("/map/grids", response_class=HTMLResponse, tags=["pages"],
            summary="Grid map: households per grid against the window, validation problems (public)")
def grid_map_page(
    request: Request,
    community: Annotated[str | None, Query(pattern=COMMUNITY_CODE, description="one community")] = None,
    lang: Annotated[Literal["zh-CN", "en"] | None, Query(description="UI language")] = None,
    min_households: Annotated[int, Query(ge=0)] = MIN_HOUSEHOLDS,
    max_households: Annotated[int, Query(ge=1)] = MAX_HOUSEHOLDS,
) -> HTMLResponse:
    """Public like ``/map``: boundaries, codes, household totals and problems — no personal data.
    Not cached: a planner reloads it right after an edit."""
    settings, factory = page_state(request)
    with factory() as session:
        layers = load_grid_layers(
            session, community, min_households=min_households, max_households=max_households
        )
        session.rollback()  # read only
    m = build_grid_map(
        **layers,
        min_households=min_households,
        max_households=max_households,
        static_url=static_url_for(request),
        basemap=cast(Basemap, getattr(settings, "basemap", "none")),
        tianditu_key=getattr(settings, "tianditu_key", None),
        language=cast(Language, lang or getattr(settings, "language", "zh-CN")),
    )
    return HTMLResponse(render_html(m), headers={"Cache-Control": "no-cache"})


__all__ = ["router"]
