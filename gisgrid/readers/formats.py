"""Open a layer file: tell its format, read GeoJSON, GeoPackage, shapefiles (also zipped) and CSV.

Every failure names ``field='file'`` (or ``layer`` / the CSV column) and the rule; docs/formats.md has the
list.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.crs.names import known_crs
from gisgrid.errors import GeometryError, InvalidInputError
from gisgrid.readers.schemas import SCHEMAS

__all__ = ["read_file"]

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")
SUPPORTED = ".geojson / .json, .gpkg, .shp, .zip (with a shapefile, GeoPackage or GeoJSON), .csv"


def _detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    by_suffix = {
        ".geojson": "geojson",
        ".json": "geojson",
        ".gpkg": "gpkg",
        ".shp": "shp",
        ".zip": "zip",
        ".csv": "csv",
        ".txt": "csv",
    }
    if suffix in by_suffix:
        return by_suffix[suffix]
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"SQLite format 3"):
        return "gpkg"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.lstrip().startswith(b"{"):
        return "geojson"
    raise InvalidInputError(
        f"cannot tell the format of {path.name}; supported: {SUPPORTED}",
        field="file",
        rule="a supported format",
    )


def _ogr_read(source: str, *, layer: str | None, what: str, name: str) -> gpd.GeoDataFrame:
    import pyogrio

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gdf = pyogrio.read_dataframe(source, layer=layer)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise InvalidInputError(
                f"{name} is not a readable {what}: {exc}", field="file", rule=f"a readable {what}"
            ) from exc
    unsupported = [str(w.message) for w in caught if "geometry type" in str(w.message).lower()]
    if unsupported:
        raise GeometryError(
            f"{name} contains a geometry that is not a valid GeoJSON/OGR geometry: {unsupported[0]}",
            field="geometry",
            rule="a supported geometry type",
        )
    return gdf


def _gpkg_layer(source: str, layer: str | None, name: str) -> str:
    import pyogrio

    try:
        names = [str(row[0]) for row in pyogrio.list_layers(source)]
    except pyogrio.errors.DataSourceError as exc:
        raise InvalidInputError(
            f"{name} is not a readable GeoPackage: {exc}", field="file", rule="a readable GeoPackage"
        ) from exc
    if layer is not None:
        if layer not in names:
            raise InvalidInputError(
                f"{name} has no layer {layer!r}; its layers: {', '.join(names) or 'none'}",
                field="layer",
                rule="an existing layer",
                details={"layers": names},
            )
        return layer
    if len(names) != 1:
        raise InvalidInputError(
            f"{name} has {len(names)} layers ({', '.join(names) or 'none'}); choose one with --layer",
            field="layer",
            rule="--layer names the layer when a GeoPackage has several",
            details={"layers": names},
        )
    return names[0]


def _read_zip(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/") and "__MACOSX" not in m]
    except zipfile.BadZipFile as exc:
        raise InvalidInputError(
            f"{path.name} is not a readable zip file", field="file", rule="a readable zip file"
        ) from exc
    lower = {m.lower(): m for m in members}
    shps = [m for m in members if m.lower().endswith(".shp")]
    others = [m for m in members if m.lower().endswith((".gpkg", ".geojson", ".json"))]
    if layer is not None and shps:
        shps = [m for m in shps if Path(m).stem == layer] or shps
    candidates = shps or others
    if not candidates:
        raise InvalidInputError(
            f"{path.name} contains no shapefile, GeoPackage or GeoJSON "
            f"(it holds: {', '.join(members) or 'nothing'})",
            field="file",
            rule="a zip holds a shapefile (.shp + .shx + .dbf)",
        )
    if len(candidates) > 1:
        raise InvalidInputError(
            f"{path.name} contains several layers ({', '.join(candidates)}); choose one with --layer",
            field="layer",
            rule="--layer names the layer when a zip holds several",
            details={"layers": [Path(c).stem for c in candidates]},
        )
    member = candidates[0]
    vsi = f"/vsizip/{path.resolve()}/{member}"
    if member.lower().endswith(".shp"):
        stem = member[:-4].lower()
        _check_sidecars(f"{member} in {path.name}", [ext for ext in (".shx", ".dbf") if stem + ext not in lower])
        return _ogr_read(vsi, layer=None, what="shapefile", name=f"{path.name}:{member}")
    if member.lower().endswith(".gpkg"):
        return _ogr_read(vsi, layer=_gpkg_layer(vsi, layer, member), what="GeoPackage", name=member)
    return _ogr_read(vsi, layer=None, what="GeoJSON file", name=member)


def _read_shp(path: Path) -> gpd.GeoDataFrame:
    _check_sidecars(
        path.name,
        [
            ext
            for ext in (".shx", ".dbf")
            if not path.with_suffix(ext).exists() and not path.with_suffix(ext.upper()).exists()
        ],
    )
    return _ogr_read(str(path), layer=None, what="shapefile", name=path.name)


def _check_sidecars(name: str, missing: list[str]) -> None:
    if missing:
        raise InvalidInputError(
            f"the shapefile {name} lacks its {' and '.join(missing)} file; a shapefile needs .shp, "
            ".shx and .dbf (and .prj for its CRS) side by side",
            field="file",
            rule="a shapefile has .shp, .shx and .dbf",
            details={"missing": missing},
        )


def _find_column(columns: list[str], wanted: str | None, names: tuple[str, ...], axis: str) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise InvalidInputError(
                f"the coordinate column {wanted!r} (--{axis}) is not in the file "
                f"(columns: {', '.join(columns)})",
                field=axis,
                rule="the coordinate column exists",
            )
        return wanted
    by_lower = {c.strip().lower(): c for c in columns}
    found = [by_lower[n] for n in names if n in by_lower]
    return found[0] if found else None


def _read_csv(path: Path, *, kind: str, x: str | None, y: str | None) -> gpd.GeoDataFrame:
    """Read a CSV (UTF-8, UTF-8 with BOM or GBK) with coordinate columns or a WKT column."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise InvalidInputError(f"{path.name} is not UTF-8 or GBK text", field="file", rule="UTF-8 or GBK")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInputError(
            f"{path.name} is not a readable CSV file: {exc}", field="file", rule="a readable CSV file"
        ) from exc
    df.columns = [str(c).strip() for c in df.columns]
    columns = list(df.columns)
    lon = _find_column(columns, x, LON_NAMES, "x")
    lat = _find_column(columns, y, LAT_NAMES, "y")
    wkt = next((c for c in columns if c.strip().lower() in WKT_NAMES), None)
    geometry: Any
    used: list[str] = []
    if lon is not None and lat is not None:
        used = [lon, lat]
        geometry = _points(df, lon, lat, path.name)
    elif wkt is not None:
        used = [wkt]
        try:
            geometry = shapely.from_wkt(df[wkt].to_numpy(dtype=object), on_invalid="raise")
        except shapely.errors.GEOSException as exc:
            raise InvalidInputError(
                f"{path.name}: column {wkt!r} holds text that is not WKT: {exc}",
                field=wkt,
                rule="WKT geometries",
            ) from exc
    elif kind == "staff" or SCHEMAS[kind].geometry is None:
        geometry = [None] * len(df)
    else:
        raise InvalidInputError(
            f"{path.name} has no coordinate columns: name them lon/lat (also lng, longitude, x / latitude, "
            "y, 经度 / 纬度), give them with --x COLUMN --y COLUMN, or add a WKT column "
            f"(columns: {', '.join(columns)})",
            field="geometry",
            rule="a CSV has coordinate columns",
        )
    return gpd.GeoDataFrame(df.drop(columns=used), geometry=gpd.GeoSeries(geometry, index=df.index))


def _points(df: pd.DataFrame, lon: str, lat: str, name: str) -> np.ndarray:
    """Points from the coordinate columns; every row that is not a pair of finite numbers is listed."""
    problems: list[dict[str, Any]] = []
    xs = np.full(len(df), np.nan)
    ys = np.full(len(df), np.nan)
    for i, (a, b) in enumerate(zip(df[lon], df[lat], strict=True)):
        row = i + 2  # the header is line 1
        try:
            xs[i], ys[i] = float(a), float(b)
        except ValueError:
            bad, why = (lon if _not_float(a) else lat), "not numbers"
        else:
            if np.isfinite(xs[i]) and np.isfinite(ys[i]):
                continue
            bad, why = lon, "not finite"
        problems.append(
            {
                "feature": row,
                "field": bad,
                "rule": "coordinates are numbers",
                "message": f"row {row}: coordinates ({a!r}, {b!r}) are {why}",
            }
        )
    if problems:
        raise InvalidInputError(
            f"{len(problems)} row(s) of {name} have coordinates that are not numbers, e.g. "
            + problems[0]["message"],
            field=problems[0]["field"],
            rule="coordinates are numbers",
            feature=problems[0]["feature"],
            details={"problems": problems},
        )
    return shapely.points(xs, ys)


def _not_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return True
    return False


def _check_geojson_crs_member(path: Path) -> None:
    """GDAL reads an old-style ``crs`` member it does not know as WGS84; refuse that silently wrong case."""
    with path.open("rb") as fh:
        head = fh.read(4096).decode("utf-8", errors="ignore")
    match = re.search(r'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]+)"', head)
    if match and not re.search(r"(CRS84|4326|4490)$", match.group(1)):
        known_crs(
            match.group(1), f"{path.name} declares the unknown CRS {match.group(1)!r}; say which one it is with --crs"
        )


def read_file(
    path: Path, *, kind: str, layer: str | None, crs: str | None, x: str | None, y: str | None
) -> tuple[gpd.GeoDataFrame, str, str | None]:
    """The file's features as read, its format and the layer read (a GeoPackage's only layer when not given).

    ``crs`` only matters for GeoJSON: without it, a ``crs`` member GDAL would misread is refused.
    """
    fmt = _detect_format(path)
    if fmt == "geojson":
        gdf = _ogr_read(str(path), layer=None, what="GeoJSON file", name=path.name)
        if crs is None:
            _check_geojson_crs_member(path)
    elif fmt == "gpkg":
        layer = _gpkg_layer(str(path), layer, path.name)
        gdf = _ogr_read(str(path), layer=layer, what="GeoPackage", name=path.name)
    elif fmt == "shp":
        gdf = _read_shp(path)
    elif fmt == "zip":
        gdf = _read_zip(path, layer)
    else:
        gdf = _read_csv(path, kind=kind, x=x, y=y)
    return gdf, fmt, layer
