"""Service areas as walking isochrones: the streets a station reaches within its threshold, buffered.

A circle of 500 m around a station claims the far side of a railway or the inside of a gated estate
it cannot walk into. The service area here is what the network says instead:

1. **Reached streets.** Walking metres from the station to every node (one Dijkstra from the
   station's snap, :func:`gisgrid.network.node_distances`, cut at the threshold ``T``). An edge
   ``u–v`` of length ``L`` whose ends are reached at ``du`` and ``dv`` is reached *whole* when its
   farthest point, ``(du + dv + L) / 2`` away, is within ``T``; otherwise it is cut at ``T − du`` from
   ``u`` and at ``T − dv`` from ``v`` (:func:`shapely.ops.substring`). The station's own edge is also
   walked straight from the station, ``T − offset`` each way.
2. **Buffered** by :data:`BUFFER_M` into a polygon. Houses front the street: a door a few tens of
   metres off a reached street is served by it, and the network has no lines for the paths inside a
   complex. A modest buffer keeps the area honest — it does not jump a block to a street that is not
   reached, while a circle would.

A dead end stops the walk (nothing beyond it is reached), and a street reached from both ends but not
in its middle is drawn as two pieces. Everything is vectorised over stations; only the cutting of
partial edges loops in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
from shapely import ops

from gisgrid.network import Snap, StreetNetwork, node_distances

__all__ = ["BUFFER_M", "ReachedStreets", "reached_streets", "service_areas"]

BUFFER_M = 30.0
_QUAD_SEGS = 4  # quarter-circle segments of the buffer: smooth enough on a map, a quarter of the default
_CELLS_PER_CHUNK = 4_000_000


@dataclass(frozen=True, eq=False)
class ReachedStreets:
    """Pieces of street reached: the ``source`` each belongs to, the ``edge``, the reached interval
    ``start``–``end`` (metres from the edge's first node) and the piece's ``line`` (metric CRS)."""

    source: np.ndarray
    edge: np.ndarray
    start: np.ndarray
    end: np.ndarray
    line: np.ndarray

    def length_by_source(self, n_sources: int) -> np.ndarray:
        """Metres of street reached per source."""
        return np.bincount(self.source, weights=self.end - self.start, minlength=n_sources)


@lru_cache(maxsize=2)
def _orientation(net: StreetNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Per edge: whether its stored line starts at its first node, and line metres per edge metre."""
    start = shapely.get_point(net.edge_lines, 0)
    end = shapely.get_point(net.edge_lines, -1)
    u = shapely.points(net.xy[net.edge_u])
    forward = shapely.distance(start, u) <= shapely.distance(end, u)
    line_len = shapely.length(net.edge_lines)
    scale = np.divide(line_len, net.edge_length, out=np.ones(net.n_edges), where=net.edge_length > 0)
    return forward, scale


def _intervals(net: StreetNetwork, sources: Snap, limits: np.ndarray) -> tuple[np.ndarray, ...]:
    """(source, edge, start, end, whole) of every reached piece, from node distances in chunks."""
    n_e = net.n_edges
    chunk = max(1, min(len(sources), _CELLS_PER_CHUNK // max(n_e, net.n_nodes, 1)))
    parts: list[tuple[np.ndarray, ...]] = []
    length = net.edge_length
    for first in range(0, len(sources), chunk):
        idx = np.arange(first, min(first + chunk, len(sources)))
        limit = limits[idx, None]
        d = node_distances(net, sources.take(idx), limit=float(limits[idx].max()))
        du, dv = d[:, net.edge_u], d[:, net.edge_v]
        from_u, from_v = du < limit, dv < limit
        whole = from_u & from_v & ((du + dv + length) / 2 <= limit)
        s, e = np.nonzero(whole)
        parts.append((idx[s], e, np.zeros(len(e)), length[e], np.ones(len(e), bool)))
        s, e = np.nonzero(from_u & ~whole)
        parts.append(
            (
                idx[s],
                e,
                np.zeros(len(e)),
                np.minimum(length[e], limits[idx[s]] - du[s, e]),
                np.zeros(len(e), bool),
            )
        )
        s, e = np.nonzero(from_v & ~whole)
        parts.append(
            (
                idx[s],
                e,
                np.maximum(0.0, length[e] - (limits[idx[s]] - dv[s, e])),
                length[e],
                np.zeros(len(e), bool),
            )
        )
    # the station's own edge, walked straight along from where the station meets it
    reach = limits - sources.offset
    own = np.flatnonzero(reach > 0)
    e = sources.edge[own]
    parts.append(
        (
            own,
            e,
            np.maximum(0.0, sources.along[own] - reach[own]),
            np.minimum(length[e], sources.along[own] + reach[own]),
            np.zeros(len(own), bool),
        )
    )
    src, edge, start, end, whole = (np.concatenate(c) for c in zip(*parts, strict=True))
    keep = end > start
    return _merge(src[keep], edge[keep], start[keep], end[keep], whole[keep])


def _merge(
    src: np.ndarray, edge: np.ndarray, start: np.ndarray, end: np.ndarray, whole: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Overlapping intervals of one source on one edge as one (the walk from an end and the straight
    walk along the station's own edge overlap), so every reached metre is counted once."""
    frame = pd.DataFrame({"src": src, "edge": edge, "start": start, "end": end, "whole": whole})
    frame = frame.sort_values(["src", "edge", "start"], kind="stable")
    reach = frame.groupby(["src", "edge"], sort=False)["end"].cummax()
    before = reach.groupby([frame["src"], frame["edge"]], sort=False).shift()
    frame["run"] = (before.isna() | (frame["start"] > before)).cumsum()
    runs = frame.groupby("run", sort=True).agg(
        src=("src", "first"),
        edge=("edge", "first"),
        start=("start", "min"),
        end=("end", "max"),
        whole=("whole", "any"),
    )
    return (
        runs["src"].to_numpy(np.int64),
        runs["edge"].to_numpy(np.int64),
        runs["start"].to_numpy(float),
        runs["end"].to_numpy(float),
        runs["whole"].to_numpy(bool),
    )


def _lines(
    net: StreetNetwork, edge: np.ndarray, start: np.ndarray, end: np.ndarray, whole: np.ndarray
) -> np.ndarray:
    forward, scale = _orientation(net)
    lines = net.edge_lines[edge].copy()
    for k in np.flatnonzero(~whole):
        e = int(edge[k])
        line = net.edge_lines[e]
        a, b = start[k] * scale[e], end[k] * scale[e]
        if not forward[e]:
            a, b = line.length - b, line.length - a
        piece = ops.substring(line, a, b)
        lines[k] = piece if isinstance(piece, shapely.LineString) else shapely.LineString([piece, piece])
    return lines


def reached_streets(net: StreetNetwork, sources: Snap, limit: float | np.ndarray) -> ReachedStreets:
    """The pieces of street each source reaches within its ``limit`` (one value or one per source)."""
    limits = np.broadcast_to(np.asarray(limit, dtype=float), (len(sources),)).copy()
    if len(sources) == 0 or net.n_edges == 0:
        z = np.zeros(0)
        return ReachedStreets(z.astype(np.int64), z.astype(np.int64), z, z, z.astype(object))
    src, edge, start, end, whole = _intervals(net, sources, limits)
    return ReachedStreets(src, edge, start, end, _lines(net, edge, start, end, whole))


def service_areas(
    net: StreetNetwork, sources: Snap, limit: float | np.ndarray, *, buffer_m: float = BUFFER_M
) -> np.ndarray:
    """One polygon per source (metric CRS): the streets it reaches within ``limit``, buffered by
    ``buffer_m``. A source that reaches no street (its offset alone exceeds the limit) gets an empty
    polygon."""
    streets = reached_streets(net, sources, limit)
    out = np.array([shapely.Polygon()] * len(sources), dtype=object)
    if not len(streets.source):
        return out
    order = np.argsort(streets.source, kind="stable")
    owners, number = np.unique(streets.source[order], return_inverse=True)
    multi = shapely.multilinestrings(streets.line[order], indices=number)
    out[owners] = shapely.buffer(multi, buffer_m, quad_segs=_QUAD_SEGS)
    return out
