"""Street lines from a layer file, cut into a walkable network: nodes where lines meet, one edge between
consecutive nodes, lengths in metres, numbered components.

Lines meet where they share a vertex (coordinates equal to 1e-7°, about 1 cm): a vertex used by two or
more lines, or twice by one line, is a node, and so is every line's start and end; a loop that
comes back to the node it started from (a ring road) is cut at its middle vertex. Two lines that cross
without a shared vertex do not meet — a bridge over a road, as in OpenStreetMap. Node ``source_ref`` is
``xy/<lon × 10⁷>,<lat × 10⁷>`` (whole numbers), edge ``source_ref`` is ``<feature id>/<k>`` with ``k`` the edge's
position along the feature (a MultiLineString's parts one after the other). ``length_m`` is measured in
:func:`gisgrid.crs.metric_crs_for` of the file, never in degrees.

Pure: no database.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gisgrid.crs import metric_crs_for
from gisgrid.osm.network import components

__all__ = ["street_network"]

_WGS84 = "EPSG:4326"


def _key(x: float, y: float) -> tuple[int, int]:
    return round(x * 1e7), round(y * 1e7)


def street_network(lines: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges of the lines of a streets file (EPSG:4326; ``id``, ``name``, ``highway``).

    Returns
    -------
    (nodes, edges)
        nodes: ``source_ref``, ``component`` (0 = largest), Point; edges: ``source_ref``,
        ``source_node_ref``, ``target_node_ref``, ``length_m``, ``name``, ``highway``, ``feature`` (the
        file id), LineString.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> g = gpd.GeoDataFrame({"id": ["a", "b"], "name": [None, None], "highway": [None, None]},
    ...     geometry=[LineString([(117.0, 34.0), (117.001, 34.0), (117.002, 34.0)]),
    ...               LineString([(117.001, 34.0), (117.001, 34.001)])], crs=4326)
    >>> nodes, edges = street_network(g)
    >>> len(nodes), edges["source_ref"].tolist()
    (4, ['a/0', 'a/1', 'b/0'])
    """
    parts: list[tuple[int, np.ndarray]] = []
    for pos, geom in enumerate(lines.geometry.values):
        for part in shapely.get_parts(geom):
            coords = np.asarray(shapely.get_coordinates(part))
            keys = [_key(x, y) for x, y in coords]
            keep = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]  # repeated vertices
            if len(keep) >= 2:
                parts.append((pos, coords[keep]))
    uses: Counter[tuple[int, int]] = Counter()
    for _, coords in parts:
        uses.update({_key(x, y) for x, y in coords[1:-1]})
        uses.update([_key(*coords[0]), _key(*coords[-1])])
        inner = [_key(x, y) for x, y in coords[1:-1]]
        uses.update(k for k, n in Counter(inner).items() if n > 1)  # a line passing a vertex twice
    ends = {_key(*c[0]) for _, c in parts} | {_key(*c[-1]) for _, c in parts}
    is_node = {k for k, n in uses.items() if n > 1} | ends
    for _, coords in parts:  # a loop from a node back to it (a ring road) is cut at its middle vertex
        keys = [_key(*c) for c in coords]
        at = [i for i, k in enumerate(keys) if k in is_node]
        for s, e in pairwise(at):
            if keys[s] == keys[e] and e - s >= 2:
                is_node.add(keys[(s + e) // 2])

    ids = lines["id"].tolist()
    names = lines["name"].tolist()
    highways = lines["highway"].tolist()
    rows: list[dict[str, Any]] = []
    geoms: list[shapely.LineString] = []
    counter: Counter[int] = Counter()
    for pos, coords in parts:
        start = 0
        for i in range(1, len(coords)):
            if _key(*coords[i]) not in is_node:
                continue
            a, b = _key(*coords[start]), _key(*coords[i])
            if a != b:  # a closed loop without a node between would be a self-loop
                rows.append(
                    {
                        "source_ref": f"{ids[pos]}/{counter[pos]}",
                        "source_node_ref": _ref(a),
                        "target_node_ref": _ref(b),
                        "name": names[pos],
                        "highway": None if highways[pos] is None else str(highways[pos])[:32],
                        "feature": ids[pos],
                    }
                )
                geoms.append(shapely.LineString(coords[start : i + 1]))
                counter[pos] += 1
            start = i
    edges = gpd.GeoDataFrame(rows, geometry=geoms, crs=_WGS84) if rows else _empty_edges()
    edges["length_m"] = (
        edges.geometry.to_crs(metric_crs_for(edges)).length.to_numpy(dtype=float) if len(edges) else []
    )
    used = sorted(set(edges["source_node_ref"]) | set(edges["target_node_ref"]))
    index = {ref: n for n, ref in enumerate(used)}
    comp = (
        components(
            np.asarray([index[r] for r in edges["source_node_ref"]], dtype=np.int64),
            np.asarray([index[r] for r in edges["target_node_ref"]], dtype=np.int64),
            np.arange(len(used), dtype=np.int64),
        )
        if used
        else np.zeros(0, dtype=np.int64)
    )
    points = [shapely.Point(*(int(v) / 1e7 for v in ref[3:].split(","))) for ref in used]
    nodes = gpd.GeoDataFrame({"source_ref": used, "component": comp}, geometry=points, crs=_WGS84)
    return nodes, edges


def _ref(key: tuple[int, int]) -> str:
    return f"xy/{key[0]},{key[1]}"


def _empty_edges() -> gpd.GeoDataFrame:
    columns = ("source_ref", "source_node_ref", "target_node_ref", "name", "highway", "feature")
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=_WGS84)
