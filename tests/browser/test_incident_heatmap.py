"""The incident heat map page in a real browser: served by uvicorn, read from PostGIS, drawn by leaflet.heat.

A page that "loads" with nothing drawn is the failure to guard against (offline, a folium page that
links a CDN answers 200 with ``L`` undefined and an empty map): the test checks that Leaflet and the
heat plugin are defined, that the heat layer's canvas actually holds coloured pixels, and refuses any
request that leaves localhost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import add_exception_handlers
from api.routers import kpis
from api.security import create_access_token
from gisgrid.synth import generate_district
from layers.accounts import create_user
from layers.db import make_sessionmaker
from layers.demo import load_district
from layers.settings import Settings
from tests.browser.chromium import launch_chromium, serve

pytestmark = pytest.mark.browser

STATIC_DIR = Path(kpis.__file__).resolve().parents[1] / "static"
SECRET = "test-secret-key-for-the-heatmap-test-0123456789"
TODAY = dt.date(2026, 11, 23)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def make_app(engine: Engine, settings: Settings) -> FastAPI:
    """The smallest app that serves the page the way api/main.py does: static mount + the KPI router."""
    app = FastAPI()
    add_exception_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(kpis.router)
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.settings = settings
    return app


@pytest.fixture
def heat_settings() -> Settings:
    return Settings(environment="test", basemap="none", language="zh-CN", secret_key=SECRET)


@pytest.fixture
def seeded(clean_db: Engine) -> Engine:
    load_district(clean_db, generate_district(seed=3, households=8_000, today=TODAY))
    with Session(clean_db) as session:
        create_user(session, username="leader", password="correct-horse-battery", role="leader",
                    scope_area_code="370403000000")
        session.commit()
    return clean_db


@pytest.fixture
def server_url(seeded: Engine, heat_settings: Settings) -> Iterator[str]:
    with serve(make_app(seeded, heat_settings)) as url:
        yield url


HEAT_PIXELS_JS = """
() => {
    const canvases = Array.from(document.querySelectorAll("canvas.leaflet-heatmap-layer"));
    let coloured = 0;
    for (const c of canvases) {
        if (!c.width || !c.height) continue;
        const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) coloured += 1;
    }
    return {canvases: canvases.length, coloured: coloured};
}
"""


def test_heatmap_draws_from_local_assets(server_url: str, heat_settings: Settings, tmp_path: Path) -> None:
    token = create_access_token(username="leader", role="leader", scope="370403000000", settings=heat_settings)
    requests: list[str] = []
    console_errors: list[str] = []
    page_errors: list[str] = []
    failed: list[str] = []
    first, last = (TODAY - dt.timedelta(days=365)).isoformat(), (TODAY - dt.timedelta(days=1)).isoformat()

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            # the page needs a login like the API: a front end sends the bearer token
            page.set_extra_http_headers({"Authorization": f"Bearer {token}"})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            response = page.goto(f"{server_url}/map/incidents?from={first}&to={last}", wait_until="networkidle")
            assert response is not None and response.status == 200
            assert page.evaluate("typeof L") != "undefined", "Leaflet did not load (a blank map)"
            assert page.evaluate("typeof L.heatLayer") == "function", "leaflet.heat did not load"
            try:  # generous: the first Chromium start on a machine builds its font cache
                page.wait_for_function(
                    f"({HEAT_PIXELS_JS})().coloured > 1000", timeout=30_000
                )
            finally:
                pixels = page.evaluate(HEAT_PIXELS_JS)
                print("heat:", pixels)
            assert pixels["canvases"] == 1  # the "all" layer; the per-class layers start hidden
            assert page.locator(".gg-synthetic").is_visible()
            legend = page.locator(".gg-legend")
            assert legend.is_visible() and "事件密度" in legend.inner_text()
            assert page.locator(".gg-heat-class").count() >= 5  # counts per category class
            info = page.locator(".gg-heat-info").inner_text()
            assert "全部类别" in info and f"{first} – {last}" in info
            page.screenshot(path=str(tmp_path / "heatmap.png"))

            # one class only: fewer cases, still drawn
            page.goto(f"{server_url}/map/incidents?category=06&from={first}&to={last}&lang=en",
                      wait_until="networkidle")
            page.wait_for_function(f"({HEAT_PIXELS_JS})().coloured > 100", timeout=30_000)
            assert "06 市容环境" in page.locator(".gg-heat-info").inner_text()
            assert page.locator(".gg-heat-class").count() == 1
        finally:
            browser.close()

    remote = [
        u
        for u in requests
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname not in LOCAL_HOSTS
    ]
    assert remote == [], f"the page fetched from outside: {remote}"
    assert any("/static/vendor/leaflet.heat/leaflet-heat.js" in u for u in requests)
    assert failed == [], failed
    assert console_errors == [], console_errors
    assert page_errors == [], page_errors
