"""Shape measures of grids."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import shapely

__all__ = ["ON_STREET_M", "boundary_on_lines_share", "polsby_popper"]


def polsby_popper(geom_metric: shapely.Geometry) -> float:
    """Polsby–Popper compactness 4πA/P² of a geometry in a metric CRS (1 for a disc, 0 if empty).

    Examples
    --------
    >>> round(polsby_popper(shapely.box(0, 0, 10, 10)), 4)
    0.7854
    """
    if geom_metric is None or geom_metric.is_empty:
        return 0.0
    perimeter = float(shapely.length(geom_metric))
    if perimeter <= 0:
        return 0.0
    return float(4.0 * math.pi * shapely.area(geom_metric) / perimeter**2)


#: A grid boundary within this distance of a street or barrier line counts as following it (the width
#: of a street between its centre line and the building line).
ON_STREET_M = 10.0


def boundary_on_lines_share(grids_metric: Iterable[shapely.Geometry], lines_metric: Iterable[shapely.Geometry],
                            *, within: float = ON_STREET_M) -> float:
    """Share (0..1) of the *internal* boundary length of ``grids_metric`` within ``within`` metres of a line.

    Internal boundary = borders between two grids (the outline of the union is left out): half of
    Σ perimeters − the union's perimeter, and the same for the parts inside the lines' buffer. Every
    geometry in one metric CRS; 1.0 when there is no internal boundary (a single grid).

    >>> grids = [shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)]
    >>> round(boundary_on_lines_share(grids, [shapely.LineString([(105, -10), (105, 110)])]), 3)
    1.0
    >>> round(boundary_on_lines_share(grids, [shapely.LineString([(0, 50), (200, 50)])]), 3)
    0.2
    """
    polys = np.asarray([g for g in grids_metric if g is not None and not g.is_empty], dtype=object)
    if len(polys) < 2:
        return 1.0
    union = shapely.union_all(polys)
    internal = (float(shapely.length(polys).sum()) - float(union.length)) / 2
    if internal <= 0:
        return 1.0
    lines = np.asarray([g for g in lines_metric if g is not None and not g.is_empty], dtype=object)
    if len(lines) == 0:
        return 0.0
    zone = shapely.union_all(shapely.buffer(lines, within, quad_segs=2))
    shapely.prepare(zone)
    on = float(shapely.length(shapely.intersection(shapely.boundary(polys), zone)).sum())
    outer_on = float(shapely.length(shapely.intersection(union.boundary, zone)))
    return min(1.0, max(0.0, (on - outer_on) / 2 / internal))
