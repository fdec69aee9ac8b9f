"""The coverage and rollout maps in a real browser: served by uvicorn from PostGIS, and rendered to a file
opened from disk. The coverage map must draw its isochrones (polygons with an outline on the map), and
the rollout map's time slider must move — the stations shown change when it advances. No request may
leave 127.0.0.1 (a file opened from disk requests nothing at all)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import add_exception_handlers
from api.routers import coverage_maps
from api.security import create_access_token
from gisgrid.maps import render_html
from gisgrid.maps.rollout import build_rollout_map
from gisgrid.maps.standalone import embed_assets
from gisgrid.synth import generate_district
from layers.accounts import create_user
from layers.coverage_maps import rollout_layers
from layers.db import make_sessionmaker
from layers.demo import load_district
from layers.settings import Settings
from tests.browser.chromium import launch_chromium, serve

pytestmark = pytest.mark.browser

STATIC_DIR = Path(coverage_maps.__file__).resolve().parents[1] / "static"
SECRET = "test-secret-key-for-the-coverage-map-test-0123"
TODAY = dt.date(2026, 11, 23)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
KIND = "red_heart_station"


def make_app(engine: Engine, settings: Settings) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(coverage_maps.router)
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.settings = settings
    return app


@pytest.fixture
def map_settings() -> Settings:
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
def server_url(seeded: Engine, map_settings: Settings) -> Iterator[str]:
    with serve(make_app(seeded, map_settings)) as url:
        yield url


class Guard:
    """Every request, failure, console error and page error of a page, for the checks at the end."""

    def __init__(self, page: Any) -> None:
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def check(self, *, from_disk: bool = False) -> None:
        if from_disk:
            outside = [u for u in self.requests if urlsplit(u).scheme not in ("file", "data", "blob")]
        else:
            outside = [u for u in self.requests if urlsplit(u).scheme not in ("data", "blob")
                       and urlsplit(u).hostname not in LOCAL_HOSTS]
        assert outside == [], f"requests left the machine: {outside}"
        assert self.failed == [], self.failed
        assert self.errors == [], self.errors


# a drawn polygon: an SVG path with a real outline, not an empty "M0 0" placeholder
POLYGONS_JS = """
(cls) => Array.from(document.querySelectorAll("path." + cls)).filter(p => {
    const box = p.getBBox();
    return (p.getAttribute("d") || "").length > 20 && box.width > 2 && box.height > 2;
}).length
"""


def advance_until_changed(page: Any) -> tuple[str, int, str, int]:
    """Step the slider forward until the stations shown change; the months and counts before and after."""
    month0 = page.locator(".gg-month").inner_text()
    count0 = page.locator("path.gg-rollout-station").count()
    for _ in range(24):
        page.locator(".timecontrol-forward").click()
        page.wait_for_timeout(250)
        count = page.locator("path.gg-rollout-station").count()
        if count != count0:
            return month0, count0, page.locator(".gg-month").inner_text(), count
    return month0, count0, page.locator(".gg-month").inner_text(), count0


def check_slider(page: Any) -> None:
    page.wait_for_function("document.querySelector('.gg-month') && document.querySelector('.gg-month').textContent")
    assert page.evaluate("typeof L.timeDimension") == "function", "Leaflet.TimeDimension did not load"
    assert page.locator(".timecontrol-forward").is_visible()
    month0, count0, month1, count1 = advance_until_changed(page)
    print("slider:", month0, count0, "→", month1, count1)
    assert month1 > month0, "the slider did not move to a later month"
    assert count1 != count0, "the stations shown did not change as the slider advanced"
    assert page.evaluate(POLYGONS_JS, "gg-rollout-area") >= 1  # service areas move with their stations


def test_coverage_map_draws_isochrones_and_the_slider_moves(server_url: str, map_settings: Settings,
                                                             tmp_path: Path) -> None:
    token = create_access_token(username="leader", role="leader", scope="370403000000", settings=map_settings)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_extra_http_headers({"Authorization": f"Bearer {token}"})
            guard = Guard(page)
            response = page.goto(f"{server_url}/map/coverage?kind=service_station&suggest=2",
                                 wait_until="networkidle")
            assert response is not None and response.status == 200
            assert page.evaluate("typeof L") != "undefined", "Leaflet did not load (a blank map)"
            try:  # generous: the first Chromium start on a machine builds its font cache
                page.wait_for_function(f"({POLYGONS_JS})('gg-isochrone') > 0", timeout=30_000)
            finally:
                page.screenshot(path=str(tmp_path / "coverage.png"))
            stations = page.locator("path.gg-station").count()
            assert stations > 0
            assert page.evaluate(POLYGONS_JS, "gg-isochrone") == stations  # one service area per open station
            assert page.locator(".gg-suggestion").count() == 2
            assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
            title = page.locator(".gg-title").inner_text()
            assert "党群服务站步行覆盖" in title and "步行500米以内" in title
            assert page.locator(".gg-uncovered-list tr").count() > 1

            page.goto(f"{server_url}/map/rollout?kind={KIND}", wait_until="networkidle")
            check_slider(page)
            page.screenshot(path=str(tmp_path / "rollout.png"))
            guard.check()
            assert any("/static/vendor/leaflet.timedimension/" in u for u in guard.requests)
            assert any("/static/vendor/moment/moment.min.js" in u for u in guard.requests)
        finally:
            browser.close()


def test_a_rendered_rollout_file_works_from_disk(seeded: Engine, tmp_path: Path) -> None:
    with Session(seeded) as session:
        layers = rollout_layers(session, kind=KIND, until=TODAY)
    synthetic = layers.pop("synthetic")
    out = tmp_path / "rollout.html"
    out.write_text(embed_assets(render_html(build_rollout_map(**layers, synthetic=synthetic, language="en")),
                                STATIC_DIR), encoding="utf-8")
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            guard = Guard(page)
            page.goto(out.as_uri(), wait_until="networkidle")
            assert page.evaluate("typeof L") != "undefined"
            check_slider(page)
            # the slider's buttons are drawn with the embedded Font Awesome, not a CDN's glyphicons
            family = page.evaluate(
                "getComputedStyle(document.querySelector('.timecontrol-play'), '::before').fontFamily")
            assert "Font Awesome 6 Free" in family
            guard.check(from_disk=True)
            assert guard.requests == [out.as_uri()]
        finally:
            browser.close()
