"""Grid ids for many historical points at once: the grid versions read from PostGIS, the answer from the core.

:func:`load_locator` reads every non-draft grid version into a :class:`gisgrid.grids.locate.GridLocator`
(the locator intake asks for single points); :func:`assign_bulk` asks it for a whole frame of points
— the version valid at each point's report time that covers it, lowest grid id first, as
``ST_Covers`` and intake decide.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gisgrid.errors import InvalidInputError
from gisgrid.grids.locate import GridLocator

__all__ = ["assign_bulk", "load_locator"]

_GRIDS_SQL = text("""SELECT id, code, valid_from, valid_to, ST_AsBinary(geom) AS wkb FROM grid
                     WHERE status <> 'draft' ORDER BY id""")


def load_locator(bind: Engine | Session) -> GridLocator:
    """Every non-draft grid version, as a locator."""
    import shapely

    if isinstance(bind, Session):
        rows = bind.execute(_GRIDS_SQL).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(_GRIDS_SQL).all()
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else np.array([], dtype=object)
    return GridLocator([r.id for r in rows], [r.code for r in rows], [r.valid_from for r in rows],
                       [r.valid_to for r in rows], geoms)


def assign_bulk(bind: Engine | Session | GridLocator, points: Any, *, at: Any = None,
                at_column: str = "reported_at") -> np.ndarray:
    """The ``grid.id`` valid at each point's report time that covers it (``-1`` where none does).

    ``points`` is a GeoDataFrame (or GeoSeries / array of points) in EPSG:4326; the times come from
    ``at`` (one time for all, or an array) or else its ``at_column``; with neither, the current
    versions answer. ``bind`` is where to read the grids from, or a locator already read.
    """
    import geopandas as gpd

    locator = bind if isinstance(bind, GridLocator) else load_locator(bind)
    if isinstance(points, gpd.GeoDataFrame):
        if points.crs is not None and points.crs.to_epsg() != 4326:
            raise InvalidInputError("points must be in EPSG:4326", field="crs", rule="WGS84 points")
        geoms = points.geometry.values
        if at is None and at_column in points:
            at = points[at_column].to_numpy()
    else:
        geoms = np.asarray(getattr(points, "values", points))
    return locator.assign(geoms, at)
