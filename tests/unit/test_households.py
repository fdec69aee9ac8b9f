"""gisgrid.households: supplied counts win; estimates from levels, height or type defaults, in m²."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from shapely.geometry import Polygon, box

from gisgrid import households as hh
from gisgrid.errors import CRSError, InvalidInputError


def square_at(lon: float, lat: float, side_m: float) -> Polygon:
    """A side_m × side_m square (in metres, true on the ground) with its SW corner at lon/lat."""
    geod = pyproj.Geod(ellps="WGS84")
    east_lon, _, _ = geod.fwd(lon, lat, 90.0, side_m)
    _, north_lat, _ = geod.fwd(lon, lat, 0.0, side_m)
    return box(lon, lat, east_lon, north_lat)


def buildings(n: int = 1, side_m: float = 20.0, **columns) -> gpd.GeoDataFrame:
    geoms = [square_at(117.32 + i * 0.001, 34.81, side_m) for i in range(n)]
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=4326, index=range(n))


def test_area_is_measured_in_metres() -> None:
    # 10 m × 10 m square at 35 N: 100 m² ± 0.5 %
    g = gpd.GeoDataFrame(geometry=[square_at(117.0, 35.0, 10.0)], crs=4326)
    out = hh.estimate_households(
        g.assign(building_type="residential_slab", levels=1),
        floor_area_per_household={"residential_slab": 1.0},
    )
    assert out["households"].iloc[0] == pytest.approx(100, rel=0.005)


def test_supplied_always_wins() -> None:
    g = buildings(2, building_type="residential_tower", households=[0, 120], levels=[30, 30])
    out = hh.estimate_households(g)
    assert out["households"].tolist() == [0, 120]
    assert out["households_method"].tolist() == ["supplied", "supplied"]
    assert not out["households_estimated"].any()
    assert out["levels"].tolist() == [30, 30]


def test_levels_height_default_in_that_order() -> None:
    # 20 m × 20 m = 400 m² footprints, slab 95 m² per household
    g = buildings(
        4,
        building_type="residential_slab",
        households=[None, None, None, None],
        levels=[6, None, None, 6],
        height=[None, 18.0, None, 60.0],
    )
    out = hh.estimate_households(g)
    assert out["households_method"].tolist() == ["levels", "height", "default", "levels"]
    assert out["levels"].tolist() == [6, 6, hh.DEFAULT_LEVELS["residential_slab"], 6]
    assert out["households"].tolist() == [round(400 * 6 / 95)] * 4
    assert out["households_estimated"].all()


def test_height_rounds_to_floors_at_least_one() -> None:
    g = buildings(3, building_type="residential_slab", height=[1.0, 10.4, 10.6])
    out = hh.estimate_households(g, storey_height_m=3.0)
    assert out["levels"].tolist() == [1, 3, 4]
    assert (out["households_method"] == "height").all()


def test_configurable_tables() -> None:
    g = buildings(1, building_type="residential_slab")
    out = hh.estimate_households(
        g, floor_area_per_household={"residential_slab": 50.0}, default_levels={"residential_slab": 2}
    )
    assert out["levels"].iloc[0] == 2
    assert out["households"].iloc[0] == 16  # 400 × 2 / 50


def test_non_residential_types_get_zero() -> None:
    g = buildings(2, building_type=["commercial", "public"], levels=[5, 5])
    out = hh.estimate_households(g)
    assert out["households"].tolist() == [0, 0]
    assert out["households_method"].tolist() == ["levels", "levels"]


def test_other_counts_as_possibly_residential_unless_configured() -> None:
    g = buildings(1, building="yes")
    out = hh.estimate_households(g)
    assert out["building_type"].iloc[0] == "other"
    assert out["households"].iloc[0] == round(400 * hh.DEFAULT_LEVELS["other"] / 95)
    assert hh.estimate_households(g, floor_area_per_household={"other": 0})["households"].iloc[0] == 0


def test_small_residential_building_has_at_least_one_household() -> None:
    g = buildings(1, side_m=6.0, building_type="villa", levels=1)  # 36 m² / 250 m² → 0.14
    assert hh.estimate_households(g)["households"].iloc[0] == 1


def test_osm_building_column_and_string_levels() -> None:
    g = buildings(3, building=["apartments", "apartments", "house"], levels=["18", "6", None])
    out = hh.estimate_households(g)
    assert out["building_type"].tolist() == ["residential_tower", "residential_slab", "villa"]
    assert out["levels"].tolist() == [18, 6, 3]


@pytest.mark.parametrize(
    ("value", "levels", "expected"),
    [
        ("apartments", 10, "residential_tower"),
        ("apartments", 9, "residential_slab"),
        ("apartments", None, "residential_slab"),
        ("residential", "25", "residential_tower"),
        ("dormitory", 6, "residential_slab"),
        ("house", None, "villa"),
        ("detached", 2, "villa"),
        ("villa", None, "villa"),
        ("yes", 20, "other"),
        (None, None, "other"),
        ("commercial", 3, "commercial"),
        ("retail", 1, "commercial"),
        ("office", 20, "commercial"),
        ("school", 4, "public"),
        ("garage", 1, "public"),
        ("Apartments", 12, "residential_tower"),
    ],
)
def test_building_type_from_osm(value, levels, expected) -> None:
    assert hh.building_type_from_osm(value, levels) == expected


@pytest.mark.parametrize("field", ["households", "levels", "height"])
def test_negative_values_name_field_and_feature(field: str) -> None:
    g = buildings(2, building_type="residential_slab", id=[101, 102], **{field: [1, -3]})
    with pytest.raises(InvalidInputError) as info:
        hh.estimate_households(g)
    assert info.value.field == field
    assert info.value.feature == 102


def test_other_invalid_inputs() -> None:
    with pytest.raises(InvalidInputError) as info:
        hh.estimate_households(buildings(1, households=[2.5]))
    assert info.value.field == "households"
    with pytest.raises(InvalidInputError) as info:
        hh.estimate_households(buildings(1, levels=["many"]))
    assert info.value.field == "levels" and info.value.feature == 0
    with pytest.raises(InvalidInputError) as info:
        hh.estimate_households(buildings(1, levels=[300]))
    assert info.value.field == "levels"
    with pytest.raises(InvalidInputError) as info:
        hh.estimate_households(buildings(1, building_type=["castle"]))
    assert info.value.field == "building_type"
    with pytest.raises(InvalidInputError) as info:
        hh.estimate_households(buildings(1), floor_area_per_household={"residential_slab": -1})
    assert info.value.field == "floor_area_per_household"
    with pytest.raises(CRSError):
        hh.estimate_households(buildings(1).set_crs(None, allow_override=True))


def test_output_satisfies_database_constraints_and_input_untouched() -> None:
    g = buildings(3, building_type="residential_slab", households=[5, None, None], levels=[0, None, 3])
    before = g.copy()
    out = hh.estimate_households(g)
    assert (out["households"] >= 0).all()
    assert out["levels"].between(1, 200).all()
    assert (out["households_estimated"] == (out["households_method"] != "supplied")).all()
    assert out["households"].dtype.kind == "i" and out["levels"].dtype.kind == "i"
    assert out["households_estimated"].dtype == bool
    assert out["households_method"].isin(["supplied", "levels", "height", "default"]).all()
    assert out["households_method"].tolist() == ["supplied", "default", "levels"]  # levels=0 = unknown
    assert before.equals(g)


def test_summarise_methods() -> None:
    g = buildings(
        4, building_type="residential_slab", households=[3, None, None, None], levels=[None, 4, None, None]
    )
    g["height"] = [None, None, 12.0, None]
    assert hh.summarise_methods(hh.estimate_households(g)) == {
        "supplied": 1,
        "levels": 1,
        "height": 1,
        "default": 1,
    }


def test_empty_frame() -> None:
    g = gpd.GeoDataFrame({"households": []}, geometry=[], crs=4326)
    out = hh.estimate_households(g)
    assert len(out) == 0
    assert hh.summarise_methods(out) == {"supplied": 0, "levels": 0, "height": 0, "default": 0}
    assert np.asarray(out["households"]).size == 0
