"""The inputs of the coverage and rollout maps, from PostGIS and the street network.

Keys match the keyword arguments of :func:`gisgrid.maps.coverage.build_coverage_map` and
:func:`gisgrid.maps.rollout.build_rollout_map`. Both start from :func:`layers.coverage_inputs.coverage_inputs`
(the area's demand, the stations of the kind) and compute on the network here; :func:`monthly_coverage`
is, with :func:`layers.coverage_inputs.covered_demand`, where stored coverage figures will be read
once they exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import scope_prefix
from gisgrid.coverage.isochrones import service_areas
from gisgrid.coverage.reach import reach
from gisgrid.maps.rollout import month_starts
from gisgrid.network import snap_points
from layers.coverage.inputs import history_frame
from layers.coverage_inputs import CoverageInputs, coverage_inputs, open_on_day, read_complexes

__all__ = ["coverage_layers", "monthly_coverage", "rollout_layers", "suggestion_points"]

SRID = 4326


def _communities(session: Session, area_code: str | None) -> gpd.GeoDataFrame:
    where, params = "level = 'community'", {}
    if area_code is not None:
        where += " AND code LIKE :prefix"
        params = {"prefix": scope_prefix(area_code)[:12] + "%"}
    sql = f"SELECT code, name, geom FROM admin_area WHERE {where} ORDER BY code"
    return gpd.read_postgis(text(sql), session.connection(), geom_col="geom", crs=SRID, params=params)


def _to_wgs(inputs: CoverageInputs, geoms: np.ndarray) -> gpd.GeoSeries:
    return gpd.GeoSeries(geoms, crs=inputs.net.crs).to_crs(SRID)


def _relevant(inputs: CoverageInputs, stations: gpd.GeoDataFrame, hits: Any) -> np.ndarray:
    """Stations that reach a household of the area, or stand in it."""
    reaches = np.diff(hits.indptr) > 0
    if inputs.area_code is None:
        return np.ones(len(stations), dtype=bool)
    inside = (
        stations["community_code"].fillna("").astype(str).str.startswith(scope_prefix(inputs.area_code)[:12])
    )
    return reaches | inside.to_numpy(dtype=bool)


def coverage_layers(
    session: Session,
    *,
    kind: str,
    as_of: dt.date | None = None,
    threshold_m: float | None = None,
    area_code: str | None = None,
    scope_code: str | None = None,
) -> dict[str, Any]:
    """Service areas of the open stations, uncovered buildings, complexes with their uncovered
    households, community outlines and the figures, for one kind on one day."""
    inputs = coverage_inputs(
        session, kind=kind, as_of=as_of, threshold_m=threshold_m, area_code=area_code, scope_code=scope_code
    )
    net, demand = inputs.net, inputs.demand
    open_rows = inputs.stations[inputs.stations["open"]].reset_index(drop=True)
    snaps = snap_points(net, net.to_metric(open_rows.geometry)) if len(open_rows) else inputs.existing
    hits = reach(net, snaps, demand.snap, inputs.threshold_m)
    keep = _relevant(inputs, open_rows, hits)
    areas = (
        service_areas(net, snaps.take(np.flatnonzero(keep)), inputs.threshold_m)
        if keep.any()
        else np.zeros(0)
    )
    shown = open_rows[keep].reset_index(drop=True)
    area_frame = gpd.GeoDataFrame({"name": shown["name"].to_numpy()}, geometry=_to_wgs(inputs, areas))
    uncovered = ~inputs.covered
    doors = gpd.GeoDataFrame(
        {"id": demand.ref[uncovered], "households": demand.weight[uncovered]},
        geometry=_to_wgs(inputs, demand.door[uncovered]),
    )
    per_building = pd.DataFrame(
        {
            "complex_id": inputs.buildings["complex_id"].to_numpy(),
            "households": demand.weight,
            "uncovered": np.where(uncovered, demand.weight, 0.0),
        }
    )
    by_complex = (
        per_building.dropna(subset=["complex_id"]).groupby("complex_id")[["households", "uncovered"]].sum()
    )
    complexes = read_complexes(session, inputs.area_code)
    complexes = complexes.join(by_complex, on="id")
    complexes[["households", "uncovered"]] = complexes[["households", "uncovered"]].fillna(0)
    figures = {
        "households_total": float(demand.weight.sum()),
        "households_covered": float(demand.weight[inputs.covered].sum()),
        "stations_open": len(shown),
        "buildings_uncovered": int(uncovered.sum()),
    }
    return {
        "kind": kind,
        "threshold_m": inputs.threshold_m,
        "as_of": inputs.as_of,
        "service_areas": area_frame,
        "stations": shown,
        "uncovered": doors,
        "complexes": complexes,
        "communities": _communities(session, inputs.area_code),
        "figures": figures,
        "synthetic": inputs.synthetic,
        "inputs": inputs,
    }


def monthly_coverage(
    inputs: CoverageInputs, stations: gpd.GeoDataFrame, hits: Any, months: list[dt.date], history: pd.DataFrame
) -> pd.DataFrame:
    """Per month (its first day): stations open, opened and closed in it, and the households covered
    at its end — the rollout curve, from each station's reach (``hits``: stations × demand)."""
    rows = []
    weight = inputs.demand.weight
    total = float(weight.sum())
    opened = pd.to_datetime(stations["opened_on"], errors="coerce")
    closed = pd.to_datetime(stations["closed_on"], errors="coerce")
    for first in months:
        last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
        is_open = open_on_day(history, stations["id"], last)
        reached = (
            np.bincount(hits[np.flatnonzero(is_open)].indices, minlength=len(weight)) > 0
            if is_open.any()
            else np.zeros(len(weight), dtype=bool)
        )
        in_month = (pd.Timestamp(first) <= opened) & (opened <= pd.Timestamp(last))
        shut = (pd.Timestamp(first) <= closed) & (closed <= pd.Timestamp(last))
        rows.append(
            {
                "month": first,
                "open": int(is_open.sum()),
                "new": int(in_month.sum()),
                "closed": int(shut.sum()),
                "households_covered": float(weight[reached].sum()),
                "households_total": total,
            }
        )
    return pd.DataFrame(rows)


def rollout_layers(
    session: Session,
    *,
    kind: str,
    until: dt.date | None = None,
    threshold_m: float | None = None,
    area_code: str | None = None,
    scope_code: str | None = None,
) -> dict[str, Any]:
    """Every station of the kind that ever opened (with its dates and service area) and the monthly
    figures from the first opening to ``until`` (default today)."""
    inputs = coverage_inputs(
        session, kind=kind, as_of=until, threshold_m=threshold_m, area_code=area_code, scope_code=scope_code
    )
    net = inputs.net
    ever = inputs.stations[inputs.stations["opened_on"].notna()].reset_index(drop=True)
    snaps = snap_points(net, net.to_metric(ever.geometry)) if len(ever) else inputs.existing
    hits = reach(net, snaps, inputs.demand.snap, inputs.threshold_m)
    keep = _relevant(inputs, ever, hits)
    ever, idx = ever[keep].reset_index(drop=True), np.flatnonzero(keep)
    hits = hits[idx]
    areas = service_areas(net, snaps.take(idx), inputs.threshold_m) if len(idx) else np.zeros(0)
    area_frame = gpd.GeoDataFrame(
        ever[["name", "opened_on", "closed_on"]].copy(), geometry=_to_wgs(inputs, areas)
    )
    monthly = pd.DataFrame()
    if len(ever):
        first = pd.to_datetime(ever["opened_on"]).min().date()
        monthly = monthly_coverage(inputs, ever, hits, month_starts(first, max(first, inputs.as_of)),
                                   history_frame(session))
    return {
        "kind": kind,
        "threshold_m": inputs.threshold_m,
        "until": inputs.as_of,
        "stations": ever,
        "service_areas": area_frame,
        "monthly": monthly,
        "communities": _communities(session, inputs.area_code),
        "synthetic": inputs.synthetic,
    }


def suggestion_points(payload: dict[str, Any]) -> gpd.GeoDataFrame:
    """The suggestions of a siting answer as points for the coverage map."""
    rows = payload.get("suggestions", [])
    return gpd.GeoDataFrame(
        {
            "rank": [r["rank"] for r in rows],
            "name": [r["name"] for r in rows],
            "adds_households": [r["adds_households"] for r in rows],
        },
        geometry=gpd.points_from_xy([r["lon"] for r in rows], [r["lat"] for r in rows]),
        crs=SRID,
    )
