"""Validation of a community's grids (网格校验): every rule checked, every problem reported at once.

:func:`validate_grids` never stops at the first problem: it runs every rule on every grid and returns
one :class:`GridProblem` per finding, each naming its rule, the grid code(s) involved, a sentence a
planner can act on, and *the geometry of the problem* (the overlap, the gap, the stray part, the
building …) so a map can point at it (:func:`problems_to_geojson`).

Rules (in the order they are reported):

=========================  ==============================================================================
``invalid_geometry``       a grid's geometry is missing, empty, not polygonal or not valid (geometry:
                           where GEOS found the fault); the other rules then use ``make_valid`` of it
``duplicate_code``         two or more grids carry the same code (geometry: their union)
``households_out_of_range`` households below ``min_households`` or above ``max_households`` (geometry:
                           the grid)
``non_contiguous``         a grid is in several pieces (geometry: every piece but the largest)
``overlap``                two grids share area (geometry: the shared area)
``gap``                    part of the community is in no grid (geometry: the gap; codes: the grids
                           around it)
``outside_community``      a grid spills over the community boundary (geometry: the spill)
``building_unassigned``    a building lies in no grid (geometry: its footprint)
``building_in_several``    a building lies in two or more grids (geometry: its footprint)
``building_outside_grid``  a building's recorded grid (``grid_code``) is not the grid it lies in — it
                           moved, or the grids were redrawn without it (geometry: its footprint; only
                           with ``check_recorded=True``)
``building_parts_mismatch`` a building split over grids (``pieces``) whose parts do not hold its
                           households, or a part owned by a code that is not one of the grids
                           (geometry: its footprint)
``complex_split``          a residential complex's buildings lie in several grids (geometry: the
                           complex); a complex with more households than one grid may hold is reported
                           as a *warning* (the split cannot be avoided)
``sliver``                 a grid is tiny or extremely elongated (a *warning*)
=========================  ==============================================================================

**Households of a grid** are those of the buildings whose representative point lies in it
(:mod:`gisgrid.grids.membership`); the problems themselves are :mod:`gisgrid.grids.problems`.

Areas and compactness are measured in a metric CRS (:func:`gisgrid.crs.metric_crs_for`); the set
operations themselves run on the EPSG:4326 input, so grids that share vertices exactly produce no
phantom gaps or overlaps. Areas below ``area_tolerance_m2`` (default 1 m²) are ignored as noise.

Buildings and complexes are named in messages by their ``label`` column when the frame has one (their
id in the source file or in OSM and their name, e.g. ``osm:way/123 3号楼``), else by their index.

Pure core: GeoDataFrames in, problems out — no database.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.crs import metric_crs_for
from gisgrid.errors import InvalidInputError
from gisgrid.grids.membership import (
    _complex_column,
    _containing,
    _credit,
    _households,
    _polygonal,
    _to_4326,
    building_points,
)
from gisgrid.grids.problems import RULES, GridProblem, _plain, _present

__all__ = [
    "DEFAULT_AREA_TOLERANCE_M2",
    "DEFAULT_SLIVER_AREA_M2",
    "DEFAULT_SLIVER_COMPACTNESS",
    "validate_grids",
]

#: Areas below this (m²) are floating-point noise, not gaps or overlaps.
DEFAULT_AREA_TOLERANCE_M2 = 1.0
#: A grid smaller than this (m²) is a sliver. 300 households in towers can live on 0.5 ha; 0.1 ha cannot
#: hold a grid's worth of buildings plus their streets.
DEFAULT_SLIVER_AREA_M2 = 1_000.0
#: A grid whose Polsby–Popper compactness 4πA/P² is below this is a sliver (0.05 ≈ a 1:60 strip).
DEFAULT_SLIVER_COMPACTNESS = 0.05

# the "[x y]" at the end of GEOS's reason for an invalid geometry: where the problem is drawn
_LOCATION = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]")


class _Meter:
    """Areas and lengths of EPSG:4326 geometries, measured in one metric CRS."""

    def __init__(self, crs: pyproj.CRS) -> None:
        self.crs = crs
        self._fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)

    def project(self, geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(geom, lambda xy: np.column_stack(self._fwd.transform(xy[:, 0], xy[:, 1])))

    def area(self, geom: shapely.Geometry) -> float:
        return 0.0 if not _present(geom) else float(self.project(geom).area)

    def compactness(self, geom: shapely.Geometry) -> float:
        g = self.project(geom)
        perimeter = float(g.length)
        return 0.0 if perimeter <= 0 else float(4.0 * math.pi * g.area / perimeter**2)


def validate_grids(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    community: shapely.Geometry,
    *,
    complexes: gpd.GeoDataFrame | None = None,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
    sliver_area_m2: float = DEFAULT_SLIVER_AREA_M2,
    sliver_compactness: float = DEFAULT_SLIVER_COMPACTNESS,
    area_tolerance_m2: float = DEFAULT_AREA_TOLERANCE_M2,
    pieces: pd.DataFrame | None = None,
    check_recorded: bool = False,
) -> list[GridProblem]:
    """Check a community's grids against every rule and return all problems found (empty: all good).

    Parameters
    ----------
    grids
        One row per grid: ``code`` and a (Multi)Polygon geometry, with a CRS (EPSG:4326 expected,
        another is reprojected). Other columns are ignored; households are recomputed from buildings.
    buildings
        Footprints indexed by building id with ``households`` and optionally ``complex_id`` (or
        ``complex_key``): the complex each belongs to.
    community
        The community polygon, EPSG:4326.
    complexes
        Complex polygons indexed by complex id (or with a ``complex_id`` / ``complex_key`` column); used
        for the geometry of ``complex_split`` problems (else the convex hull of its buildings).
    min_households, max_households
        The household window (local practice 300–500).
    sliver_area_m2, sliver_compactness
        A grid below either is reported as a ``sliver``.
    area_tolerance_m2
        Overlaps, gaps, spills and stray pieces smaller than this are ignored.
    pieces
        Buildings split over grids, one row per part (``building``, ``households``, ``grid_code``; see
        :mod:`gisgrid.grids.parts`): credited part by part, and checked against the buildings'
        households (``building_parts_mismatch``).
    check_recorded
        Also report buildings whose recorded ``grid_code`` column is not the grid they lie in
        (``building_outside_grid``): for the published grids, not for a plan being drawn.

    Returns
    -------
    list[GridProblem]
        Ordered by rule (see :data:`RULES`), then grid code.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> grids = gpd.GeoDataFrame({"code": ["110105001001001"]}, geometry=[box(0, 0, 0.01, 0.01)], crs=4326)
    >>> homes = gpd.GeoDataFrame({"households": [120]}, geometry=[box(0.001, 0.001, 0.002, 0.002)], crs=4326)
    >>> [p.rule for p in validate_grids(grids, homes, box(0, 0, 0.01, 0.01))]
    ['households_out_of_range']
    """
    if min_households > max_households:
        raise InvalidInputError(
            f"min_households ({min_households}) exceeds max_households ({max_households})",
            field="min_households",
            rule="min_households ≤ max_households",
        )
    g = _to_4326(grids, "grids")
    if "code" not in g.columns:
        raise InvalidInputError("grids need a 'code' column", field="code", rule="required column")
    b = _to_4326(buildings, "buildings")
    if community is None or community.is_empty:
        raise InvalidInputError("the community polygon is empty", field="community", rule="non-empty")
    if not community.is_valid:
        community = _polygonal(shapely.make_valid(community))

    codes = [str(c) for c in g["code"]]
    frame = gpd.GeoDataFrame(geometry=[community], crs=4326)
    meter = _Meter(metric_crs_for(frame))
    problems: list[GridProblem] = []

    # -- invalid geometry; afterwards every rule works on a valid polygonal version
    geoms: list[shapely.Geometry | None] = []
    for code, geom in zip(codes, g.geometry, strict=True):
        if not _present(geom):
            problems.append(
                GridProblem("invalid_geometry", (code,), f"grid {code} has no geometry", None)
            )
            geoms.append(None)
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(
                GridProblem(
                    "invalid_geometry",
                    (code,),
                    f"grid {code} is a {geom.geom_type}, not a polygon",
                    geom,
                )
            )
            fixed = _polygonal(geom)
            geoms.append(fixed if _present(fixed) else None)
            continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            match = _LOCATION.search(reason)
            where = shapely.Point(float(match[1]), float(match[2])) if match else geom
            problems.append(
                GridProblem(
                    "invalid_geometry",
                    (code,),
                    f"grid {code} has an invalid geometry: {reason}",
                    where,
                    details={"reason": reason},
                )
            )
            fixed = _polygonal(shapely.make_valid(geom))
            geoms.append(fixed if _present(fixed) else None)
            continue
        geoms.append(geom)

    # -- duplicate codes
    positions: dict[str, list[int]] = defaultdict(list)
    for i, code in enumerate(codes):
        positions[code].append(i)
    for code, rows in sorted(positions.items()):
        if len(rows) > 1:
            parts = [geoms[i] for i in rows if geoms[i] is not None]
            problems.append(
                GridProblem(
                    "duplicate_code",
                    (code,),
                    f"code {code} is used by {len(rows)} grids",
                    shapely.union_all(parts) if parts else None,
                    details={"count": len(rows)},
                )
            )

    # -- households (representative points) and building assignment
    hh = _households(b)
    points = building_points(b)
    hits = _containing([x if x is not None else shapely.Polygon() for x in geoms], points)
    totals, split = _credit(codes, hh, b.index, hits, pieces)

    for i, code in enumerate(codes):
        if geoms[i] is None:
            continue
        total = totals[i]
        if total < min_households or total > max_households:
            side = "below the minimum" if total < min_households else "above the maximum"
            bound = min_households if total < min_households else max_households
            problems.append(
                GridProblem(
                    "households_out_of_range",
                    (code,),
                    f"grid {code} has {total} households, {side} of {bound} "
                    f"(window {min_households}–{max_households})",
                    geoms[i],
                    details={"households": total, "min": min_households, "max": max_households},
                )
            )

    # -- contiguity
    for i, code in enumerate(codes):
        geom = geoms[i]
        if geom is None:
            continue
        parts = [p for p in shapely.get_parts(geom) if meter.area(p) > area_tolerance_m2]
        if len(parts) > 1:
            parts.sort(key=meter.area, reverse=True)
            stray = shapely.union_all(parts[1:])
            problems.append(
                GridProblem(
                    "non_contiguous",
                    (code,),
                    f"grid {code} is in {len(parts)} separate pieces; "
                    f"{len(parts) - 1} piece(s) ({meter.area(stray):,.0f} m²) are cut off from the main one",
                    stray,
                    details={"pieces": len(parts), "stray_area_m2": round(meter.area(stray), 1)},
                )
            )

    # -- overlaps (each pair once)
    present = [i for i, x in enumerate(geoms) if x is not None]
    if present:
        tree = shapely.STRtree([geoms[i] for i in present])
        left, right = tree.query([geoms[i] for i in present], predicate="intersects")
        for a, c in zip(left.tolist(), right.tolist(), strict=True):
            i, j = present[a], present[c]
            if i >= j:
                continue
            shared = _polygonal(shapely.intersection(geoms[i], geoms[j]))
            area = meter.area(shared)
            if area > area_tolerance_m2:
                pair = tuple(sorted((codes[i], codes[j])))
                problems.append(
                    GridProblem(
                        "overlap",
                        pair,
                        f"grids {pair[0]} and {pair[1]} overlap by {area:,.0f} m²",
                        shared,
                        details={"area_m2": round(area, 1)},
                    )
                )

    # -- gaps and spills
    union = shapely.union_all([geoms[i] for i in present]) if present else shapely.Polygon()
    gaps = _polygonal(shapely.difference(community, union))
    for gap in shapely.get_parts(gaps):
        area = meter.area(gap)
        if area <= area_tolerance_m2:
            continue
        around = tuple(sorted({codes[i] for i in present if shapely.intersects(geoms[i], gap)}))
        problems.append(
            GridProblem(
                "gap",
                around,
                f"{area:,.0f} m² of the community lie in no grid"
                + (f" (next to {', '.join(around)})" if around else ""),
                gap,
                details={"area_m2": round(area, 1)},
            )
        )
    for i in present:
        spill = _polygonal(shapely.difference(geoms[i], community))
        area = meter.area(spill)
        if area > area_tolerance_m2:
            problems.append(
                GridProblem(
                    "outside_community",
                    (codes[i],),
                    f"grid {codes[i]} spills {area:,.0f} m² outside the community boundary",
                    spill,
                    details={"area_m2": round(area, 1)},
                )
            )

    # -- buildings in no grid / several grids / not in the grid they are recorded in
    footprints = list(b.geometry.values)
    labels = _labels(b)
    recorded = (
        [None if _blank(v) else str(v) for v in b["grid_code"]]
        if check_recorded and "grid_code" in b.columns
        else [None] * len(b)
    )
    for k, (bid, where) in enumerate(zip(b.index, hits, strict=True)):
        if bid in split:
            continue
        in_grids = sorted({codes[i] for i in where})
        stored = recorded[k]
        if stored is not None and stored not in in_grids:
            problems.append(
                GridProblem(
                    "building_outside_grid",
                    (stored, *in_grids),
                    f"building {labels[k]} is recorded in grid {stored} but lies "
                    + (f"in grid {', '.join(in_grids)}" if in_grids else "in no grid")
                    + " (it moved, or the grids were redrawn without it): re-import it or publish the grids "
                    "again",
                    footprints[k],
                    building=bid,
                    details={"recorded": stored, "lies_in": in_grids},
                )
            )
        if not where:
            problems.append(
                GridProblem(
                    "building_unassigned",
                    (),
                    f"building {labels[k]} ({int(hh[k])} households) lies in no grid",
                    footprints[k],
                    building=bid,
                    details={"households": int(hh[k])},
                )
            )
        elif len(where) > 1:
            in_codes = tuple(sorted({codes[i] for i in where}))
            problems.append(
                GridProblem(
                    "building_in_several",
                    in_codes,
                    f"building {labels[k]} lies in {len(where)} grids: {', '.join(in_codes)}",
                    footprints[k],
                    building=bid,
                )
            )

    # -- split buildings whose parts no longer add up (households changed since) or have no grid
    if pieces is not None and len(pieces):
        position = {bid: k for k, bid in enumerate(b.index)}
        known = set(codes)
        for bid, group in pieces.groupby("building", sort=True):
            if bid not in position:
                continue
            k = position[bid]
            total = int(group["households"].sum())
            orphans = sorted({str(c) for c in group["grid_code"] if str(c) not in known})
            if total != int(hh[k]) or orphans:
                why = (f"its parts hold {total} households, the building {int(hh[k])}" if total != int(hh[k])
                       else f"part(s) owned by {', '.join(orphans)}, which is not one of the grids")
                problems.append(
                    GridProblem(
                        "building_parts_mismatch",
                        tuple(sorted({str(c) for c in group["grid_code"] if str(c) in known})),
                        f"building {_plain(bid)} is split over grids but {why}; plan the community again",
                        footprints[k],
                        building=bid,
                        details={"parts_households": total, "households": int(hh[k]), "orphans": orphans},
                    )
                )

    # -- complexes split between grids
    problems.extend(
        _complex_problems(b, hh, hits, codes, complexes, max_households=max_households, split=split)
    )

    # -- slivers
    for i in present:
        geom = geoms[i]
        assert geom is not None
        area = meter.area(geom)
        pp = meter.compactness(geom)
        if area < sliver_area_m2 or pp < sliver_compactness:
            why = (
                f"only {area:,.0f} m² (below {sliver_area_m2:,.0f} m²)"
                if area < sliver_area_m2
                else f"very elongated (Polsby–Popper {pp:.3f}, below {sliver_compactness})"
            )
            problems.append(
                GridProblem(
                    "sliver",
                    (codes[i],),
                    f"grid {codes[i]} is a sliver: {why}",
                    geom,
                    severity="warning",
                    details={"area_m2": round(area, 1), "polsby_popper": round(pp, 4)},
                )
            )

    order = {rule: n for n, rule in enumerate(RULES)}
    problems.sort(key=lambda p: (order[p.rule], p.grid_codes, str(p.building)))
    return problems


def _complex_problems(
    b: gpd.GeoDataFrame,
    hh: np.ndarray,
    hits: list[list[int]],
    codes: list[str],
    complexes: gpd.GeoDataFrame | None,
    *,
    max_households: int,
    split: set[Any],
) -> Iterable[GridProblem]:
    column = _complex_column(b)
    if column is None:
        return []
    by_complex: dict[Any, Counter[str]] = defaultdict(Counter)
    members: dict[Any, list[int]] = defaultdict(list)
    for k, (key, bid, where) in enumerate(zip(b[column], b.index, hits, strict=True)):
        if key is None or (isinstance(key, float) and math.isnan(key)) or bid in split or not where:
            continue
        by_complex[key][codes[where[0]]] += int(hh[k])
        members[key].append(k)
    shapes = _complex_shapes(complexes)
    names = _complex_labels(complexes)
    out: list[GridProblem] = []
    for key, per_grid in by_complex.items():
        if len(per_grid) < 2:
            continue
        total = sum(per_grid.values())
        in_codes = tuple(sorted(per_grid))
        geom = shapes.get(key)
        if geom is None:
            geom = shapely.convex_hull(shapely.union_all([b.geometry.iloc[k] for k in members[key]]))
        unavoidable = total > max_households
        shares = ", ".join(f"{code}: {per_grid[code]}" for code in in_codes)
        out.append(
            GridProblem(
                "complex_split",
                in_codes,
                f"complex {names.get(key, _plain(key))} ({total} households) is split between "
                f"{len(in_codes)} grids ({shares})"
                + (f"; it has more than {max_households} households, so the split is unavoidable"
                   if unavoidable else ""),
                geom,
                severity="warning" if unavoidable else "error",
                complex=key,
                details={"households": total, "per_grid": dict(per_grid)},
            )
        )
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _labels(frame: gpd.GeoDataFrame) -> list[Any]:
    """How each row is named in messages: its ``label`` (source id and name) when given, else its index."""
    if "label" not in frame.columns:
        return [_plain(i) for i in frame.index]
    return [_plain(i) if _blank(v) else v for i, v in zip(frame.index, frame["label"], strict=True)]


def _complex_labels(complexes: gpd.GeoDataFrame | None) -> dict[Any, Any]:
    if complexes is None or len(complexes) == 0 or "label" not in complexes.columns:
        return {}
    column = _complex_column(complexes)
    keys = complexes[column] if column is not None else complexes.index
    return {k: v for k, v in zip(keys, _labels(complexes), strict=True)}


def _complex_shapes(complexes: gpd.GeoDataFrame | None) -> dict[Any, shapely.Geometry]:
    if complexes is None or len(complexes) == 0:
        return {}
    c = _to_4326(complexes, "complexes")
    column = _complex_column(c)
    keys = c[column] if column is not None else c.index
    return {k: geom for k, geom in zip(keys, c.geometry, strict=True) if _present(geom)}

