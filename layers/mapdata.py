"""Read what the public maps draw from PostGIS: the overview map's areas, complexes and stations, and the
grid map's current grids, their validation problems and building footprints.

Only what a public map may show is selected: names, codes, classes, dates, household totals and
geometries — no people, no contacts, no company details.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import NotFoundError
from gisgrid.grids import GridProblem
from layers.grids import current_grids, load_buildings, validate_community
from layers.grids.queries import grid_parts

SRID = 4326

# The keys match the keyword arguments of gisgrid.maps.build_overview_map.
_AREA_SQL = """
    SELECT id, code, name, level, source, geom
    FROM admin_area
    WHERE level IN :levels {scope}
    ORDER BY code
"""
_COMPLEX_SQL = """
    SELECT c.id, c.name, c.management, c.party_org, c.red_property, c.community_id, c.source, c.geom
    FROM complex c {scope}
    ORDER BY c.id
"""
_STATION_SQL = """
    SELECT s.id, s.name, s.kind, s.status, s.planned_on, s.building_since, s.opened_on, s.closed_on,
           s.service_radius_m, s.community_id, s.complex_id, s.source, s.geom
    FROM station s {scope}
    ORDER BY s.id
"""


def _read(session: Session, sql: str, params: dict[str, object]) -> gpd.GeoDataFrame:
    stmt = text(sql)
    if "levels" in params:
        stmt = stmt.bindparams(bindparam("levels", expanding=True))
    return gpd.read_postgis(stmt, session.connection(), geom_col="geom", crs=SRID, params=params)


def load_overview_layers(
    session: Session, *, district_code: str | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """The overview map's inputs, keyed like :func:`gisgrid.maps.build_overview_map`'s arguments.

    Keys: ``district``, ``street_areas``, ``communities``, ``complexes``, ``stations``.

    All in EPSG:4326, as stored. With ``district_code`` (12 digits) only that district, the streets
    and communities under it (by code prefix, the first 6 digits) and the complexes and stations
    inside its boundary are read; without it, everything.
    """
    params: dict[str, object] = {}
    area_scope = ""
    feature_scope = ""
    if district_code is not None:
        params["prefix"] = district_code[:6] + "%"
        params["district_code"] = district_code
        area_scope = "AND code LIKE :prefix"
        feature_scope = (
            "JOIN admin_area d ON d.code = :district_code AND d.level = 'district' "
            "AND ST_Intersects(d.geom, {alias}.geom)"
        )

    def areas(levels: tuple[str, ...]) -> gpd.GeoDataFrame:
        return _read(session, _AREA_SQL.format(scope=area_scope), {**params, "levels": list(levels)})

    return {
        "district": areas(("district",)),
        "street_areas": areas(("street", "town")),
        "communities": areas(("community",)),
        "complexes": _read(session, _COMPLEX_SQL.format(scope=feature_scope.format(alias="c")), params),
        "stations": _read(session, _STATION_SQL.format(scope=feature_scope.format(alias="s")), params),
    }


def is_synthetic(layers: dict[str, gpd.GeoDataFrame]) -> bool:
    """True when any drawn row comes from the synthetic demo generator (the map then says so)."""
    return any(
        "source" in gdf.columns and bool((gdf["source"] == "synthetic").any()) for gdf in layers.values()
    )


def load_grid_layers(
    session: Session,
    community_code: str | None = None,
    *,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
    with_buildings: bool | None = None,
) -> dict[str, Any]:
    """The grid map's inputs, keyed like :func:`gisgrid.maps.build_grid_map`'s arguments.

    ``grids`` (current versions: code, version, households, community_code), ``problems`` (validation of
    every community shown), ``communities`` (outline, code and name of each community shown),
    ``buildings`` (footprints; by default only when one community is asked for — a whole district's
    buildings make a heavy page) and ``parts`` (the building parts the grids own, listed in each grid's
    tooltip).
    """
    if community_code is not None:
        known = session.execute(
            text("SELECT 1 FROM admin_area WHERE code = :code AND level = 'community'"), {"code": community_code}
        ).first()
        if known is None:  # an empty map at country scale is no answer: say which code is unknown
            raise NotFoundError(
                f"no community with code {community_code!r}", field="community", feature=community_code,
                rule="an existing community (12-digit code)",
            )
    grids = current_grids(session, community_code)
    problems: list[GridProblem] = []
    for code in sorted(set(grids["community_code"])) if len(grids) else []:
        problems.extend(
            validate_community(session, code, min_households=min_households, max_households=max_households)
        )
    if with_buildings is None:
        with_buildings = community_code is not None
    buildings = load_buildings(session, community_code) if with_buildings and community_code else None
    codes = sorted(set(grids["community_code"])) if len(grids) else ([community_code] if community_code else [])
    communities = _read(
        session,
        "SELECT code, name, geom FROM admin_area WHERE level = 'community' AND code = ANY(:codes) ORDER BY code",
        {"codes": codes},
    )
    parts = grid_parts(session, list(grids["code"])) if len(grids) else None
    return {"grids": grids, "problems": problems, "buildings": buildings, "communities": communities,
            "parts": parts}
