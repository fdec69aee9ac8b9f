""":func:`read_layer`: a file for one kind, read, mapped to field names, in WGS84, with its whole-file checks.

What can only be judged on the whole file is checked here: the columns (unknown, missing, clashing),
the geometry types, the CRS (missing, contradicting the file, implausible), duplicate ids. Each feature
on its own is judged later by :func:`gisgrid.readers.validation.validate_features`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj

from gisgrid.crs import resolve_crs, to_wgs84
from gisgrid.crs.checks import feature_id
from gisgrid.errors import CRSError, GeometryError, InvalidInputError
from gisgrid.readers.formats import read_file
from gisgrid.readers.mapping import rename_columns
from gisgrid.readers.schemas import KINDS, SCHEMAS, LayerSchema
from gisgrid.readers.values import as_text, is_missing

__all__ = ["read_layer"]


def read_layer(
    path: str | Path,
    *,
    kind: str,
    layer: str | None = None,
    crs: str | None = None,
    fields: Mapping[str, str] | None = None,
    x: str | None = None,
    y: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a layer file for ``kind`` into a WGS84 GeoDataFrame with gisgrid's field names.

    Parameters
    ----------
    path
        GeoJSON (.geojson/.json), GeoPackage (.gpkg), Shapefile (.shp with .shx/.dbf/.prj), a zip holding
        one shapefile (or GeoPackage / GeoJSON), or CSV with coordinate columns (or a WKT column).
    kind
        One of :data:`KINDS`.
    layer
        The GeoPackage layer (or the shapefile's name inside a zip); required when there are several.
    crs
        What the coordinates are: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or ``EPSG:nnnn``. Needed
        when the file declares no CRS (CSV, shapefile without .prj); may relabel WGS84-labelled lon/lat
        (e.g. GeoJSON, which is WGS84 by definition, holding GCJ-02 coordinates from Amap); must otherwise
        agree with the file.
    fields
        ``{file column: field}`` on top of the built-in aliases (:data:`BUILTIN_ALIASES`); the target
        ``"-"`` drops a column.
    x, y
        CSV coordinate columns, when not auto-detected (lon/lng/longitude/x/经度, lat/latitude/y/纬度).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns renamed to the fields of :data:`SCHEMAS` ``[kind]`` (values not yet coerced;
        see :func:`validate_features`). ``attrs`` records ``source_file``, ``format``, ``layer`` and
        ``declared_crs``.

    Raises
    ------
    InvalidInputError, CRSError, GeometryError
        File-level problems; see docs/formats.md for the list.
    """
    if kind not in SCHEMAS:
        raise InvalidInputError(
            f"unknown kind {kind!r}; one of {', '.join(KINDS)}", field="kind", rule="a known kind"
        )
    schema = SCHEMAS[kind]
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"{p} does not exist", field="file", rule="the file exists")
    if p.is_dir() or p.stat().st_size == 0:
        raise InvalidInputError(f"{p.name} is empty", field="file", rule="a non-empty file")
    gdf, fmt, layer = read_file(p, kind=kind, layer=layer, crs=crs, x=x, y=y)
    if len(gdf) == 0:
        raise InvalidInputError(f"{p.name} holds no features", field="file", rule="at least one feature")

    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    renames, dropped = rename_columns(columns, schema, dict(fields or {}))
    gdf = gdf.drop(columns=dropped).rename(columns=renames)
    gdf = gdf.reset_index(drop=True)

    missing = [f.name for f in schema.fields if f.required and f.name not in gdf.columns]
    if missing:
        raise InvalidInputError(
            f"{p.name} lacks the required column(s) {', '.join(missing)} for {kind} (columns after mapping: "
            f"{', '.join(c for c in gdf.columns if c != gdf.geometry.name)}); map a column to it with "
            "--field COLUMN=FIELD",
            field=missing[0],
            rule="required column present",
            details={"missing": missing},
        )
    key = schema.key
    if key in gdf.columns:
        gdf[key] = [None if is_missing(v) else as_text(v) for v in gdf[key]]

    if schema.geometry is None:
        gdf = gdf.set_geometry(gpd.GeoSeries([None] * len(gdf), index=gdf.index), crs="EPSG:4326")
    else:
        _check_geometry_types(gdf, schema, p.name, key)
        declared = _declared_crs(gdf, crs, fmt)
        # check_lonlat names features by an ``id`` column: lend it the key for the check
        lend = key != "id" and "id" not in gdf.columns and key in gdf.columns
        gdf = to_wgs84(gdf.assign(id=gdf[key]) if lend else gdf, declared)
        if lend:
            gdf = gdf.drop(columns="id")
        gdf.attrs["declared_crs"] = declared if isinstance(declared, str) else declared.to_string()

    _check_duplicate_ids(gdf, schema, p.name)
    gdf.attrs.update({"source_file": p.name, "format": fmt, "layer": layer})
    return gdf


_FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
    "GeometryCollection": "collection",
}


def _check_geometry_types(gdf: gpd.GeoDataFrame, schema: LayerSchema, name: str, key: str) -> None:
    types = gdf.geometry.geom_type
    present = types.dropna()
    families = present.map(_FAMILY).fillna("other")
    kinds = sorted(set(families))
    if len(kinds) > 1:
        counts = {k: int((families == k).sum()) for k in kinds}
        raise GeometryError(
            f"{name} mixes geometry types ({', '.join(f'{v} {k}' for k, v in counts.items())}); a layer file "
            f"holds one type — {schema.kind} are {schema.geometry}s",
            field="geometry",
            rule="one geometry type per file",
            details={"types": counts},
        )
    if kinds and kinds[0] != schema.geometry:
        first = int(np.flatnonzero(types.notna().to_numpy())[0])
        feature = feature_id(gdf, first, key)
        raise GeometryError(
            f"{schema.kind} must be {schema.geometry}s but {name} holds {kinds[0]}s "
            f"(e.g. feature {feature!r} is a {types.iloc[first]})",
            field="geometry",
            feature=feature,
            rule=f"{schema.kind} are {schema.geometry}s",
        )


def _declared_crs(gdf: gpd.GeoDataFrame, crs: str | None, fmt: str) -> Any:
    """Which CRS the coordinates are in: the file's own, or --crs (which must not contradict it)."""
    if crs is None:
        if gdf.crs is None:
            raise CRSError(
                "the file declares no coordinate reference system"
                + (
                    " (a CSV never does"
                    if fmt == "csv"
                    else " (a shapefile without .prj, or an unlabelled layer"
                )
                + "); say which one it is with --crs wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn",
                field="crs",
                rule="a CRS is required when the file declares none",
            )
        return gdf.crs
    wanted = resolve_crs(crs)
    if gdf.crs is None:
        return wanted
    file_crs = pyproj.CRS.from_user_input(gdf.crs)
    lonlat = (
        file_crs.is_geographic
        and file_crs.datum is not None
        and file_crs.datum.name
        in ("World Geodetic System 1984 ensemble", "World Geodetic System 1984", "China 2000")
    )
    if lonlat and (isinstance(wanted, str) or wanted.is_geographic):
        return wanted  # GCJ-02 / BD-09 / CGCS2000 lon/lat saved with a WGS84 label: the user knows better
    if not isinstance(wanted, str) and wanted.equals(file_crs, ignore_axis_order=True):
        return wanted
    raise CRSError(
        f"the file declares {file_crs.name} (EPSG:{file_crs.to_epsg()}) but --crs says {crs}; "
        "leave out --crs to use the file's own CRS",
        field="crs",
        rule="--crs agrees with the CRS the file declares",
    )


def _check_duplicate_ids(gdf: gpd.GeoDataFrame, schema: LayerSchema, name: str) -> None:
    key = schema.key
    if key not in gdf.columns:
        return
    values = gdf[key]
    dup = values[values.notna() & values.duplicated(keep=False)]
    if len(dup):
        ids = sorted(set(dup.tolist()), key=str)
        raise InvalidInputError(
            f"{name} has duplicate {key} value(s): {', '.join(map(repr, ids[:10]))}"
            + (" …" if len(ids) > 10 else "")
            + f"; each feature needs its own {key}",
            field=key,
            feature=ids[0],
            rule=f"unique {key}",
            details={"duplicates": ids},
        )
