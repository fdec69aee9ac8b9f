"""gisgrid.maps: local assets only, the four basemaps, languages, layers split by class."""

from __future__ import annotations

import re
from datetime import date

import folium
import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from gisgrid import maps
from gisgrid.crs import gcj02_from_wgs84
from gisgrid.errors import ConfigurationError, CRSError, InvalidInputError
from gisgrid.maps import overview

URL = re.compile(r"""https?://[^\s"'<>)\\]+""")
ASSET = re.compile(r"""<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)\"""")


def _gdf(rows: list[dict], geoms: list, crs: int | None = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    return {
        "district": _gdf([{"name": "示范区", "code": "110199000000"}], [box(116.30, 39.90, 116.40, 39.96)]),
        "street_areas": _gdf(
            [{"name": "东华街道", "code": "110199001000"}, {"name": "西城街道", "code": "110199002000"}],
            [box(116.30, 39.90, 116.35, 39.96), box(116.35, 39.90, 116.40, 39.96)],
        ),
        "communities": _gdf(
            [
                {"name": "和平社区", "code": "110199001001"},
                {"name": "光明社区", "code": "110199001002"},
                {"name": "幸福<script>社区", "code": "110199002001"},
            ],
            [
                box(116.30, 39.90, 116.35, 39.93),
                box(116.30, 39.93, 116.35, 39.96),
                box(116.35, 39.90, 116.40, 39.96),
            ],
        ),
        "complexes": _gdf(
            [
                {"name": "和平里小区", "management": "professional"},
                {"name": "光明家园", "management": "self"},
                {"name": "老街院", "management": "none"},
                {"name": "新村", "management": "none"},
            ],
            [
                box(116.31, 39.91, 116.32, 39.92),
                box(116.33, 39.94, 116.34, 39.95),
                box(116.36, 39.91, 116.37, 39.92),
                box(116.38, 39.91, 116.39, 39.92),
            ],
        ),
        "stations": _gdf(
            [
                {
                    "name": "服务中心",
                    "kind": "service_centre",
                    "status": "open",
                    "opened_on": date(2022, 9, 1),
                    "service_radius_m": 1000.0,
                },
                {
                    "name": "服务站",
                    "kind": "service_station",
                    "status": "building",
                    "opened_on": None,
                    "service_radius_m": 500.0,
                },
                {
                    "name": "红心驿站",
                    "kind": "red_heart_station",
                    "status": "planned",
                    "opened_on": None,
                    "service_radius_m": 300.0,
                },
            ],
            [Point(116.32, 39.925), Point(116.335, 39.915), Point(116.365, 39.915)],
        ),
    }


def _plain(page: str) -> str:
    """The page with JavaScript string escapes (\\uXXXX, as folium writes JSON) decoded."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), page)


def _html(layers: dict[str, gpd.GeoDataFrame], **kwargs) -> str:
    kwargs.setdefault("tianditu_key", "TESTKEY")
    return _plain(maps.render_html(maps.build_overview_map(**layers, **kwargs)))


def test_assets_are_local_and_no_remote_url_without_basemap(layers):
    page = _html(layers, basemap="none", static_url="/static")
    assets = ASSET.findall(page)
    assert assets, "no script or stylesheet links found"
    assert all(a.startswith("/static/vendor/") or a.startswith("data:") for a in assets), assets
    for needed in (
        "leaflet/leaflet.js",
        "leaflet/leaflet.css",
        "jquery/jquery.min.js",
        "bootstrap/js/bootstrap.bundle.min.js",
        "fontawesome-free/css/all.min.css",
    ):
        assert f"/static/vendor/{needed}" in assets
    assert URL.findall(page) == []  # no CDN, no tiles, nothing remote at all
    assert "tileLayer" not in page


def test_vendored_files_exist():
    from pathlib import Path

    static = Path(__file__).resolve().parents[2] / "api" / "static"
    for _name, path in (*maps.VENDOR_JS, *maps.VENDOR_CSS):
        assert (static / path).is_file(), path
    assert (static / "vendor" / "VERSIONS.txt").is_file()


def test_static_url_prefix_is_used(layers):
    page = _html(layers, static_url="/gisgrid/static/")
    assert all(
        a.startswith("/gisgrid/static/vendor/") for a in ASSET.findall(page) if not a.startswith("data:")
    )


def test_folium_class_defaults_are_untouched(layers):
    before_js, before_css = list(folium.Map.default_js), list(folium.Map.default_css)
    _html(layers)
    assert folium.Map.default_js == before_js
    assert folium.Map.default_css == before_css
    assert any("cdn" in url for _, url in folium.Map.default_js)  # a plain folium map is unchanged


@pytest.mark.parametrize(
    ("basemap", "tile_host"),
    [("osm", "tile.openstreetmap.org"), ("tianditu", "tianditu.gov.cn"), ("amap", "is.autonavi.com")],
)
def test_basemaps_add_only_their_tiles(layers, basemap, tile_host):
    page = _html(layers, basemap=basemap)
    remote = URL.findall(page)
    assert remote, "a chosen basemap must add its tile URL"
    tile_urls = [u for u in remote if "{z}" in u or "TILEMATRIX" in u]
    assert tile_urls and all(tile_host in u for u in tile_urls)
    assert all(a.startswith("/static/vendor/") for a in ASSET.findall(page) if not a.startswith("data:"))
    assert "tileLayer" in page


def test_osm_attribution(layers):
    page = _html(layers, basemap="osm")
    assert "OpenStreetMap</a> contributors" in page


def test_tianditu_uses_key_and_both_layers(layers):
    page = _html(layers, basemap="tianditu", tianditu_key="abc123")
    assert "vec_w" in page and "cva_w" in page and "tk=abc123" in page
    en = _html(layers, basemap="tianditu", tianditu_key="abc123", language="en")
    assert "eva_w" in en  # English annotation layer


def test_tianditu_without_key_is_a_configuration_error(layers):
    with pytest.raises(ConfigurationError) as err:
        maps.build_overview_map(**layers, basemap="tianditu", tianditu_key=None)
    assert err.value.field == "tianditu_key"


def test_unknown_basemap_and_language_are_refused(layers):
    with pytest.raises(InvalidInputError, match="basemap"):
        maps.build_overview_map(**layers, basemap="google")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="language"):
        maps.build_overview_map(**layers, language="fr")  # type: ignore[arg-type]


def test_amap_shifts_overlays_to_gcj02(layers):
    m = maps.build_overview_map(**layers, basemap="amap")
    page = maps.render_html(m)
    # the district's west edge 116.30 moves east by roughly 0.006° (≈ 500 m) in Beijing
    assert "116.3," not in page.replace(" ", "")
    shifted = maps.build_overview_map(**layers, basemap="amap")
    lon, lat = gcj02_from_wgs84(116.30, 39.90)
    assert 0.004 < lon - 116.30 < 0.008 and 0.0005 < lat - 39.90 < 0.003
    assert f"[{lat}, {lon}]" in maps.render_html(shifted)  # the fitted bounds moved with the overlays
    plain = maps.render_html(maps.build_overview_map(**layers, basemap="none"))
    assert "[39.9, 116.3]" in plain  # fitted bounds are the stored WGS84 ones without Amap


def test_custom_transform_is_used(layers):
    def shift(lon, lat):
        return lon + 1.0, lat

    page = _plain(maps.render_html(maps.build_overview_map(**layers, basemap="amap", coord_transform=shift)))
    assert "117.3" in page


def test_chinese_labels_by_default(layers):
    page = _html(layers)
    assert '<html lang="zh-CN">' in page
    assert "<title>示范区网格化管理总览</title>" in page
    for text in ("合成数据", "物业小区", "服务站点", "三无", "党群服务中心", "规划中", "区界", "街道"):
        assert text in page, text


def test_english_labels(layers):
    page = _html(layers, language="en")
    assert '<html lang="en">' in page
    for text in (
        "Synthetic demo data",
        "Residential complexes",
        "Service stations",
        "District boundary",
        "No manager",
        "Party–masses service centre",
        "Planned",
        "Community names",
    ):
        assert text in page, text
    assert "物业小区" not in page


def test_synthetic_notice_can_be_turned_off(layers):
    assert '"gg-panel gg-synthetic"' in _html(layers)
    assert '"gg-panel gg-synthetic"' not in _html(layers, synthetic=False)


def test_layers_are_split_by_class_without_per_feature_switch(layers):
    page = _html(layers)
    # one constant style per GeoJSON layer: no `case "<feature id>":` lines at all
    assert re.search(r'case\s+"[^"]*"\s*:', page) is None
    geojson = [k for k in page.split() if k.startswith("geo_json_")]
    assert geojson  # the layers are there
    # complexes: professional, self, none -> 3 layers (two 三无 in one); stations: 3 kind/status pairs
    counts = maps.layer_summary(maps.build_overview_map(**layers))
    assert counts["GeoJson"] == 1 + 1 + 3 + 3 + 3  # district, streets, community colours, complexes, stations
    assert counts["DivIcon"] == 3 + len(layers["stations"])  # community names, station names


def test_neighbouring_communities_get_different_colours(layers):
    colours = overview._greedy_colours(layers["communities"])
    assert len(set(colours)) == 3  # all three touch each other


def test_names_are_escaped(layers):
    page = _html(layers)
    assert "幸福<script>社区" not in page
    assert "幸福&lt;script&gt;社区" in page


def test_fits_district_bounds(layers):
    page = _html(layers)
    assert "fitBounds" in page and "[[39.9, 116.3], [39.96, 116.4]]" in page


def test_missing_crs_is_refused(layers):
    layers["complexes"] = layers["complexes"].set_crs(None, allow_override=True)
    with pytest.raises(CRSError) as err:
        maps.build_overview_map(**layers)
    assert err.value.field == "complexes"


def test_other_crs_is_reprojected(layers):
    layers["stations"] = layers["stations"].to_crs(32650)
    page = _html(layers)
    assert "116.32" in page


def test_only_a_district_still_renders():
    district = _gdf([{"name": "空区", "code": "110199000000"}], [box(116.3, 39.9, 116.4, 39.96)])
    page = _plain(maps.render_html(maps.build_overview_map(district=district)))
    assert "fitBounds" in page and "空区" in page


def test_empty_inputs_render_a_blank_but_valid_map():
    empty = gpd.GeoDataFrame({"name": [], "code": []}, geometry=[], crs=4326)
    page = maps.render_html(maps.build_overview_map(district=empty))
    assert "<title>网格化管理总览</title>" in page


def test_unrecognised_management_is_drawn_as_unknown(layers):
    layers["complexes"].loc[0, "management"] = "mystery"
    counts = maps.layer_summary(maps.build_overview_map(**layers))
    assert counts["GeoJson"] == 1 + 1 + 3 + 3 + 3  # still drawn, in the "unknown" class
    assert "未知" in _html(layers)
