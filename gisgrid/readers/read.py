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
import pandas as pd
import pyproj
import shapely

from gisgrid.crs import resolve_crs, to_wgs84
from gisgrid.crs.checks import feature_id
from gisgrid.errors import CRSError, GeometryError, InvalidInputError
from gisgrid.readers.formats import read_file
from gisgrid.readers.mapping import rename_columns
from gisgrid.readers.schemas import GENERATED_ID_KINDS, KEEPS_ATTRIBUTES, KINDS, SCHEMAS, LayerSchema
from gisgrid.readers.values import as_text, is_missing, json_value

__all__ = ["attribute_dicts", "read_layer"]


def read_layer(
    path: str | Path,
    *,
    kind: str,
    layer: str | None = None,
    crs: str | None = None,
    fields: Mapping[str, str] | None = None,
    x: str | None = None,
    y: str | None = None,
    id_column: str | None = None,
    generate_ids: bool = False,
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
    id_column
        The column holding the feature ids (instead of ``id`` / ``编号`` …, which are then kept as
        unknown columns).
    generate_ids
        Number the features ``<file stem>-1``, ``-2`` … in file order even when the file has ids. Ids are
        generated anyway when the id column is missing or empty, or every feature has the same id.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns renamed to the fields of :data:`SCHEMAS` ``[kind]`` (values not yet coerced;
        see :func:`validate_features`), plus ``attributes`` (a dict per feature: the values of the
        columns that match no field, for the kinds of :data:`KEEPS_ATTRIBUTES`) and, for buildings whose
        file also holds points, ``entrance`` (the point inside the footprint, else None). ``attrs``
        records ``source_file``, ``format``, ``layer``, ``declared_crs``, ``unknown_columns`` (and
        whether they are ``kept``), ``ids`` (given in which column, or generated and why) and
        ``set_aside`` (features of another geometry type, each with its id, type and what was done).

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

    if id_column is not None and id_column != schema.key and schema.key in gdf.columns:
        gdf = gdf.rename(columns={schema.key: "original_id"})  # kept as it is, beside the chosen ids
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    renames, dropped, unknown = rename_columns(columns, schema, dict(fields or {}), id_column=id_column)
    gdf = gdf.drop(columns=dropped).rename(columns=renames)
    gdf = gdf.reset_index(drop=True)
    key = schema.key
    gdf, ids = _ids(gdf, schema, p, id_column=id_column, generate=generate_ids, unknown=unknown)

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
    if key in gdf.columns:
        gdf[key] = [None if is_missing(v) else as_text(v) for v in gdf[key]]

    kept = kind in KEEPS_ATTRIBUTES
    if kept:
        gdf["attributes"] = attribute_dicts(gdf, unknown)
    gdf = gdf.drop(columns=[c for c in unknown if c in gdf.columns])

    set_aside: list[dict[str, Any]] = []
    if schema.geometry is None:
        gdf = gdf.set_geometry(gpd.GeoSeries([None] * len(gdf), index=gdf.index), crs="EPSG:4326")
    else:
        other = _check_geometry_types(gdf, schema, p.name, key)
        declared = _declared_crs(gdf, crs, fmt)
        # check_lonlat names features by an ``id`` column: lend it the key for the check
        lend = key != "id" and "id" not in gdf.columns and key in gdf.columns
        gdf = to_wgs84(gdf.assign(id=gdf[key]) if lend else gdf, declared)
        if lend:
            gdf = gdf.drop(columns="id")
        gdf.attrs["declared_crs"] = declared if isinstance(declared, str) else declared.to_string()
        if other.any():
            gdf, set_aside = _set_aside(gdf, other, schema, key)

    gdf.attrs["unknown_columns"] = {"columns": unknown, "kept": kept and bool(unknown)}
    gdf.attrs["ids"] = ids
    gdf.attrs["set_aside"] = set_aside
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


#: The geometry families each layer geometry takes.
_ACCEPTS = {
    "point": ("point",),
    "polygon": ("polygon",),
    "line": ("line",),
    "line_or_polygon": ("line", "polygon"),
}
_NAMES = {"point": "points", "polygon": "polygons", "line": "lines", "line_or_polygon": "lines or polygons"}


def _check_geometry_types(gdf: gpd.GeoDataFrame, schema: LayerSchema, name: str, key: str) -> np.ndarray:
    """The features of a geometry family the kind does not take (a mask), to be set aside.

    A file may mix families as long as some features are of a family the kind takes: the others are
    set aside and reported (points in a buildings file become entrances, see :func:`_set_aside`). A file
    holding none of the kind's family is refused.
    """
    assert schema.geometry is not None
    types = gdf.geometry.geom_type
    families = types.map(_FAMILY).where(types.notna(), None)
    accepted = _ACCEPTS[schema.geometry]
    wanted = families.isin(accepted).to_numpy()
    other = (families.notna() & ~families.isin(accepted)).to_numpy()
    if other.any() and not wanted.any():
        present = families.dropna()
        kinds = sorted(set(present))
        counts = {k: int((present == k).sum()) for k in kinds}
        first = int(np.flatnonzero(other)[0])
        feature = feature_id(gdf, first, key)
        raise GeometryError(
            f"{schema.kind} must be {_NAMES[schema.geometry]} but {name} holds "
            f"{', '.join(f'{v} {k}s' for k, v in counts.items())} (e.g. feature {feature!r} is a "
            f"{types.iloc[first]})",
            field="geometry",
            feature=feature,
            rule=f"{schema.kind} are {_NAMES[schema.geometry]}",
            details={"types": counts},
        )
    return np.asarray(other, dtype=bool)


def _set_aside(
    gdf: gpd.GeoDataFrame, other: np.ndarray, schema: LayerSchema, key: str
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Drop the features of another geometry type and say what became of each.

    For buildings, a point that lies in exactly one footprint of the file is that building's entrance
    (``entrance`` column); every other point, line or polygon is skipped.
    """
    keep = gdf.loc[~other].reset_index(drop=True)
    aside = gdf.loc[other].reset_index(drop=True)
    records: list[dict[str, Any]] = []
    entrances: list[Any] = [None] * len(keep)
    tree = shapely.STRtree(np.asarray(keep.geometry.values, dtype=object)) if len(keep) else None
    for i, geom in enumerate(aside.geometry.values):
        ident = feature_id(aside, i, key) if key in aside.columns else f"#{i + 1}"
        record = {"feature": ident, "type": geom.geom_type, "action": "skipped", "building": None}
        if schema.kind == "buildings" and tree is not None and geom.geom_type == "Point":
            hits = tree.query(geom, predicate="within")
            if len(hits) == 1 and entrances[int(hits[0])] is None:
                target = int(hits[0])
                entrances[target] = geom
                record.update(action="entrance", building=feature_id(keep, target, key))
        records.append(record)
    if schema.kind == "buildings":
        keep["entrance"] = pd.Series(entrances, index=keep.index, dtype=object)
    return keep, records


def _ids(
    gdf: gpd.GeoDataFrame,
    schema: LayerSchema,
    path: Path,
    *,
    id_column: str | None,
    generate: bool,
    unknown: list[str],
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Fill the key with generated ids when the file has none, or all the same; say which was done.

    Generated ids are ``<file stem>-<feature number>``, in file order: re-importing the same file
    updates the same rows. A file whose ids repeat only in part is refused (:func:`_check_duplicate_ids`):
    the ids mean something and two features would overwrite each other.
    """
    key = schema.key
    if schema.kind not in GENERATED_ID_KINDS:
        return gdf, {"generated": False, "column": id_column or key}
    reason = None
    if generate:
        reason = "--generate-ids"
    elif key not in gdf.columns:
        reason = "the file has no id column"
    else:
        present = [as_text(v) for v in gdf[key] if not is_missing(v)]
        if not present:
            reason = "the id column is empty"
        elif len(gdf) > 1 and len(present) == len(gdf) and len(set(present)) == 1:
            reason = f"every feature has the same id {present[0]!r}"
    if reason is None:
        return gdf, {"generated": False, "column": id_column or key}
    if key in gdf.columns:  # the column given as id is kept as an unknown column
        name = id_column if id_column and id_column != key else "original_id"
        gdf = gdf.rename(columns={key: name})
        unknown.append(name)
    gdf[key] = [f"{path.stem}-{n}" for n in range(1, len(gdf) + 1)]
    return gdf, {"generated": True, "reason": reason, "first": gdf[key].iloc[0], "last": gdf[key].iloc[-1]}


def attribute_dicts(gdf: gpd.GeoDataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Per feature, the values of ``columns`` as JSON values; missing values are left out."""
    present = [c for c in columns if c in gdf.columns]
    values = {c: gdf[c].tolist() for c in present}
    out: list[dict[str, Any]] = []
    for i in range(len(gdf)):
        row = {}
        for c in present:
            value = json_value(values[c][i])
            if value is not None:
                row[str(c)] = value
        out.append(row)
    return out


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
