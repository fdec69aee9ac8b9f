"""``gisgrid map render overview|grids OUT.html`` opened from disk (``file://``) in a real Chromium: the map
draws with every asset embedded, and the page requests nothing but itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import pytest
from geoalchemy2 import WKTElement
from playwright.sync_api import sync_playwright
from shapely.geometry import box
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from layers import grids as lg
from layers.models import AdminArea, Building
from layers.settings import get_settings
from tests.browser.chromium import launch_chromium

pytestmark = pytest.mark.browser

CC = "110199001001"
COMMUNITY = box(116.30, 39.90, 116.32, 39.91)
# a strip 116.318–116.32 is in no grid: a gap, the one (error) problem of the map
GRIDS = {CC + "001": box(116.30, 39.90, 116.31, 39.91), CC + "002": box(116.31, 39.90, 116.318, 39.91)}


def _wkt(g: Any) -> str:
    return f"MULTIPOLYGON((({', '.join(f'{x} {y}' for x, y in g.exterior.coords)})))"


@pytest.fixture
def cli(clean_db: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from layers.cli import app

    with Session(clean_db) as s:
        area = AdminArea(code=CC, level="community", name="和平社区", source="synthetic",
                         geom=WKTElement(_wkt(COMMUNITY), srid=4326))
        s.add(area)
        s.flush()
        for x in (116.302, 116.305, 116.312, 116.315):
            s.add(Building(households=200, community_id=area.id,
                           geom=WKTElement(_wkt(box(x, 39.905, x + 0.0003, 39.9053)), srid=4326),
                           entrance=WKTElement(f"POINT({x + 0.0001} 39.9051)", srid=4326)))
        s.flush()
        plan = gpd.GeoDataFrame({"code": list(GRIDS)}, geometry=list(GRIDS.values()), crs=4326)
        lg.publish_plan(s, CC, plan, user_id=None)
        s.commit()
    monkeypatch.setenv("GISGRID_DATABASE_URL", db_url)
    monkeypatch.setenv("GISGRID_BASEMAP", "none")
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


def _open_from_disk(out: Path, drawn: int) -> dict[str, Any]:
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: errors.append(f"failed {r.url} {r.failure}"))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(out.as_uri(), wait_until="networkidle")
            assert page.evaluate("typeof L") != "undefined", "Leaflet did not load: the file is blank"
            page.wait_for_function(
                f"document.querySelectorAll('.leaflet-overlay-pane svg path').length >= {drawn}", timeout=30_000
            )
            seen = {
                "paths": page.locator(".leaflet-overlay-pane svg path").count(),
                "title": page.locator(".gg-title").inner_text(),
                "legend_visible": page.locator(".gg-legend").is_visible(),
                # the embedded Font Awesome / Bootstrap styles apply: a Leaflet control is styled
                "zoom_width": page.evaluate("document.querySelector('.leaflet-control-zoom-in').offsetWidth"),
            }
        finally:
            browser.close()
    outside = [u for u in requests if urlsplit(u).scheme not in ("data", "blob")]
    assert outside == [out.as_uri()], f"the file requested more than itself: {outside}"
    assert errors == [], errors
    return seen


def test_a_rendered_grid_map_opens_from_disk(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "grids.html"
    res = cli("map", "render", "grids", str(out), "--community", CC, "--json")
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert 'src="/static/' not in page and 'href="/static/' not in page
    seen = _open_from_disk(out, drawn=len(GRIDS) + 4)
    assert seen["paths"] >= len(GRIDS) + 4 and "网格划分图" in seen["title"] and seen["legend_visible"]
    assert seen["zoom_width"] > 0


def test_a_rendered_overview_opens_from_disk(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "overview.html"
    res = cli("map", "render", "overview", str(out))
    assert res.exit_code == 0, res.output
    seen = _open_from_disk(out, drawn=1)
    assert seen["paths"] >= 1


def test_static_url_still_links_the_assets(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "linked.html"
    res = cli("map", "render", "grids", str(out), "--community", CC, "--static-url", "/assets")
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert '<script src="/assets/vendor/leaflet/leaflet.js">' in page


def test_a_problem_is_purple_and_its_hover_is_chinese(cli: Any, tmp_path: Path) -> None:
    from gisgrid.maps import PROBLEM_STYLES

    out = tmp_path / "grids.html"
    assert cli("map", "render", "grids", str(out), "--community", CC).exit_code == 0
    purple = PROBLEM_STYLES["error"]["color"]
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(out.as_uri(), wait_until="networkidle")
            gap = page.locator(f'.leaflet-overlay-pane svg path[stroke="{purple}"]')
            gap.first.wait_for(timeout=30_000)
            assert gap.count() == 1
            box_ = gap.first.bounding_box()
            assert box_ is not None
            tooltip = page.locator(".leaflet-tooltip")
            # along the strip, from the bottom up: the first point no panel covers shows the tooltip
            for share in (0.9, 0.75, 0.6, 0.45, 0.3, 0.15):
                x = (box_["x"] + min(box_["x"] + box_["width"], 1100)) / 2  # the visible part of the strip
                page.mouse.move(x, box_["y"] + box_["height"] * share)
                page.wait_for_timeout(300)
                if tooltip.count():
                    break
            page.screenshot(path=str(tmp_path / "hover.png"))
            tooltip.first.wait_for(timeout=10_000)
            text = tooltip.first.inner_text()
        finally:
            browser.close()
    assert "未覆盖空隙" in text and "平方米不属于任何网格" in text, text
    assert "lie in no grid" not in text
