"""Pages of features of each layer as GeoJSON FeatureCollections, built inside PostgreSQL.

The features are assembled by ``json_build_object`` / ``ST_AsGeoJSON`` (7 decimal places, about 1 cm)
and come back as one JSON text that is spliced into the envelope unparsed, so a page of 5,000
buildings never becomes 5,000 Python dicts. Every query takes the same three limits:

- ``bbox``: ``(minx, miny, maxx, maxy)`` in WGS84 longitude/latitude, checked by :func:`parse_bbox`;
- ``limit`` (1–5000, default 1000) and ``offset``, ordered by id so pages are stable;
- ``scope_area_id``: only rows inside that admin area (a user's area scope) — by code, see
  :func:`scope_condition`; ``None`` means everything (admins).

``numberMatched`` counts all rows that pass the filters, ``numberReturned`` those on this page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid import vocab
from gisgrid.codes import scope_prefix
from gisgrid.errors import InvalidInputError

PRECISION = 7  # decimal places of coordinates: about 1 cm at the equator
DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000


@dataclass(frozen=True)
class BBox:
    """A WGS84 bounding box, longitude first."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    def as_list(self) -> list[float]:
        return [self.minx, self.miny, self.maxx, self.maxy]


def parse_bbox(value: str | Sequence[float] | None, *, field: str = "bbox") -> BBox | None:
    """Check a ``minLon,minLat,maxLon,maxLat`` bounding box (text or four numbers); None passes through.

    Raises :class:`InvalidInputError` naming ``field`` for anything but four finite numbers with
    longitudes in [-180, 180], latitudes in [-90, 90] and min < max, and says so when the numbers
    look like latitude first (e.g. ``39.8,116.3,40.0,116.5`` for Beijing).
    """
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    parts: list[Any] = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 4:
        raise InvalidInputError(
            f"bbox must be four comma-separated numbers minLon,minLat,maxLon,maxLat; "
            f"got {len(parts)} value(s).",
            field=field,
            rule="four numbers: minLon,minLat,maxLon,maxLat (WGS84)",
        )
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"bbox must be four numbers minLon,minLat,maxLon,maxLat; got {value!r}.",
            field=field,
            rule="four numbers: minLon,minLat,maxLon,maxLat (WGS84)",
        ) from exc
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise InvalidInputError("bbox values must be finite numbers.", field=field, rule="finite numbers")
    lat_ok = all(-90 <= v <= 90 for v in (miny, maxy))
    lon_ok = all(-180 <= v <= 180 for v in (minx, maxx))
    if not lat_ok:
        swapped = all(-90 <= v <= 90 for v in (minx, maxx)) and all(-180 <= v <= 180 for v in (miny, maxy))
        hint = (
            " It looks like latitude came first: the order is minLon,minLat,maxLon,maxLat "
            f"(e.g. {miny},{minx},{maxy},{maxx})."
            if swapped
            else ""
        )
        raise InvalidInputError(
            f"bbox latitudes must lie in [-90, 90]; got minLat={miny}, maxLat={maxy}.{hint}",
            field=field,
            rule="minLon,minLat,maxLon,maxLat with latitude in [-90, 90]",
        )
    if not lon_ok:
        raise InvalidInputError(
            f"bbox longitudes must lie in [-180, 180]; got minLon={minx}, maxLon={maxx}.",
            field=field,
            rule="minLon,minLat,maxLon,maxLat with longitude in [-180, 180]",
        )
    if not (minx < maxx and miny < maxy):
        raise InvalidInputError(
            f"bbox minimums must be below maximums; got minLon={minx}, maxLon={maxx}, "
            f"minLat={miny}, maxLat={maxy}.",
            field=field,
            rule="minLon < maxLon and minLat < maxLat",
        )
    return BBox(minx, miny, maxx, maxy)


def check_paging(limit: int, offset: int) -> None:
    if not (1 <= limit <= MAX_LIMIT):
        raise InvalidInputError(
            f"limit must be between 1 and {MAX_LIMIT}; got {limit}.",
            field="limit",
            rule=f"1 ≤ limit ≤ {MAX_LIMIT}",
        )
    if offset < 0:
        raise InvalidInputError(
            f"offset must not be negative; got {offset}.", field="offset", rule="offset ≥ 0"
        )


@dataclass(frozen=True)
class FeaturePage:
    """One page of a layer: the features as GeoJSON text, and the counts for paging."""

    layer: str
    features_json: str  # a JSON array of Feature objects, as PostgreSQL wrote it
    number_matched: int
    number_returned: int
    limit: int
    offset: int
    bbox: BBox | None = None

    @property
    def next_offset(self) -> int | None:
        end = self.offset + self.number_returned
        return end if end < self.number_matched else None

    @property
    def prev_offset(self) -> int | None:
        return max(self.offset - self.limit, 0) if self.offset > 0 else None

    def to_json(self, *, links: Sequence[Mapping[str, Any]] = ()) -> str:
        """The FeatureCollection as JSON text (features spliced in, not re-encoded)."""
        head: dict[str, Any] = {
            "type": "FeatureCollection",
            "layer": self.layer,
            "numberMatched": self.number_matched,
            "numberReturned": self.number_returned,
            "limit": self.limit,
            "offset": self.offset,
            "nextOffset": self.next_offset,
        }
        if self.bbox is not None:
            head["bbox"] = self.bbox.as_list()
        if links:
            head["links"] = list(links)
        return json.dumps(head, ensure_ascii=False)[:-1] + ', "features": ' + self.features_json + "}"

    def to_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.to_json()))


# ------------------------------------------------------------------------------------ layer specs


@dataclass(frozen=True)
class Filter:
    """An optional equality filter on a column, with its allowed values (None: any value)."""

    column: str
    allowed: tuple[str, ...] | None = None
    condition: str | None = None  # SQL with ``{p}`` for the parameter, instead of ``column = value``


@dataclass(frozen=True)
class LayerSpec:
    """How to read one layer: table, geometry column, properties (name → SQL expression), filters."""

    name: str
    table: str
    properties: Mapping[str, str]
    geometry: str = "geom"
    filters: Mapping[str, Filter] = field(default_factory=dict)
    joins: str = ""
    #: the SQL expression of the row's own area code, which decides the scope (None: by geometry)
    area_code: str | None = None


def _point_pair(column: str) -> str:
    x = f"round(ST_X({column})::numeric, {PRECISION})"
    y = f"round(ST_Y({column})::numeric, {PRECISION})"
    return f"json_build_array({x}, {y})"


def part_label_sql(p: str = "p") -> str:
    """SQL for the label of a building part of alias ``p``: ``1–3单元`` or ``16–30层`` (as
    :func:`gisgrid.grids.parts.part_label`)."""
    def span(a: str, b: str) -> str:
        return f"CASE WHEN {p}.{a} = {p}.{b} THEN {p}.{a}::text ELSE {p}.{a} || '–' || {p}.{b} END"

    return (f"CASE WHEN {p}.kind = 'entrance' THEN {span('entrance_from', 'entrance_to')} || '单元' "
            f"ELSE {span('floor_from', 'floor_to')} || '层' END")


#: A split building's current parts as a JSON array (null for a building that is not split).
BUILDING_PARTS_JSON = (
    "(SELECT json_agg(json_build_object('part_no', p.part_no, 'kind', p.kind, 'label', " + part_label_sql()
    + ", 'entrance_from', p.entrance_from, 'entrance_to', p.entrance_to, 'floor_from', p.floor_from, "
    "'floor_to', p.floor_to, 'households', p.households, 'grid_code', p.grid_code) ORDER BY p.part_no) "
    "FROM building_part p WHERE p.building_id = t.id AND p.valid_to IS NULL)"
)


LAYERS: dict[str, LayerSpec] = {
    "areas": LayerSpec(
        name="areas",
        table="admin_area",
        properties={
            "code": "t.code",
            "name": "t.name",
            "level": "t.level",
            "parent_code": "p.code",
            "source": "t.source",
        },
        joins="LEFT JOIN admin_area p ON p.id = t.parent_id",
        filters={"level": Filter("t.level", vocab.AREA_LEVELS), "parent_code": Filter("p.code")},
        area_code="t.code",
    ),
    "grids": LayerSpec(
        name="grids",
        table="grid",
        properties={
            "code": "t.code",
            "version": "t.version",
            "name": "t.name",
            "community_code": "c.code",
            "households": "t.households",
            "population": "t.population",
            "status": "t.status",
            "valid_from": "t.valid_from",
            "valid_to": "t.valid_to",
        },
        joins="LEFT JOIN admin_area c ON c.id = t.community_id",
        filters={"status": Filter("t.status", vocab.GRID_STATUSES), "community_code": Filter("c.code")},
        area_code="t.code",
    ),
    "buildings": LayerSpec(
        name="buildings",
        table="building",
        properties={
            "name": "t.name",
            "building_type": "t.building_type",
            "levels": "t.levels",
            "units": "t.units",
            "households": "t.households",
            "households_estimated": "t.households_estimated",
            "households_method": "t.households_method",
            "complex_id": "t.complex_id",
            "community_code": "c.code",
            "grid_code": "t.grid_code",
            "parts": BUILDING_PARTS_JSON,
            "entrance": _point_pair("t.entrance"),
        },
        joins="LEFT JOIN admin_area c ON c.id = t.community_id",
        filters={
            # a split building is in every grid that owns one of its parts
            "grid_code": Filter("t.grid_code", condition=(
                "(t.grid_code = {p} OR EXISTS (SELECT 1 FROM building_part p WHERE p.building_id = t.id "
                "AND p.valid_to IS NULL AND p.grid_code = {p}))")),
            "building_type": Filter("t.building_type", vocab.BUILDING_TYPES),
        },
        area_code="c.code",
    ),
    "complexes": LayerSpec(
        name="complexes",
        table="complex",
        properties={
            "name": "t.name",
            "community_code": "c.code",
            "property_company": "pc.name",
            "property_company_credit": "pc.credit",
            "management": "t.management",
            "owners_committee_since": "t.owners_committee_since",
            "party_org": "t.party_org",
            "red_property": "t.red_property",
            "built_year": "t.built_year",
        },
        joins=(
            "LEFT JOIN admin_area c ON c.id = t.community_id "
            "LEFT JOIN property_company pc ON pc.id = t.property_company_id"
        ),
        filters={
            "management": Filter("t.management", vocab.MANAGEMENT_KINDS),
            "party_org": Filter("t.party_org", vocab.PARTY_ORG_MODES),
        },
        area_code="c.code",
    ),
    "stations": LayerSpec(
        name="stations",
        table="station",
        properties={
            "name": "t.name",
            "kind": "t.kind",
            "status": "t.status",
            "planned_on": "t.planned_on",
            "building_since": "t.building_since",
            "opened_on": "t.opened_on",
            "closed_on": "t.closed_on",
            "service_radius_m": "t.service_radius_m",
            "community_code": "c.code",
            "complex_id": "t.complex_id",
        },
        joins="LEFT JOIN admin_area c ON c.id = t.community_id",
        filters={
            "kind": Filter("t.kind", vocab.STATION_KINDS),
            "status": Filter("t.status", vocab.STATION_STATUSES),
        },
        area_code="c.code",
    ),
    "streets": LayerSpec(
        name="streets",
        table="street_edge",
        properties={
            "name": "t.name",
            "highway": "t.highway",
            "length_m": "round(t.length_m::numeric, 1)",
            "source_node": "t.source_node",
            "target_node": "t.target_node",
        },
        filters={"highway": Filter("t.highway")},
    ),
    "incidents": LayerSpec(
        name="incidents",
        table="incident",
        # reporter_contact and photos are personal data: not on a map layer
        properties={
            "category_code": "t.category_code",
            "source": "t.source",
            "status": "t.status",
            "level": "t.level",
            "description": "t.description",
            "reported_at": "t.reported_at",
            "deadline_at": "t.deadline_at",
            "closed_at": "t.closed_at",
            "grid_code": "t.grid_code",
            "community_code": "c.code",
            "satisfaction": "t.satisfaction",
        },
        joins="LEFT JOIN admin_area c ON c.id = t.community_id",
        filters={
            "status": Filter("t.status", vocab.INCIDENT_STATUSES),
            "level": Filter("t.level", vocab.INCIDENT_LEVELS),
            "category_code": Filter("t.category_code"),
        },
        area_code="c.code",
    ),
}


def layer_spec(name: str) -> LayerSpec:
    try:
        return LAYERS[name]
    except KeyError:
        raise InvalidInputError(
            f"Unknown layer {name!r}: use one of {', '.join(LAYERS)}.",
            field="layer",
            rule="a known layer name",
        ) from None


def department_condition(
    department_id: int, *, alias: str = "t", param: str = "department_id"
) -> tuple[str, dict[str, Any]]:
    """A SQL condition keeping the incidents ``alias`` assigned or whistled to ``department_id``.

    What a department account may see, on top of its area scope: ``incident.assignee_department_id`` is
    the department, or ``incident.whistles`` holds an entry with its ``department_id``.
    """
    return (
        f"({alias}.assignee_department_id = :{param}"
        f" OR {alias}.whistles @> jsonb_build_array(jsonb_build_object('department_id', CAST(:{param} AS int))))",
        {param: department_id},
    )


def scope_condition(session: Session, spec: LayerSpec, scope_area_id: int) -> tuple[str, dict[str, Any]]:
    """The SQL condition keeping the rows of ``spec`` inside the area ``scope_area_id``, and its parameters.

    By code, never by intersection (:mod:`gisgrid.codes`): neighbouring outlines overlap by slivers of
    floating-point noise, and an intersection test gave a community account its neighbours' grids. A row
    is in scope when its own code (areas, grids) or its community's code (buildings, complexes, stations,
    incidents) starts with the scope's significant digits; areas coarser than the scope that contain it
    (its street, its district) are in scope too. A row with no community is in scope when the area
    *covers* its representative point. Streets, which have no code and run along boundaries, are in scope
    when their interior meets the area's.
    """
    code = session.execute(
        text("SELECT code FROM admin_area WHERE id = :id"), {"id": scope_area_id}
    ).scalar_one_or_none()
    geom = f"t.{spec.geometry}"
    if code is None:  # the area is gone: nothing is in scope
        return "FALSE", {}
    params: dict[str, Any] = {"scope_id": scope_area_id, "scope_like": scope_prefix(code) + "%"}
    if spec.area_code is None:
        return (
            f"EXISTS (SELECT 1 FROM admin_area s WHERE s.id = :scope_id "
            f"AND {geom} && s.geom AND ST_Relate({geom}, s.geom, 'T********'))",
            params,
        )
    if spec.area_code == "t.code":
        if spec.name != "areas":
            return "t.code LIKE :scope_like", params
        params["scope_above"] = [c for c in (code[:6] + "000000", code[:9] + "000") if c != code]
        return "(t.code LIKE :scope_like OR t.code = ANY(:scope_above))", params
    return (
        f"({spec.area_code} LIKE :scope_like OR ({spec.area_code} IS NULL AND EXISTS (SELECT 1 FROM admin_area s "
        f"WHERE s.id = :scope_id AND {geom} && s.geom AND ST_Covers(s.geom, ST_PointOnSurface({geom})))))",
        params,
    )


def fetch_page(
    session: Session,
    layer: str,
    *,
    bbox: BBox | str | Sequence[float] | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    scope_area_id: int | None = None,
    filters: Mapping[str, str | None] | None = None,
    current_only: bool = True,
    department_id: int | None = None,
) -> FeaturePage:
    """A page of ``layer`` (a key of :data:`LAYERS`) as a :class:`FeaturePage`.

    ``department_id`` (incidents only) keeps the cases assigned or whistled to that department: what a
    department account may see, whatever its area scope.

    ``filters`` are equality filters on the layer's filter names (e.g. ``{"level": "community"}``);
    None values are ignored; a value outside the vocabulary raises :class:`InvalidInputError` naming
    the filter. ``current_only`` (grids only) keeps the versions whose ``valid_to`` is NULL.
    """
    spec = layer_spec(layer)
    box = bbox if isinstance(bbox, BBox) or bbox is None else parse_bbox(bbox)
    check_paging(limit, offset)

    where: list[str] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    for name, value in (filters or {}).items():
        if value is None:
            continue
        flt = spec.filters.get(name)
        if flt is None:
            raise InvalidInputError(
                f"The layer {layer!r} cannot be filtered by {name!r}; "
                f"it takes {', '.join(spec.filters) or 'none'}.",
                field=name,
                rule="a filter the layer supports",
            )
        if flt.allowed is not None and value not in flt.allowed:
            raise InvalidInputError(
                f"{name} must be one of {', '.join(flt.allowed)}; got {value!r}.",
                field=name,
                rule=f"{name} in ({', '.join(flt.allowed)})",
            )
        params[f"f_{name}"] = value
        where.append(flt.condition.format(p=f":f_{name}") if flt.condition else f"{flt.column} = :f_{name}")
    if layer == "grids" and current_only:
        where.append("t.valid_to IS NULL")
    if layer == "incidents" and department_id is not None:
        condition, department_params = department_condition(department_id)
        params.update(department_params)
        where.append(condition)
    geom = f"t.{spec.geometry}"
    if box is not None:
        params.update(minx=box.minx, miny=box.miny, maxx=box.maxx, maxy=box.maxy)
        where.append(f"ST_Intersects({geom}, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))")
    if scope_area_id is not None:
        condition, scope_params = scope_condition(session, spec, scope_area_id)
        params.update(scope_params)
        where.append(condition)
    where_sql = ("WHERE " + " AND ".join(where)) if where else ""
    props = ", ".join(f"'{key}', {expr}" for key, expr in spec.properties.items())
    sql = f"""
        WITH matched AS (
            SELECT t.id FROM {spec.table} t {spec.joins} {where_sql}
        ),
        page AS (
            SELECT t.id, {geom} AS geom, json_build_object({props}) AS properties
            FROM {spec.table} t {spec.joins}
            WHERE t.id IN (SELECT id FROM matched ORDER BY id LIMIT :limit OFFSET :offset)
        )
        SELECT
            (SELECT count(*) FROM matched) AS number_matched,
            (SELECT count(*) FROM page) AS number_returned,
            (SELECT coalesce(json_agg(json_build_object(
                'type', 'Feature',
                'id', page.id,
                'geometry', ST_AsGeoJSON(page.geom, {PRECISION})::json,
                'properties', page.properties
            ) ORDER BY page.id), '[]'::json)::text FROM page) AS features
    """
    row = session.execute(text(sql), params).one()
    return FeaturePage(
        layer=layer,
        features_json=row.features,
        number_matched=int(row.number_matched),
        number_returned=int(row.number_returned),
        limit=limit,
        offset=offset,
        bbox=box,
    )


def fetch_areas(
    session: Session, *, level: str | None = None, parent_code: str | None = None, **kwargs: Any
) -> FeaturePage:
    return fetch_page(session, "areas", filters={"level": level, "parent_code": parent_code}, **kwargs)


def fetch_grids(
    session: Session,
    *,
    status: str | None = None,
    community_code: str | None = None,
    current_only: bool = True,
    **kwargs: Any,
) -> FeaturePage:
    return fetch_page(
        session,
        "grids",
        filters={"status": status, "community_code": community_code},
        current_only=current_only,
        **kwargs,
    )


def fetch_buildings(
    session: Session, *, grid_code: str | None = None, building_type: str | None = None, **kwargs: Any
) -> FeaturePage:
    return fetch_page(
        session, "buildings", filters={"grid_code": grid_code, "building_type": building_type}, **kwargs
    )


def fetch_complexes(
    session: Session, *, management: str | None = None, party_org: str | None = None, **kwargs: Any
) -> FeaturePage:
    return fetch_page(
        session, "complexes", filters={"management": management, "party_org": party_org}, **kwargs
    )


def fetch_stations(
    session: Session, *, kind: str | None = None, status: str | None = None, **kwargs: Any
) -> FeaturePage:
    return fetch_page(session, "stations", filters={"kind": kind, "status": status}, **kwargs)


def fetch_streets(session: Session, *, highway: str | None = None, **kwargs: Any) -> FeaturePage:
    return fetch_page(session, "streets", filters={"highway": highway}, **kwargs)


def fetch_incidents(
    session: Session,
    *,
    status: str | None = None,
    level: str | None = None,
    category_code: str | None = None,
    department_id: int | None = None,
    **kwargs: Any,
) -> FeaturePage:
    return fetch_page(
        session,
        "incidents",
        filters={"status": status, "level": level, "category_code": category_code},
        department_id=department_id,
        **kwargs,
    )
