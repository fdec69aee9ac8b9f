"""Recording a batch of check-ins: idempotent by the phone's id, judged as a track, matched to buildings.

One call stores a batch (``POST /api/v1/patrol/checkins``): the input rules are the core's
(:func:`gisgrid.patrol.parse_checkins`; a break refuses the whole batch, nothing stored). Check-ins whose
``(staff, client id)`` is already stored are skipped — ``INSERT … ON CONFLICT DO NOTHING``, so two uploads
of the same batch racing each other still store each check-in once. The new points are judged together
with the worker's stored plausible points of the same days (:func:`gisgrid.patrol.assess_track`) against
the worker's grids of those days; a plausible point within ``match_m`` of one of those grids' buildings
is a visit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ
from gisgrid.crs import metric_crs_for
from gisgrid.patrol import PatrolRules, assess_track, match_buildings, parse_checkins
from layers.patrol.queries import grid_area, grid_buildings, worker_grids

__all__ = ["record_checkins"]

_INSERT = text(
    "INSERT INTO patrol_checkin (staff_id, client_id, patrol_plan_id, at, accuracy_m, source_crs, grid_code, "
    "building_id, distance_m, flags, is_visit, geom) VALUES (:staff_id, :client_id, (SELECT id FROM patrol_plan "
    "WHERE staff_id = :staff_id AND grid_code = :grid_code AND plan_date = :day LIMIT 1), :at, :accuracy_m, "
    ":source_crs, :grid_code, :building_id, :distance_m, :flags, :is_visit, ST_SetSRID(ST_MakePoint(:lon, :lat), "
    "4326)) ON CONFLICT (staff_id, client_id) DO NOTHING RETURNING client_id"
)


def record_checkins(
    session: Session, staff_id: int, raw: list[dict[str, Any]], *, rules: PatrolRules, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Store a batch for ``staff_id``; what was stored, skipped as already stored, flagged and matched."""
    batch = parse_checkins(raw)
    now = now or dt.datetime.now(CHINA_TZ)
    known = set(session.execute(text(
        "SELECT client_id FROM patrol_checkin WHERE staff_id = :s AND client_id = ANY(:ids)"
    ), {"s": staff_id, "ids": [c.client_id for c in batch]}).scalars())
    fresh = [c for c in batch if c.client_id not in known]
    out: dict[str, Any] = {"received": len(batch), "stored": 0, "already_stored": len(batch) - len(fresh),
                           "visits": 0, "flagged": []}
    if not fresh:
        return out
    days = sorted({c.at.astimezone(CHINA_TZ).date() for c in fresh})
    grids = worker_grids(session, days[0], days[-1], staff_id=staff_id)
    areas = {g.grid_code: grid_area(session, g.grid_code) for g in grids}
    buildings = [grid_buildings(session, code)[["geometry"]].assign(grid_code=code) for code in areas]
    context = session.execute(text(
        "SELECT at, ST_X(geom) AS lon, ST_Y(geom) AS lat, coalesce(accuracy_m, 0) AS acc FROM patrol_checkin "
        "WHERE staff_id = :s AND cardinality(flags) = 0 AND at >= :a AND at < :b"
    ), {"s": staff_id, "a": dt.datetime.combine(days[0], dt.time(), CHINA_TZ),
        "b": dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), CHINA_TZ)}).all()
    lon = np.array([c.lon for c in fresh] + [r.lon for r in context])
    lat = np.array([c.lat for c in fresh] + [r.lat for r in context])
    pts = gpd.GeoSeries(shapely.points(lon, lat), crs=4326)
    crs = metric_crs_for(gpd.GeoDataFrame(geometry=pts))
    xy_geoms = np.asarray(pts.to_crs(crs).values, dtype=object)
    xy = shapely.get_coordinates(xy_geoms)
    area = None
    if areas:
        area = np.asarray(gpd.GeoSeries([shapely.union_all(list(areas.values()))], crs=4326).to_crs(crs).values)[0]
    times = [c.at for c in fresh] + [r.at for r in context]
    accuracy = np.array([c.accuracy_m for c in fresh] + [float(r.acc) for r in context])
    flags = assess_track(xy, times, accuracy, area, now, rules)[:len(fresh)]
    if buildings and sum(len(b) for b in buildings):
        allb = gpd.GeoDataFrame(gpd.pd.concat(buildings), crs=4326)
        ids, dist = match_buildings(xy_geoms[:len(fresh)], np.asarray(allb.to_crs(crs).geometry.values, dtype=object),
                                    allb.index.to_numpy(), rules.match_m)
        grid_of = dict(zip(allb.index.to_numpy().tolist(), allb["grid_code"], strict=True))
    else:
        ids, dist, grid_of = np.full(len(fresh), -1), np.full(len(fresh), np.inf), {}
    rows = []
    for k, c in enumerate(fresh):
        building = int(ids[k]) if ids[k] >= 0 else None
        code = grid_of.get(building) if building is not None else None
        if code is None and areas:  # the grid the point lies in, else the nearest of the worker's grids
            p = shapely.Point(c.lon, c.lat)
            code = min(areas, key=lambda g: (areas[g].distance(p), g))
        visit = building is not None and not flags[k]
        rows.append({"staff_id": staff_id, "client_id": c.client_id, "grid_code": code,
                     "day": c.at.astimezone(CHINA_TZ).date(), "at": c.at, "accuracy_m": c.accuracy_m,
                     "source_crs": c.crs, "building_id": building,
                     "distance_m": round(float(dist[k]), 2) if building is not None else None,
                     "flags": flags[k], "is_visit": visit, "lon": c.lon, "lat": c.lat})
    stored = set()
    for row in rows:  # one statement per row: RETURNING tells which ones a concurrent upload did not take
        got = session.execute(_INSERT, row).scalar_one_or_none()
        if got is not None:
            stored.add(got)
    out["stored"] = len(stored)
    out["already_stored"] = len(batch) - len(stored)
    out["visits"] = sum(r["is_visit"] for r in rows if r["client_id"] in stored)
    out["flagged"] = [{"id": r["client_id"], "flags": r["flags"]}
                      for r in rows if r["flags"] and r["client_id"] in stored]
    out["matched"] = [{"id": r["client_id"], "building_id": r["building_id"], "grid_code": r["grid_code"],
                       "visit": r["is_visit"]} for r in rows if r["client_id"] in stored]
    return out
