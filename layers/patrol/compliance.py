"""Weekly compliance per worker and grid (JSON rows, CSV with a BOM), and the layers of the patrol map.

The arithmetic is the core's (:func:`gisgrid.patrol.weekly_compliance`); this module reads the grid's
buildings, the worker's stored plans and check-ins of the week, and every plausible visit of each
building up to the week's end (the longest-unvisited building is judged from the building's side: a
visit by anyone counts).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ
from gisgrid.crs import metric_crs_for
from gisgrid.errors import NotFoundError
from gisgrid.maps import Basemap, Language, build_patrol_map, render_html
from gisgrid.patrol import COLUMNS, PatrolRules, week_start, weekly_compliance
from layers.kpis import kpis_to_csv
from layers.patrol.plans import stored_plans
from layers.patrol.queries import grid_area, grid_buildings, worker_grids

__all__ = ["compliance_csv", "compliance_rows", "patrol_map_layers", "render_patrol_map"]


def _week_bounds(week: dt.date) -> tuple[dt.date, dt.datetime, dt.datetime]:
    monday = week_start(week)
    start = dt.datetime.combine(monday, dt.time(), CHINA_TZ)
    return monday, start, start + dt.timedelta(days=7)


def _checkins(
    session: Session, staff_id: int, grid_code: str, start: dt.datetime, end: dt.datetime
) -> gpd.GeoDataFrame:
    frame = gpd.read_postgis(text(
        "SELECT id, at, building_id, is_visit, flags, geom FROM patrol_checkin WHERE staff_id = :s "
        "AND grid_code = :g AND at >= :a AND at < :b ORDER BY at, id"
    ), session.connection(), geom_col="geom", crs=4326, params={"s": staff_id, "g": grid_code, "a": start, "b": end})
    return frame.rename_geometry("geometry")


def compliance_rows(
    session: Session, week: dt.date, *, rules: PatrolRules, scope_code: str | None = None,
    staff_id: int | None = None, grid_code: str | None = None,
) -> list[dict[str, Any]]:
    """One row per worker and grid of the week (keys :data:`gisgrid.patrol.COLUMNS`)."""
    monday, start, end = _week_bounds(week)
    pairs = worker_grids(session, monday, monday + dt.timedelta(days=6), staff_id=staff_id, scope_code=scope_code)
    if grid_code is not None:
        pairs = [p for p in pairs if p.grid_code == grid_code]
    planned = {(int(r.staff_id), str(r.grid_code)): float(r.m) for r in session.execute(text(
        "SELECT staff_id, grid_code, sum(length_m) AS m FROM patrol_plan WHERE week = :w GROUP BY 1, 2"
    ), {"w": monday})}
    rows = []
    for pair in pairs:
        buildings = grid_buildings(session, pair.grid_code)
        households = {int(b): int(h) for b, h in zip(buildings.index, buildings["households"], strict=True)}
        last = {int(b): at for b, at in session.execute(text(
            "SELECT building_id, max(at) FROM patrol_checkin WHERE is_visit AND building_id = ANY(:ids) AND at < :b "
            "GROUP BY building_id"), {"ids": list(households), "b": end})}
        checkins = _checkins(session, pair.staff_id, pair.grid_code, start, end)
        plausible = checkins[checkins["flags"].map(len) == 0]
        if len(plausible):
            metric = plausible.to_crs(metric_crs_for(plausible))
            track = list(zip(plausible["at"], metric.geometry.x, metric.geometry.y, strict=True))
        else:
            track = []
        visits = [(int(b), at) for b, at, v in zip(checkins["building_id"], checkins["at"], checkins["is_visit"],
                                                   strict=True) if v]
        rows.append(weekly_compliance(
            staff_id=pair.staff_id, staff_name=pair.staff_name, grid_code=pair.grid_code, week=monday,
            days_required=rules.days, households=households, visits=visits, track=track,
            planned_m=planned.get((pair.staff_id, pair.grid_code), 0.0), last_visits=last,
            flagged=int(len(checkins) - len(plausible)),
        ))
    return rows


def compliance_csv(rows: list[dict[str, Any]]) -> bytes:
    """The rows as CSV, UTF-8 with a BOM and CRLF lines (as the KPI CSV)."""
    return kpis_to_csv(rows, columns=list(COLUMNS))


def patrol_map_layers(session: Session, week: dt.date, staff_id: int, grid_code: str) -> dict[str, Any]:
    """What the patrol map draws for one worker's grid and week: the grid, its buildings (with
    ``visited``), the planned day routes (``day``, ``plan_date``, ``length_m``) and the check-ins."""
    monday, start, end = _week_bounds(week)
    buildings = grid_buildings(session, grid_code).drop(columns=["entrance"])
    checkins = _checkins(session, staff_id, grid_code, start, end)
    visited = set(checkins.loc[checkins["is_visit"], "building_id"].astype(int))
    buildings["visited"] = np.isin(buildings.index.to_numpy(), sorted(visited))
    buildings["building_id"] = buildings.index
    routes = stored_plans(session, week=monday, staff_id=staff_id, grid_code=grid_code)
    grid = gpd.GeoDataFrame({"code": [grid_code]}, geometry=[grid_area(session, grid_code)], crs=4326)
    checkins["plausible"] = checkins["flags"].map(len) == 0
    checkins["flags"] = checkins["flags"].map(", ".join)
    synthetic = bool(session.execute(text(
        "SELECT EXISTS (SELECT 1 FROM building WHERE grid_code = :g AND source = 'synthetic')"), {"g": grid_code}
    ).scalar())
    return {"grid": grid, "buildings": buildings.reset_index(drop=True),
            "routes": routes[["day_index", "plan_date", "length_m", "minutes", "geometry"]],
            "checkins": checkins[["at", "building_id", "is_visit", "plausible", "flags", "geometry"]],
            "synthetic": synthetic}


def render_patrol_map(session: Session, monday: dt.date, staff_id: int, grid_code: str | None, *, static_url: str,
                      basemap: Basemap, tianditu_key: str | None, language: Language) -> str:
    """The patrol map page of one worker's grid (default: their first grid that week)."""
    grids = [p.grid_code for p in worker_grids(session, monday, monday + dt.timedelta(days=6), staff_id=staff_id)]
    if grid_code is None:
        if not grids:
            raise NotFoundError("this worker has no grid that week", field="staff_id", feature=staff_id,
                                rule="a worker with a grid")
        grid_code = grids[0]
    elif grid_code not in grids:
        raise NotFoundError(f"grid {grid_code} is not this worker's that week", field="grid_code",
                            feature=grid_code, rule="one of the worker's grids")
    layers = patrol_map_layers(session, monday, staff_id, grid_code)
    m = build_patrol_map(grid=layers["grid"], buildings=layers["buildings"], routes=layers["routes"],
                         checkins=layers["checkins"], week=monday.isoformat(), static_url=static_url,
                         basemap=basemap, tianditu_key=tianditu_key, language=language,
                         synthetic=layers["synthetic"])
    return render_html(m)
