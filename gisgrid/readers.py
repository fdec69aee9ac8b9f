"""Read layer files (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, CSV) into checked WGS84 frames.

Two steps, both pure (no database):

* :func:`read_layer` — open the file, map its columns to gisgrid's field names (built-in Chinese
  aliases, ``--field`` options or a YAML mapping), normalise the CRS to WGS84 and check what can only be
  judged on the whole file: empty files, unknown formats, unreadable data, unknown or missing columns,
  mixed or wrong geometry types, a missing or implausible CRS, duplicate ids. Any of these raises
  :class:`~gisgrid.errors.InvalidInputError` (or its :class:`~gisgrid.errors.CRSError` /
  :class:`~gisgrid.errors.GeometryError` subclasses) naming the field and the rule, with every problem
  found in ``details``.
* :func:`validate_features` — judge each feature on its own: types, ranges, vocabularies, dates,
  geometry validity (``explain_validity``; repaired with ``make_valid`` when ``repair=True``). It returns
  the clean features and a list of :class:`~gisgrid.report.Problem`; the caller decides whether a
  rejected feature aborts the import (the default of ``gisgrid import layer``) or is skipped.

The field schemas per kind are in :data:`SCHEMAS`; docs/formats.md lists them for people.
"""

from __future__ import annotations

import itertools
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.validation import explain_validity

from gisgrid import vocab
from gisgrid.codes import CHINA_TZ, division_level
from gisgrid.crs import resolve_crs, to_wgs84
from gisgrid.errors import CRSError, GeometryError, InvalidInputError
from gisgrid.report import Problem

__all__ = [
    "BUILTIN_ALIASES",
    "KINDS",
    "SCHEMAS",
    "FieldSpec",
    "LayerSchema",
    "load_field_mapping",
    "parse_field_options",
    "read_layer",
    "split_source_id",
    "validate_features",
]

KINDS = ("areas", "buildings", "complexes", "stations", "staff", "incidents")
IGNORE = "-"  # a mapping target that drops the column

# -- schemas ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One importable field: its type and the rule it must keep.

    ``type`` is one of ``str``, ``int``, ``float``, ``bool``, ``date``, ``datetime``. ``read_only``
    fields are written by ``gisgrid export`` and accepted (and ignored) on import, so exported files
    import again unchanged.
    """

    name: str
    type: str = "str"
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    pattern_rule: str | None = None
    read_only: bool = False


@dataclass(frozen=True)
class LayerSchema:
    kind: str
    key: str  # the column that identifies a feature (upsert key)
    geometry: str | None  # "polygon", "point" or None (no geometry; any geometry is ignored)
    fields: tuple[FieldSpec, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def spec(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _code12(name: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(
        name, required=required, pattern=r"^[0-9]{12}$", pattern_rule="a 12-digit statistical division code"
    )


_ID = FieldSpec("id", required=True)

SCHEMAS: dict[str, LayerSchema] = {
    "areas": LayerSchema(
        "areas",
        key="code",
        geometry="polygon",
        fields=(
            _code12("code", required=True),
            FieldSpec("name", required=True),
            FieldSpec("level", choices=vocab.AREA_LEVELS),
            _code12("parent_code"),
        ),
    ),
    "buildings": LayerSchema(
        "buildings",
        key="id",
        geometry="polygon",
        fields=(
            _ID,
            FieldSpec("name"),
            FieldSpec("building_type", choices=vocab.BUILDING_TYPES),
            FieldSpec("levels", "int", minimum=1, maximum=200),
            FieldSpec("units", "int", minimum=1, maximum=1000),
            FieldSpec("households", "int", minimum=0, maximum=100_000),
            FieldSpec("height", "float", minimum=0, maximum=1000),
            FieldSpec("households_method", choices=vocab.HOUSEHOLD_METHODS),
            FieldSpec("households_estimated", "bool", read_only=True),
            FieldSpec("complex_ref", read_only=True),
            FieldSpec("community_code", read_only=True),
            FieldSpec("grid_code", read_only=True),
        ),
        aliases={"kind": "building_type", "type": "building_type"},
    ),
    "complexes": LayerSchema(
        "complexes",
        key="id",
        geometry="polygon",
        fields=(
            _ID,
            FieldSpec("name", required=True),
            FieldSpec("property_company"),
            FieldSpec("management", choices=vocab.MANAGEMENT_KINDS),
            FieldSpec("owners_committee_since", "date"),
            FieldSpec("party_org", choices=vocab.PARTY_ORG_MODES),
            FieldSpec("red_property", "bool"),
            FieldSpec("built_year", "int", minimum=1800, maximum=2100),
            FieldSpec("community_code", read_only=True),
        ),
    ),
    "stations": LayerSchema(
        "stations",
        key="id",
        geometry="point",
        fields=(
            _ID,
            FieldSpec("name", required=True),
            FieldSpec("kind", required=True, choices=vocab.STATION_KINDS),
            FieldSpec("status", choices=vocab.STATION_STATUSES),
            FieldSpec("planned_on", "date"),
            FieldSpec("building_since", "date"),
            FieldSpec("opened_on", "date"),
            FieldSpec("closed_on", "date"),
            FieldSpec("service_radius_m", "float", minimum=1, maximum=20_000),
            FieldSpec("community_code", read_only=True),
            FieldSpec("complex_ref", read_only=True),
        ),
        aliases={"type": "kind"},
    ),
    "staff": LayerSchema(
        "staff",
        key="id",
        geometry=None,
        fields=(
            FieldSpec("id"),
            FieldSpec("name", required=True),
            FieldSpec("role", required=True, choices=vocab.STAFF_ROLES),
            FieldSpec("phone"),
            _code12("community_code"),
            FieldSpec("active", "bool"),
        ),
    ),
    "incidents": LayerSchema(
        "incidents",
        key="id",
        geometry="point",
        fields=(
            _ID,
            FieldSpec(
                "category_code", required=True, pattern=r"^[0-9]{5}$", pattern_rule="a 5-digit category code"
            ),
            FieldSpec("source", required=True, choices=vocab.INCIDENT_SOURCES),
            FieldSpec("reported_at", "datetime"),
            FieldSpec("description"),
            FieldSpec("reporter_contact"),
            FieldSpec("status", read_only=True),
            FieldSpec("level", read_only=True),
            FieldSpec("grid_code", read_only=True),
            FieldSpec("community_code", read_only=True),
            FieldSpec("closed_at", read_only=True),
            FieldSpec("satisfaction", read_only=True),
        ),
        aliases={"category": "category_code", "类别": "category_code", "类别编码": "category_code"},
    ),
}

#: Column names recognised without any mapping (case-insensitive for Latin names).
BUILTIN_ALIASES: dict[str, str] = {
    "编号": "id",
    "标识": "id",
    "fid": "id",
    "户数": "households",
    "住户数": "households",
    "楼层": "levels",
    "层数": "levels",
    "building:levels": "levels",
    "名称": "name",
    "小区名称": "name",
    "楼栋名称": "name",
    "站点名称": "name",
    "姓名": "name",
    "编码": "code",
    "代码": "code",
    "区划代码": "code",
    "统计用区划代码": "code",
    "级别": "level",
    "上级代码": "parent_code",
    "上级编码": "parent_code",
    "类型": "kind",
    "建筑类型": "building_type",
    "状态": "status",
    "单元数": "units",
    "高度": "height",
    "物业公司": "property_company",
    "管理方式": "management",
    "党组织": "party_org",
    "红色物业": "red_property",
    "业委会成立日期": "owners_committee_since",
    "建成年份": "built_year",
    "规划日期": "planned_on",
    "开工日期": "building_since",
    "建设日期": "building_since",
    "启用日期": "opened_on",
    "运行日期": "opened_on",
    "关闭日期": "closed_on",
    "服务半径": "service_radius_m",
    "角色": "role",
    "岗位": "role",
    "电话": "phone",
    "联系电话": "phone",
    "手机": "phone",
    "社区代码": "community_code",
    "社区编码": "community_code",
    "在岗": "active",
    "类别": "category_code",
    "来源": "source",
    "上报时间": "reported_at",
    "描述": "description",
    "问题描述": "description",
    "联系方式": "reporter_contact",
}

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")
SUPPORTED = ".geojson / .json, .gpkg, .shp, .zip (with a shapefile, GeoPackage or GeoJSON), .csv"

_TIME = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_ZH_TO_ID = {zh: key for key, zh in vocab.ZH.items()}
_TRUE = {"true", "t", "yes", "y", "1", "是", "有", "对"}
_FALSE = {"false", "f", "no", "n", "0", "否", "无", "没有"}

# -- small helpers ---------------------------------------------------------------------------------------


def _fail(
    cls: type[InvalidInputError],
    message: str,
    *,
    field: str | None,
    rule: str,
    feature: Any = None,
    problems: list[dict[str, Any]] | None = None,
) -> InvalidInputError:
    details = {"problems": problems} if problems else None
    return cls(message, field=field, rule=rule, feature=feature, details=details)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def split_source_id(value: str) -> tuple[str, str]:
    """The (source, source_ref) a feature id stands for.

    Ids written by ``gisgrid export`` for rows that did not come from an import carry their source
    (``osm:way/123``, ``synthetic:b17``); every other id is an import id.

    Examples
    --------
    >>> split_source_id("B-17"), split_source_id("osm:way/5")
    (('import', 'B-17'), ('osm', 'way/5'))
    """
    head, sep, tail = value.partition(":")
    if sep and head in vocab.SOURCES and tail:
        return head, tail
    return "import", value


# -- field mapping ---------------------------------------------------------------------------------------


def parse_field_options(options: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """Turn repeated ``--field SOURCE=TARGET`` options into a mapping.

    Examples
    --------
    >>> parse_field_options(["户数=households", "备注=-"])
    {'户数': 'households', '备注': '-'}
    """
    mapping: dict[str, str] = {}
    bad = []
    for option in options or ():
        source, sep, target = option.partition("=")
        if not sep or not source.strip() or not target.strip():
            bad.append(option)
            continue
        mapping[source.strip()] = target.strip()
    if bad:
        raise InvalidInputError(
            f"--field takes SOURCE=TARGET (e.g. --field 户数=households); got {', '.join(map(repr, bad))}",
            field="field",
            rule="SOURCE=TARGET",
        )
    return mapping


def load_field_mapping(path: str | Path) -> dict[str, str]:
    """Read a YAML field mapping: ``{source column: target field}``, optionally under a ``fields:`` key."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError(
            f"the mapping file {p} does not exist", field="fields", rule="the mapping file exists"
        ) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"the mapping file {p} is not valid YAML: {exc}", field="fields", rule="valid YAML"
        ) from exc
    if isinstance(data, dict) and set(data) == {"fields"}:
        data = data["fields"]
    if not isinstance(data, dict) or not data:
        raise InvalidInputError(
            f"the mapping file {p} must be a YAML mapping of source column to target field "
            "(e.g. `户数: households`)",
            field="fields",
            rule="a mapping of source column to target field",
        )
    bad = [k for k, v in data.items() if not isinstance(v, str) or not str(k).strip()]
    if bad:
        raise InvalidInputError(
            f"the mapping file {p}: the targets of {', '.join(map(repr, bad))} are not field names",
            field="fields",
            rule="a mapping of source column to target field",
        )
    return {str(k).strip(): v.strip() for k, v in data.items()}


def _truncated_aliases(schema: LayerSchema) -> dict[str, str]:
    """Shapefile DBF truncates names to 10 characters: accept the truncated names when unambiguous."""
    counts: dict[str, list[str]] = {}
    for name in schema.names:
        if len(name) > 10:
            counts.setdefault(name[:10], []).append(name)
    return {
        short: names[0] for short, names in counts.items() if len(names) == 1 and short not in schema.names
    }


def _rename_columns(
    columns: list[str], schema: LayerSchema, mapping: Mapping[str, str], extra_known: set[str]
) -> tuple[dict[str, str], list[str]]:
    """Decide the new name of every column. Returns (renames, dropped)."""
    problems: list[dict[str, Any]] = []
    targets = set(schema.names)
    for source, target in mapping.items():
        if target != IGNORE and target not in targets:
            problems.append(
                {
                    "field": source,
                    "rule": f"mapping target is a field of {schema.kind}",
                    "message": f"{source!r} is mapped to {target!r}, which is not a field of {schema.kind} "
                    f"(fields: {', '.join(schema.names)}; '-' drops a column)",
                }
            )
        elif source not in columns:
            problems.append(
                {
                    "field": source,
                    "rule": "mapped column exists",
                    "message": f"the mapping names column {source!r}, which the file does not have "
                    f"(columns: {', '.join(columns)})",
                }
            )
    if problems:
        raise _fail(
            InvalidInputError,
            "; ".join(p["message"] for p in problems),
            field=problems[0]["field"],
            rule=problems[0]["rule"],
            problems=problems,
        )

    aliases = {**{k.lower(): v for k, v in BUILTIN_ALIASES.items()}, **_truncated_aliases(schema)}
    aliases.update({k.lower(): v for k, v in schema.aliases.items()})
    renames: dict[str, str] = {}
    dropped: list[str] = []
    unknown: list[str] = []
    for col in columns:
        if col in mapping:
            target = mapping[col]
        elif col in targets:
            target = col
        elif col.lower() in targets:
            target = col.lower()
        elif col.strip().lower() in aliases:
            target = aliases[col.strip().lower()]
            target = schema.aliases.get(target, target)  # e.g. 类型 → kind → building_type
        elif col in extra_known:
            continue
        else:
            unknown.append(col)
            continue
        if target == IGNORE:
            dropped.append(col)
        elif target not in targets:
            unknown.append(col)
        else:
            renames[col] = target
    if unknown:
        raise InvalidInputError(
            f"unknown column(s) {', '.join(map(repr, unknown))} for {schema.kind}; known fields: "
            f"{', '.join(schema.names)}. Map them with --field COLUMN=FIELD (or --field COLUMN=- to drop "
            "them) or a --fields mapping file",
            field=unknown[0],
            rule="every column is a known field or mapped",
            details={"unknown_columns": unknown, "fields": list(schema.names)},
        )
    seen: dict[str, str] = {}
    clashes = []
    for col, target in renames.items():
        if target in seen:
            clashes.append(f"{seen[target]!r} and {col!r} both map to {target!r}")
        seen[target] = col
    if clashes:
        raise InvalidInputError(
            "; ".join(clashes) + ". Drop one of them with --field COLUMN=-",
            field=next(iter(clashes)).split("'")[1],
            rule="one column per field",
        )
    return renames, dropped


# -- reading files ---------------------------------------------------------------------------------------


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
        missing = [ext for ext in (".shx", ".dbf") if stem + ext not in lower]
        if missing:
            raise InvalidInputError(
                f"the shapefile {member} in {path.name} lacks its {' and '.join(missing)} file; a shapefile "
                "needs .shp, .shx and .dbf (and .prj for its CRS) side by side",
                field="file",
                rule="a shapefile has .shp, .shx and .dbf",
                details={"missing": missing},
            )
        return _ogr_read(vsi, layer=None, what="shapefile", name=f"{path.name}:{member}")
    if member.lower().endswith(".gpkg"):
        return _ogr_read(vsi, layer=_gpkg_layer(vsi, layer, member), what="GeoPackage", name=member)
    return _ogr_read(vsi, layer=None, what="GeoJSON file", name=member)


def _read_shp(path: Path) -> gpd.GeoDataFrame:
    missing = [
        ext
        for ext in (".shx", ".dbf")
        if not path.with_suffix(ext).exists() and not path.with_suffix(ext.upper()).exists()
    ]
    if missing:
        raise InvalidInputError(
            f"the shapefile {path.name} lacks its {' and '.join(missing)} file; a shapefile needs .shp, "
            ".shx and .dbf (and .prj for its CRS) side by side",
            field="file",
            rule="a shapefile has .shp, .shx and .dbf",
            details={"missing": missing},
        )
    return _ogr_read(str(path), layer=None, what="shapefile", name=path.name)


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


def _read_csv(path: Path, *, kind: str, x: str | None, y: str | None) -> tuple[gpd.GeoDataFrame, list[str]]:
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
    import io

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
        problems: list[dict[str, Any]] = []
        xs = np.full(len(df), np.nan)
        ys = np.full(len(df), np.nan)
        for i, (a, b) in enumerate(zip(df[lon], df[lat], strict=True)):
            try:
                xs[i], ys[i] = float(a), float(b)
            except ValueError:
                problems.append(
                    {
                        "feature": i + 2,
                        "field": lon if _not_float(a) else lat,
                        "rule": "coordinates are numbers",
                        "message": f"row {i + 2}: coordinates ({a!r}, {b!r}) are not numbers",
                    }
                )
            else:
                if not (np.isfinite(xs[i]) and np.isfinite(ys[i])):
                    problems.append(
                        {
                            "feature": i + 2,
                            "field": lon,
                            "rule": "coordinates are numbers",
                            "message": f"row {i + 2}: coordinates ({a!r}, {b!r}) are not finite",
                        }
                    )
        if problems:
            raise _fail(
                InvalidInputError,
                f"{len(problems)} row(s) of {path.name} have coordinates that are not numbers, e.g. "
                + problems[0]["message"],
                field=problems[0]["field"],
                rule="coordinates are numbers",
                feature=problems[0]["feature"],
                problems=problems,
            )
        geometry = shapely.points(xs, ys)
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
    gdf = gpd.GeoDataFrame(df.drop(columns=used), geometry=gpd.GeoSeries(geometry, index=df.index))
    return gdf, used


def _not_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return True
    return False


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


def _check_geometry_types(gdf: gpd.GeoDataFrame, schema: LayerSchema, name: str, key: str | None) -> None:
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
        first = present.index[0]
        feature = _plain(gdf[key].loc[first]) if key and key in gdf.columns else _plain(first)
        raise GeometryError(
            f"{schema.kind} must be {schema.geometry}s but {name} holds {kinds[0]}s "
            f"(e.g. feature {feature!r} is a {present.iloc[0]})",
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
    fmt = _detect_format(p)
    if fmt == "geojson":
        gdf = _ogr_read(str(p), layer=None, what="GeoJSON file", name=p.name)
        if crs is None:
            _check_geojson_crs_member(p)
    elif fmt == "gpkg":
        chosen = _gpkg_layer(str(p), layer, p.name)
        layer = chosen
        gdf = _ogr_read(str(p), layer=chosen, what="GeoPackage", name=p.name)
    elif fmt == "shp":
        gdf = _read_shp(p)
    elif fmt == "zip":
        gdf = _read_zip(p, layer)
    else:
        gdf, _ = _read_csv(p, kind=kind, x=x, y=y)
    if len(gdf) == 0:
        raise InvalidInputError(f"{p.name} holds no features", field="file", rule="at least one feature")

    mapping = dict(fields or {})
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    renames, dropped = _rename_columns(columns, schema, mapping, set())
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
        gdf[key] = [_key_text(v) for v in gdf[key]]

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


def _key_text(value: Any) -> Any:
    if _is_missing(value):
        return None
    value = _plain(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _check_geojson_crs_member(path: Path) -> None:
    """GDAL reads an old-style ``crs`` member it does not know as WGS84; refuse that silently wrong case."""
    with path.open("rb") as fh:
        head = fh.read(4096).decode("utf-8", errors="ignore")
    match = re.search(r'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]+)"', head)
    if match and not re.search(r"(CRS84|4326|4490)$", match.group(1)):
        try:
            pyproj.CRS.from_user_input(match.group(1))
        except pyproj.exceptions.CRSError as exc:
            raise CRSError(
                f"{path.name} declares the unknown CRS {match.group(1)!r}; say which one it is with --crs",
                field="crs",
                rule="a known CRS",
            ) from exc


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


# -- per-feature validation ------------------------------------------------------------------------------


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """The typed value, or raise ValueError with the rule broken."""
    value = _plain(value)
    if spec.type == "str":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).strip()
        if spec.choices is not None:
            if text in spec.choices:
                return text
            if _ZH_TO_ID.get(text) in spec.choices:
                return _ZH_TO_ID[text]
            if text.lower() in spec.choices:
                return text.lower()
            raise ValueError(f"one of {', '.join(spec.choices)}")
        if spec.pattern is not None and not re.match(spec.pattern, text):
            raise ValueError(spec.pattern_rule or f"matches {spec.pattern}")
        return text
    if spec.type in ("int", "float"):
        if isinstance(value, bool):
            raise ValueError(f"a {'whole ' if spec.type == 'int' else ''}number")
        try:
            number = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise ValueError(f"a {'whole ' if spec.type == 'int' else ''}number") from None
        if not np.isfinite(number):
            raise ValueError("a finite number")
        if spec.type == "int" and not number.is_integer():
            raise ValueError("a whole number")
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError(_range_rule(spec))
        if spec.maximum is not None and number > spec.maximum:
            raise ValueError(_range_rule(spec))
        return int(number) if spec.type == "int" else number
    if spec.type == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("true or false (是/否)")
    if spec.type == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        stamp = _parse_time(value)
        if stamp is None or (stamp.hour, stamp.minute, stamp.second) != (0, 0, 0):
            raise ValueError("a date YYYY-MM-DD")
        return stamp.date()
    if spec.type == "datetime":
        stamp = _parse_time(value)
        if stamp is None:
            raise ValueError("a date and time (ISO 8601, e.g. 2024-05-01T08:30:00+08:00)")
        if stamp.tzinfo is None:  # local Chinese time unless said otherwise
            stamp = stamp.replace(tzinfo=CHINA_TZ)
        return stamp.to_pydatetime()
    raise AssertionError(spec.type)  # pragma: no cover


def _range_rule(spec: FieldSpec) -> str:
    if spec.maximum is None:
        return f"{spec.name} >= {spec.minimum:g}"
    return f"{spec.name} between {spec.minimum:g} and {spec.maximum:g}"


def _parse_time(value: Any) -> pd.Timestamp | None:
    if isinstance(value, pd.Timestamp | datetime | np.datetime64):
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else stamp
    text = str(value).strip().replace("/", "-").replace("年", "-").replace("月", "-").replace("日", "")
    if not _TIME.match(text):
        return None
    try:
        return pd.Timestamp(text)
    except ValueError:
        return None


def _polygonal(geom: Any) -> Any:
    """The polygonal part of a geometry as a MultiPolygon (make_valid may return a collection)."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    if geom.geom_type == "MultiPolygon":
        return geom
    if geom.geom_type == "GeometryCollection":
        polys = [g for part in geom.geoms for g in (getattr(_polygonal(part), "geoms", None) or [])]
        return shapely.MultiPolygon(polys) if polys else None
    return None


@dataclass
class _Collector:
    kind: str
    problems: list[Problem] = field(default_factory=list)
    rejected: set[int] = field(default_factory=set)

    def reject(self, pos: int, feature: Any, field_: str | None, rule: str, message: str) -> None:
        self.problems.append(Problem(feature=feature, field=field_, rule=rule, message=message))
        self.rejected.add(pos)


def validate_features(
    gdf: gpd.GeoDataFrame, kind: str, *, repair: bool = False
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Check every feature of a frame from :func:`read_layer` against the schema of ``kind``.

    Every problem of every feature is collected (a feature with three bad values gives three problems).

    Parameters
    ----------
    gdf
        WGS84 features with gisgrid field names.
    kind
        One of :data:`KINDS`.
    repair
        Repair invalid polygons with ``shapely.make_valid`` (keeping the polygonal part) instead of
        rejecting them; each repair is reported as a problem with ``action='repaired'``.

    Returns
    -------
    (GeoDataFrame, list of Problem)
        The features that passed, with typed values (None for missing), every schema field present,
        polygons as MultiPolygons; and the problems (``action`` ``rejected`` or ``repaired``).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> g = gpd.GeoDataFrame({"id": ["s1", "s2"], "name": ["站", "站"], "kind": ["红心驿站", "kiosk"]},
    ...                      geometry=[Point(117.3, 34.8), Point(117.3, 34.8)], crs=4326)
    >>> clean, problems = validate_features(g, "stations")
    >>> clean["kind"].tolist(), [(p.feature, p.field) for p in problems]
    (['red_heart_station'], [('s2', 'kind')])
    """
    schema = SCHEMAS[kind]
    out = gdf.copy().reset_index(drop=True)
    c = _Collector(kind)
    key = schema.key
    ids = [
        (_plain(v) if key in out.columns and not _is_missing(v) else f"#{i + 1}")
        for i, v in enumerate(out[key] if key in out.columns else [None] * len(out))
    ]

    for spec in schema.fields:
        if spec.read_only:
            if spec.name in out.columns:
                out = out.drop(columns=spec.name)
            continue
        values: list[Any] = [None] * len(out)
        # a plain list: indexing a Series per element cost more than the checks themselves
        column = out[spec.name].tolist() if spec.name in out.columns else [None] * len(out)
        for i in range(len(out)):
            raw = column[i]
            if _is_missing(raw):
                if spec.required:
                    c.reject(
                        i,
                        ids[i],
                        spec.name,
                        f"{spec.name} is required",
                        f"feature {ids[i]!r}: {spec.name} is missing; it is required for {kind}",
                    )
                continue
            try:
                values[i] = _coerce(spec, raw)
            except ValueError as exc:
                rule = str(exc) if str(exc).startswith(spec.name) else f"{spec.name} is {exc}"
                c.reject(
                    i,
                    ids[i],
                    spec.name,
                    rule,
                    f"feature {ids[i]!r}: {spec.name} is {raw!r}; it must be {exc}",
                )
        out[spec.name] = pd.Series(values, index=out.index, dtype=object)

    if schema.geometry is not None:
        out = _validate_geometries(out, schema, ids, c, repair=repair)
    _KIND_RULES.get(kind, lambda *_: None)(out, ids, c)

    keep = [i for i in range(len(out)) if i not in c.rejected]
    clean = out.iloc[keep].reset_index(drop=True)
    clean.attrs = dict(gdf.attrs)
    return clean, c.problems


def _validate_geometries(
    out: gpd.GeoDataFrame, schema: LayerSchema, ids: list[Any], c: _Collector, *, repair: bool
) -> gpd.GeoDataFrame:
    geoms = list(out.geometry.values)
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            c.reject(
                i,
                ids[i],
                "geometry",
                "geometry present",
                f"feature {ids[i]!r} has no geometry; {schema.kind} need a {schema.geometry}",
            )
            continue
        if schema.geometry == "point":
            if geom.geom_type == "MultiPoint":
                if len(geom.geoms) != 1:
                    c.reject(
                        i,
                        ids[i],
                        "geometry",
                        "a single point",
                        f"feature {ids[i]!r} is a MultiPoint of {len(geom.geoms)} points; use one point",
                    )
                    continue
                geoms[i] = geom.geoms[0]
            continue
        if not geom.is_valid:
            reason = explain_validity(geom)
            if not repair:
                c.reject(
                    i,
                    ids[i],
                    "geometry",
                    "a valid polygon",
                    f"feature {ids[i]!r} has an invalid geometry: {reason} (use --repair to fix it "
                    "with make_valid)",
                )
                continue
            fixed = _polygonal(shapely.make_valid(geom))
            if fixed is None or not fixed.is_valid:
                c.reject(
                    i,
                    ids[i],
                    "geometry",
                    "a valid polygon",
                    f"feature {ids[i]!r} has an invalid geometry ({reason}) that make_valid cannot "
                    "turn into a polygon",
                )
                continue
            c.problems.append(
                Problem(
                    feature=ids[i],
                    field="geometry",
                    rule="a valid polygon",
                    message=f"feature {ids[i]!r}: repaired an invalid geometry ({reason})",
                    action="repaired",
                )
            )
            geoms[i] = fixed
        else:
            geoms[i] = _polygonal(geom)
    return out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))


def _rule_areas(out: gpd.GeoDataFrame, ids: list[Any], c: _Collector) -> None:
    levels, parents = [], []
    for code, level, parent in zip(out["code"], out["level"], out["parent_code"], strict=True):
        if code is None:
            levels.append(level)
            parents.append(parent)
            continue
        derived_level, derived_parent = division_level(code)
        levels.append(level or derived_level)
        parents.append(parent or derived_parent)
    out["level"] = pd.Series(levels, index=out.index, dtype=object)
    out["parent_code"] = pd.Series(parents, index=out.index, dtype=object)


def _rule_complexes(out: gpd.GeoDataFrame, ids: list[Any], c: _Collector) -> None:
    management = []
    for i, (company, mode) in enumerate(zip(out["property_company"], out["management"], strict=True)):
        if mode is None:
            mode = "professional" if company else "unknown"
        if mode == "professional" and not company:
            c.reject(
                i,
                ids[i],
                "property_company",
                "professional management names its property company",
                f"feature {ids[i]!r}: management is professional but no property_company is given",
            )
        if mode == "none" and company:
            c.reject(
                i,
                ids[i],
                "property_company",
                "an unmanaged complex (三无) has no property company",
                f"feature {ids[i]!r}: management is none (三无) but property_company is {company!r}",
            )
        management.append(mode)
    out["management"] = pd.Series(management, index=out.index, dtype=object)


_STATUS_DATE = {"building": "building_since", "open": "opened_on", "closed": "closed_on"}


def _rule_stations(out: gpd.GeoDataFrame, ids: list[Any], c: _Collector) -> None:
    statuses = []
    for i, row in enumerate(out.itertuples(index=False)):
        status = row.status or "planned"
        statuses.append(status)
        needed = _STATUS_DATE.get(status)
        if needed and getattr(row, needed) is None:
            c.reject(
                i,
                ids[i],
                needed,
                f"status {status} needs {needed}",
                f"feature {ids[i]!r}: status is {status} but {needed} is missing",
            )
        dates = [(n, getattr(row, n)) for n in ("planned_on", "building_since", "opened_on", "closed_on")]
        present = [(n, d) for n, d in dates if d is not None]
        for (n1, d1), (n2, d2) in itertools.pairwise(present):
            if d2 < d1:
                c.reject(
                    i,
                    ids[i],
                    n2,
                    "dates in order planned → building → open → closed",
                    f"feature {ids[i]!r}: {n2} {d2} is before {n1} {d1}",
                )
    out["status"] = pd.Series(statuses, index=out.index, dtype=object)


_KIND_RULES: dict[str, Callable[[gpd.GeoDataFrame, list[Any], _Collector], None]] = {
    "areas": _rule_areas,
    "complexes": _rule_complexes,
    "stations": _rule_stations,
}


def problems_summary(problems: list[Problem]) -> str:
    """One line per rule: how many features broke it, with the first example."""
    by_rule: dict[str, list[Problem]] = {}
    for p in problems:
        by_rule.setdefault(p.rule, []).append(p)
    return "; ".join(f"{len(ps)} × {rule} (e.g. {ps[0].message})" for rule, ps in by_rule.items())
