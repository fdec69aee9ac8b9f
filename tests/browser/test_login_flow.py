"""Logging in through the form in a real browser: the patrol map is reached with the session cookie (which
page scripts cannot read), the API answers the page's own fetches, writes without the CSRF header are
refused, logging out sends the browser back to the login page — and nothing leaves 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.main import create_app
from gisgrid.codes import CHINA_TZ
from gisgrid.patrol import PatrolRules
from layers.accounts import create_user
from layers.patrol import plan_patrol_week, record_checkins
from layers.settings import Settings
from tests.browser.chromium import launch_chromium, serve
from tests.patrol_seed import CA, G1, WEEK, X0, Y0, seed

pytestmark = pytest.mark.browser

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
PASSWORD = "correct-horse-battery"


@pytest.fixture
def world(clean_db: Engine) -> Iterator[dict[str, object]]:
    with Session(clean_db) as s:
        w = seed(s)
        plan_patrol_week(s, WEEK, rules=PatrolRules())
        at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=CHINA_TZ)
        record_checkins(s, w.workers["w1"], [
            {"id": "login-0001", "at": at.isoformat(), "lon": X0 + 0.0005, "lat": Y0 + 0.0002, "accuracy_m": 5},
        ], rules=PatrolRules(), now=at + dt.timedelta(hours=3))
        create_user(s, username="leader_a", password=PASSWORD, role="leader", scope_area_code=CA)
        s.commit()
    yield {"staff_id": w.workers["w1"], "buildings": len(w.buildings[G1])}


@pytest.fixture
def server_url(clean_db: Engine, db_url: str, world: dict[str, object]) -> Iterator[str]:
    settings = Settings(environment="test", database_url=db_url, basemap="none", language="zh-CN",
                        secret_key="browser-login-secret-key-0123456789abcdef", db_pool_size=2)
    with serve(create_app(settings)) as url:
        yield url


def test_log_in_reach_the_patrol_map_and_log_out(server_url: str, world: dict[str, object],
                                                   tmp_path: Path) -> None:
    requests: list[str] = []
    errors: list[str] = []
    path = f"/map/patrol?week={WEEK.isoformat()}&staff_id={world['staff_id']}"
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))

            # no session: the page sends the browser to the login form, which remembers where it was going
            page.goto(server_url + path, wait_until="load")
            assert urlsplit(page.url).path == "/login"
            assert page.locator("h1").inner_text() == "网格化管理 · 登录"

            page.fill("#username", "leader_a")
            page.fill("#password", "wrong-password")
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            assert "用户名或密码错误" in page.locator(".msg").inner_text()

            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"**{path}")
            page.wait_for_function(
                f"document.querySelectorAll('.leaflet-overlay-pane svg path').length >= {world['buildings']}",
                timeout=30_000)
            assert "网格巡查地图" in page.locator(".gg-title").inner_text()
            page.screenshot(path=str(tmp_path / "patrol-after-login.png"))

            # page scripts cannot read the session, but can read the CSRF token and use the API
            cookies = page.evaluate("document.cookie")
            assert "gisgrid_session" not in cookies and "gisgrid_csrf=" in cookies
            me = page.evaluate("fetch('/api/v1/auth/me').then(r => r.json())")
            assert me["username"] == "leader_a"
            refused = page.evaluate(
                "fetch('/api/v1/patrol/checkins', {method: 'POST', headers: {'Content-Type': 'application/json'},"
                " body: '{}'}).then(async r => [r.status, await r.json()])")
            assert refused[0] == 403 and refused[1]["error"]["field"] == "X-CSRF-Token"

            page.click("#gg-session button")
            page.wait_for_url("**/login?logged_out=1**")
            assert "已退出登录" in page.locator(".msg").inner_text()
            page.goto(server_url + path, wait_until="load")
            assert urlsplit(page.url).path == "/login"
        finally:
            browser.close()
    remote = [u for u in requests
              if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname not in LOCAL_HOSTS]
    assert remote == [] and errors == [], (remote, errors)
