"""A small patrol world in PostGIS, shared by the integration, API and browser tests of patrols.

District 110105 → street 001 → communities A (``CA``, west) and B (``CB``, east). Community A has a
street lattice (7 × 7 crossings 0.001° apart), 24 buildings of 25 households in its blocks (two of them
meeting the street at the same point), a service station west of it, and two grids (west ``G1``, east
``G2``) published and staffed by its two grid workers. Community B has one grid worker and no streets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
from shapely.geometry import box
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.grids import publish_plan
from layers.patrol import assign_grid_workers

CA, CB = "110105001001", "110105001002"
G1, G2 = CA + "001", CA + "002"
X0, Y0, STEP, N = 116.300, 39.900, 0.001, 7
WEEK = dt.date(2026, 11, 30)  # a Monday


@dataclass
class World:
    workers: dict[str, int]  # w1 (G1), w2 (G2), w3 (community B)
    buildings: dict[str, list[int]]  # building ids by grid code
    station_id: int


def _area(s: Session, code: str, level: str, name: str, bounds: tuple[float, float, float, float],
          parent: int | None) -> int:
    minx, miny, maxx, maxy = bounds
    wkt = f"MULTIPOLYGON((({minx} {miny},{maxx} {miny},{maxx} {maxy},{minx} {maxy},{minx} {miny})))"
    return int(s.execute(text(
        "INSERT INTO admin_area (code, level, name, parent_id, source, geom) VALUES "
        "(:c, :l, :n, :p, 'synthetic', ST_GeomFromText(:w, 4326)) RETURNING id"
    ), {"c": code, "l": level, "n": name, "p": parent, "w": wkt}).scalar_one())


def seed(s: Session) -> World:
    """Write the world (the caller commits)."""
    d = _area(s, "110105000000", "district", "演示区", (116.28, 39.89, 116.33, 39.92), None)
    st = _area(s, "110105001000", "street", "演示街道", (116.28, 39.89, 116.33, 39.92), d)
    ca = _area(s, CA, "community", "甲社区", (X0, Y0, X0 + 0.006, Y0 + 0.006), st)
    cb = _area(s, CB, "community", "乙社区", (X0 + 0.006, Y0, X0 + 0.012, Y0 + 0.006), st)
    for j in range(N):
        for i in range(N):
            s.execute(text("INSERT INTO street_node (id, geom) VALUES (:id, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                      {"id": j * N + i + 1, "x": X0 + i * STEP, "y": Y0 + j * STEP})
    eid = 0
    for j in range(N):
        for i in range(N):
            k = j * N + i + 1
            for other in ([k + 1] if i + 1 < N else []) + ([k + N] if j + 1 < N else []):
                eid += 1
                s.execute(text(
                    "INSERT INTO street_edge (id, source_node, target_node, length_m, geom, source) "
                    "SELECT :id, a.id, b.id, ST_Length(ST_MakeLine(a.geom, b.geom)::geography), "
                    "ST_MakeLine(a.geom, b.geom), 'synthetic' FROM street_node a, street_node b "
                    "WHERE a.id = :a AND b.id = :b"
                ), {"id": eid, "a": k, "b": other})
    ids: dict[str, list[int]] = {G1: [], G2: []}
    spots = [(i, j) for j in range(4) for i in range(6)]
    for n, (i, j) in enumerate(spots):
        x, y = X0 + i * STEP + 0.0005, Y0 + j * STEP + 0.0001
        if n == 1:  # behind building 1 in the first block, its door on the same spot of the same street
            x, y = X0 + 0.0005, Y0 + 0.00035
        footprint = box(x - 0.0001, y, x + 0.0001, y + 0.0002)
        bid = int(s.execute(text(
            "INSERT INTO building (name, households, community_id, source, geom, entrance) VALUES "
            "(:name, 25, :c, 'synthetic', ST_Multi(ST_GeomFromText(:g, 4326)), "
            "ST_SetSRID(ST_MakePoint(:ex, :ey), 4326)) "
            "RETURNING id"
        ), {"name": f"{n + 1}号楼", "c": ca, "g": footprint.wkt, "ex": x, "ey": y}).scalar_one())
        ids[G1 if x < X0 + 0.003 else G2].append(bid)
    station = int(s.execute(text(
        "INSERT INTO station (name, kind, status, opened_on, building_since, community_id, source, geom) VALUES "
        "('甲社区党群服务站', 'service_station', 'open', '2024-05-01', '2024-01-01', :c, 'synthetic', "
        "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
    ), {"c": ca, "x": X0 - 0.0003, "y": Y0 + 0.003}).scalar_one())
    workers = {}
    for key, comm in (("w1", ca), ("w2", ca), ("w3", cb)):
        workers[key] = int(s.execute(text(
            "INSERT INTO staff (name, role, community_id) VALUES (:n, 'grid_worker', :c) RETURNING id"
        ), {"n": f"网格员{key}", "c": comm}).scalar_one())
    plan = gpd.GeoDataFrame({"code": [G1, G2]}, geometry=[box(X0, Y0, X0 + 0.003, Y0 + 0.006),
                                                          box(X0 + 0.003, Y0, X0 + 0.006, Y0 + 0.006)], crs=4326)
    publish_plan(s, CA, plan, user_id=None, min_households=1, max_households=10_000)
    assign_grid_workers(s, CA, on=WEEK - dt.timedelta(days=30))
    return World(workers, ids, station)
