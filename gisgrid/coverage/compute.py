"""Walking distance from every building to the nearest open station of a kind, in full and incrementally.

A full computation is one multi-source Dijkstra per kind (:func:`gisgrid.network.nearest_each`, the
stations as virtual nodes on their edges, all kinds on one graph), limited to the kind's cap.
One station changing needs far less:

* **opened** — one single-source Dijkstra from the new station, limited to the cap, reaches the only
  buildings it can bring closer (:func:`reach`); those whose stored distance it beats change
  (:func:`closer`);
* **closed** — only the buildings whose nearest it was can change (:func:`served_by`); they are searched
  again from the remaining stations, and only from those that can reach them within the cap: a station
  farther than 2 × cap in a straight line from the closed one cannot (:func:`reassign`).

Buildings that snap to a street outside the largest connected component (``component != 0``: an island
the network does not join to the rest) are flagged and never covered, whatever stands on their island.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely

from gisgrid.errors import InvalidInputError
from gisgrid.network import Snap, StreetNetwork, nearest, nearest_each, snap_buildings, snap_points

__all__ = [
    "KindCoverage",
    "Places",
    "Update",
    "apply",
    "close_station",
    "closer",
    "cover",
    "cover_kinds",
    "node_places",
    "open_station",
    "place_buildings",
    "place_stations",
    "reach",
    "reassign",
    "served_by",
]

# Network metres are never shorter than the straight line between the same two points, up to the
# difference between the CRS the lengths were measured in and ours (well under 1 %): the candidate
# filter of reassign keeps this much slack.
_STRAIGHT_LINE_SLACK = 1.01
_STRAIGHT_LINE_SLACK_M = 1.0


@dataclass(frozen=True, eq=False)
class Places:
    """Places (buildings or stations) on the network: their ids, snaps, and whether on an island."""

    ids: np.ndarray
    snap: Snap
    island: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: np.ndarray | list[int]) -> Places:
        idx = np.asarray(index, dtype=np.int64)
        return Places(self.ids[idx], self.snap.take(idx), self.island[idx])

    @property
    def xy(self) -> np.ndarray:
        """Where each place meets the street, in the network's metric CRS (n × 2)."""
        if not len(self):
            return np.zeros((0, 2))
        return shapely.get_coordinates(self.snap.point).reshape(-1, 2)


@dataclass(frozen=True, eq=False)
class KindCoverage:
    """For each building: metres to the nearest open station (``inf`` beyond the cap, unreachable or on
    an island) and that station's id (``-1`` when none)."""

    distance: np.ndarray
    station: np.ndarray


@dataclass(frozen=True, eq=False)
class Update:
    """New values for some buildings: their positions, distances and nearest station ids."""

    index: np.ndarray
    distance: np.ndarray
    station: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


def _places(net: StreetNetwork, ids: np.ndarray, snap: Snap) -> Places:
    island = net.edge_component[snap.edge] != 0 if len(snap) else np.zeros(0, dtype=bool)
    return Places(np.asarray(ids, dtype=np.int64), snap, island)


def place_buildings(
    net: StreetNetwork, ids: np.ndarray, footprints: np.ndarray, entrances: np.ndarray | None = None
) -> Places:
    """Buildings (metric footprints and entrances) snapped to the network by their doors."""
    if len(ids) == 0:
        return _places(net, np.zeros(0, np.int64), _empty_snap())
    snap, _used_entrance = snap_buildings(net, footprints, entrances)
    return _places(net, ids, snap)


def place_stations(net: StreetNetwork, ids: np.ndarray, points: np.ndarray) -> Places:
    """Station points (metric) snapped to their nearest street."""
    if len(ids) == 0:
        return _places(net, np.zeros(0, np.int64), _empty_snap())
    return _places(net, ids, snap_points(net, points))


def node_places(net: StreetNetwork) -> Places:
    """Every node as a place (on one of its edges, at that end): to measure distances at the nodes. A
    node without an edge is flagged as an island."""
    n = net.n_nodes
    edge = np.full(n, -1, dtype=np.int64)
    along = np.zeros(n)
    # np.unique's first index: the lowest edge position at each node; an edge starting there wins (along 0)
    nodes, first = np.unique(net.edge_v, return_index=True)
    edge[nodes], along[nodes] = first, net.edge_length[first]
    nodes, first = np.unique(net.edge_u, return_index=True)
    edge[nodes], along[nodes] = first, 0.0
    if not net.n_edges:
        raise InvalidInputError("the network has no edges", field="street_edge", rule="a network")
    lonely = edge < 0  # a node no street reaches: an island of its own
    edge[lonely] = 0
    snap = Snap(edge, along, np.zeros(n), shapely.points(net.xy))
    places = _places(net, net.node_ids, snap)
    return Places(places.ids, places.snap, places.island | lonely)


def _empty_snap() -> Snap:
    return Snap(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, dtype=object))


def _result(buildings: Places, stations: Places, distance: np.ndarray, source: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    station = np.where(source >= 0, stations.ids[np.maximum(source, 0)] if len(stations) else -1, -1)
    distance = np.where(buildings.island, np.inf, distance)
    station = np.where(np.isfinite(distance), station, -1).astype(np.int64)
    return distance, station


def cover(net: StreetNetwork, buildings: Places, stations: Places, cap: float) -> KindCoverage:
    """The nearest of ``stations`` for every building, within ``cap`` metres (a full computation)."""
    found = nearest(net, stations.snap, buildings.snap, limit=cap)
    distance, station = _result(buildings, stations, found.distance, found.source)
    return KindCoverage(distance, station)


def cover_kinds(
    net: StreetNetwork, buildings: Places, stations: Mapping[str, Places], caps: Mapping[str, float]
) -> dict[str, KindCoverage]:
    """:func:`cover` for several kinds at once: one graph with every station on it and one pairing of
    buildings and stations on shared edges, then one multi-source Dijkstra per kind."""
    kinds = list(stations)
    every = Places(
        np.concatenate([stations[k].ids for k in kinds]) if kinds else np.zeros(0, np.int64),
        Snap.concat([stations[k].snap for k in kinds]) if kinds else _empty_snap(),
        np.concatenate([stations[k].island for k in kinds]) if kinds else np.zeros(0, bool),
    )
    starts = np.cumsum([0] + [len(stations[k]) for k in kinds])
    groups = [np.arange(starts[i], starts[i + 1]) for i in range(len(kinds))]
    found = nearest_each(net, every.snap, groups, buildings.snap, limits=[caps[k] for k in kinds])
    return {k: KindCoverage(*_result(buildings, every, f.distance, f.source)) for k, f in zip(kinds, found,
                                                                                            strict=True)}


def reach(net: StreetNetwork, buildings: Places, station: Places, cap: float) -> Update:
    """The buildings one station reaches within ``cap`` (one single-source Dijkstra), with the metres."""
    if len(station) != 1:
        raise InvalidInputError("reach takes one station", field="station", rule="one station")
    found = nearest(net, station.snap, buildings.snap, limit=cap)
    distance, ids = _result(buildings, station, found.distance, found.source)
    index = np.flatnonzero(np.isfinite(distance))
    return Update(index, distance[index], ids[index])


def closer(update: Update, stored: np.ndarray) -> Update:
    """The part of ``update`` that beats the ``stored`` distances of the same buildings (``inf``/NaN =
    none stored); a tie keeps the stored station."""
    stored = np.where(np.isnan(stored), np.inf, stored)
    keep = update.distance < stored
    return Update(update.index[keep], update.distance[keep], update.station[keep])


def served_by(coverage: KindCoverage, station_id: int) -> np.ndarray:
    """Positions of the buildings whose nearest station is ``station_id``."""
    return np.flatnonzero(coverage.station == station_id)


def reassign(
    net: StreetNetwork, buildings: Places, index: np.ndarray, remaining: Places, cap: float,
    *, around: Places | None = None,
) -> Update:
    """Search the buildings at ``index`` again from the ``remaining`` stations, within ``cap``.

    With ``around`` (the closed station), only remaining stations within 2 × cap of it in a straight
    line take part: the buildings were within ``cap`` of it, so a station farther off cannot reach them.
    """
    index = np.asarray(index, dtype=np.int64)
    if not len(index):
        return Update(index, np.zeros(0), np.zeros(0, np.int64))
    if around is not None and len(remaining):
        gap = np.hypot(*(remaining.xy - around.xy[0]).T)
        remaining = remaining.take(np.flatnonzero(gap <= 2 * cap * _STRAIGHT_LINE_SLACK + _STRAIGHT_LINE_SLACK_M))
    targets = buildings.take(index)
    if not len(remaining):
        return Update(index, np.full(len(index), np.inf), np.full(len(index), -1, np.int64))
    found = nearest(net, remaining.snap, targets.snap, limit=cap)
    distance, station = _result(targets, remaining, found.distance, found.source)
    return Update(index, distance, station)


def apply(coverage: KindCoverage, update: Update) -> KindCoverage:
    distance, station = coverage.distance.copy(), coverage.station.copy()
    distance[update.index] = update.distance
    station[update.index] = update.station
    return KindCoverage(distance, station)


def open_station(
    net: StreetNetwork, buildings: Places, coverage: KindCoverage, station: Places, cap: float
) -> tuple[KindCoverage, Update]:
    """``coverage`` after ``station`` opens, and the buildings that changed."""
    found = reach(net, buildings, station, cap)
    change = closer(found, coverage.distance[found.index])
    return apply(coverage, change), change


def close_station(
    net: StreetNetwork, buildings: Places, coverage: KindCoverage, station: Places, remaining: Places, cap: float
) -> tuple[KindCoverage, Update]:
    """``coverage`` after ``station`` closes (``remaining``: the stations still open), and the change."""
    change = reassign(net, buildings, served_by(coverage, int(station.ids[0])), remaining, cap, around=station)
    return apply(coverage, change), change
