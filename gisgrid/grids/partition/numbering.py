"""Grid codes: the community's 12 digits + a 3-digit sequence, west→east, north→south."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid.codes import check_community_code
from gisgrid.crs import metric_crs_for
from gisgrid.errors import CRSError, InvalidInputError

__all__ = ["number_grids"]

_MAX_GRIDS = 999  # the sequence has three digits


def _row_order(x: np.ndarray, y: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray]:
    """Order of points in rows north→south, west→east in each row; also each point's row number.

    A row starts at the northernmost point not yet numbered and takes every unnumbered point whose y
    is more than ``y_start − band/2``; inside a row points go by increasing x (ties: higher y first).
    """
    n = len(x)
    remaining = list(np.lexsort((x, -y)))  # north first, then west
    order: list[int] = []
    row = np.zeros(n, dtype=np.int64)
    r = 0
    while remaining:
        y0 = y[remaining[0]]
        members = [remaining[0]] + [i for i in remaining[1:] if y[i] > y0 - band / 2.0]
        taken = set(members)
        remaining = [i for i in remaining if i not in taken]
        members.sort(key=lambda i: (x[i], -y[i], i))
        order.extend(members)
        row[members] = r
        r += 1
    return np.asarray(order, dtype=np.int64), row


def number_grids(grids: gpd.GeoDataFrame, community_code: str) -> gpd.GeoDataFrame:
    """Give grids their 15-digit codes: the community's 12 digits + a 3-digit sequence.

    The rule (west→east, north→south, like reading a page): centroids are measured in a metric CRS;
    the band height is ``b = √(total area / number of grids)`` (the side of an average grid). Row 1
    starts at the northernmost centroid and holds every grid whose centroid lies less than ``b/2``
    south of it; the next row starts at the northernmost grid left, and so on. Inside a row grids are
    numbered by increasing easting. Sequences run 001, 002, …

    Parameters
    ----------
    grids
        Grid polygons with a CRS.
    community_code
        The community's 12-digit statistical code.

    Returns
    -------
    GeoDataFrame
        A copy sorted by the new ``seq`` (int) with ``code`` (str, 15 digits); the index is reset.
    """
    check_community_code(community_code)
    if len(grids) > _MAX_GRIDS:
        raise InvalidInputError(
            f"{len(grids)} grids do not fit a 3-digit sequence", field="grids", feature=community_code,
            rule="at most 999 grids per community",
        )
    out = grids.copy()
    if len(out) == 0:
        out["seq"] = pd.Series(dtype="int64")
        out["code"] = pd.Series(dtype=object)
        return out
    if out.crs is None:
        raise CRSError("the grids have no CRS", field="crs", rule="a CRS is required")
    metric = out.to_crs(metric_crs_for(out))
    cent = metric.geometry.centroid
    band = math.sqrt(float(metric.geometry.area.sum()) / len(out))
    order, _ = _row_order(cent.x.to_numpy(), cent.y.to_numpy(), band)
    out = out.iloc[order].reset_index(drop=True)
    out["seq"] = np.arange(1, len(out) + 1)
    out["code"] = [f"{community_code}{s:03d}" for s in out["seq"]]
    return out
