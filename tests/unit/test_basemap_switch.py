"""The basemap switch: the configured basemap shown, 'none' offered beside it, nothing remote without one."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
from shapely.geometry import box

from gisgrid import maps
from gisgrid.maps.basemaps import OSM_TILES, switch_choices

URL = re.compile(r"""https?://[^\s"'<>)\\]+""")


def _plain(page: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), page)


def _page(basemap: str, language: str = "zh-CN") -> str:
    district = gpd.GeoDataFrame([{"name": "示范区", "code": "110199000000"}],
                                geometry=[box(116.30, 39.90, 116.40, 39.96)], crs=4326)
    m = maps.build_overview_map(district=district, basemap=basemap, tianditu_key="TESTKEY",  # type: ignore[arg-type]
                                language=language)  # type: ignore[arg-type]
    return _plain(maps.render_html(m))


def _base_layers(page: str) -> dict[str, str]:
    """The layer control's base layers: label → the JavaScript variable of the layer."""
    block = re.search(r"base_layers : \{(.*?)\}", page, re.S)
    assert block is not None
    return dict(re.findall(r'"([^"]+)"\s*:\s*(\w+)', block.group(1)))


def _shown(page: str, var: str) -> bool:
    return re.search(rf"{var}\.addTo\(", page) is not None


def test_choices() -> None:
    assert switch_choices("none") == ("none",)
    assert switch_choices("osm") == ("osm", "none")
    assert switch_choices("tianditu") == ("tianditu", "none")
    assert switch_choices("amap") == ("amap", "none")  # never OSM under GCJ-02-shifted overlays


def test_osm_page_opens_on_osm_and_can_switch_to_none() -> None:
    page = _page("osm")
    base = _base_layers(page)
    assert set(base) == {"OpenStreetMap", "无底图"}
    assert _shown(page, base["OpenStreetMap"]) and not _shown(page, base["无底图"])
    assert "L.layerGroup()" in page and OSM_TILES in page
    assert "No basemap" in _base_layers(_page("osm", "en"))


@pytest.mark.parametrize(("basemap", "label", "host"), [("tianditu", "天地图", "tianditu.gov.cn"),
                                                        ("amap", "高德地图", "autonavi.com")])
def test_chinese_basemaps_switch_to_none_and_never_to_osm(basemap: str, label: str, host: str) -> None:
    page = _page(basemap)
    base = _base_layers(page)
    assert set(base) == {label, "无底图"} and _shown(page, base[label])
    assert any(host in u for u in URL.findall(page))
    assert "openstreetmap.org/{z}" not in page


def test_none_has_no_switch_and_no_remote_url() -> None:
    page = _page("none")
    assert _base_layers(page) == {}
    assert URL.findall(page) == []


def _coords(page: str) -> list[float]:
    """Every number written in the page that could be a longitude of the data (110–125)."""
    return [x for x in map(float, re.findall(r"(?<![\d.])1[12]\d\.\d+", page)) if 110 <= x < 125]


def test_heat_and_patrol_maps_shift_every_overlay_on_amap() -> None:
    """Every coordinate drawn on an Amap page went through the GCJ-02 shift (here +1° so it shows)."""
    from shapely.geometry import LineString, Point

    def plus_one(lon, lat):  # type: ignore[no-untyped-def]
        return lon + 1.0, lat

    crs = 4326
    communities = gpd.GeoDataFrame([{"name": "甲", "code": "110199001001"}],
                                   geometry=[box(116.30, 39.90, 116.40, 39.96)], crs=crs)
    incidents = gpd.GeoDataFrame([{"category_code": "06001"}] * 3,
                                 geometry=[Point(116.31, 39.91), Point(116.32, 39.92), Point(116.33, 39.93)],
                                 crs=crs)
    heat = _plain(maps.render_html(maps.build_incident_heatmap(
        incidents=incidents, communities=communities, basemap="amap", coord_transform=plus_one)))
    grid = gpd.GeoDataFrame([{"code": "110199001001001"}], geometry=[box(116.30, 39.90, 116.32, 39.92)], crs=crs)
    buildings = gpd.GeoDataFrame([{"visited": True}, {"visited": False}],
                                 geometry=[box(116.301, 39.901, 116.302, 39.902),
                                           box(116.311, 39.911, 116.312, 39.912)], crs=crs)
    routes = gpd.GeoDataFrame([{"day_index": 0}], geometry=[LineString([(116.301, 39.901), (116.311, 39.911)])],
                              crs=crs)
    checkins = gpd.GeoDataFrame([{"plausible": True}], geometry=[Point(116.305, 39.905)], crs=crs)
    patrol = _plain(maps.render_html(maps.build_patrol_map(
        grid=grid, buildings=buildings, routes=routes, checkins=checkins, basemap="amap",
        coord_transform=plus_one)))
    for page in (heat, patrol):
        drawn = _coords(page)
        assert drawn and all(117.0 <= x < 118.0 for x in drawn), sorted(set(drawn))[:5]
