"""Every map page on a phone (390 × 844 CSS px) in a real headless Chromium, and the two main pages on a desk.

On a phone: nothing wider than the screen (no horizontal scroll, no control cut off at either edge),
the legend closed behind a button that opens it on a tap, the layer switcher closed, no name label on a
station dot or on another label (at the opening zoom and at community zoom), and the communities'
names shown. A station is put exactly where a community's name goes, so the label layout has to move
that name off it. With ``GISGRID_SCREENSHOT_DIR`` set, the overview and the grid map are saved there
at phone and desk size (the pictures in docs/img/).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api import pages
from api.errors import add_exception_handlers
from api.routers import complexes, coverage_maps, kpis
from api.routers import grids as grids_router
from api.security import create_access_token
from gisgrid.synth import generate_district
from layers import grids as lg
from layers.accounts import create_user
from layers.db import make_sessionmaker
from layers.demo import load_district
from layers.settings import Settings
from tests.browser.chromium import launch_chromium, serve
from tests.browser.phone import CENTRE_JS, LAYOUT_JS, PHONE, ZOOM_JS, check_fits, check_legend

pytestmark = pytest.mark.browser

STATIC_DIR = Path(pages.__file__).resolve().parent / "static"
SECRET = "test-secret-key-for-the-phone-layout-test-0123"
TODAY = dt.date(2026, 11, 23)
DESK = {"width": 1280, "height": 800}
CLASH = "压名站"  # the station on a community's label point
Server = tuple[str, str, list[str], tuple[float, float]]  # base URL, community code, names, label point


def make_app(engine: Engine, settings: Settings) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (pages.router, grids_router.router, coverage_maps.router, complexes.router, kpis.router):
        app.include_router(router)
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.settings = settings
    return app


@pytest.fixture
def map_settings() -> Settings:
    return Settings(environment="test", basemap="none", language="zh-CN", secret_key=SECRET)


@pytest.fixture
def seeded(clean_db: Engine) -> tuple[Engine, str, list[str], tuple[float, float]]:
    """The synthetic district, an admin, two grids in its first community and a station on that
    community's label point; the community's code, every community name and its label point (lon, lat)."""
    load_district(clean_db, generate_district(seed=3, households=8_000, today=TODAY))
    with Session(clean_db) as session:
        create_user(session, username="admin", password="correct-horse-battery", role="admin")
        code, wkb = session.execute(text(
            "SELECT code, ST_AsBinary(geom) FROM admin_area WHERE level = 'community' ORDER BY code LIMIT 1"
        )).one()
        community = shapely.from_wkb(bytes(wkb))
        minx, miny, maxx, maxy = community.bounds
        mid = (minx + maxx) / 2
        halves = [community.intersection(shapely.box(minx, miny, mid, maxy)),
                  community.intersection(shapely.box(mid, miny, maxx, maxy))]
        plan = gpd.GeoDataFrame({"code": [code + "001", code + "002"]}, geometry=halves, crs=4326)
        lg.publish_plan(session, code, plan, user_id=None)
        session.execute(text(
            "INSERT INTO station (name, kind, status, opened_on, service_radius_m, source, geom) "
            "SELECT :name, 'service_station', 'open', '2020-01-01', 500, 'synthetic', ST_PointOnSurface(geom) "
            "FROM admin_area WHERE code = :code"
        ), {"name": CLASH, "code": code})
        names = list(session.execute(text("SELECT name FROM admin_area WHERE level = 'community'")).scalars())
        session.commit()
    point = community.representative_point()
    return clean_db, code, names, (point.x, point.y)


@pytest.fixture
def server(seeded: tuple[Engine, str, list[str], tuple[float, float]], map_settings: Settings) -> Iterator[Server]:
    engine, code, names, centre = seeded
    with serve(make_app(engine, map_settings)) as url:
        yield url, code, names, centre


def open_page(page: Any, url: str) -> None:
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200, url
    assert page.evaluate("typeof L") != "undefined", "Leaflet did not load"
    page.wait_for_timeout(100)  # the label layout runs once the page's script has finished


def check_phone_page(page: Any, url: str, names: list[str], centre: tuple[float, float]) -> None:
    open_page(page, url)
    assert page.locator('meta[name="viewport"]').count() == 1
    check_fits(page, PHONE["width"], f"{url} opening view")

    check_legend(page, url)

    layers = page.locator(".leaflet-control-layers")
    if layers.count():
        assert "leaflet-control-layers-expanded" not in (layers.first.get_attribute("class") or "")

    page.evaluate(CENTRE_JS, [centre[1], centre[0], 15])  # community zoom, on the first community
    page.wait_for_timeout(50)
    state = check_fits(page, PHONE["width"], f"{url} community zoom")
    shown = " ".join(state["labels"])
    assert any(name in shown for name in names), f"{url}: no community name at community zoom: {shown}"
    page.evaluate(ZOOM_JS, 17)
    check_fits(page, PHONE["width"], f"{url} street zoom")


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("GISGRID_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name))


def test_every_map_page_fits_a_phone(server: Server, map_settings: Settings) -> None:
    url, code, names, centre = server
    token = create_access_token(username="admin", role="admin", scope=None, settings=map_settings)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            check_phone_page(page, f"{url}/map", names, centre)
            # the station on the community's label point: the name was moved off it, not hidden
            page.evaluate(CENTRE_JS, [centre[1], centre[0], 15])
            state = page.evaluate(LAYOUT_JS)
            assert any(n in " ".join(state["labels"]) for n in names)
            page.evaluate(ZOOM_JS, 16)
            assert any(CLASH in t for t in page.evaluate(LAYOUT_JS)["labels"]), "station names from zoom 16"
            open_page(page, f"{url}/map")
            shot(page, "overview-phone.png")

            check_phone_page(page, f"{url}/map/grids?community={code}", names, centre)
            open_page(page, f"{url}/map/grids?community={code}")
            shot(page, "grid-map-phone.png")

            page.set_extra_http_headers({"Authorization": f"Bearer {token}"})
            for path in ("/map/coverage?kind=service_station", "/map/rollout?kind=service_station",
                         "/map/complexes", "/map/incidents"):
                check_phone_page(page, url + path, names, centre)
            assert errors == [], errors
        finally:
            browser.close()


def test_the_overview_and_grid_map_on_a_desk(server: Server) -> None:
    url, code, _names, _centre = server
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport=DESK)
            pairs = (("/map", "overview-desktop.png"), (f"/map/grids?community={code}", "grid-map-desktop.png"))
            for path, name in pairs:
                open_page(page, url + path)
                legend = page.locator(".gg-legend").first
                assert "gg-collapsed" not in (legend.get_attribute("class") or "")  # open on a desk
                assert legend.locator(".gg-legend-body").is_visible()
                assert "leaflet-control-layers-expanded" in (
                    page.locator(".leaflet-control-layers").first.get_attribute("class") or "")
                check_fits(page, DESK["width"], f"{path} desk")
                shot(page, name)
                legend.locator(".gg-legend-toggle").click()  # a desk user may close it too
                assert not legend.locator(".gg-legend-body").is_visible()
        finally:
            browser.close()
