"""Weekly patrol plans: the one flow behind ``gisgrid patrol plan`` and ``POST /api/v1/patrol/plans``,
and reading a day's route back.

For each grid worker and current grid (:func:`layers.patrol.queries.worker_grids`) the core plans the
week (:func:`gisgrid.patrol.plan_week`) on the database's street network (cached per process,
:func:`layers.network.street_network`), starting from the community's service station or a given point,
with the grid's open incidents as first-day stops. Re-planning a week deletes that week's rows of the
workers and grids being planned and writes the new ones; like every writer here it never commits: the
caller's transaction does, so a failure leaves the old plans in place.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.errors import InvalidInputError
from gisgrid.patrol import PatrolRules, WeekPlan, patrol_days, plan_week, week_start
from layers.network import street_network
from layers.patrol.queries import community_base, grid_area, grid_buildings, open_incidents, worker_grids

__all__ = ["day_route", "plan_patrol_week", "stored_plans"]

_INSERT = text(
    "INSERT INTO patrol_plan (staff_id, grid_code, week, day_index, plan_date, stops, building_ids, legs_m, "
    "households, street_m, access_m, length_m, minutes, over_shift, base_station_id, route) VALUES (:staff_id, "
    ":grid_code, :week, :day_index, :plan_date, CAST(:stops AS jsonb), :building_ids, :legs_m, :households, "
    ":street_m, :access_m, :length_m, :minutes, :over_shift, :base_station_id, "
    "ST_SetSRID(ST_GeomFromWKB(:route), 4326))"
)


def _rows(plan: WeekPlan, staff_id: int, grid_code: str, monday: dt.date, dates: list[dt.date],
          station_id: int | None) -> list[dict[str, Any]]:
    import json

    rows = []
    for day in plan.days:
        if not day.stops:
            continue
        stops = []
        for order, stop in enumerate(day.stops, start=1):
            p = plan.to_wgs84(stop.point)
            stops.append({"order": order, "building_ids": list(stop.building_ids), "households": stop.households,
                          "incident_ids": list(stop.incident_ids), "lon": round(p.x, 7), "lat": round(p.y, 7)})
        route = shapely.MultiLineString([plan.to_wgs84(leg) for leg in day.legs])
        rows.append({
            "staff_id": staff_id, "grid_code": grid_code, "week": monday, "day_index": day.day,
            "plan_date": dates[day.day], "stops": json.dumps(stops), "building_ids": day.building_ids,
            "legs_m": [round(m, 1) for m in day.legs_m], "households": day.households,
            "street_m": round(day.street_m, 1), "access_m": round(day.access_m, 1),
            "length_m": round(day.street_m + day.access_m, 1), "minutes": round(day.minutes, 1),
            "over_shift": day.over_shift, "base_station_id": station_id, "route": shapely.to_wkb(route),
        })
    return rows


def plan_patrol_week(
    session: Session,
    week: dt.date,
    *,
    rules: PatrolRules,
    community_code: str | None = None,
    staff_id: int | None = None,
    scope_code: str | None = None,
    base: tuple[float, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Plan (and store, replacing) the week of ``week`` for every worker–grid pair selected.

    ``base`` (lon, lat, WGS84) replaces the community station as every worker's start. Returns the
    report: the week, its patrol dates and one entry per worker and grid (days, metres, minutes,
    shift, balance, islands, base used, seconds).
    """
    monday = week_start(week)
    dates = patrol_days(monday, rules.days)
    if base is not None and not (-180 <= base[0] <= 180 and -90 <= base[1] <= 90):
        raise InvalidInputError("the base is not a longitude/latitude pair", field="base",
                                rule="-180 ≤ lon ≤ 180, -90 ≤ lat ≤ 90")
    pairs = worker_grids(session, monday, monday + dt.timedelta(days=6), community_code=community_code,
                         staff_id=staff_id, scope_code=scope_code)
    report: dict[str, Any] = {"week": monday.isoformat(), "dates": [d.isoformat() for d in dates],
                              "rules": {"days": rules.days, "shift_minutes": rules.shift_minutes,
                                        "walk_kmh": rules.walk_kmh, "balance": rules.balance}, "plans": []}
    session.execute(text(
        "DELETE FROM patrol_plan WHERE week = :w AND (staff_id = ANY(:staff) OR grid_code = ANY(:grids))"
    ), {"w": monday, "staff": sorted({p.staff_id for p in pairs}), "grids": sorted({p.grid_code for p in pairs})})
    if not pairs:
        report["message"] = "no grid worker has a current grid in this selection"
        return report
    net = street_network(session)
    bases: dict[int, tuple[int | None, shapely.Point, str]] = {}
    rows: list[dict[str, Any]] = []
    for n, pair in enumerate(pairs):
        started = time.perf_counter()
        buildings = grid_buildings(session, pair.grid_code)
        entry: dict[str, Any] = {"staff_id": pair.staff_id, "staff_name": pair.staff_name,
                                 "grid_code": pair.grid_code, "community_code": pair.community_code}
        if buildings.empty:
            entry["skipped"] = "no buildings"
            report["plans"].append(entry)
            continue
        if base is not None:
            station_id, point, used = None, shapely.Point(*base), "given point"
        else:
            if pair.community_id not in bases:
                bases[pair.community_id] = community_base(session, pair.community_id)
            station_id, point, used = bases[pair.community_id]
        incidents = open_incidents(session, pair.grid_code)
        plan = plan_week(net, grid_area(session, pair.grid_code), buildings, point,
                         incidents=incidents[["geometry"]] if len(incidents) else None, rules=rules)
        rows += _rows(plan, pair.staff_id, pair.grid_code, monday, dates, station_id)
        entry.update({
            "base": {"station_id": station_id, "used": used, "lon": round(point.x, 7), "lat": round(point.y, 7)},
            "days": [{"date": dates[d.day].isoformat(), "stops": len(d.stops), "buildings": len(d.building_ids),
                      "households": d.households, "street_m": round(d.street_m, 1), "access_m": round(d.access_m, 1),
                      "minutes": round(d.minutes, 1), "over_shift": d.over_shift} for d in plan.days],
            "total_m": round(plan.total_m, 1), "balance": round(plan.balance, 3),
            "balanced": plan.balance <= rules.balance + 1e-9, "over_shift_days": sum(d.over_shift for d in plan.days),
            "islands": plan.islands, "incidents": len(incidents), "stats": plan.stats,
            "seconds": round(time.perf_counter() - started, 3),
        })
        report["plans"].append(entry)
        if progress is not None:
            progress(n + 1, len(pairs))
    if rows:
        session.execute(_INSERT, rows)
    report["stored_days"] = len(rows)
    return report


def stored_plans(session: Session, *, week: dt.date | None = None, staff_id: int | None = None,
                 plan_date: dt.date | None = None, grid_code: str | None = None) -> gpd.GeoDataFrame:
    """Stored day plans (EPSG:4326 routes), by staff, grid and date."""
    frame = gpd.read_postgis(text(
        "SELECT id, staff_id, grid_code, week, day_index, plan_date, stops, building_ids, legs_m, households, "
        "street_m, access_m, length_m, minutes, over_shift, base_station_id, route AS geom FROM patrol_plan "
        "WHERE (CAST(:week AS date) IS NULL OR week = :week) "
        "AND (CAST(:staff AS integer) IS NULL OR staff_id = :staff) "
        "AND (CAST(:day AS date) IS NULL OR plan_date = :day) "
        "AND (CAST(:grid AS text) IS NULL OR grid_code = :grid) "
        "ORDER BY staff_id, grid_code, plan_date"
    ), session.connection(), geom_col="geom", crs=4326,
        params={"week": week_start(week) if week else None, "staff": staff_id, "day": plan_date, "grid": grid_code})
    return frame.rename_geometry("geometry")


def day_route(session: Session, staff_id: int, day: dt.date) -> dict[str, Any]:
    """The worker's route(s) on ``day`` as GeoJSON: per grid, one feature per leg (walking order, metres,
    the street geometry) and one per stop (order, building ids, households, incidents)."""
    plans = stored_plans(session, staff_id=staff_id, plan_date=day)
    features: list[dict[str, Any]] = []
    summary = []
    for _, row in plans.iterrows():
        legs = list(row.geometry.geoms) if row.geometry is not None else []
        stops = row["stops"]
        names = ["base", *(f"stop {s['order']}" for s in stops), "base"]
        for i, (leg, metres) in enumerate(zip(legs, row["legs_m"], strict=False)):
            features.append({"type": "Feature", "geometry": mapping(leg), "properties": {
                "kind": "leg", "grid_code": row["grid_code"], "leg": i + 1, "metres": metres,
                "from": names[i], "to": names[i + 1]}})
        for stop in stops:
            point = {"type": "Point", "coordinates": [stop["lon"], stop["lat"]]}
            props = {k: stop[k] for k in ("order", "building_ids", "households", "incident_ids")}
            features.append({"type": "Feature", "geometry": point,
                             "properties": {"kind": "stop", "grid_code": row["grid_code"], **props}})
        summary.append({"plan_id": int(row["id"]), "grid_code": row["grid_code"], "day_index": int(row["day_index"]),
                        "stops": len(stops), "households": int(row["households"]), "street_m": row["street_m"],
                        "access_m": row["access_m"], "length_m": row["length_m"], "minutes": row["minutes"],
                        "over_shift": bool(row["over_shift"]), "legs_m": list(row["legs_m"])})
    return {"type": "FeatureCollection", "date": day.isoformat(), "staff_id": staff_id, "plans": summary,
            "features": features}
