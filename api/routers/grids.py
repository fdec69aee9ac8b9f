"""Grid planning endpoints: versions, history, validation, the planner's edits, and the grid map page.

Thin over :mod:`layers.grids`. Every edit answers with the new household tallies of the grids it
changed, the new versions, and the validation of the whole community afterwards; ``dry_run: true``
answers the same without saving (the live tally while a planner draws). Each edit carries the version
the planner started from (``expected_version`` / ``expected_versions``); if someone else changed the
grid meanwhile the answer is **409** with ``error.details.current_version`` — never a silent overwrite.
The check runs under row locks (``SELECT … FOR UPDATE``), so two simultaneous edits of one version give
exactly one success and one 409.

Roles: ``planner`` and ``admin`` edit; ``leader`` reads too (history, as-of, validation). Everyone but
admins is limited to their area (``scope_area``): a community inside it, by code.

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
from starlette.routing import NoMatchFound

from api.deps import CurrentUser, SessionDep, require_roles
from api.schemas import ErrorResponse
from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS, in_scope
from gisgrid.errors import ConfigurationError, InvalidInputError, PermissionDeniedError
from gisgrid.grids import format_problems, problems_to_geojson
from gisgrid.maps import Basemap, Language, build_grid_map, render_html
from layers import grids as lg

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

EDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no or invalid token"},
    403: {"model": ErrorResponse, "description": "not a planner/admin, or outside the user's area"},
    404: {"model": ErrorResponse, "description": "no such grid"},
    409: {"model": ErrorResponse, "description": "stale expected_version: details.current_version is current"},
    422: {"model": ErrorResponse, "description": "malformed geometry, ids or versions"},
}
READ_RESPONSES = {k: v for k, v in EDIT_RESPONSES.items() if k != 409}

def check_scope(user: CurrentUser, community_code: str) -> None:
    """Admins and users without a scope reach everything; others only communities inside their area."""
    if user.role == "admin":
        return
    if not in_scope(user.scope_area_code, community_code):
        raise PermissionDeniedError(
            f"community {community_code} is outside your area {user.scope_area_name or ''} "
            f"({user.scope_area_code})",
            field="code",
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


class BoundaryUpdate(Window):
    """A grid's new boundary."""

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, WGS84")
    expected_version: int = Field(ge=1, description="the version the planner edited")
    dry_run: bool = False


class BuildingMove(Window):
    """Buildings moving from one grid to its neighbour (with their Voronoi cells)."""

    from_code: str = Field(pattern=GRID_CODE)
    to_code: str = Field(pattern=GRID_CODE)
    building_ids: list[int] = Field(min_length=1)
    expected_versions: dict[str, int] = Field(description="version per code, for both grids")
    dry_run: bool = False


class GridSplit(Window):
    """Split by a line across the grid, or by two building sets."""

    expected_version: int = Field(ge=1)
    line: dict[str, Any] | None = Field(None, description="GeoJSON LineString crossing the grid once")
    building_sets: list[list[int]] | None = Field(None, min_length=2, max_length=2)
    new_code: str | None = Field(None, pattern=GRID_CODE)
    dry_run: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> GridSplit:
        if (self.line is None) == (self.building_sets is None):
            raise ValueError("give either line or building_sets")
        return self


class GridMerge(Window):
    """Two neighbouring grids become one."""

    codes: list[Annotated[str, Field(pattern=GRID_CODE)]] = Field(min_length=2, max_length=2)
    expected_versions: dict[str, int]
    keep: str | None = Field(None, pattern=GRID_CODE, description="the surviving code (default: the lower)")
    dry_run: bool = False


class GridRollback(Window):
    """Bring back an earlier version of a grid (as a new version)."""

    to_version: int | None = Field(None, ge=1)
    to_date: date | datetime | None = None
    expected_version: int | None = Field(None, ge=1, description="the current version, if known")
    dry_run: bool = False


def _versions_for(codes: list[str], given: dict[str, int], field: str = "expected_versions") -> dict[str, int]:
    missing = [c for c in codes if c not in given]
    if missing:
        raise InvalidInputError(
            f"{field} needs the version of every grid edited; missing {', '.join(missing)}",
            field=field,
            rule="a version per grid",
        )
    return {c: given[c] for c in codes}


def _edit_response(result: lg.EditResult | lg.PublishResult) -> dict[str, Any]:
    return result.to_dict()


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
    check_scope(user, code[:12])
    versions = lg.history(session, code)
    return {"code": code, "versions": [v.to_dict(geometry=geometry) for v in versions]}


# ------------------------------------------------------------------------------------------ edits


@router.post(f"{PREFIX}/{{code}}/boundary", summary="Replace a grid's boundary (neighbours adjust)",
             responses=EDIT_RESPONSES)
def replace_boundary(session: SessionDep, user: EditorDep, code: CodePath, body: BoundaryUpdate) -> dict[str, Any]:
    check_scope(user, code[:12])
    return _edit_response(
        lg.replace_boundary(
            session, code, body.geometry, expected_version=body.expected_version, user_id=user.id,
            dry_run=body.dry_run, **body.window(),
        )
    )


@router.post(f"{PREFIX}/move-buildings", summary="Move buildings to a neighbouring grid",
             responses=EDIT_RESPONSES)
def move_buildings(session: SessionDep, user: EditorDep, body: BuildingMove) -> dict[str, Any]:
    for code in (body.from_code, body.to_code):
        check_scope(user, code[:12])
    return _edit_response(
        lg.move_buildings(
            session, body.from_code, body.to_code, body.building_ids,
            expected_versions=_versions_for([body.from_code, body.to_code], body.expected_versions),
            user_id=user.id, dry_run=body.dry_run, **body.window(),
        )
    )


@router.post(f"{PREFIX}/{{code}}/split", summary="Split a grid in two", responses=EDIT_RESPONSES)
def split_grid(session: SessionDep, user: EditorDep, code: CodePath, body: GridSplit) -> dict[str, Any]:
    check_scope(user, code[:12])
    sets = (body.building_sets[0], body.building_sets[1]) if body.building_sets else None
    return _edit_response(
        lg.split_grid(
            session, code, expected_version=body.expected_version, line=body.line, building_sets=sets,
            new_code=body.new_code, user_id=user.id, dry_run=body.dry_run, **body.window(),
        )
    )


@router.post(f"{PREFIX}/merge", summary="Merge two neighbouring grids", responses=EDIT_RESPONSES)
def merge_grids(session: SessionDep, user: EditorDep, body: GridMerge) -> dict[str, Any]:
    for code in body.codes:
        check_scope(user, code[:12])
    a, b = body.codes
    return _edit_response(
        lg.merge_grids(
            session, a, b, expected_versions=_versions_for([a, b], body.expected_versions), keep=body.keep,
            user_id=user.id, dry_run=body.dry_run, **body.window(),
        )
    )


@router.post(f"{PREFIX}/{{code}}/rollback", summary="Bring back an earlier version as a new version",
             responses=EDIT_RESPONSES)
def rollback_grid(session: SessionDep, user: EditorDep, code: CodePath, body: GridRollback) -> dict[str, Any]:
    check_scope(user, code[:12])
    return _edit_response(
        lg.rollback(
            session, code, to_version=body.to_version, to_date=body.to_date, user_id=user.id,
            expected_version=body.expected_version, dry_run=body.dry_run, **body.window(),
        )
    )


# ------------------------------------------------------------------------------------------ page


def _static_url(request: Request) -> str:
    try:
        path = request.app.url_path_for("static", path="/")
    except NoMatchFound:
        path = "/static/"
    return request.scope.get("root_path", "").rstrip("/") + str(path).rstrip("/")


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
    state = request.app.state
    settings = getattr(state, "settings", None)
    factory = getattr(state, "sessionmaker", None)
    if settings is None or factory is None:
        raise ConfigurationError(
            "the app has no database or settings: it was not started through its app factory",
            field="app.state", rule="sessionmaker and settings required",
        )
    with factory() as session:
        layers = lg.load_grid_layers(
            session, community, min_households=min_households, max_households=max_households
        )
        session.rollback()  # read only
    m = build_grid_map(
        **layers,
        min_households=min_households,
        max_households=max_households,
        static_url=_static_url(request),
        basemap=cast(Basemap, getattr(settings, "basemap", "none")),
        tianditu_key=getattr(settings, "tianditu_key", None),
        language=cast(Language, lang or getattr(settings, "language", "zh-CN")),
    )
    return HTMLResponse(render_html(m), headers={"Cache-Control": "no-cache"})


__all__ = ["router"]
