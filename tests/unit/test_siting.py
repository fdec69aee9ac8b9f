"""gisgrid.coverage.siting: maximal covering equals a brute-force optimum, set covering is the smallest
full cover, and no suggestion ever adds nothing; candidates and demand from frames on a street network."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.sparse import csr_array

from gisgrid.coverage.reach import covered_mask, reach, walk_threshold
from gisgrid.coverage.sites import building_demand, candidate_sites
from gisgrid.coverage.siting import maximal_covering, order_by_gain, set_covering
from gisgrid.errors import InvalidInputError
from gisgrid.network import StreetNetwork

CRS = "EPSG:32650"


def random_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n_c, n_d = int(rng.integers(3, 10)), int(rng.integers(4, 40))
    cover = rng.random((n_c, n_d)) < rng.uniform(0.1, 0.4)
    cover[int(rng.integers(n_c))] = cover[0]  # a duplicate candidate
    weight = rng.integers(0, 60, n_d).astype(float)
    covered = rng.random(n_d) < 0.2
    return cover, weight, covered, int(rng.integers(1, 4))


def best_cover(cover: np.ndarray, weight: np.ndarray, covered: np.ndarray, count: int) -> float:
    open_w = np.where(covered, 0.0, weight)
    return max(
        (open_w[cover[list(s)].any(axis=0)].sum() for k in range(1, count + 1)
         for s in itertools.combinations(range(len(cover)), k)),
        default=0.0,
    )


def fewest_full_cover(cover: np.ndarray, weight: np.ndarray, covered: np.ndarray) -> int:
    need = cover.any(axis=0) & ~covered & (weight > 0)
    for k in range(len(cover) + 1):
        for s in itertools.combinations(range(len(cover)), k):
            got = cover[list(s)].any(axis=0) if s else np.zeros(cover.shape[1], dtype=bool)
            if got[need].all():
                return k
    raise AssertionError("unreachable")


@pytest.mark.parametrize("seed", range(40))
def test_maximal_covering_equals_brute_force(seed: int) -> None:
    cover, weight, covered, count = random_case(seed)
    result = maximal_covering(csr_array(cover), weight, count, covered=covered)
    assert result.status == "optimal"
    assert result.added == pytest.approx(best_cover(cover, weight, covered, count))
    assert len(result.suggestions) <= count
    assert result.covered_before == pytest.approx(weight[covered].sum())


@pytest.mark.parametrize("seed", range(40))
def test_set_covering_is_the_smallest_full_cover(seed: int) -> None:
    cover, weight, covered, _ = random_case(seed)
    result = set_covering(csr_array(cover), weight, covered=covered)
    chosen = result.chosen
    reached = cover[chosen].any(axis=0) if len(chosen) else np.zeros(cover.shape[1], dtype=bool)
    need = cover.any(axis=0) & ~covered & (weight > 0)
    assert reached[need].all()
    assert len(chosen) == fewest_full_cover(cover, weight, covered)
    # what no candidate reaches is reported, not made a constraint that cannot hold
    lost = ~cover.any(axis=0) & ~covered & (weight > 0)
    assert sorted(result.unreachable_demand.tolist()) == np.flatnonzero(lost).tolist()
    assert result.unreachable == pytest.approx(weight[lost].sum())
    assert result.covered_after + result.unreachable == pytest.approx(weight.sum())


@pytest.mark.parametrize("seed", range(40))
def test_no_suggestion_adds_nothing(seed: int) -> None:
    cover, weight, covered, _ = random_case(seed)
    # ask for more sites than could possibly help
    for result in (maximal_covering(csr_array(cover), weight, len(cover) + 3, covered=covered),
                   set_covering(csr_array(cover), weight, covered=covered)):
        adds = [s.adds for s in result.suggestions]
        assert all(a > 0 for a in adds)
        assert adds == sorted(adds, reverse=True)  # the biggest gain first, and gains only shrink
        assert len(set(result.chosen.tolist())) == len(result.chosen)


def test_sites_reaching_only_covered_or_empty_demand_are_never_suggested() -> None:
    cover = np.array([
        [1, 1, 0, 0, 0],  # only already covered households
        [0, 0, 1, 0, 0],  # only a building with no households
        [0, 0, 0, 1, 0],
        [0, 0, 0, 1, 0],  # the same as the one before
        [0, 0, 0, 0, 0],  # reaches nothing
    ], dtype=bool)
    weight = np.array([30.0, 20.0, 0.0, 12.0, 8.0])
    covered = np.array([True, True, False, False, False])
    result = maximal_covering(csr_array(cover), weight, 4, covered=covered)
    assert result.chosen.tolist() == [2]
    assert [s.adds for s in result.suggestions] == [12.0]
    assert result.unreachable == 8.0 and result.unreachable_demand.tolist() == [4]
    assert set_covering(csr_array(cover), weight, covered=covered).chosen.tolist() == [2]
    # nothing left to cover: nothing suggested
    none = maximal_covering(csr_array(cover), weight, 2, covered=np.ones(5, dtype=bool))
    assert none.suggestions == () and none.added == 0.0


def test_greedy_order_reports_marginal_households() -> None:
    cover = csr_array(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool))
    weight = np.array([10.0, 50.0, 40.0, 5.0])
    order = order_by_gain(cover, weight, np.zeros(4, dtype=bool), np.array([0, 1, 2]))
    assert [(s.candidate, s.adds, s.cumulative) for s in order] == [(1, 90.0, 90.0), (0, 10.0, 100.0), (2, 5.0, 105.0)]


def test_bad_input_is_refused() -> None:
    cover = csr_array(np.ones((2, 3), dtype=bool))
    with pytest.raises(InvalidInputError) as err:
        maximal_covering(cover, np.ones(3), 0)
    assert err.value.field == "count"
    with pytest.raises(InvalidInputError) as err:
        maximal_covering(cover, np.ones(4), 1)
    assert err.value.field == "weight"
    with pytest.raises(InvalidInputError):
        set_covering(cover, np.array([1.0, -1.0, 2.0]))


def test_thresholds_per_kind() -> None:
    assert walk_threshold("red_heart_station") == 100.0
    assert walk_threshold("service_station") == 500.0
    assert walk_threshold("service_centre") == 1000.0
    assert walk_threshold("police_room") == 500.0  # one table with the stored coverage's thresholds
    assert walk_threshold("police_room", 800) == 800.0
    with pytest.raises(InvalidInputError) as err:
        walk_threshold("police_room", thresholds={"red_heart_station": 100.0})
    assert err.value.field == "threshold_m"
    with pytest.raises(InvalidInputError):
        walk_threshold("teahouse")
    with pytest.raises(InvalidInputError):
        walk_threshold("red_heart_station", -5)


def street_row() -> StreetNetwork:
    """One straight street, 0 → 1,000 m along x, with a node every 100 m."""
    ids = np.arange(11) + 1
    xy = np.column_stack([np.arange(11) * 100.0, np.zeros(11)])
    return StreetNetwork.from_arrays(ids, xy, ids[:-1], ids[1:], np.full(10, 100.0), crs=CRS)


def test_a_street_of_buildings_gets_its_sites_from_frames() -> None:
    net = street_row()
    # buildings north of the street, door on the south wall 10 m off the street, every 50 m
    xs = np.arange(25.0, 1000.0, 50.0)
    homes = gpd.GeoDataFrame(
        {"id": np.arange(len(xs)) + 1, "name": [f"{k}号楼" for k in range(len(xs))],
         "households": [40] * len(xs)},
        geometry=[shapely.box(x - 15, 10, x + 15, 40) for x in xs], crs=CRS,
    )
    homes["entrance"] = [shapely.Point(x, 10) for x in xs]
    homes.loc[3, "households"] = 0  # asks for nothing
    demand = building_demand(net, homes)
    assert len(demand) == 19 and 4 not in demand.ref.tolist()
    assert np.allclose(demand.snap.offset, 10.0)
    complexes = gpd.GeoDataFrame({"id": [7], "name": ["滨河苑"]},
                                 geometry=[shapely.box(380, 60, 620, 200)], crs=CRS)
    sites = candidate_sites(net, complexes=complexes, buildings=homes)
    assert sites.kind.tolist()[0] == "complex_entrance"
    assert shapely.get_y(sites.site[0]) == pytest.approx(60.0)  # the outline's side facing the street
    cover = reach(net, sites.snap, demand.snap, 100.0)
    assert cover.shape == (len(sites), len(demand))
    existing = candidate_sites(net, given=gpd.GeoDataFrame({"name": ["老站"]}, geometry=[shapely.Point(25, -5)],
                                                           crs=CRS))
    covered = covered_mask(net, existing.snap, demand.snap, 100.0)
    assert covered.tolist()[:3] == [True, True, False]  # 15 m, 65 m, then 115 m
    result = maximal_covering(cover, demand.weight, 2, covered=covered)
    # a site on a door reaches the doors 50 m either side (within 100 − 10 − 10 = 80 m along the street):
    # two sites, three buildings of 40 households each
    assert result.added == pytest.approx(40.0 * 6)
    assert all(s.adds > 0 for s in result.suggestions)


def test_gates_replace_the_nearest_point_and_given_points_are_the_only_candidates() -> None:
    net = street_row()
    complexes = gpd.GeoDataFrame({"id": [1, 2], "name": ["甲", "乙"]},
                                 geometry=[shapely.box(100, 50, 300, 200), shapely.box(500, 50, 700, 200)], crs=CRS)
    gates = gpd.GeoDataFrame({"complex_id": [1, 1]}, geometry=[shapely.Point(100, 120), shapely.Point(300, 50)],
                             crs=CRS)
    sites = candidate_sites(net, complexes=complexes, gates=gates)
    assert sites.ref.tolist() == [1, 1, 2]
    given = gpd.GeoDataFrame({"name": ["A", "B"]}, geometry=[shapely.Point(10, 5), shapely.Point(10, 5.2)], crs=CRS)
    only = candidate_sites(net, complexes=complexes, given=given)
    assert only.kind.tolist() == ["given"]  # the second point is the same street spot
