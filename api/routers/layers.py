"""GeoJSON read endpoints, one per layer, each with a bbox filter, paging and the caller's area scope.

All need a valid token. Each returns a FeatureCollection (``application/geo+json``) with
``numberMatched``, ``numberReturned`` and ``links`` (self / next / prev) for paging.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import INCIDENT_READERS, CurrentUser, CurrentUserDep, IncidentReaderDep, SessionDep
from api.schemas import ErrorResponse, LayerInfo
from gisgrid import vocab
from layers import geojson

router = APIRouter(prefix="/api/v1", tags=["layers"])

GEOJSON = "application/geo+json"
GEOJSON_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {"schema": {"type": "object"}}}, "description": "a GeoJSON FeatureCollection"},
    401: {"model": ErrorResponse, "description": "no or invalid token"},
    403: {"model": ErrorResponse, "description": "the role may not read this layer"},
    422: {"model": ErrorResponse, "description": "malformed bbox, paging or filter"},
}

LAYER_INFO: dict[str, tuple[str, str, str]] = {
    "areas": ("Administrative areas", "行政区划", "MultiPolygon"),
    "grids": ("Grids (current versions)", "网格", "MultiPolygon"),
    "buildings": ("Buildings", "楼栋", "MultiPolygon"),
    "complexes": ("Residential complexes", "小区", "MultiPolygon"),
    "stations": ("Service stations", "服务站点", "Point"),
    "streets": ("Street network", "街巷", "LineString"),
    "incidents": ("Incidents", "事件", "Point"),
}


@dataclass(frozen=True)
class PageParams:
    bbox: geojson.BBox | None
    limit: int
    offset: int


def page_params(
    bbox: Annotated[
        str | None,
        Query(
            description="minLon,minLat,maxLon,maxLat in WGS84, longitude first",
            examples=["116.30,39.90,116.45,40.00"],
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=geojson.MAX_LIMIT, description="features per page")
    ] = geojson.DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="features to skip")] = 0,
) -> PageParams:
    return PageParams(bbox=geojson.parse_bbox(bbox), limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


def scope_of(user: CurrentUser) -> int | None:
    """The area a user's reads are limited to; admins see everything."""
    return None if user.role == "admin" else user.scope_area_id


def _links(request: Request, page: geojson.FeaturePage) -> list[dict[str, str]]:
    def link(rel: str, offset: int) -> dict[str, str]:
        return {"rel": rel, "type": GEOJSON, "href": str(request.url.include_query_params(offset=offset))}

    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)}]
    if page.next_offset is not None:
        links.append(link("next", page.next_offset))
    if page.prev_offset is not None:
        links.append(link("prev", page.prev_offset))
    return links


def _respond(request: Request, page: geojson.FeaturePage) -> Response:
    return Response(content=page.to_json(links=_links(request, page)), media_type=GEOJSON)


def _common(user: CurrentUser, page: PageParams) -> dict[str, Any]:
    """The keyword arguments every ``layers.geojson.fetch_*`` takes: bbox, paging and scope."""
    return {"bbox": page.bbox, "limit": page.limit, "offset": page.offset, "scope_area_id": scope_of(user)}


@router.get("/layers", response_model=list[LayerInfo], summary="The map layers and where to read them")
def list_layers(request: Request, user: CurrentUserDep) -> list[LayerInfo]:
    out = []
    for name, (title, title_zh, geometry) in LAYER_INFO.items():
        roles = list(INCIDENT_READERS) if name == "incidents" else None
        if roles is not None and user.role not in roles:
            continue
        out.append(
            LayerInfo(
                name=name,
                title=title,
                title_zh=title_zh,
                geometry=geometry,
                href=str(request.url_for(f"read_{name}")),
                filters=list(geojson.LAYERS[name].filters),
                roles=roles,
            )
        )
    return out


@router.get(
    "/areas",
    name="read_areas",
    summary="Administrative areas (district, street, community)",
    response_class=Response,
    responses=GEOJSON_RESPONSES,
)
def read_areas(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    page: PageDep,
    level: Annotated[str | None, Query(description="one of " + ", ".join(vocab.AREA_LEVELS))] = None,
    parent_code: Annotated[str | None, Query(description="12-digit code of the parent area")] = None,
) -> Response:
    result = geojson.fetch_areas(session, level=level, parent_code=parent_code, **_common(user, page))
    return _respond(request, result)


@router.get(
    "/grids",
    name="read_grids",
    summary="Grids (current versions unless current=false)",
    response_class=Response,
    responses=GEOJSON_RESPONSES,
)
def read_grids(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    page: PageDep,
    status: Annotated[str | None, Query(description="one of " + ", ".join(vocab.GRID_STATUSES))] = None,
    community_code: Annotated[str | None, Query(description="12-digit community code")] = None,
    current: Annotated[bool, Query(description="only the versions valid now")] = True,
) -> Response:
    result = geojson.fetch_grids(
        session,
        status=status,
        community_code=community_code,
        current_only=current,
        **_common(user, page),
    )
    return _respond(request, result)


@router.get(
    "/buildings",
    name="read_buildings",
    summary="Buildings (楼栋)",
    response_class=Response,
    responses=GEOJSON_RESPONSES,
)
def read_buildings(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    page: PageDep,
    grid_code: Annotated[str | None, Query(description="15-digit grid code")] = None,
    building_type: Annotated[
        str | None, Query(description="one of " + ", ".join(vocab.BUILDING_TYPES))
    ] = None,
) -> Response:
    result = geojson.fetch_buildings(
        session, grid_code=grid_code, building_type=building_type, **_common(user, page)
    )
    return _respond(request, result)


@router.get(
    "/complexes",
    name="read_complexes",
    summary="Residential complexes (小区)",
    response_class=Response,
    responses=GEOJSON_RESPONSES,
)
def read_complexes(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    page: PageDep,
    management: Annotated[
        str | None, Query(description="one of " + ", ".join(vocab.MANAGEMENT_KINDS))
    ] = None,
    party_org: Annotated[str | None, Query(description="one of " + ", ".join(vocab.PARTY_ORG_MODES))] = None,
) -> Response:
    result = geojson.fetch_complexes(
        session, management=management, party_org=party_org, **_common(user, page)
    )
    return _respond(request, result)


@router.get(
    "/stations",
    name="read_stations",
    summary="Service stations, posts and police rooms",
    response_class=Response,
    responses=GEOJSON_RESPONSES,
)
def read_stations(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    page: PageDep,
    kind: Annotated[str | None, Query(description="one of " + ", ".join(vocab.STATION_KINDS))] = None,
    status: Annotated[str | None, Query(description="one of " + ", ".join(vocab.STATION_STATUSES))] = None,
) -> Response:
    result = geojson.fetch_stations(session, kind=kind, status=status, **_common(user, page))
    return _respond(request, result)


@router.get(
    "/streets",
    name="read_streets",
    summary="The walkable street network",
    response_class=Response,
    responses=GEOJSON_RESPONSES,
)
def read_streets(
    request: Request,
    session: SessionDep,
    user: CurrentUserDep,
    page: PageDep,
    highway: Annotated[str | None, Query(description="OSM highway class, e.g. residential")] = None,
) -> Response:
    result = geojson.fetch_streets(session, highway=highway, **_common(user, page))
    return _respond(request, result)


@router.get(
    "/incidents",
    name="read_incidents",
    summary="Incidents (admin, leader, dispatcher, department and patrol; planners may not)",
    response_class=Response,
    responses=GEOJSON_RESPONSES,
)
def read_incidents(
    request: Request,
    session: SessionDep,
    user: IncidentReaderDep,
    page: PageDep,
    status: Annotated[str | None, Query(description="one of " + ", ".join(vocab.INCIDENT_STATUSES))] = None,
    level: Annotated[str | None, Query(description="one of " + ", ".join(vocab.INCIDENT_LEVELS))] = None,
    category_code: Annotated[str | None, Query(description="5-digit category code")] = None,
) -> Response:
    result = geojson.fetch_incidents(
        session,
        status=status,
        level=level,
        category_code=category_code,
        # a department account sees the cases assigned or whistled to its department, nothing else
        department_id=(user.department_id if user.department_id is not None else -1)
        if user.role == "department"
        else None,
        **_common(user, page),
    )
    return _respond(request, result)
