"""gisgrid.coverage.isochrones: service areas follow the streets — a straight street gives a band of
the threshold each way, a dead end is not crossed, an edge reached from both ends keeps its gap."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gisgrid.coverage.isochrones import BUFFER_M, reached_streets, service_areas
from gisgrid.network import StreetNetwork, snap_points

CRS = "EPSG:32650"


def network(nodes: dict[int, tuple[float, float]], edges: list[tuple[int, int]],
            lengths: list[float] | None = None) -> StreetNetwork:
    ids = list(nodes)
    xy = np.array([nodes[i] for i in ids], dtype=float)
    if lengths is None:
        lengths = [float(np.hypot(*np.subtract(nodes[a], nodes[b]))) for a, b in edges]
    return StreetNetwork.from_arrays(ids, xy, [a for a, _ in edges], [b for _, b in edges], lengths, crs=CRS)


def test_a_straight_street_gives_a_band_of_the_threshold_each_way() -> None:
    net = network({1: (0, 0), 2: (400, 0), 3: (800, 0), 4: (2000, 0)}, [(1, 2), (2, 3), (3, 4)])
    station = snap_points(net, [shapely.Point(1000, 0)])
    streets = reached_streets(net, station, 300.0)
    assert streets.length_by_source(1)[0] == pytest.approx(600.0)  # 300 m each way, once each
    area = service_areas(net, station, 300.0)[0]
    minx, miny, maxx, maxy = area.bounds
    assert (minx, maxx) == pytest.approx((700.0 - BUFFER_M, 1300.0 + BUFFER_M), abs=1e-6)
    assert (miny, maxy) == pytest.approx((-BUFFER_M, BUFFER_M), abs=0.5)
    # the band ends where the walk does, not on a circle: 290 m along is in, 310 m is out
    assert area.contains(shapely.Point(1290, 0)) and not area.contains(shapely.Point(1000, 290))


def test_the_offset_to_the_street_is_walked_first() -> None:
    net = network({1: (0, 0), 2: (2000, 0)}, [(1, 2)])
    stations = snap_points(net, [shapely.Point(1000, 40), shapely.Point(500, 120)])
    streets = reached_streets(net, stations, [100.0, 100.0])
    assert streets.length_by_source(2).tolist() == pytest.approx([120.0, 0.0])  # 60 m each way; none
    areas = service_areas(net, stations, 100.0)
    assert not areas[0].is_empty and areas[1].is_empty


def test_a_dead_end_is_not_crossed() -> None:
    # a cul-de-sac ending 10 m short of another street, which the walk only reaches by a 600 m detour
    net = network(
        {1: (0, 0), 2: (100, 0), 3: (110, 0), 4: (500, 0), 5: (0, 300), 6: (110, 300)},
        [(1, 2), (3, 4), (1, 5), (5, 6), (6, 3)],
    )
    station = snap_points(net, [shapely.Point(90, 0)])
    streets = reached_streets(net, station, 200.0)
    # back along the cul-de-sac to node 1 (90 m) and 110 m up the side street; nothing beyond the dead end
    assert streets.length_by_source(1)[0] == pytest.approx(100.0 + 110.0)
    area = service_areas(net, station, 200.0)[0]
    assert not area.intersects(shapely.Point(250, 0))  # 160 m away in a straight line, 700 m on foot
    assert area.contains(shapely.Point(0, 100))


def test_an_edge_reached_from_both_ends_keeps_its_middle_out() -> None:
    # a long curved lane (1,000 m) between two nodes that a short path (100 m) also joins
    lane = shapely.LineString([(0, 0), (0, 450), (100, 450), (100, 0)])
    net = StreetNetwork.from_arrays(
        [1, 2], np.array([[0, 0], [100, 0]], dtype=float), [1, 1], [2, 2], [1000.0, 100.0], crs=CRS,
        edge_lines=np.array([lane, shapely.LineString([(0, 0), (100, 0)])], dtype=object),
    )
    station = snap_points(net, [shapely.Point(0, -1)])
    streets = reached_streets(net, station, 301.0)
    on_lane = streets.edge == int(np.flatnonzero(net.edge_length == 1000.0)[0])
    pieces = sorted(zip(streets.start[on_lane], streets.end[on_lane], strict=True))
    assert pieces == [pytest.approx((0.0, 300.0)), pytest.approx((800.0, 1000.0))]
    area = service_areas(net, station, 301.0)[0]
    assert area.contains(shapely.Point(0, 250)) and not area.contains(shapely.Point(50, 450))


def test_vectorised_over_stations_equals_one_by_one() -> None:
    rng = np.random.default_rng(3)
    n = 6
    nodes = {j * n + i + 1: (i * 120.0, j * 90.0) for j in range(n) for i in range(n)}
    edges = [(k, k + 1) for k in nodes if k % n] + [(k, k + n) for k in nodes if k + n in nodes]
    net = network(nodes, edges)
    pts = [shapely.Point(rng.uniform(0, 600), rng.uniform(0, 450)) for _ in range(7)]
    snaps = snap_points(net, pts)
    limits = rng.uniform(80, 400, len(pts))
    together = service_areas(net, snaps, limits)
    for k in range(len(pts)):
        alone = service_areas(net, snaps.take([k]), limits[k])[0]
        assert together[k].symmetric_difference(alone).area < 1e-6
        assert together[k].contains(snaps.point[k])
