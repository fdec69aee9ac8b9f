"""Export any layer to GeoJSON or GeoPackage, in WGS84, CGCS2000, GCJ-02, BD-09 or any EPSG CRS.

The columns are the import fields of :data:`gisgrid.readers.SCHEMAS` (plus read-only context such as
``community_code``), so an exported file imports again unchanged — the round trip planners make through
QGIS. Feature ids: a row that came from an import is exported with its own id; any other row with
``<source>:<source_ref>`` (``osm:way/123``, ``synthetic:b17``), which a re-import recognises, so editing
such a row in QGIS and importing it back updates it.

GCJ-02 and BD-09 have no EPSG code: files in them carry **no** CRS label (a GeoJSON is by definition
WGS84, so say ``--crs gcj02`` when importing it back).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from gisgrid.crs import from_wgs84, resolve_crs
from gisgrid.errors import InvalidInputError
from layers.geojson import part_label_sql

__all__ = ["EXPORT_KINDS", "export_layer", "read_table"]

_ID = (
    "CASE WHEN {t}.source = 'import' THEN {t}.source_ref ELSE {t}.source || ':' || "
    "COALESCE({t}.source_ref, {t}.id::text) END"
)
_COMMUNITY = "(SELECT a.code FROM admin_area a WHERE a.id = {t}.community_id)"
_COMPLEX = "(SELECT " + _ID.format(t="c") + " FROM complex c WHERE c.id = {t}.complex_id)"

_QUERIES: dict[str, str] = {
    "areas": """SELECT a.code, a.name, a.level, p.code AS parent_code, a.geom
                FROM admin_area a LEFT JOIN admin_area p ON p.id = a.parent_id ORDER BY a.code""",
    "grids": f"""SELECT g.code, g.version, g.name, {_COMMUNITY.format(t="g")} AS community_code, g.households,
                        g.population, g.status, g.valid_from, g.geom
                 FROM grid g WHERE g.valid_to IS NULL ORDER BY g.code""",
    "buildings": f"""SELECT {_ID.format(t="b")} AS id, b.name, b.building_type, b.levels, b.height_m AS height,
                            b.units, b.households, b.households_estimated, b.households_method,
                            {_COMPLEX.format(t="b")} AS complex_ref,
                            {_COMMUNITY.format(t="b")} AS community_code, b.grid_code, b.attributes, b.geom
                     FROM building b ORDER BY b.id""",
    "building_parts": f"""SELECT {_ID.format(t="b")} AS building_ref, b.name AS building_name, p.part_no, p.kind,
                                 p.entrance_from, p.entrance_to, p.floor_from, p.floor_to, p.households,
                                 p.grid_code, {part_label_sql("p")} AS label, b.geom
                          FROM building_part p JOIN building b ON b.id = p.building_id
                          WHERE p.valid_to IS NULL ORDER BY b.id, p.part_no""",
    "complexes": f"""SELECT {_ID.format(t="c")} AS id, c.name, pc.name AS property_company, c.management,
                            c.owners_committee_since, c.party_org, c.red_property, c.built_year,
                            {_COMMUNITY.format(t="c")} AS community_code, c.attributes, c.geom
                     FROM complex c LEFT JOIN property_company pc ON pc.id = c.property_company_id
                     ORDER BY c.id""",
    "stations": f"""SELECT {_ID.format(t="s")} AS id, s.name, s.kind, s.status, s.planned_on,
                           s.building_since, s.opened_on, s.closed_on, s.service_radius_m,
                           {_COMMUNITY.format(t="s")} AS community_code,
                           {_COMPLEX.format(t="s")} AS complex_ref,
                           s.attributes, s.geom
                    FROM station s ORDER BY s.id""",
    "street_edges": """SELECT e.id, e.source_node, e.target_node, e.length_m, e.name, e.highway, e.source,
                              e.source_ref, e.geom
                       FROM street_edge e ORDER BY e.id""",
    "barriers": f"""SELECT {_ID.format(t="b")} AS id, b.kind, b.name, b.geom FROM barrier b ORDER BY b.id""",
    "incidents": f"""SELECT CASE WHEN i.idempotency_key LIKE 'import:%%' THEN substr(i.idempotency_key, 8)
                                 ELSE COALESCE(i.idempotency_key, 'manual:' || i.id) END AS id,
                            i.category_code, i.source, i.reported_at, i.description, i.reporter_contact,
                            i.status, i.level, i.grid_code, {_COMMUNITY.format(t="i")} AS community_code,
                            i.closed_at, i.satisfaction, i.geom
                     FROM incident i ORDER BY i.id""",
    "staff": f"""SELECT s.id::text AS id, s.name, s.role, s.phone,
                        {_COMMUNITY.format(t="s")} AS community_code,
                        s.active, NULL::geometry AS geom
                 FROM staff s ORDER BY s.id""",
}

#: Every exportable layer.
EXPORT_KINDS = tuple(_QUERIES)
_DATES = {"owners_committee_since", "planned_on", "building_since", "opened_on", "closed_on"}
_FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}


def read_table(engine: Engine, kind: str) -> gpd.GeoDataFrame:
    """The rows of one layer as a WGS84 GeoDataFrame with the export columns."""
    if kind not in _QUERIES:
        raise InvalidInputError(
            f"cannot export {kind!r}; one of {', '.join(EXPORT_KINDS)}",
            field="kind",
            rule="an exportable kind",
        )
    sql = f"SELECT q.*, ST_AsBinary(q.geom) AS wkb FROM ({_QUERIES[kind]}) q"
    with engine.connect() as conn:
        result = conn.execute(text(sql.replace("%%", "%")))
        columns = [c for c in list(result.keys()) if c not in ("geom", "wkb")]
        rows = result.all()
    df = pd.DataFrame([r[:-2] for r in rows] if rows else None, columns=columns)
    if "attributes" in df.columns:
        df = _flatten_attributes(df)
    wkb = [None if r[-1] is None else bytes(r[-1]) for r in rows]
    geometry = gpd.GeoSeries(shapely.from_wkb(wkb) if wkb else [], index=df.index, crs="EPSG:4326")
    return gpd.GeoDataFrame(df, geometry=geometry, crs="EPSG:4326")


def _flatten_attributes(df: pd.DataFrame) -> pd.DataFrame:
    """One column per key of ``attributes`` (the source file's own columns), after the fields, so that
    the file imports back with the same attributes. A key named like an export column is left out."""
    values = [v or {} for v in df["attributes"]]
    df = df.drop(columns="attributes")
    keys = sorted({k for v in values for k in v} - set(df.columns) - {"geom", "wkb", "geometry"})
    extra = pd.DataFrame({k: [v.get(k) for v in values] for k in keys}, index=df.index, dtype=object)
    for k in keys:  # a column of one JSON type keeps it; mixed types are written as text
        kinds = {type(v) for v in extra[k] if v is not None}
        if len(kinds) > 1 and kinds != {int, float}:
            extra[k] = [None if v is None else str(v) for v in extra[k]]
        elif kinds & {dict, list}:
            extra[k] = [None if v is None else json.dumps(v, ensure_ascii=False) for v in extra[k]]
    return pd.concat([df, extra], axis=1)


def _for_file(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Types every OGR driver takes: dates as ISO text, nullable ints, timestamps in UTC."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        values = out[col]
        if col in _DATES:
            out[col] = [None if v is None or pd.isna(v) else v.isoformat() for v in values]
        elif len(values) and values.map(lambda v: isinstance(v, pd.Timestamp) or hasattr(v, "tzinfo")).any():
            out[col] = pd.to_datetime(values, utc=True)
        elif (
            values.dtype == object
            and values.map(lambda v: isinstance(v, int) and not isinstance(v, bool)).any()
        ):
            out[col] = pd.array([None if v is None else int(v) for v in values], dtype="Int64")
    return out


def export_layer(
    engine: Engine, kind: str, path: str | Path, *, crs: str = "wgs84", fmt: str | None = None
) -> dict[str, Any]:
    """Write one layer to a GeoJSON or GeoPackage file.

    Parameters
    ----------
    engine
        The database.
    kind
        One of :data:`EXPORT_KINDS`: areas, grids (current versions), buildings, building_parts (the
        current parts of buildings split over grids, on their building's footprint; export only),
        complexes, stations, street_edges, barriers, incidents, staff (no geometry). Buildings, complexes
        and stations also get one column per key of their ``attributes`` (the source file's columns gisgrid
        has no field for).
    path
        The output file; the format follows the extension (.geojson/.json or .gpkg) unless ``fmt`` says
        ``GeoJSON`` or ``GPKG``. An existing file is replaced.
    crs
        ``wgs84`` (default), ``cgcs2000``, ``gcj02`` (Amap/Tencent), ``bd09`` (Baidu) or ``EPSG:nnnn``.

    Returns
    -------
    dict
        ``kind``, ``path``, ``format``, ``crs`` and ``features`` written.
    """
    p = Path(path)
    driver = fmt or _FORMATS.get(p.suffix.lower())
    if driver not in ("GeoJSON", "GPKG"):
        raise InvalidInputError(
            f"cannot tell the output format of {p.name}; use .geojson or .gpkg",
            field="file",
            rule="output is .geojson or .gpkg",
        )
    target = resolve_crs(crs)
    gdf = read_table(engine, kind)
    if kind != "staff" and len(gdf):
        gdf = from_wgs84(gdf, target)
    elif kind != "staff" and not isinstance(target, str):
        gdf = gdf.to_crs(target)
    out = _for_file(gdf)
    if p.exists():
        p.unlink()
    layer = kind if driver == "GPKG" else None
    with warnings.catch_warnings():
        # GCJ-02 / BD-09 files are unlabelled on purpose (see the module docstring)
        warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
        out.to_file(p, driver=driver, layer=layer, engine="pyogrio")
    label = (
        target
        if isinstance(target, str)
        else (f"EPSG:{target.to_epsg()}" if target.to_epsg() else target.name)
    )
    return {"kind": kind, "path": str(p), "format": driver, "crs": label, "features": len(out)}
