"""Points and buildings onto the street network: the nearest edge, how far along it, how far off it.

A place is snapped to a point *on an edge*, not to the nearest node: many buildings share a nearest
node (2,208 buildings of one OSM extract snapped to 450 nodes), and a node can be a whole block away
while the street runs past the door. The walk from a place is then ``offset`` (door to street) plus the
way along the edge to one of its ends.

A building's door is its ``entrance`` when that point lies on the footprint's outline (a surveyed or
generated door); an entrance strictly inside the footprint is only a placeholder (importers put a
point-on-surface there), so the building walks from the point of its footprint nearest to a street.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gisgrid.errors import GeometryError, InvalidInputError
from gisgrid.network.graph import StreetNetwork

__all__ = ["ENTRANCE_ON_OUTLINE_M", "Snap", "snap_buildings", "snap_points"]

ENTRANCE_ON_OUTLINE_M = 0.5  # an entrance this close to the footprint's outline is a real door


@dataclass(frozen=True, eq=False)
class Snap:
    """Where places meet the network: ``edge`` position, ``along`` (metres from the edge's first node,
    in the edge's own length) and ``offset`` (metres from the place to the street); ``point`` is the
    street point in the network's metric CRS."""

    edge: np.ndarray
    along: np.ndarray
    offset: np.ndarray
    point: np.ndarray

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, index: np.ndarray | list[int]) -> Snap:
        idx = np.asarray(index, dtype=np.int64)
        return Snap(self.edge[idx], self.along[idx], self.offset[idx], self.point[idx])

    @staticmethod
    def concat(parts: list[Snap]) -> Snap:
        return Snap(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("edge", "along", "offset",
                                                                                        "point")))


def _check(net: StreetNetwork, geoms: np.ndarray, name: str) -> np.ndarray:
    if net.n_edges == 0:
        raise GeometryError("the street network has no edges to snap to", field="street_edge", rule="a network")
    geoms = np.asarray(geoms, dtype=object)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if np.any(bad):
        raise InvalidInputError(
            f"{int(bad.sum())} {name} have no geometry", field=name, feature=int(np.flatnonzero(bad)[0]),
            rule="a non-empty geometry to snap",
        )
    return geoms


def _on_edges(net: StreetNetwork, geoms: np.ndarray) -> Snap:
    """Nearest edge of each geometry, and the nearest point on it."""
    pairs, dist = net.edge_tree.query_nearest(geoms, return_distance=True, all_matches=False)
    # query_nearest answers in input order, one pair per input when all_matches=False
    edge = np.full(len(geoms), -1, dtype=np.int64)
    offset = np.full(len(geoms), np.inf)
    edge[pairs[0]] = pairs[1]
    offset[pairs[0]] = dist
    lines = net.edge_lines[edge]
    street_point = shapely.get_point(shapely.shortest_line(geoms, lines), 1)
    line_len = shapely.length(lines)
    scale = np.divide(net.edge_length[edge], line_len, out=np.ones(len(edge)), where=line_len > 0)
    along_line = shapely.line_locate_point(lines, street_point)
    # measure along from the edge's first node even where the stored line runs the other way
    start = shapely.get_point(lines, 0)
    u_xy = net.xy[net.edge_u[edge]]
    reversed_line = shapely.distance(start, shapely.points(u_xy)) > shapely.distance(
        shapely.get_point(lines, -1), shapely.points(u_xy)
    )
    along_line = np.where(reversed_line, line_len - along_line, along_line)
    along = np.clip(along_line * scale, 0.0, net.edge_length[edge])
    return Snap(edge, along, offset, street_point)


def snap_points(net: StreetNetwork, points: np.ndarray) -> Snap:
    """Snap points (shapely, in ``net.crs``) to their nearest edges."""
    return _on_edges(net, _check(net, points, "points"))


def snap_buildings(
    net: StreetNetwork, footprints: np.ndarray, entrances: np.ndarray | None = None
) -> tuple[Snap, np.ndarray]:
    """Snap buildings (footprints and optional entrances, in ``net.crs``).

    Returns the snaps and a boolean array: ``True`` where the entrance was used, ``False`` where the
    footprint's nearest point to a street was (no entrance, or one inside the footprint).
    """
    footprints = _check(net, footprints, "footprints")
    use_entrance = np.zeros(len(footprints), dtype=bool)
    if entrances is not None:
        entrances = np.asarray(entrances, dtype=object)
        has = ~(shapely.is_missing(entrances) | shapely.is_empty(entrances))
        outline = shapely.boundary(footprints[has])
        use_entrance[has] = shapely.distance(entrances[has], outline) <= ENTRANCE_ON_OUTLINE_M
    places = np.where(use_entrance, entrances if entrances is not None else footprints, footprints)
    return _on_edges(net, places), use_entrance
