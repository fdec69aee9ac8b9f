"""The patrol map in a real browser: the planned walks drawn in their day colours, visited and unvisited
buildings in their two colours, check-ins as circles, nothing fetched from outside localhost."""

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

from api import pages
from api.errors import add_exception_handlers
from api.routers import patrol as patrol_router
from api.security import create_access_token
from gisgrid.codes import CHINA_TZ
from gisgrid.maps import PATROL_STYLES
from gisgrid.maps.patrol_map import DAY_COLOURS
from gisgrid.patrol import PatrolRules
from layers.accounts import create_user
from layers.db import make_sessionmaker
from layers.patrol import plan_patrol_week, record_checkins
from layers.settings import Settings
from tests.browser.chromium import launch_chromium, serve
from tests.browser.phone import PHONE, check_fits, check_legend
from tests.patrol_seed import CA, G1, WEEK, X0, Y0, seed

pytestmark = pytest.mark.browser

STATIC_DIR = Path(pages.__file__).resolve().parent / "static"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SETTINGS = Settings(environment="test", basemap="none", language="zh-CN",
                    secret_key="browser-test-secret-key-0123456789abcdef")


@pytest.fixture
def world(clean_db: Engine) -> Iterator[dict[str, object]]:
    with Session(clean_db) as s:
        w = seed(s)
        plan_patrol_week(s, WEEK, rules=PatrolRules())
        at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=CHINA_TZ)
        record_checkins(s, w.workers["w1"], [
            {"id": "browser-0001", "at": at.isoformat(), "lon": X0 + 0.0005, "lat": Y0 + 0.0002, "accuracy_m": 5},
            {"id": "browser-0002", "at": (at + dt.timedelta(minutes=2)).isoformat(), "lon": X0 + 0.0005,
             "lat": Y0 + 0.00045, "accuracy_m": 5},
            {"id": "browser-0003", "at": (at + dt.timedelta(minutes=3)).isoformat(), "lon": X0 + 0.05,
             "lat": Y0, "accuracy_m": 5},
        ], rules=PatrolRules(), now=at + dt.timedelta(hours=3))
        create_user(s, username="leader_a", password="correct-horse-battery", role="leader", scope_area_code=CA)
        s.commit()
    yield {"staff_id": w.workers["w1"], "buildings": len(w.buildings[G1])}


@pytest.fixture
def server_url(clean_db: Engine, world: dict[str, object]) -> Iterator[str]:
    app = FastAPI()
    add_exception_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(patrol_router.router)
    app.state.sessionmaker = make_sessionmaker(clean_db)
    app.state.settings = SETTINGS
    with serve(app) as url:
        yield url




DRAWN_JS = """
() => {
    const fills = {}, strokes = {};
    for (const p of document.querySelectorAll(".leaflet-overlay-pane svg path")) {
        const f = (p.getAttribute("fill") || "none").toLowerCase();
        fills[f] = (fills[f] || 0) + 1;
        const s = (p.getAttribute("stroke") || "").toLowerCase();
        if (f === "none") strokes[s] = (strokes[s] || 0) + 1;
    }
    return {fills, strokes};
}
"""


def test_patrol_map_draws_routes_and_both_building_colours(server_url: str, world: dict[str, object],
                                                           tmp_path: Path) -> None:
    token = create_access_token(username="leader_a", role="leader", scope=CA, settings=SETTINGS)
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_extra_http_headers({"Authorization": f"Bearer {token}"})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            url = f"{server_url}/map/patrol?week={WEEK.isoformat()}&staff_id={world['staff_id']}"
            response = page.goto(url, wait_until="networkidle")
            assert response is not None and response.status == 200
            assert page.evaluate("typeof L") != "undefined"
            page.wait_for_function(
                f"document.querySelectorAll('.leaflet-overlay-pane svg path').length >= {world['buildings']}",
                timeout=30_000)
            drawn = page.evaluate(DRAWN_JS)
            legend = page.locator(".gg-legend").inner_text()
            title = page.locator(".gg-title").inner_text()
            page.screenshot(path=str(tmp_path / "patrol.png"))

            phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)  # the worker's own phone
            phone.set_extra_http_headers({"Authorization": f"Bearer {token}"})
            phone.on("pageerror", lambda e: errors.append(str(e)))
            assert phone.goto(url, wait_until="networkidle").status == 200
            phone.wait_for_timeout(100)
            check_fits(phone, PHONE["width"], "patrol map on a phone")
            check_legend(phone, "patrol map")
            assert "leaflet-control-layers-expanded" not in (
                phone.locator(".leaflet-control-layers").first.get_attribute("class") or "")
            phone.screenshot(path=str(tmp_path / "patrol-phone.png"))
        finally:
            browser.close()
    fills, strokes = drawn["fills"], drawn["strokes"]
    assert fills.get(PATROL_STYLES["visited"]["fillColor"]) == 2
    assert fills.get(PATROL_STYLES["unvisited"]["fillColor"]) == world["buildings"] - 2
    assert fills.get(PATROL_STYLES["checkin"]["fillColor"]) == 2  # two plausible check-ins
    assert fills.get(PATROL_STYLES["flagged"]["fillColor"]) == 1  # the jump east
    assert all(strokes.get(colour, 0) >= 1 for colour in DAY_COLOURS[:3]), strokes  # three days' walks
    assert "本周已走访楼栋 (2)" in legend and "网格巡查地图" in title
    remote = [u for u in requests
              if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname not in LOCAL_HOSTS]
    assert remote == [] and errors == [], (remote, errors)


def test_patrol_map_in_english_and_refused_to_others(server_url: str, world: dict[str, object]) -> None:
    import httpx

    token = create_access_token(username="leader_a", role="leader", scope=CA, settings=SETTINGS)
    q = f"week={WEEK.isoformat()}&staff_id={world['staff_id']}"
    res = httpx.get(f"{server_url}/map/patrol?{q}&lang=en", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert res.status_code == 200 and '<html lang="en">' in res.text and "Buildings visited this week" in res.text
    no_login = httpx.get(f"{server_url}/map/patrol?{q}", timeout=30)  # to the login page, not a JSON 401
    assert no_login.status_code == 303 and no_login.headers["location"].startswith("/login?next=%2Fmap%2Fpatrol")
