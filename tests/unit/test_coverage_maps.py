"""The coverage, rollout and complex-indicator maps: local assets only (the time slider's included),
a standalone file that links nothing, months that show exactly the stations open, both languages."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from gisgrid.errors import ConfigurationError, InvalidInputError
from gisgrid.maps import render_html
from gisgrid.maps.assets import TIMEDIMENSION_CSS, TIMEDIMENSION_JS
from gisgrid.maps.coverage import build_coverage_map
from gisgrid.maps.indicator_map import build_indicator_map, share_class
from gisgrid.maps.rollout import build_rollout_map, month_starts
from gisgrid.maps.standalone import embed_assets

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
URL = re.compile(r"""https?://[^\s"'<>)\\]+""")
ASSET = re.compile(r"""<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)\"""")


def _plain(page: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), page)


def frame(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def coverage_page(**kwargs: object) -> str:
    m = build_coverage_map(
        kind="red_heart_station", threshold_m=100, as_of=dt.date(2026, 6, 30),
        service_areas=frame([{"name": "一号驿站"}], [Point(117.26, 34.80).buffer(0.001)]),
        stations=frame([{"name": "一号驿站", "opened_on": dt.date(2025, 3, 2)}], [Point(117.26, 34.80)]),
        uncovered=frame([{"households": 120}, {"households": 30}], [Point(117.27, 34.81), Point(117.271, 34.81)]),
        complexes=frame([{"name": "大<b>院", "households": 400, "uncovered": 150},
                         {"name": "小区乙", "households": 200, "uncovered": 0}],
                        [box(117.265, 34.805, 117.275, 34.815), box(117.25, 34.79, 117.255, 34.795)]),
        suggestions=frame([{"rank": 1, "name": "大院东门", "adds_households": 150}], [Point(117.27, 34.805)]),
        figures={"households_total": 600, "households_covered": 450, "stations_open": 1, "buildings_uncovered": 2},
        **kwargs,
    )
    return _plain(render_html(m))


def test_coverage_map_draws_areas_heat_list_and_suggestions_from_local_assets() -> None:
    page = coverage_page()
    assert all(a.startswith("/static/vendor/") for a in ASSET.findall(page) if not a.startswith("data:"))
    assert "/static/vendor/leaflet.heat/leaflet-heat.js" in page
    assert URL.findall(page) == []
    for needed in ("gg-isochrone", "gg-station", "gg-suggestion", "gg-uncovered-list", "gg-uncovered-complex",
                   "红心驿站步行覆盖", "步行100米以内", "450", "75.0%"):
        assert needed in page, needed
    assert "大<b>院" not in page and "大&lt;b&gt;院" in page  # names are escaped
    assert page.index("大&lt;b&gt;院") < page.index("gg-uncovered-list") + 2000
    assert "小区乙</td>" not in page  # fully covered complexes are not listed


def test_coverage_map_in_english() -> None:
    page = coverage_page(language="en")
    assert "Red heart station: walking coverage" in page and "within 100 m on foot" in page
    assert 'lang="en"' in page


def test_time_slider_assets_are_vendored_and_folium_cdn_links_are_gone() -> None:
    for _name, path in (*TIMEDIMENSION_JS, *TIMEDIMENSION_CSS):
        assert (STATIC / path).is_file(), path
    css = (STATIC / TIMEDIMENSION_CSS[0][1]).read_text()
    assert "url(" not in css and "bootstrapcdn" not in css and "Font Awesome 6 Free" in css
    versions = (STATIC / "vendor" / "VERSIONS.txt").read_text()
    for package in ("leaflet-timedimension", "iso8601-js-period", "moment"):
        assert package in versions
    page = rollout_page()
    assets = ASSET.findall(page)
    for _name, path in (*TIMEDIMENSION_JS, *TIMEDIMENSION_CSS):
        assert f"/static/{path}" in assets
    assert all(a.startswith(("/static/vendor/", "data:")) for a in assets)
    assert URL.findall(page) == []
    assert "jquery-ui" not in page and "highlight.js" not in page and "console.log" not in page


def rollout_page(**kwargs: object) -> str:
    stations = frame(
        [
            {"name": "一号", "opened_on": dt.date(2025, 1, 20), "closed_on": None},
            {"name": "二号", "opened_on": dt.date(2025, 2, 3), "closed_on": dt.date(2025, 4, 10)},
            {"name": "三号", "opened_on": dt.date(2025, 3, 5), "closed_on": dt.date(2025, 3, 25)},
        ],
        [Point(117.26, 34.80), Point(117.27, 34.80), Point(117.28, 34.80)],
    )
    monthly = pd.DataFrame({"month": month_starts(dt.date(2025, 1, 1), dt.date(2025, 5, 1)),
                            "open": [1, 2, 2, 1, 1], "new": [1, 1, 1, 0, 0], "closed": [0, 0, 1, 1, 0],
                            "households_covered": [100, 250, 250, 100, 100], "households_total": [1000] * 5})
    m = build_rollout_map(kind="red_heart_station", threshold_m=100, stations=stations,
                          service_areas=stations.set_geometry([p.buffer(0.001) for p in stations.geometry]),
                          monthly=monthly, until=dt.date(2025, 5, 15), **kwargs)
    return _plain(render_html(m))


def _features(page: str) -> list[dict]:
    start = page.index('{"type": "FeatureCollection"')
    data, _ = json.JSONDecoder().raw_decode(page[start:])
    return data["features"]


def test_rollout_features_carry_the_months_they_are_open() -> None:
    page = rollout_page()
    ms = {d: int(dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp() * 1000)
          for d in month_starts(dt.date(2025, 1, 1), dt.date(2025, 5, 1))}
    points = [f["properties"] for f in _features(page) if f["geometry"]["type"] == "Point"]
    # opened and closed within March: never open at a month's end, so never shown
    assert [(p["start"], p["end"]) for p in points] == [(ms[dt.date(2025, 1, 1)], None),
                                                        (ms[dt.date(2025, 2, 1)], ms[dt.date(2025, 4, 1)])]
    assert sum(f["geometry"]["type"] == "Polygon" for f in _features(page)) == 2
    assert "红心驿站建设进度" in page and "25.0%" in page  # February's figures are on the page
    for month in ms.values():
        assert str(month) in page  # every month is a stop of the slider


def test_month_starts() -> None:
    assert month_starts(dt.date(2024, 11, 30), dt.date(2025, 2, 1)) == [
        dt.date(2024, 11, 1), dt.date(2024, 12, 1), dt.date(2025, 1, 1), dt.date(2025, 2, 1)]


def test_a_standalone_page_links_nothing(tmp_path: Path) -> None:
    page = embed_assets(rollout_page(), STATIC)
    assert [a for a in ASSET.findall(page) if not a.startswith("data:")] == []
    assert "/static/" not in page
    assert "url(../" not in page and "L.TimeDimension" in page
    (tmp_path / "vendor").mkdir()
    with pytest.raises(ConfigurationError):
        embed_assets('<script src="/static/vendor/missing.js"></script>', tmp_path)
    (tmp_path / "vendor" / "a.css").write_text("@font-face{src:url(https://cdn.example/x.woff2)}")
    with pytest.raises(ConfigurationError):
        embed_assets('<link rel="stylesheet" href="/static/vendor/a.css"/>', tmp_path)


def test_indicator_map_classes_and_refusals() -> None:
    assert [share_class(v) for v in (0.95, 0.9, 0.8, 0.7, 0.1, None)] == [0, 0, 1, 2, 3, 4]
    areas = frame([{"code": "370403001001", "name": "甲社区", "complexes": 4, "owners_committee": 4,
                    "owners_committee_share": 1.0},
                   {"code": "370403001002", "name": "乙社区", "complexes": 0, "owners_committee": 0,
                    "owners_committee_share": None}],
                  [box(117.2, 34.8, 117.3, 34.9), box(117.3, 34.8, 117.4, 34.9)])
    page = _plain(render_html(build_indicator_map(areas=areas, indicator="owners_committee",
                                                  totals={"complexes": 4, "owners_committee_share": 1.0})))
    assert "gg-class-0" in page and "gg-class-4" in page and "业委会组建率" in page
    with pytest.raises(InvalidInputError) as err:
        build_indicator_map(areas=areas, indicator="happiness")
    assert err.value.field == "indicator"
