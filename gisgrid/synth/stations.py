"""Service stations and their rollout: party–masses service centres and stations, service posts,
police rooms and red heart stations (红心驿站), each planned → building → open (→ closed).

Stations sit in the strip between road and complex; red heart stations just inside the complex fence,
on its ring footway (:mod:`gisgrid.synth.footways`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisgrid.synth.geometry import WGS84, reproject
from gisgrid.synth.layout import CELL_H, CELL_W, COMPLEX_INSET, SOURCE, Areas

STATION_RADIUS = {  # metres (service_radius_m): how far a station is meant to reach
    "service_centre": 1500.0,
    "service_station": 800.0,
    "service_post": 300.0,
    "red_heart_station": 150.0,
    "police_room": 1000.0,
}


def rollout_dates(
    rng: np.random.Generator,
    today: dt.date,
    n: int,
    earliest_days: int,
    p_closed: float,
    every_state: bool = False,
) -> dict[str, Any]:
    """Planned → building → open (→ closed) dates; the status is the last date not after ``today``.

    With ``every_state`` (and ``n >= 4``) four random rows are set to show one of each state.
    """
    day0 = np.datetime64(today, "D")
    planned = day0 - rng.integers(5, earliest_days, n).astype("timedelta64[D]")
    building = planned + rng.integers(10, 120, n).astype("timedelta64[D]")
    opened = building + rng.integers(20, 150, n).astype("timedelta64[D]")
    closed = opened + rng.integers(30, 300, n).astype("timedelta64[D]")
    will_close = rng.random(n) < p_closed
    if every_state and n >= 4:
        k = rng.permutation(n)[:4]
        planned[k] = day0 - np.array([20, 100, 300, 600]).astype("timedelta64[D]")
        building[k] = planned[k] + np.array([60, 30, 30, 30]).astype("timedelta64[D]")
        opened[k] = building[k] + np.array([60, 200, 60, 60]).astype("timedelta64[D]")
        closed[k] = opened[k] + np.array([90, 90, 90, 90]).astype("timedelta64[D]")
        will_close[k] = [False, False, False, True]
    has_b, has_o = building <= day0, opened <= day0
    has_c = will_close & (closed <= day0)
    status = np.where(has_c, "closed", np.where(has_o, "open", np.where(has_b, "building", "planned")))

    def dates(arr: np.ndarray, mask: np.ndarray) -> list[dt.date | None]:
        return [d.item() if ok else None for d, ok in zip(arr, mask, strict=True)]

    return {
        "status": status.astype(object),
        "planned_on": dates(planned, np.ones(n, bool)),
        "building_since": dates(building, has_b),
        "opened_on": dates(opened, has_o),
        "closed_on": dates(closed, has_c),
    }


def make_stations(
    rng: np.random.Generator,
    today: dt.date,
    cell_x: np.ndarray,
    cell_y: np.ndarray,
    areas: Areas,
    complexes: gpd.GeoDataFrame,
    to_wgs: Transformer,
) -> gpd.GeoDataFrame:
    """Every station with its rollout dates; ``cell_x``, ``cell_y`` are the built blocks' centres."""
    comm_of, street_of = areas.community_of, areas.street_of
    n_comm, n_street = areas.n_communities, areas.n_streets
    comm_codes, comm_names, street_names = areas.community_codes, areas.community_names, areas.street_names
    strip = (CELL_H / 2) - COMPLEX_INSET / 2  # y offset of the road-side strip from the cell centre

    def central_cell(groups: np.ndarray, g: int) -> int:
        idx = np.flatnonzero(groups == g)
        mx, my = cell_x[idx].mean(), cell_y[idx].mean()
        return int(idx[np.argmin(np.hypot(cell_x[idx] - mx, cell_y[idx] - my))])

    parts: list[pd.DataFrame] = []
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []

    def add(
        kind: str,
        names: list[str],
        cell: np.ndarray,
        dx: float,
        dy: float,
        dates: dict[str, Any],
        complex_key: Any = None,
    ) -> None:
        n = len(names)
        df = pd.DataFrame(
            {
                "name": names,
                "kind": kind,
                **dates,
                "service_radius_m": STATION_RADIUS[kind],
                "community_code": comm_codes[comm_of[cell]],
                "complex_key": complex_key,
            }
        )
        parts.append(df)
        xs.append(cell_x[cell] + dx + np.zeros(n))
        ys.append(cell_y[cell] + dy + np.zeros(n))

    centre_cells = np.array([central_cell(street_of, s) for s in range(n_street)], dtype=np.int64)
    add(
        "service_centre",
        [f"{nm}党群服务中心" for nm in street_names],
        centre_cells,
        0.0,
        -strip,
        rollout_dates(rng, today, n_street, 1500, 0.0),
    )
    comm_cells = np.array([central_cell(comm_of, c) for c in range(n_comm)], dtype=np.int64)
    add(
        "service_station",
        [f"{nm}党群服务站" for nm in comm_names],
        comm_cells,
        -60.0,
        -strip,
        rollout_dates(rng, today, n_comm, 1200, 0.0),
    )
    add(
        "police_room",
        [f"{nm}警务室" for nm in comm_names],
        comm_cells,
        60.0,
        -strip,
        rollout_dates(rng, today, n_comm, 1200, 0.0),
    )
    post_cells = rng.integers(0, cell_x.size, max(1, n_comm * 2))
    add(
        "service_post",
        [f"{complexes['name'].iat[c]}党群服务驿站" for c in post_cells],
        post_cells,
        0.0,
        strip,
        rollout_dates(rng, today, post_cells.size, 730, 0.05),
    )
    heart = np.flatnonzero(rng.random(cell_x.size) < 0.75)
    add(
        "red_heart_station",
        [f"{complexes['name'].iat[c]}红心驿站" for c in heart],
        heart,
        -CELL_W / 4,
        -(CELL_H / 2 - COMPLEX_INSET - 4.0),
        rollout_dates(rng, today, heart.size, 700, 0.06, every_state=True),
        complexes["complex_key"].to_numpy()[heart],
    )
    df = pd.concat(parts, ignore_index=True)
    df["source"] = SOURCE
    df["source_ref"] = [f"syn-station-{k:05d}" for k in range(len(df))]
    pts = reproject(shapely.points(np.concatenate(xs), np.concatenate(ys)), to_wgs)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(pts, crs=WGS84)).rename_geometry("geom")
