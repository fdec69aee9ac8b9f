"""gisgrid.crs: GCJ-02 / BD-09 transforms, normalisation to WGS84, plausibility checks, metric CRS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import wkt
from shapely.geometry import Point, box

from gisgrid import crs
from gisgrid.errors import CRSError, GeometryError

GEOD = pyproj.Geod(ellps="WGS84")


def metres(x0, y0, x1, y1) -> np.ndarray:
    return np.asarray(GEOD.inv(x0, y0, x1, y1)[2])


# -- reference values ----------------------------------------------------------------------------------
# (128.543, 37.065) is the test point of the widely used coordTransform converters; their forward
# transforms are closed formulas, so ours must agree to floating-point precision. Their inverses are the
# one-step approximations, which ours (exact, iterated) beats: compare those loosely.


def test_wgs84_to_gcj02_reference_points() -> None:
    lon, lat = crs.gcj02_from_wgs84(116.397428, 39.90923)  # Tiananmen
    assert lon == pytest.approx(116.403671, abs=1e-5)
    assert lat == pytest.approx(39.910635, abs=1e-5)
    lon, lat = crs.gcj02_from_wgs84(128.543, 37.065)
    assert (lon, lat) == pytest.approx((128.54820547949757, 37.065651049489816), abs=1e-12)


def test_bd09_forward_reference_points() -> None:
    assert crs.bd09_from_gcj02(128.543, 37.065) == pytest.approx(
        (128.54944656269413, 37.07113427883019), abs=1e-12
    )
    assert crs.bd09_from_wgs84(128.543, 37.065) == pytest.approx(
        (128.55468192918485, 37.07168344938498), abs=1e-12
    )


def test_inverses_agree_with_published_one_step_values_loosely() -> None:
    # published one-step results are a few metres (GCJ) / decimetres (BD) off the exact inverse
    assert crs.wgs84_from_gcj02(128.543, 37.065) == pytest.approx(
        (128.53779452050244, 37.06434895051018), abs=5e-5
    )
    assert crs.gcj02_from_bd09(128.543, 37.065) == pytest.approx(
        (128.5365893261212, 37.058754503281534), abs=5e-6
    )
    assert crs.wgs84_from_bd09(128.543, 37.065) == pytest.approx(
        (128.53136876750008, 37.0580926428705), abs=5e-5
    )


def test_scalars_give_floats_and_arrays_give_arrays() -> None:
    lon, lat = crs.gcj02_from_wgs84(116.4, 39.9)
    assert isinstance(lon, float) and isinstance(lat, float)
    lon, lat = crs.wgs84_from_bd09(np.array([116.4, 117.3]), np.array([39.9, 34.8]))
    assert isinstance(lon, np.ndarray) and lon.shape == (2,)


# -- round trips ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def china_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(73.0, 135.0, 200), np.linspace(18.0, 53.0, 200))
    return lon.ravel(), lat.ravel()


def test_gcj02_round_trip_over_china_is_sub_millimetre(china_grid) -> None:
    lon, lat = china_grid
    glon, glat = crs.gcj02_from_wgs84(lon, lat)
    assert metres(lon, lat, glon, glat).min() > 10  # the shift really is applied everywhere
    back = crs.wgs84_from_gcj02(glon, glat)
    err = metres(lon, lat, *back)
    assert err.max() < 0.5
    assert err.max() < 1e-3  # in fact millimetres or better


def test_bd09_round_trip_over_china_is_sub_millimetre(china_grid) -> None:
    lon, lat = china_grid
    blon, blat = crs.bd09_from_wgs84(lon, lat)
    err = metres(lon, lat, *crs.wgs84_from_bd09(blon, blat))
    assert err.max() < 1e-3
    glon, glat = crs.gcj02_from_wgs84(lon, lat)
    err = metres(glon, glat, *crs.gcj02_from_bd09(*crs.bd09_from_gcj02(glon, glat)))
    assert err.max() < 1e-3


# well inside the China box: near its edges the GCJ-02 mapping is not one-to-one (documented)
china_lon = st.floats(min_value=73.0, max_value=136.8, allow_nan=False)
china_lat = st.floats(min_value=1.9, max_value=54.8, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_property_gcj02_round_trip(lon: float, lat: float) -> None:
    back = crs.wgs84_from_gcj02(*crs.gcj02_from_wgs84(lon, lat))
    assert metres(lon, lat, *back) < 1e-3


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_property_bd09_round_trip(lon: float, lat: float) -> None:
    back = crs.wgs84_from_bd09(*crs.bd09_from_wgs84(lon, lat))
    assert metres(lon, lat, *back) < 1e-3


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_property_inverse_then_forward(lon: float, lat: float) -> None:
    """Starting from GCJ-02 / BD-09 coordinates: inverse then forward gives them back."""
    assert metres(lon, lat, *crs.gcj02_from_wgs84(*crs.wgs84_from_gcj02(lon, lat))) < 1e-3
    assert metres(lon, lat, *crs.bd09_from_wgs84(*crs.wgs84_from_bd09(lon, lat))) < 1e-3


world_lon = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)
world_lat = st.floats(min_value=-89.0, max_value=89.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(world_lon, world_lat)
def test_property_no_shift_outside_china(lon: float, lat: float) -> None:
    west, south, east, north = crs.CHINA_BOX
    if west - 0.1 <= lon <= east + 0.1 and south - 0.1 <= lat <= north + 0.1:
        return
    for func in (
        crs.gcj02_from_wgs84,
        crs.wgs84_from_gcj02,
        crs.bd09_from_gcj02,
        crs.gcj02_from_bd09,
        crs.bd09_from_wgs84,
        crs.wgs84_from_bd09,
    ):
        assert func(lon, lat) == (lon, lat)


def test_no_shift_outside_china_examples() -> None:
    for lon, lat in [
        (2.35, 48.86),
        (-74.0, 40.7),
        (139.69, 35.69),
        (151.2, -33.9),
    ]:  # Paris, NY, Tokyo, Sydney
        assert crs.gcj02_from_wgs84(lon, lat) == (lon, lat)
        assert crs.wgs84_from_bd09(lon, lat) == (lon, lat)


# -- GeoDataFrames -------------------------------------------------------------------------------------

ZAOZHUANG = (117.3239, 34.8107)


def frame(points, crs_=None, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[Point(p) for p in points], crs=crs_)


def test_to_wgs84_keeps_wgs84_and_relabels_cgcs2000() -> None:
    g = frame([ZAOZHUANG])
    for name in ("wgs84", "EPSG:4326", 4326, "cgcs2000", "EPSG:4490"):
        out = crs.to_wgs84(g, name)
        assert out.crs.to_epsg() == 4326
        assert (out.geometry[0].x, out.geometry[0].y) == ZAOZHUANG  # bit-identical: relabelled, not shifted
    declared = crs.to_wgs84(frame([ZAOZHUANG], 4490))
    assert declared.crs.to_epsg() == 4326 and declared.geometry[0].coords[0] == ZAOZHUANG


def test_to_wgs84_gcj02_and_bd09_invert_from_wgs84() -> None:
    g = frame([ZAOZHUANG], 4326)
    for name in ("gcj02", "bd09", "GCJ-02", "BD09"):
        shifted = crs.from_wgs84(g, name)
        assert shifted.crs is None
        assert metres(*ZAOZHUANG, *shifted.geometry[0].coords[0]) > 100
        for back in (crs.to_wgs84(shifted, name), crs.to_wgs84(shifted)):  # explicit, or from attrs
            assert back.crs.to_epsg() == 4326
            assert metres(*ZAOZHUANG, *back.geometry[0].coords[0]) < 1e-3


def test_to_wgs84_shifts_every_geometry_type_and_keeps_z() -> None:
    geoms = [
        wkt.loads("POINT Z (117.3 34.8 42)"),
        wkt.loads("LINESTRING (117.3 34.8, 117.4 34.9)"),
        box(117.3, 34.8, 117.31, 34.81),
        wkt.loads(
            "MULTIPOLYGON (((117 34, 117.1 34, 117.1 34.1, 117 34)), ((118 35, 118.1 35, 118 35.1, 118 35)))"
        ),
        wkt.loads("GEOMETRYCOLLECTION (POINT (117.3 34.8), LINESTRING (117.3 34.8, 117.5 35))"),
        None,
    ]
    g = gpd.GeoDataFrame(geometry=geoms, crs=4326)
    out = crs.to_wgs84(g, "gcj02")
    assert out.geometry[5] is None
    assert out.geometry[0].has_z and out.geometry[0].z == 42
    for before, after in zip(g.geometry[:5], out.geometry[:5], strict=True):
        assert before.geom_type == after.geom_type
        a = np.array([c for c in _all_coords(before)])
        b = np.array([c for c in _all_coords(after)])
        expected = np.column_stack(crs.wgs84_from_gcj02(a[:, 0], a[:, 1]))
        np.testing.assert_allclose(b[:, :2], expected, atol=1e-12)


def _all_coords(geom):
    import shapely

    return shapely.get_coordinates(geom, include_z=False)


def test_to_wgs84_reprojects_projected_input() -> None:
    g = frame([ZAOZHUANG], 4326).to_crs("EPSG:32650")
    out = crs.to_wgs84(g)  # declared CRS
    assert out.crs.to_epsg() == 4326
    assert metres(*ZAOZHUANG, *out.geometry[0].coords[0]) < 1e-6
    unlabelled = g.set_crs(None, allow_override=True)
    out = crs.to_wgs84(unlabelled, "EPSG:32650")
    assert metres(*ZAOZHUANG, *out.geometry[0].coords[0]) < 1e-6
    gk = crs.to_wgs84(frame([ZAOZHUANG], 4326).to_crs(4548))  # CGCS2000 Gauss–Krüger CM 117E
    assert metres(*ZAOZHUANG, *gk.geometry[0].coords[0]) < 1e-6


def test_from_wgs84_to_epsg_and_cgcs2000() -> None:
    g = frame([ZAOZHUANG], 4326)
    assert crs.from_wgs84(g, "EPSG:32650").crs.to_epsg() == 32650
    c = crs.from_wgs84(g, "cgcs2000")
    assert c.crs.to_epsg() == 4490 and c.geometry[0].coords[0] == ZAOZHUANG
    with pytest.raises(CRSError) as info:
        crs.from_wgs84(frame([ZAOZHUANG]), "gcj02")
    assert info.value.field == "crs"


def test_to_wgs84_without_any_crs_is_an_error_naming_the_field() -> None:
    with pytest.raises(CRSError) as info:
        crs.to_wgs84(frame([ZAOZHUANG]))
    assert info.value.field == "crs"
    assert info.value.rule


def test_unknown_or_untransformable_crs() -> None:
    for name in ("no-such-crs", "EPSG:999999", "IAU_2015:49900"):  # the last is Mars
        with pytest.raises(CRSError) as info:
            crs.to_wgs84(frame([ZAOZHUANG]), name, check=False)
        assert info.value.field == "crs"


# -- plausibility --------------------------------------------------------------------------------------


def test_swapped_latitude_longitude_is_detected() -> None:
    g = frame([(34.81, 117.32), (34.82, 117.33)], 4326, id=[7, 8])
    with pytest.raises(CRSError) as info:
        crs.to_wgs84(g)
    assert info.value.rule == "swapped latitude/longitude?"
    assert info.value.field == "geometry"
    assert info.value.feature == 7
    # also where the swapped latitude is a valid one (Xinjiang: 80 E 40 N given as 40, 80)
    with pytest.raises(CRSError, match="swapped"):
        crs.check_lonlat(frame([(40.0, 80.0)], 4326))
    # and for GCJ-02 input
    with pytest.raises(CRSError, match="swapped"):
        crs.to_wgs84(frame([(34.81, 117.32)]), "gcj02")


def test_projected_metres_labelled_as_degrees_are_detected() -> None:
    metres_ = frame([ZAOZHUANG], 4326).to_crs("EPSG:32650").set_crs(4326, allow_override=True)
    with pytest.raises(CRSError) as info:
        crs.to_wgs84(metres_)
    assert info.value.rule.startswith("longitude in [-180, 180]")
    assert info.value.field == "geometry"
    assert info.value.feature == 0


def test_outside_area_of_use_is_detected_with_count_and_example() -> None:
    g = frame([ZAOZHUANG, (2.35, 48.86), (13.4, 52.5)], id=["a", "paris", "berlin"])
    with pytest.raises(GeometryError) as info:
        crs.to_wgs84(g, "cgcs2000")
    assert info.value.feature == "paris"
    assert info.value.details["count"] == 2
    assert "area of use" in info.value.rule
    with pytest.raises(GeometryError):
        crs.to_wgs84(g, "gcj02")
    # projected data far outside its zone (Ürümqi in UTM 50N) is out of the area of use after unprojection
    far = frame([(87.6, 43.8)], 4326).to_crs("EPSG:32650")
    with pytest.raises(GeometryError) as info:
        crs.to_wgs84(far)
    assert "UTM zone 50N" in info.value.rule
    # WGS84 is valid everywhere
    assert crs.to_wgs84(g, "wgs84").crs.to_epsg() == 4326
    assert crs.to_wgs84(g, "cgcs2000", check=False).crs.to_epsg() == 4326


# -- metric CRS ----------------------------------------------------------------------------------------


def test_metric_crs_utm() -> None:
    beijing = frame([(116.397428, 39.90923)], 4326)
    assert crs.metric_crs_for(beijing).to_epsg() == 32650
    assert crs.metric_crs_for(frame([ZAOZHUANG], 4326)).to_epsg() == 32650
    assert crs.metric_crs_for(frame([ZAOZHUANG], 4326).to_crs(3857)).to_epsg() == 32650
    assert crs.metric_crs_for(frame([(-43.2, -22.9)], 4326)).to_epsg() == 32723  # Rio de Janeiro
    assert crs.metric_crs_for(frame([(87.6, 43.8)], 4326)).to_epsg() == 32645  # Ürümqi


def test_metric_crs_gauss_kruger_verified_by_name() -> None:
    for lon, cm in [(116.397, 117), (117.3239, 117), (121.47, 120), (87.6, 87), (75.99, 75), (134.3, 135)]:
        got = crs.metric_crs_for(frame([(lon, 35.0)], 4326), prefer="cgcs2000_gk")
        assert got.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"
    # Beijing and Zaozhuang: CM 117E = EPSG:4548 (4527 is the same zone with the zone number "39" in the
    # false easting; 4539 is CM 90E)
    assert crs.metric_crs_for(frame([ZAOZHUANG], 4326), prefer="cgcs2000_gk").to_epsg() == 4548
    with pytest.raises(CRSError):
        crs.metric_crs_for(frame([(2.35, 48.86)], 4326), prefer="cgcs2000_gk")


def test_metric_crs_needs_a_crs() -> None:
    with pytest.raises(CRSError) as info:
        crs.metric_crs_for(frame([ZAOZHUANG]))
    assert info.value.field == "crs"
