"""Shape measures of grids."""

from __future__ import annotations

import math

import shapely

__all__ = ["polsby_popper"]


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
