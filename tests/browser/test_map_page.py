"""The overview map page in a real browser: served by uvicorn, read from PostGIS, drawn by Leaflet.

A blank page that "loads" fast is the failure this guards against (offline, a folium page that links
a CDN answers 200 with ``L`` undefined and nothing drawn): the test checks that Leaflet is defined,
counts the features actually drawn, and refuses any request that leaves localhost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine, text

from api import pages
from layers.db import make_sessionmaker
from layers.settings import Settings
from tests.browser.chromium import launch_chromium, serve

pytestmark = pytest.mark.browser

STATIC_DIR = Path(pages.__file__).resolve().parent / "static"

# one district, two streets, three communities, three complexes, four stations — all synthetic
SEED_SQL = """
INSERT INTO admin_area (id, code, level, name, parent_id, source, geom) VALUES
  (1, '110199000000', 'district',  '示范区',   NULL, 'synthetic',
      ST_Multi(ST_MakeEnvelope(116.30, 39.90, 116.40, 39.96, 4326))),
  (2, '110199001000', 'street',    '东华街道', 1, 'synthetic',
      ST_Multi(ST_MakeEnvelope(116.30, 39.90, 116.35, 39.96, 4326))),
  (3, '110199002000', 'street',    '西城街道', 1, 'synthetic',
      ST_Multi(ST_MakeEnvelope(116.35, 39.90, 116.40, 39.96, 4326))),
  (4, '110199001001', 'community', '和平社区', 2, 'synthetic',
      ST_Multi(ST_MakeEnvelope(116.30, 39.90, 116.35, 39.93, 4326))),
  (5, '110199001002', 'community', '光明社区', 2, 'synthetic',
      ST_Multi(ST_MakeEnvelope(116.30, 39.93, 116.35, 39.96, 4326))),
  (6, '110199002001', 'community', '幸福社区', 3, 'synthetic',
      ST_Multi(ST_MakeEnvelope(116.35, 39.90, 116.40, 39.96, 4326)));
INSERT INTO property_company (id, name, credit, source) VALUES (1, '安居物业', 'normal', 'synthetic');
INSERT INTO complex (id, name, community_id, property_company_id, management, source, geom) VALUES
  (1, '和平里小区', 4, 1,    'professional', 'synthetic',
      ST_Multi(ST_MakeEnvelope(116.31, 39.91, 116.32, 39.92, 4326))),
  (2, '光明家园',   5, NULL, 'self',         'synthetic',
      ST_Multi(ST_MakeEnvelope(116.33, 39.94, 116.34, 39.95, 4326))),
  (3, '老街院',     6, NULL, 'none',         'synthetic',
      ST_Multi(ST_MakeEnvelope(116.36, 39.91, 116.37, 39.92, 4326)));
INSERT INTO station (id, name, kind, status, planned_on, building_since, opened_on, service_radius_m,
                     community_id, source, geom) VALUES
  (1, '东华街道党群服务中心', 'service_centre',    'open',     '2022-01-01', '2022-03-01', '2022-09-01', 1000,
      NULL, 'synthetic', ST_SetSRID(ST_MakePoint(116.320, 39.925), 4326)),
  (2, '和平社区党群服务站',   'service_station',   'building', '2024-01-01', '2024-06-01', NULL,         500,
      4, 'synthetic', ST_SetSRID(ST_MakePoint(116.335, 39.915), 4326)),
  (3, '老街院红心驿站',       'red_heart_station', 'planned',  '2025-01-01', NULL,         NULL,         300,
      6, 'synthetic', ST_SetSRID(ST_MakePoint(116.365, 39.915), 4326)),
  (4, '幸福社区警务室',       'police_room',       'open',     '2020-01-01', '2020-02-01', '2020-05-01', 800,
      6, 'synthetic', ST_SetSRID(ST_MakePoint(116.380, 39.945), 4326));
"""
N_POLYGONS = 1 + 2 + 3 + 3  # district, streets, communities, complexes
N_STATIONS = 4
N_LABELS = 3 + N_STATIONS  # one name label per community and per station

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def make_app(engine: Engine, settings: Settings) -> FastAPI:
    """The smallest app that serves the page the way api/main.py does: static mount + pages router."""
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(pages.router)
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.settings = settings
    return app


@pytest.fixture
def seeded(clean_db: Engine) -> Engine:
    with clean_db.begin() as conn:
        conn.execute(text(SEED_SQL))
    return clean_db


@pytest.fixture
def server_url(seeded: Engine) -> Iterator[str]:
    settings = Settings(environment="test", basemap="none", language="zh-CN")
    with serve(make_app(seeded, settings)) as url:
        yield url


COUNT_JS = """
() => {
    const maps = Object.keys(window)
        .filter((k) => k.startsWith("map_"))
        .map((k) => window[k])
        .filter((v) => v instanceof L.Map);
    const counts = {maps: maps.length, polygons: 0, circles: 0, markers: 0};
    for (const map of maps) {
        map.eachLayer((layer) => {
            if (layer instanceof L.CircleMarker) counts.circles += 1;
            else if (layer instanceof L.Polygon) counts.polygons += 1;
            else if (layer instanceof L.Marker) counts.markers += 1;
        });
    }
    counts.svgPaths = document.querySelectorAll(".leaflet-overlay-pane svg path").length;
    counts.markerIcons = document.querySelectorAll(".leaflet-marker-pane .leaflet-marker-icon").length;
    counts.tiles = document.querySelectorAll(".leaflet-tile").length;
    return counts;
}
"""


def test_map_page_draws_everything_from_local_assets(server_url: str, tmp_path: Path) -> None:
    requests: list[str] = []
    console_errors: list[str] = []
    page_errors: list[str] = []
    failed: list[str] = []

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            response = page.goto(f"{server_url}/map", wait_until="networkidle")
            assert response is not None and response.status == 200
            assert page.evaluate("typeof L") != "undefined", "Leaflet did not load (a blank map)"
            try:  # generous: the first Chromium start on a machine builds its font cache
                page.wait_for_function(
                    "document.querySelectorAll('.leaflet-overlay-pane svg path').length"
                    f" >= {N_POLYGONS + N_STATIONS}",
                    timeout=30_000,
                )
            finally:
                counts = page.evaluate(COUNT_JS)
                print("drawn:", counts)

            notice = page.locator(".gg-synthetic")
            assert notice.is_visible()
            assert "合成数据" in notice.inner_text()
            assert page.locator(".gg-legend").is_visible()
            assert page.locator(".leaflet-control-layers").is_visible()
            label = page.get_by_text("和平社区").first
            zoom_to = """(z) => { for (const k of Object.keys(window)) {
                if (k.startsWith("map_") && window[k] instanceof L.Map) {
                    window[k].setZoom(z, {animate: false}); } } }"""
            page.evaluate(zoom_to, 12)  # the whole district: labels would pile up, so they are hidden
            assert not label.is_visible()
            page.evaluate(zoom_to, 15)  # close in: the planner reads names and codes
            assert label.is_visible()
            station_label = page.locator(".gg-station-label", has_text="幸福社区警务室")
            assert not station_label.is_visible()  # station names only from zoom 16
            page.evaluate(zoom_to, 16)
            assert station_label.is_visible()
            page.screenshot(path=str(tmp_path / "map.png"))
        finally:
            browser.close()

    assert counts["maps"] == 1
    assert counts["polygons"] == N_POLYGONS
    assert counts["circles"] == N_STATIONS
    assert counts["markers"] == N_LABELS
    assert counts["svgPaths"] == N_POLYGONS + N_STATIONS
    assert counts["markerIcons"] == N_LABELS
    assert counts["tiles"] == 0  # basemap "none": nothing to fetch, everything still drawn

    remote = [
        u
        for u in requests
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname not in LOCAL_HOSTS
    ]
    assert remote == [], f"the page fetched from outside: {remote}"
    assert any("/static/vendor/leaflet/leaflet.js" in u for u in requests)
    assert failed == [], failed
    assert console_errors == [], console_errors
    assert page_errors == [], page_errors


def test_map_page_in_english_and_cached(server_url: str) -> None:
    import httpx

    first = httpx.get(f"{server_url}/map?lang=en", timeout=30)
    assert first.status_code == 200
    assert "Synthetic demo data" in first.text
    assert "Residential complexes" in first.text
    assert '<html lang="en">' in first.text
    assert "max-age=" in first.headers["cache-control"]
    second = httpx.get(f"{server_url}/map?lang=en", timeout=30)
    assert second.text == first.text  # served from the per-(basemap, language) cache
    zh = httpx.get(f"{server_url}/map", timeout=30)
    assert '<html lang="zh-CN">' in zh.text and "<title>示范区网格化管理总览</title>" in zh.text
    assert zh.text != first.text
