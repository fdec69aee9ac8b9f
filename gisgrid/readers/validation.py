""":func:`validate_features`: each feature judged on its own — values, geometry, the rules of its kind.

It returns the clean features and a list of :class:`~gisgrid.report.Problem`; the caller decides whether a
rejected feature aborts the import (the default of ``gisgrid import layer``) or is skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.validation import explain_validity

from gisgrid.codes import division_level
from gisgrid.geometry import polygonal_part
from gisgrid.readers.schemas import SCHEMAS, LayerSchema
from gisgrid.readers.values import coerce, is_missing, plain
from gisgrid.report import Problem

__all__ = ["validate_features"]


@dataclass
class _Collector:
    """The problems found so far and the positions of the rejected features (named by ``ids``)."""

    ids: list[Any]
    names: list[Any] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rejected: set[int] = field(default_factory=set)

    def label(self, pos: int) -> str:
        """The feature as its file names it: its id and, when it has one, its name (``'B1' (3号楼)``)."""
        name = self.names[pos] if pos < len(self.names) else None
        return f"{self.ids[pos]!r}" + ("" if is_missing(name) else f" ({name})")

    def reject(self, pos: int, field_: str | None, rule: str, message: str) -> None:
        self.problems.append(Problem(feature=self.ids[pos], field=field_, rule=rule, message=message))
        self.rejected.add(pos)


def validate_features(
    gdf: gpd.GeoDataFrame, kind: str, *, repair: bool = False
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Check every feature of a frame from :func:`~gisgrid.readers.read_layer` against the schema of ``kind``.

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
    key = schema.key
    ids = [
        (plain(v) if key in out.columns and not is_missing(v) else f"#{i + 1}")
        for i, v in enumerate(out[key] if key in out.columns else [None] * len(out))
    ]
    names = out["name"].tolist() if "name" in out.columns else []
    c = _Collector(ids, names)

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
            if is_missing(raw):
                if spec.required:
                    c.reject(
                        i,
                        spec.name,
                        f"{spec.name} is required",
                        f"feature {c.label(i)}: {spec.name} is missing; it is required for {kind}",
                    )
                continue
            try:
                values[i] = coerce(spec, raw)
            except ValueError as exc:
                rule = str(exc) if str(exc).startswith(spec.name) else f"{spec.name} is {exc}"
                c.reject(
                    i,
                    spec.name,
                    rule,
                    f"feature {c.label(i)}: {spec.name} is {raw!r}; it must be {exc}",
                )
        out[spec.name] = pd.Series(values, index=out.index, dtype=object)

    if schema.geometry is not None:
        out = _validate_geometries(out, schema, c, repair=repair)
    _KIND_RULES.get(kind, lambda *_: None)(out, c)

    keep = [i for i in range(len(out)) if i not in c.rejected]
    clean = out.iloc[keep].reset_index(drop=True)
    clean.attrs = dict(gdf.attrs)
    return clean, c.problems


def _validate_geometries(
    out: gpd.GeoDataFrame, schema: LayerSchema, c: _Collector, *, repair: bool
) -> gpd.GeoDataFrame:
    ids = c.ids
    geoms = list(out.geometry.values)
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            c.reject(
                i,
                "geometry",
                "geometry present",
                f"feature {c.label(i)} has no geometry; {schema.kind} need a {str(schema.geometry).replace('_', ' ')}",
            )
            continue
        if schema.geometry == "point":
            if geom.geom_type == "MultiPoint":
                if len(geom.geoms) != 1:
                    c.reject(
                        i,
                        "geometry",
                        "a single point",
                        f"feature {c.label(i)} is a MultiPoint of {len(geom.geoms)} points; use one point",
                    )
                    continue
                geoms[i] = geom.geoms[0]
            continue
        if geom.geom_type in ("LineString", "MultiLineString", "LinearRing"):
            if not geom.is_valid or geom.length <= 0:
                c.reject(
                    i,
                    "geometry",
                    "a line of two or more distinct points",
                    f"feature {c.label(i)} is a line without length ({explain_validity(geom)})",
                )
            continue
        if not geom.is_valid:
            reason = explain_validity(geom)
            if not repair:
                c.reject(
                    i,
                    "geometry",
                    "a valid polygon",
                    f"feature {c.label(i)} has an invalid geometry: {reason} (use --repair to fix it "
                    "with make_valid)",
                )
                continue
            fixed = polygonal_part(shapely.make_valid(geom))
            if fixed is None or not fixed.is_valid:
                c.reject(
                    i,
                    "geometry",
                    "a valid polygon",
                    f"feature {c.label(i)} has an invalid geometry ({reason}) that make_valid cannot "
                    "turn into a polygon",
                )
                continue
            c.problems.append(
                Problem(
                    feature=ids[i],
                    field="geometry",
                    rule="a valid polygon",
                    message=f"feature {c.label(i)}: repaired an invalid geometry ({reason})",
                    action="repaired",
                )
            )
            geoms[i] = fixed
        else:
            geoms[i] = polygonal_part(geom)
    return out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))


def _rule_areas(out: gpd.GeoDataFrame, c: _Collector) -> None:
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


def _rule_complexes(out: gpd.GeoDataFrame, c: _Collector) -> None:
    management = []
    for i, (company, mode) in enumerate(zip(out["property_company"], out["management"], strict=True)):
        if mode is None:
            mode = "professional" if company else "unknown"
        if mode == "professional" and not company:
            c.reject(
                i,
                "property_company",
                "professional management names its property company",
                f"feature {c.label(i)}: management is professional but no property_company is given",
            )
        if mode == "none" and company:
            c.reject(
                i,
                "property_company",
                "an unmanaged complex (三无) has no property company",
                f"feature {c.label(i)}: management is none (三无) but property_company is {company!r}",
            )
        management.append(mode)
    out["management"] = pd.Series(management, index=out.index, dtype=object)


_STATUS_DATE = {"building": "building_since", "open": "opened_on", "closed": "closed_on"}


def _rule_stations(out: gpd.GeoDataFrame, c: _Collector) -> None:
    statuses = []
    for i, row in enumerate(out.itertuples(index=False)):
        status = row.status or "planned"
        statuses.append(status)
        needed = _STATUS_DATE.get(status)
        if needed and getattr(row, needed) is None:
            c.reject(
                i,
                needed,
                f"status {status} needs {needed}",
                f"feature {c.label(i)}: status is {status} but {needed} is missing",
            )
        dates = [(n, getattr(row, n)) for n in ("planned_on", "building_since", "opened_on", "closed_on")]
        present = [(n, d) for n, d in dates if d is not None]
        for (n1, d1), (n2, d2) in itertools.pairwise(present):
            if d2 < d1:
                c.reject(
                    i,
                    n2,
                    "dates in order planned → building → open → closed",
                    f"feature {c.label(i)}: {n2} {d2} is before {n1} {d1}",
                )
    out["status"] = pd.Series(statuses, index=out.index, dtype=object)


_KIND_RULES: dict[str, Callable[[gpd.GeoDataFrame, _Collector], None]] = {
    "areas": _rule_areas,
    "complexes": _rule_complexes,
    "stations": _rule_stations,
}
