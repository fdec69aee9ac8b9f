"""The grid map page in a real browser: grids coloured by household class, labels, problems highlighted.

Served by uvicorn from PostGIS; the test checks that Leaflet is defined, counts what is actually drawn
by fill colour, and refuses any request that leaves localhost (a page that needs the internet is blank
on an intranet).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from geoalchemy2 import WKTElement
from playwright.sync_api import sync_playwright
from shapely.geometry import box
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api import pages
from api.errors import add_exception_handlers
from api.routers import grids as grids_router
from gisgrid.maps import BUILDING_STYLE, GRID_STYLES, PROBLEM_STYLES
from layers import grids as lg
from layers.db import make_sessionmaker
from layers.models import AdminArea, Building
from layers.settings import Settings
from tests.browser.chromium import launch_chromium, serve

pytestmark = pytest.mark.browser

STATIC_DIR = Path(pages.__file__).resolve().parent / "static"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
CC = "110199001001"
G1, G2, G3 = CC + "001", CC + "002", CC + "003"
COMMUNITY = box(116.30, 39.90, 116.32, 39.91)
# west grid 200 households (under), middle 400 (in range), east 600 (over); a 40 m strip in the east
# is in no grid (a gap)
GRIDS = {G1: box(116.30, 39.90, 116.306, 39.91), G2: box(116.306, 39.90, 116.313, 39.91),
         G3: box(116.313, 39.90, 116.3195, 39.91)}
BUILDINGS = [116.302, 116.308, 116.310, 116.314, 116.316, 116.318]  # 200 households each
N_PROBLEMS = 3  # G1 under, G3 over, the gap


def _wkt(g) -> str:
    return f"MULTIPOLYGON((({', '.join(f'{x} {y}' for x, y in g.exterior.coords)})))"


@pytest.fixture
def seeded(clean_db: Engine) -> Engine:
    with Session(clean_db) as s:
        area = AdminArea(code=CC, level="community", name="和平社区", source="synthetic",
                         geom=WKTElement(_wkt(COMMUNITY), srid=4326))
        s.add(area)
        s.flush()
        for x in BUILDINGS:
            s.add(Building(households=200, community_id=area.id,
                           geom=WKTElement(_wkt(box(x, 39.905, x + 0.0003, 39.9053)), srid=4326),
                           entrance=WKTElement(f"POINT({x + 0.0001} 39.9051)", srid=4326)))
        s.flush()
        plan = gpd.GeoDataFrame({"code": list(GRIDS)}, geometry=list(GRIDS.values()), crs=4326)
        lg.publish_plan(s, CC, plan, user_id=None)
        s.commit()
    return clean_db


@pytest.fixture
def server_url(seeded: Engine) -> Iterator[str]:
    app = FastAPI()
    add_exception_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(grids_router.router)
    app.state.sessionmaker = make_sessionmaker(seeded)
    app.state.settings = Settings(environment="test", basemap="none", language="zh-CN")
    with serve(app) as url:
        yield url


FILLS_JS = """
() => {
    const fills = {};
    for (const p of document.querySelectorAll(".leaflet-overlay-pane svg path")) {
        const f = (p.getAttribute("fill") || "none").toLowerCase();
        fills[f] = (fills[f] || 0) + 1;
    }
    const maps = Object.keys(window).filter((k) => k.startsWith("map_")).map((k) => window[k])
        .filter((v) => v instanceof L.Map);
    let markers = 0;
    for (const m of maps) m.eachLayer((l) => { if (l instanceof L.Marker) markers += 1; });
    return {fills, maps: maps.length, markers, tiles: document.querySelectorAll(".leaflet-tile").length};
}
"""


def test_grid_map_draws_classes_labels_and_problems(server_url: str, tmp_path: Path) -> None:
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: errors.append(f"failed {r.url} {r.failure}"))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            response = page.goto(f"{server_url}/map/grids?community={CC}", wait_until="networkidle")
            assert response is not None and response.status == 200
            assert page.evaluate("typeof L") != "undefined", "Leaflet did not load (a blank map)"
            expected_paths = len(GRIDS) + len(BUILDINGS) + N_PROBLEMS
            page.wait_for_function(
                f"document.querySelectorAll('.leaflet-overlay-pane svg path').length >= {expected_paths}",
                timeout=30_000,
            )
            drawn = page.evaluate(FILLS_JS)
            print("drawn:", drawn)

            for code, households in ((G1, 200), (G2, 400), (G3, 600)):
                label = page.locator(".gg-grid-label", has_text=code)
                assert label.is_visible(), code
                assert f"{households} 户" in label.inner_text()
            assert page.locator(".gg-grid-label.gg-under").count() == 1
            assert page.locator(".gg-grid-label.gg-over").count() == 1
            assert page.locator(".gg-area-label", has_text="和平社区").is_visible()
            legend = page.locator(".gg-legend")
            assert legend.is_visible()
            assert "少于300户 (1)" in legend.inner_text() and "校验问题" in legend.inner_text()
            assert "3个网格，1个户数达标，3个问题" in page.locator(".gg-title").inner_text()
            page.screenshot(path=str(tmp_path / "grids.png"))
        finally:
            browser.close()

    fills = drawn["fills"]
    assert fills.get(GRID_STYLES["under"]["fillColor"]) == 1
    assert fills.get(GRID_STYLES["in_range"]["fillColor"]) == 1
    assert fills.get(GRID_STYLES["over"]["fillColor"]) == 1
    assert fills.get(PROBLEM_STYLES["error"]["fillColor"]) == N_PROBLEMS
    assert fills.get(BUILDING_STYLE["fillColor"]) == len(BUILDINGS)
    assert fills.get("none") == 1  # the community's outline
    # a label per grid and the community's name
    assert drawn["maps"] == 1 and drawn["markers"] == len(GRIDS) + 1 and drawn["tiles"] == 0

    remote = [u for u in requests
              if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname not in LOCAL_HOSTS]
    assert remote == [], f"the page fetched from outside: {remote}"
    assert any("/static/vendor/leaflet/leaflet.js" in u for u in requests)
    assert errors == [], errors


def test_grid_map_in_english_without_a_community(server_url: str) -> None:
    import httpx

    res = httpx.get(f"{server_url}/map/grids?lang=en", timeout=30)
    assert res.status_code == 200 and '<html lang="en">' in res.text
    assert "Households per grid" in res.text and "households out of range" in res.text
    assert res.headers["cache-control"] == "no-cache"
    bad = httpx.get(f"{server_url}/map/grids?community=123", timeout=30)
    assert bad.status_code == 422
