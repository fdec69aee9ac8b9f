"""A planner's grid edits as geometry: what each edit does to the boundaries, with no database.

Every edit takes the community's current grids as ``{code: polygon}`` (EPSG:4326) and, where buildings
matter, the community's buildings (a GeoDataFrame indexed by building id with ``households`` and
footprints), and returns a :class:`GridEdit`: the new boundary of every grid it changes and the codes
it retires. A bad edit raises an error of :mod:`gisgrid.errors` naming the field and the rule.
Versions, locks and storage are the caller's (``layers.grids``).

The community stays tiled:

* :func:`replace_boundary` — the grid becomes the new polygon (clipped to the community); neighbours
  lose what it now covers, and each piece it gave up goes to the neighbour sharing the longest border
  with that piece (:func:`give_away`; a piece touching no other grid stays with the grid).
* :func:`move_buildings` — buildings move between two neighbouring grids *with their cells*
  (:func:`cells`: Voronoi cells of the source grid's buildings' representative points, clipped to the
  grid). Each cell holds exactly one building's point, so the tallies change by exactly the moved
  households.
* :func:`split_grid` — by a line drawn across the grid (exactly two parts), or by two building sets
  (cells as above). The part with more households keeps the code; the other gets ``new_code``.
* :func:`merge_grids` — two neighbours become one; the lower code (or ``keep``) survives.

Households are counted as in :mod:`gisgrid.grids.validate`: a building counts where its representative point
(GEOS point-on-surface) lies (:func:`tally`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops

from gisgrid.errors import ConflictError, GeometryError, InvalidInputError, NotFoundError
from gisgrid.grids.membership import building_points

__all__ = [
    "GridEdit",
    "assign",
    "building_ids",
    "cells",
    "check_grid_code",
    "check_neighbours",
    "clean_polygon",
    "give_away",
    "is_empty",
    "merge_grids",
    "move_buildings",
    "polygonal",
    "replace_boundary",
    "same_area",
    "split_grid",
    "tally",
]

Grids = Mapping[str, shapely.Geometry]

_EPS = 1e-8  # degrees (about 1 mm): adjacency tolerance
_NOISE = 1e-13  # square degrees (about 0.001 m²): overlay crumbs dropped from results


@dataclass(frozen=True)
class GridEdit:
    """What an edit does: ``grids`` the new boundary of every grid it changes or creates (grids it
    leaves as they were are not listed), ``retired`` the codes that stop being current, ``moved`` the
    buildings a move hands over."""

    grids: dict[str, shapely.Geometry]
    retired: tuple[str, ...] = ()
    moved: tuple[int, ...] = ()

    def after(self, current: Grids) -> dict[str, shapely.Geometry]:
        """The community's grids once the edit is applied to ``current``."""
        out = {c: g for c, g in current.items() if c not in self.retired}
        out.update(self.grids)
        return out


# ------------------------------------------------------------------------------------------ geometry


def polygonal(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygonal parts of ``geom`` without overlay crumbs, as a valid MultiPolygon (maybe empty)."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > _NOISE]
    if not parts:
        for p in shapely.get_parts(geom):
            if p.geom_type == "MultiPolygon":
                parts.extend(q for q in p.geoms if q.area > _NOISE)
    return shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon()


def clean_polygon(geom: Any, *, field: str = "geometry", feature: Any = None) -> shapely.MultiPolygon:
    """A valid polygonal geometry (MultiPolygon) from a shapely or GeoJSON input, or a
    :class:`GeometryError` naming ``field``."""
    if isinstance(geom, Mapping):
        try:
            geom = shapely.geometry.shape(geom)
        except Exception as exc:  # shapely raises several kinds for malformed GeoJSON
            raise GeometryError(
                f"the {field} is not a valid GeoJSON geometry: {exc}", field=field, feature=feature,
                rule="a GeoJSON Polygon or MultiPolygon",
            ) from exc
    if not isinstance(geom, shapely.Geometry) or geom.is_empty:
        raise GeometryError(
            f"the {field} is empty or missing", field=field, feature=feature,
            rule="a non-empty Polygon or MultiPolygon",
        )
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise GeometryError(
            f"the {field} is a {geom.geom_type}; a Polygon or MultiPolygon is needed",
            field=field, feature=feature, rule="a Polygon or MultiPolygon",
        )
    if not geom.is_valid:
        raise GeometryError(
            f"the {field} is not valid: {shapely.is_valid_reason(geom)}", field=field,
            feature=feature, rule="a valid polygon (OGC)",
        )
    return polygonal(geom)


def is_empty(geom: shapely.Geometry | None) -> bool:
    """No geometry, or no more area than overlay noise."""
    return geom is None or geom.is_empty or geom.area <= _NOISE


def same_area(a: shapely.Geometry | None, b: shapely.Geometry | None) -> bool:
    """Whether ``a`` and ``b`` cover the same area (up to overlay noise)."""
    if is_empty(a) or is_empty(b):
        return is_empty(a) and is_empty(b)
    return bool(shapely.symmetric_difference(a, b).area <= _NOISE)


def _border(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Length (degrees) of ``a``'s boundary lying on ``b`` (within about 1 mm): > 0 for neighbours."""
    if is_empty(a) or is_empty(b):
        return 0.0
    return float(shapely.intersection(shapely.boundary(a), shapely.buffer(b, _EPS)).length)


def check_neighbours(
    code_a: str, a: shapely.Geometry, code_b: str, b: shapely.Geometry, *, field: str = "to_code"
) -> None:
    """:class:`InvalidInputError` (naming ``field``) unless the two grids share a border of some length."""
    if _border(a, b) <= 0.0:
        raise InvalidInputError(
            f"grids {code_a} and {code_b} are not neighbours (they share no border)",
            field=field, feature=code_b, rule="the two grids share a border",
        )


def give_away(pieces: shapely.Geometry, grids: Grids, keeper: str) -> dict[str, shapely.Geometry]:
    """``grids`` with each part of ``pieces`` added to the grid (other than ``keeper``) that has the
    longest border on it; a part that borders no other grid goes to ``keeper``."""
    out = dict(grids)
    for part in shapely.get_parts(polygonal(pieces)):
        best, length = keeper, 0.0
        for code, geom in out.items():
            if code == keeper:
                continue
            border = _border(part, geom)
            if border > length:
                best, length = code, border
        out[best] = polygonal(shapely.union(out.get(best, shapely.MultiPolygon()), part))
    return out


def cells(geom: shapely.Geometry, points: Sequence[shapely.Point]) -> list[shapely.Geometry]:
    """Voronoi cells of ``points`` clipped to ``geom``, one per point (same order); together they tile
    ``geom``."""
    if len(points) == 1:
        return [geom]
    diagram = shapely.voronoi_polygons(
        shapely.MultiPoint(list(points)), extend_to=shapely.buffer(shapely.envelope(geom), 0.001)
    )
    raw = list(shapely.get_parts(diagram))
    tree = shapely.STRtree(raw)
    out: list[shapely.Geometry] = []
    for p in points:
        hits = tree.query(p, predicate="covered_by")
        cell = raw[int(hits[0])] if len(hits) else shapely.Polygon()
        out.append(polygonal(shapely.intersection(cell, geom)))
    return out


# ------------------------------------------------------------------------------------------ buildings


def tally(grids: Grids, buildings: gpd.GeoDataFrame, *, pieces: pd.DataFrame | None = None) -> dict[str, int]:
    """Households inside each geometry, counted independently (the live tally of a boundary being drawn
    may overlap its neighbours), buildings at their representative point.

    ``pieces`` (``building``, ``households``, ``grid_code``: building parts as
    :mod:`gisgrid.grids.parts` makes them, or a plan's pieces) credits the buildings split over grids
    part by part, to the grid with that code.
    """
    out = {code: 0 for code in grids}
    if pieces is not None and len(pieces):
        buildings = buildings.drop(index=list(set(pieces["building"]) & set(buildings.index)))
        for row in pieces.itertuples(index=False):
            if str(row.grid_code) in out:
                out[str(row.grid_code)] += int(row.households)
    if buildings.empty:
        return out
    points = building_points(buildings)
    hh = buildings["households"].to_numpy(dtype=np.int64)
    for code, geom in grids.items():
        if geom is None or geom.is_empty:
            continue
        out[code] += int(hh[shapely.covered_by(points, geom)].sum())
    return out


def assign(grids: Grids, buildings: gpd.GeoDataFrame) -> pd.Series:
    """Building id → code of the first grid (in code order) covering its representative point, or None."""
    codes = sorted(grids)
    result = pd.Series([None] * len(buildings), index=buildings.index, dtype=object)
    if not codes or buildings.empty:
        return result
    points = building_points(buildings)
    for code in reversed(codes):  # the lowest code wins where grids overlap
        result[shapely.covered_by(points, grids[code])] = code
    return result


def _inside(buildings: gpd.GeoDataFrame, geom: shapely.Geometry) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The buildings whose representative point ``geom`` covers, and those points."""
    if buildings.empty:
        return buildings, np.asarray([])
    points = building_points(buildings)
    inside = shapely.covered_by(points, geom)
    return buildings[inside], points[inside]


def building_ids(values: Iterable[Any], field: str) -> list[int]:
    """A non-empty list of distinct integer building ids, or :class:`InvalidInputError` naming ``field``."""
    out = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"building id {v!r} is not a number", field=field, feature=v, rule="integer ids"
            ) from exc
    if not out:
        raise InvalidInputError("no buildings given", field=field, rule="at least one building")
    if len(set(out)) != len(out):
        raise InvalidInputError("a building is listed twice", field=field, rule="unique ids")
    return out


def check_grid_code(code: str, community_code: str, *, field: str = "code") -> str:
    """``code`` if it is 15 digits starting with ``community_code``, else :class:`InvalidInputError`."""
    if not (len(code) == 15 and code.isdigit() and code.startswith(community_code)):
        raise InvalidInputError(
            f"grid code {code!r} must be 15 digits starting with the community code {community_code}",
            field=field, feature=code, rule="community code + 3-digit sequence",
        )
    return code


# ------------------------------------------------------------------------------------------ edits


def _settle(
    current: Grids, new: Mapping[str, shapely.Geometry], retired: Iterable[str], moved: Iterable[int] = ()
) -> GridEdit:
    """The edit without the grids it leaves as they were; an edit that would empty a grid is refused."""
    gone = tuple(sorted(set(retired)))
    changed = {
        c: g for c, g in new.items() if c not in gone and not (c in current and same_area(g, current[c]))
    }
    for code, geom in changed.items():
        if is_empty(geom):
            raise InvalidInputError(
                f"the edit would leave grid {code} empty; merge it instead", field="geometry", feature=code,
                rule="every grid keeps some area",
            )
    return GridEdit(changed, gone, tuple(sorted(moved)))


def _grid(grids: Grids, code: str, field: str) -> shapely.Geometry:
    if code not in grids:
        raise NotFoundError(f"no current grid with code {code!r}", field=field, feature=code,
                            rule="an existing grid")
    return grids[code]


def replace_boundary(grids: Grids, code: str, boundary: Any, community: shapely.Geometry) -> GridEdit:
    """Give grid ``code`` the polygon ``boundary`` (shapely or GeoJSON, clipped to ``community``).

    Neighbours lose what it now covers and receive what it gives up (:func:`give_away`); a neighbour
    covered entirely is retired. ``code`` need not be current (a rollback reopens a retired code).
    """
    target = polygonal(shapely.intersection(clean_polygon(boundary, feature=code), community))
    if is_empty(target):
        raise GeometryError(
            f"the new boundary of grid {code} does not overlap its community {code[:12]}",
            field="geometry", feature=code, rule="inside the community",
        )
    result = {c: polygonal(shapely.difference(g, target)) for c, g in grids.items() if c != code}
    result[code] = target
    if code in grids:
        result = give_away(shapely.difference(grids[code], target), result, code)
    retired = [c for c, g in result.items() if c != code and is_empty(g)]
    return _settle(grids, result, retired)


def move_buildings(
    grids: Grids, from_code: str, to_code: str, buildings: gpd.GeoDataFrame, ids: Iterable[Any]
) -> GridEdit:
    """Move the buildings ``ids`` (with their cells) from grid ``from_code`` to its neighbour ``to_code``.

    Refused: a building not in ``from_code`` (by representative point), every building of it (merge
    instead), the same grid twice, grids that share no border.
    """
    chosen = building_ids(ids, "building_ids")
    if from_code == to_code:
        raise InvalidInputError("from_code and to_code are the same grid", field="to_code", feature=to_code,
                                rule="two different grids")
    source, dest = _grid(grids, from_code, "from_code"), _grid(grids, to_code, "to_code")
    check_neighbours(from_code, source, to_code, dest)
    inside, points = _inside(buildings, source)
    missing = [i for i in chosen if i not in inside.index]
    if missing:
        raise InvalidInputError(
            f"building(s) {', '.join(map(str, missing))} are not in grid {from_code}", field="building_ids",
            feature=missing, rule="move buildings out of the grid they are in",
        )
    if len(chosen) == len(inside):
        raise InvalidInputError(
            f"moving every building of grid {from_code} would empty it; merge the grids instead",
            field="building_ids", feature=from_code, rule="the source grid keeps at least one building",
        )
    wanted = set(chosen)
    given = shapely.union_all(
        [cell for bid, cell in zip(inside.index, cells(source, list(points)), strict=True) if bid in wanted]
    )
    new = {
        from_code: polygonal(shapely.difference(source, given)),
        to_code: polygonal(shapely.union(dest, given)),
    }
    return _settle(grids, new, (), chosen)


def _line(line: Any, code: str) -> shapely.Geometry:
    try:
        cut = shapely.geometry.shape(line) if isinstance(line, Mapping) else line
    except Exception as exc:  # shapely raises several kinds for malformed GeoJSON
        raise GeometryError(f"the split line is not valid GeoJSON: {exc}", field="line", feature=code,
                            rule="a LineString across the grid") from exc
    if not isinstance(cut, shapely.LineString | shapely.MultiLineString) or cut.is_empty:
        raise GeometryError("the split line must be a LineString", field="line", feature=code,
                            rule="a LineString across the grid")
    return cut


def _split_by_sets(
    geom: shapely.Geometry, code: str, buildings: gpd.GeoDataFrame, sets: tuple[Iterable[Any], Iterable[Any]]
) -> tuple[shapely.Geometry, shapely.Geometry]:
    a_ids, b_ids = building_ids(sets[0], "building_sets[0]"), building_ids(sets[1], "building_sets[1]")
    inside, points = _inside(buildings, geom)
    have = {int(i) for i in inside.index}
    if set(a_ids) & set(b_ids) or set(a_ids) | set(b_ids) != have:
        raise InvalidInputError(
            f"the two building sets must divide grid {code}'s {len(have)} buildings between them, "
            "each building in exactly one set", field="building_sets", feature=code,
            rule="the sets partition the grid's buildings",
        )
    wanted = set(a_ids)
    side_a = polygonal(
        shapely.intersection(
            shapely.union_all(
                [c for bid, c in zip(inside.index, cells(geom, list(points)), strict=True) if bid in wanted]
            ),
            geom,
        )
    )
    return side_a, polygonal(shapely.difference(geom, side_a))


def split_grid(
    grids: Grids,
    code: str,
    new_code: str,
    buildings: gpd.GeoDataFrame,
    *,
    line: Any = None,
    building_sets: tuple[Iterable[Any], Iterable[Any]] | None = None,
) -> GridEdit:
    """Split grid ``code`` in two — by a ``line`` (shapely or GeoJSON LineString across the grid, which
    must cut it into exactly two parts) or by ``building_sets`` (two lists of building ids that together
    are exactly the grid's buildings; each side gets its buildings' cells).

    The part with more households keeps ``code`` (ties: the larger part); the other becomes ``new_code``
    (15 digits in the same community, not a current grid).
    """
    if (line is None) == (building_sets is None):
        raise InvalidInputError("give either a line or two building sets", field="line",
                                rule="exactly one of line, building_sets")
    geom = _grid(grids, code, "code")
    check_grid_code(new_code, code[:12], field="new_code")
    if new_code in grids:
        raise ConflictError(f"grid code {new_code} is already in use (now or in the past)", field="new_code",
                            feature=new_code, rule="a code never used before")
    if line is not None:
        parts = [p for p in shapely.get_parts(shapely.ops.split(geom, _line(line, code))) if p.area > _NOISE]
        if len(parts) != 2:
            raise InvalidInputError(
                f"the line cuts grid {code} into {len(parts)} part(s); it must cross the grid once, "
                "into exactly two parts", field="line", feature=code, rule="exactly two parts",
            )
        side_a, side_b = polygonal(parts[0]), polygonal(parts[1])
    else:
        assert building_sets is not None
        side_a, side_b = _split_by_sets(geom, code, buildings, building_sets)
    counts = tally({"a": side_a, "b": side_b}, buildings)
    keep_a = (counts["a"], side_a.area) >= (counts["b"], side_b.area)
    new = {code: side_a if keep_a else side_b, new_code: side_b if keep_a else side_a}
    return _settle(grids, new, ())


def merge_grids(grids: Grids, code_a: str, code_b: str, *, keep: str | None = None) -> GridEdit:
    """Merge two neighbouring grids; ``keep`` (default: the lower code) survives, the other is retired."""
    if code_a == code_b:
        raise InvalidInputError("cannot merge a grid with itself", field="codes", feature=code_a,
                                rule="two different grids")
    keep = keep or min(code_a, code_b)
    if keep not in (code_a, code_b):
        raise InvalidInputError(f"keep must be {code_a} or {code_b}", field="keep", feature=keep,
                                rule="one of the merged codes")
    gone = code_b if keep == code_a else code_a
    a, b = _grid(grids, code_a, "codes"), _grid(grids, code_b, "codes")
    check_neighbours(code_a, a, code_b, b, field="codes")
    return _settle(grids, {keep: polygonal(shapely.union(a, b))}, (gone,))
