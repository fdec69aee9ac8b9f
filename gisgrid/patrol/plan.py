"""A grid's week of patrol: the street around it, the stops, the days, each day's walk on the streets.

:func:`plan_week` takes the whole street network, the grid, its buildings (footprints, optional
entrances, households), the worker's base and the open incidents, and returns a :class:`WeekPlan`:

* **The street.** Only the streets inside the grid or within ``margin_m`` of it are walked, plus a
  corridor to the base (the community station may stand outside the grid). When that cut leaves some
  building's nearest street in another piece than the base, the margin widens (×3, ×10) and finally the
  whole network is used; a building whose nearest street is still an island is walked to from the
  nearest street of the base's piece and reported in ``islands`` — never dropped.
* **Stops.** Buildings (and incidents) snap onto streets (door on the outline, else the footprint's
  nearest point: :func:`gisgrid.network.snap_buildings`); those meeting the street at the same metre of
  the same edge are one stop — a block of flats along one lane is one stop, not twenty.
* **Days.** :func:`gisgrid.patrol.days.split_days` on the walking distances between stops; every
  open incident's stop goes to the first day.
* **Walks.** Each leg is the shortest street path (:func:`gisgrid.network.path_between`), so a day's
  legs join end to end into one walk from the base and back. ``access_m`` adds the few metres from the
  street to each door and back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping

from gisgrid.errors import InvalidInputError
from gisgrid.network import Snap, StreetNetwork, distance_matrix, path_between, snap_buildings, snap_points
from gisgrid.patrol.days import balance_ratio, split_days
from gisgrid.patrol.rules import PatrolRules

__all__ = ["DayRoute", "Stop", "WeekPlan", "plan_week"]

WIDEN = (1.0, 3.0, 10.0)  # margins tried, as multiples of rules.margin_m, before the whole network
CORRIDOR_M = 100.0  # half-width of the street corridor kept between the base and the grid
SAME_POINT_M = 1.0  # places meeting one edge within this are one stop


@dataclass(frozen=True)
class Stop:
    """One place the walk stops at: a street point (metric CRS) and what is visited there."""

    point: shapely.Point
    building_ids: tuple[int, ...]
    households: int
    incident_ids: tuple[int, ...]
    access_m: float


@dataclass
class DayRoute:
    """One patrol day: stops in walking order, each leg's metres and street geometry (metric CRS),
    the first leg from the base and the last back to it."""

    day: int
    stops: list[Stop]
    legs_m: list[float]
    legs: list[shapely.LineString]
    access_m: float
    minutes: float
    over_shift: bool

    @property
    def street_m(self) -> float:
        return float(sum(self.legs_m))

    @property
    def households(self) -> int:
        return sum(s.households for s in self.stops)

    @property
    def building_ids(self) -> list[int]:
        return [b for s in self.stops for b in s.building_ids]


@dataclass
class WeekPlan:
    """A grid's week: the days, the base (metric CRS), islands, the network used and its figures."""

    crs: pyproj.CRS
    base: shapely.Point
    days: list[DayRoute]
    islands: list[int] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def total_m(self) -> float:
        return float(sum(d.street_m + d.access_m for d in self.days))

    @property
    def balance(self) -> float:
        return balance_ratio(d.street_m + d.access_m for d in self.days)

    def to_wgs84(self, geom: shapely.Geometry) -> shapely.Geometry:
        """A geometry of this plan (metric CRS) in EPSG:4326."""
        tr = pyproj.Transformer.from_crs(self.crs, 4326, always_xy=True)
        return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))

    def day_geojson(self, day: int) -> dict[str, Any]:
        """The day as a GeoJSON FeatureCollection (EPSG:4326): one feature per leg, then one per stop."""
        route = self.days[day]
        feats: list[dict[str, Any]] = []
        for i, (metres, line) in enumerate(zip(route.legs_m, route.legs, strict=True)):
            feats.append({"type": "Feature", "geometry": mapping(self.to_wgs84(line)),
                          "properties": {"kind": "leg", "leg": i, "metres": round(metres, 1),
                                         "from_stop": i, "to_stop": (i + 1) % (len(route.stops) + 1)}})
        for i, stop in enumerate(route.stops, start=1):
            feats.append({"type": "Feature", "geometry": mapping(self.to_wgs84(stop.point)),
                          "properties": {"kind": "stop", "order": i, "building_ids": list(stop.building_ids),
                                         "households": stop.households, "incident_ids": list(stop.incident_ids)}})
        return {"type": "FeatureCollection", "features": feats}


def _metric(
    net: StreetNetwork, frame: gpd.GeoDataFrame | gpd.GeoSeries | None, column: str | None = None
) -> np.ndarray:
    if frame is None or len(frame) == 0:
        return np.array([], dtype=object)
    series = frame[column] if column is not None else (frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame)
    if not isinstance(series, gpd.GeoSeries):
        series = gpd.GeoSeries(series, crs=frame.crs)
    if series.crs is None:
        raise InvalidInputError("geometries without a CRS", field=column or "geometry", rule="a CRS is required")
    return np.asarray(series.to_crs(net.crs).values, dtype=object)


def _street_for(net: StreetNetwork, zone: shapely.Geometry, base: shapely.Point, footprints: np.ndarray,
                entrances: np.ndarray | None, points: np.ndarray, margin: float) -> tuple[StreetNetwork, list[int]]:
    """The walkable piece around ``zone`` holding the base, widened until every building's nearest
    street lies in it; the positions of the buildings left on islands."""
    attempts = [margin * w for w in WIDEN] + [None]
    for at in attempts:
        sub = net if at is None else net.around(zone, at)
        if sub.n_edges == 0:
            continue
        base_snap = snap_points(sub, np.array([base], dtype=object))
        main = int(sub.edge_component[base_snap.edge[0]])
        snaps, _ = snap_buildings(sub, footprints, entrances) if len(footprints) else (None, None)
        comps = sub.edge_component[snaps.edge] if snaps is not None else np.zeros(0, np.int64)
        if len(points):
            comps = np.concatenate([comps, sub.edge_component[snap_points(sub, points).edge]])
        stray = np.flatnonzero(comps != main)
        if not len(stray) or at is None:
            keep = sub.component == main
            return (sub if keep.all() else sub.subnetwork(keep)), [int(i) for i in stray if i < len(footprints)]
    raise InvalidInputError("the street network has no edges", field="street_edge", rule="a network")


def _stops(snaps: Snap, building_ids: np.ndarray, households: np.ndarray, incident_ids: np.ndarray,
           n_buildings: int) -> tuple[Snap, list[Stop], list[int]]:
    """Places meeting the street at the same metre of the same edge merged into one stop each."""
    key = np.column_stack([snaps.edge, np.floor(snaps.along / SAME_POINT_M)]).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")  # stops in the order their first place was given
    stops: list[Stop] = []
    picks: list[int] = []
    for g in order:
        members = np.flatnonzero(inverse == g)
        b = members[members < n_buildings]
        inc = members[members >= n_buildings] - n_buildings
        stops.append(Stop(
            point=snaps.point[first[g]], building_ids=tuple(int(x) for x in building_ids[b]),
            households=int(households[b].sum()), incident_ids=tuple(int(x) for x in incident_ids[inc]),
            access_m=float(2 * snaps.offset[b].sum()),
        ))
        picks.append(int(first[g]))
    at_street = snaps.take(picks)
    return Snap(at_street.edge, at_street.along, np.zeros(len(picks)), at_street.point), stops, picks


def plan_week(
    net: StreetNetwork,
    area: shapely.Geometry,
    buildings: gpd.GeoDataFrame,
    base: shapely.Point,
    *,
    incidents: gpd.GeoDataFrame | None = None,
    rules: PatrolRules | None = None,
    area_crs: Any = 4326,
) -> WeekPlan:
    """Plan a grid's patrol week (see the module's docstring).

    ``buildings``: indexed by building id, ``households`` and footprint geometry, optionally an
    ``entrance`` point column; ``incidents``: indexed by incident id, point geometry. ``area`` (the
    grid) and ``base`` are in ``area_crs`` (default EPSG:4326).
    """
    rules = rules or PatrolRules()
    if len(buildings) == 0:
        raise InvalidInputError("the grid has no buildings to visit", field="buildings", rule="at least one building")
    if "households" not in buildings:
        raise InvalidInputError("buildings need a households column", field="households", rule="a column")
    to_net = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(area_crs), net.crs, always_xy=True)

    def conv(g: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(g, lambda xy: np.column_stack(to_net.transform(xy[:, 0], xy[:, 1])))

    zone_area, base_m = conv(area), conv(base)
    zone = shapely.union(zone_area, shapely.buffer(shapely.shortest_line(base_m, zone_area), CORRIDOR_M))
    footprints = _metric(net, buildings)
    entrances = _metric(net, buildings, "entrance") if "entrance" in buildings else None
    inc_points = _metric(net, incidents)
    street, islands = _street_for(net, zone, base_m, footprints, entrances, inc_points, rules.margin_m)
    b_snaps, used_door = snap_buildings(street, footprints, entrances)
    parts = [b_snaps] + ([snap_points(street, inc_points)] if len(inc_points) else [])
    ids = buildings.index.to_numpy(dtype=np.int64)
    has_incidents = incidents is not None and len(incidents) > 0
    inc_ids = incidents.index.to_numpy(dtype=np.int64) if has_incidents else np.zeros(0, np.int64)  # type: ignore[union-attr]
    households = buildings["households"].to_numpy(dtype=np.int64)
    places, stops, _ = _stops(Snap.concat(parts), ids, households, inc_ids, len(ids))
    base_snap = snap_points(street, np.array([base_m], dtype=object))
    base_access = float(2 * base_snap.offset[0])
    base_street = Snap(base_snap.edge, base_snap.along, np.zeros(1), base_snap.point)
    nodes = Snap.concat([base_street, places])
    # each stop's door walks (and the base's) are split over the two legs that touch it, so a tour's
    # length on this matrix is its street metres plus its access metres: the days balance on both
    access = np.array([base_access, *(s.access_m for s in stops)])
    d = distance_matrix(street, nodes)
    d = d + (access[:, None] + access[None, :]) / 2
    np.fill_diagonal(d, 0.0)
    priority = [i + 1 for i, s in enumerate(stops) if s.incident_ids]
    tours = split_days(d, days=rules.days, first_day=priority, balance=rules.balance, work=rules.route_work,
                       seed=rules.seed)
    days: list[DayRoute] = []
    for k, tour in enumerate(tours):
        day_stops = [stops[i - 1] for i in tour[1:]]
        legs_m: list[float] = []
        legs: list[shapely.LineString] = []
        if day_stops:
            walk = [*tour, 0]
            for a, b in itertools.pairwise(walk):
                metres, line = path_between(street, nodes, a, b)  # street metres only
                legs_m.append(float(metres))
                legs.append(line)
        day_access = (base_access + sum(s.access_m for s in day_stops)) if day_stops else 0.0
        minutes = rules.day_minutes(sum(legs_m) + day_access, sum(s.households for s in day_stops))
        days.append(DayRoute(k, day_stops, legs_m, legs, day_access, minutes, minutes > rules.shift_minutes))
    stats = {
        "buildings": len(ids), "stops": len(stops), "incidents": len(inc_ids),
        "doors_used": int(used_door.sum()), "network_nodes": street.n_nodes, "network_edges": street.n_edges,
        "whole_network": street.n_nodes == net.n_nodes,
    }
    return WeekPlan(net.crs, base_m, days, islands=[int(ids[i]) for i in islands], stats=stats)
