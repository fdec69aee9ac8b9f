"""A small street world for the coverage tests, laid out in metres around an origin on the boundary between
two communities (A west of it, B east), written into PostGIS.

* a lattice of streets 50 m apart east–west (x = -200 … 200) and 100 m north–south (y = 0, 100, 200);
* two pairs of dead ends south of y = 0: at x = -150 and -100, 20 m long, so their feet are 50 m apart
  in a straight line and 90 m apart on foot; at x = 100 and 150, 30 m long: 110 m on foot;
* ``near`` — a building whose door is 0.5 m east of the foot of the x = -100 dead end, in complex ``C1``;
  ``far`` — the same at x = 150, in ``C2``; spots ``u90`` and ``u110`` at the feet of the other dead ends;
* an island: one 40 m street at y = -150, x = 300 … 340, that nothing joins; building ``island`` 5 m off
  it, spot ``on_island`` on it;
* a row of eight buildings on y = 20 … 40 (x = -180, -130, … 170, 20 m wide), doors 5 m in from their
  west corner on y = 20 (20 m from the street, farther from any other), four in complex ``CA``
  (community A, grid A001) and four in ``CB`` (B, grid B001); spots ``row_a`` and ``row_b`` on y = 0 at
  x = -110 and 110.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass
class World:
    transform: Transformer
    buildings: dict[str, int] = field(default_factory=dict)
    complexes: dict[str, int] = field(default_factory=dict)
    spots: dict[str, tuple[float, float]] = field(default_factory=dict)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self.transform.transform(x, y)
        return round(float(lon), 9), round(float(lat), 9)


def _wkt(world: World, geom: shapely.Geometry) -> str:
    return shapely.transform(geom, lambda xy: np.column_stack(world.transform.transform(xy[:, 0], xy[:, 1]))).wkt


def build_world(session: Session, *, origin: tuple[float, float], community: dict[str, tuple[int, str]]) -> World:
    """Write the world; ``community`` maps ``A`` and ``B`` to (admin_area id, code)."""
    lon0, lat0 = origin
    world = World(Transformer.from_crs(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84", 4326,
                                       always_xy=True))
    nodes: dict[tuple[float, float], int] = {}

    def node(x: float, y: float) -> int:
        if (x, y) not in nodes:
            lon, lat = world.lonlat(x, y)
            nodes[(x, y)] = session.execute(text(
                "INSERT INTO street_node (geom) VALUES (ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
                {"x": lon, "y": lat}).scalar_one()
        return nodes[(x, y)]

    def street(a: tuple[float, float], b: tuple[float, float]) -> None:
        session.execute(text(
            "INSERT INTO street_edge (source_node, target_node, length_m, geom) SELECT :a, :b,"
            " ST_Length(ST_MakeLine(p.geom, q.geom)::geography), ST_MakeLine(p.geom, q.geom)"
            " FROM street_node p, street_node q WHERE p.id = :a AND q.id = :b"), {"a": node(*a), "b": node(*b)})

    xs = [-200.0 + 50 * i for i in range(9)]
    for y in (0.0, 100.0, 200.0):
        for x0, x1 in itertools.pairwise(xs):
            street((x0, y), (x1, y))
    for x in xs:
        street((x, 0.0), (x, 100.0))
        street((x, 100.0), (x, 200.0))
    for x, depth in ((-150.0, 20.0), (-100.0, 20.0), (100.0, 30.0), (150.0, 30.0)):
        street((x, 0.0), (x, -depth))
    street((300.0, -150.0), (340.0, -150.0))

    def complex_(name: str, box: tuple[float, float, float, float], side: str) -> None:
        world.complexes[name] = session.execute(text(
            "INSERT INTO complex (name, community_id, geom) VALUES (:n, :c, ST_Multi(ST_GeomFromText(:g, 4326)))"
            " RETURNING id"), {"n": name, "c": community[side][0], "g": _wkt(world, shapely.box(*box))}).scalar_one()

    complex_("C1", (-99.2, -32.0, -80.0, -8.0), "A")
    complex_("C2", (150.8, -42.0, 170.0, -18.0), "B")
    complex_("CA", (-195.0, 10.0, -5.0, 50.0), "A")
    complex_("CB", (5.0, 10.0, 195.0, 50.0), "B")

    def building(name: str, box: tuple[float, float, float, float], door: tuple[float, float], side: str,
                 households: int, complex_name: str | None) -> None:
        code = community[side][1]
        world.buildings[name] = session.execute(text(
            "INSERT INTO building (name, households, complex_id, community_id, grid_code, geom, entrance)"
            " VALUES (:n, :h, :cx, :c, :g, ST_Multi(ST_GeomFromText(:fp, 4326)), ST_GeomFromText(:door, 4326))"
            " RETURNING id"), {
            "n": name, "h": households, "cx": world.complexes.get(complex_name or ""), "c": community[side][0],
            "g": code + "001", "fp": _wkt(world, shapely.box(*box)), "door": _wkt(world, shapely.Point(*door)),
        }).scalar_one()

    building("near", (-99.5, -25.0, -92.0, -15.0), (-99.5, -20.0), "A", 30, "C1")
    building("far", (150.5, -35.0, 158.0, -25.0), (150.5, -30.0), "B", 40, "C2")
    building("island", (310.0, -145.0, 320.0, -140.0), (315.0, -145.0), "B", 10, None)
    for k, x in enumerate((-180.0, -130.0, -80.0, -30.0, 20.0, 70.0, 120.0, 170.0)):
        side = "A" if x < 0 else "B"
        building(f"row{k}", (x, 20.0, x + 20.0, 40.0), (x + 5.0, 20.0), side, 50, "CA" if side == "A" else "CB")
    for name, (x, y) in {"u90": (-150.0, -20.0), "u110": (100.0, -30.0), "on_island": (330.0, -150.0),
                         "row_a": (-110.0, 0.0), "row_b": (110.0, 0.0)}.items():
        world.spots[name] = world.lonlat(x, y)
    session.flush()
    return world
