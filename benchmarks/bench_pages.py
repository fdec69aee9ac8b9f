"""Our served map pages in real headless Chromium, against the folium page embedding the same data, same run.

The district (the demo's 60,000 households and, unless ``--quick``, 1,000,000) is generated, loaded into the
bench database and its grids planned and published; the app (``api.main.create_app``) is served by uvicorn
in a thread and a browser logs in through ``/login`` as an admin. Each page is then opened in a fresh
browser context (empty cache, the session cookie only) — twice: ``view="first"`` is the server's first view
of it (anything a page computes and keeps on a first view is paid there), ``"again"`` the next — and measured
through the DevTools protocol:

* **transferred** — the sum of ``Network.loadingFinished.encodedDataLength`` (bytes as sent: compressed,
  headers included) over every request of the page until it is drawn; **decoded** — the bodies' sizes;
* **requests** — the count; **server_ms** — the page's own answer (request sent to first byte);
  **load_ms** — the load event; **drawn_ms** — since navigation start, when the
  number of drawn overlay shapes (``.leaflet-overlay-pane path`` and markers) last changed before staying
  still for a second (so data fetched after ``load`` counts);
* **heap_mb** — ``Runtime.getHeapUsage`` after a forced garbage collection, once drawn;
* **pan** — one 300 × 150 px mouse drag of the map: the drag's time to the next painted frame, and the longest
  gap between animation frames during it (``worst_frame_ms``; 16.7 ms is one 60 Hz frame).

Peer: a folium page (``folium.GeoJson``) embedding every building and every published grid of the same
district, as read from PostGIS, with the same vendored Leaflet served locally (no CDN) by uvicorn with gzip.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import case, run_in_subprocess

SIZES = (60_000, 1_000_000)
USERNAME, PASSWORD = "bench_admin", "bench-pages-password-0123"
SECRET = "bench-pages-secret-key-0123456789abcdef0123"
VIEWPORT = {"width": 1280, "height": 800}
PAGE_TIMEOUT_MS = 180_000

# resolves with when the count of drawn shapes last changed, once it has stayed still for ``quiet`` ms
DRAWN_JS = """async (quiet) => {
  const count = () => document.querySelectorAll(
      '.leaflet-overlay-pane path, .leaflet-marker-pane > *, .leaflet-overlay-pane canvas').length;
  let last = count(), changedAt = performance.now();
  const limit = performance.now() + 110000;
  while ((performance.now() - changedAt < quiet || last === 0) && performance.now() < limit) {
    await new Promise(r => requestAnimationFrame(r));
    const c = count();
    if (c !== last) { last = c; changedAt = performance.now(); }
  }
  return {shapes: last, drawn_ms: changedAt};
}"""

FRAMES_START_JS = """() => {
  window.__ggFrames = []; window.__ggFramesOn = true;
  const tick = (t) => { window.__ggFrames.push(t); if (window.__ggFramesOn) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
FRAMES_STOP_JS = """() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => {
  window.__ggFramesOn = false;
  const f = window.__ggFrames; let worst = 0;
  for (let i = 1; i < f.length; i++) worst = Math.max(worst, f[i] - f[i - 1]);
  r({frames: f.length, worst_frame_ms: worst});
})))"""


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _prepare(url: str, households: int) -> dict[str, Any]:
    """Generate and load the district, plan and publish its grids, add the admin; the names the pages need."""
    from sqlalchemy import text

    from gisgrid.errors import GisgridError
    from gisgrid.synth import generate_district
    from layers.accounts import create_user
    from layers.db import make_engine, make_sessionmaker, transaction
    from layers.demo import load_district
    from layers.grids import communities_with_buildings, plan_communities

    engine = make_engine(url)
    t0 = time.perf_counter()
    load_district(engine, generate_district(seed=7, households=households))
    factory = make_sessionmaker(engine)
    with factory() as s:
        codes = communities_with_buildings(s)
    unplanned: list[str] = []
    for code in codes:  # one transaction each: a community whose plan cannot be published is counted, not fatal
        try:
            with transaction(factory) as s:
                plan_communities(s, [code], publish=True)
        except GisgridError as exc:
            unplanned.append(f"{code}: {str(exc)[:120]}")
    with transaction(factory) as s:
        s.execute(text("DELETE FROM app_user WHERE username = :u"), {"u": USERNAME})
        create_user(s, username=USERNAME, password=PASSWORD, role="admin")
    prepare_s = time.perf_counter() - t0
    with engine.connect() as c:
        community = c.execute(text(
            "SELECT a.code FROM admin_area a JOIN grid g ON g.community_id = a.id "
            "WHERE a.level = 'community' GROUP BY a.code ORDER BY count(*) DESC, a.code LIMIT 1")).scalar_one()
        buildings = c.execute(text("SELECT count(*) FROM building")).scalar_one()
        grids = c.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NULL")).scalar_one()
    engine.dispose()
    return {"community": community, "buildings": buildings, "grids": grids, "prepare_s": round(prepare_s, 1),
            "communities": len(codes), "unplanned": unplanned}


def _peer_html(url: str, out: Path) -> dict[str, Any]:
    """The folium page of the same district: every building and current grid embedded as GeoJSON."""
    import folium
    import geopandas as gpd

    from gisgrid.maps.assets import use_local_assets
    from layers.db import make_engine

    engine = make_engine(url)
    with engine.connect() as c:
        buildings = gpd.read_postgis(
            "SELECT id, name, households, grid_code, geom FROM building ORDER BY id", c, geom_col="geom")
        grids = gpd.read_postgis(
            "SELECT code, name, households, geom FROM grid WHERE valid_to IS NULL ORDER BY code", c,
            geom_col="geom")
    engine.dispose()
    t0 = time.perf_counter()
    minx, miny, maxx, maxy = buildings.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=13, tiles=None)
    use_local_assets(m, "/static")
    folium.GeoJson(grids, name="grids", style_function=lambda _: {"color": "#1565c0", "weight": 2,
                                                                   "fillOpacity": 0.05}).add_to(m)
    folium.GeoJson(buildings, name="buildings",
                   tooltip=folium.GeoJsonTooltip(fields=["name", "households"])).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    m.save(str(out))
    return {"build_s": round(time.perf_counter() - t0, 2), "html_kb": round(out.stat().st_size / 1024)}


def _peer_app(html_path: Path) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.middleware.gzip import GZipMiddleware

    from api import pages

    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.mount("/static", StaticFiles(directory=Path(pages.__file__).resolve().parent / "static"), name="static")

    @app.get("/folium.html")
    def folium_page() -> FileResponse:
        return FileResponse(html_path, media_type="text/html")

    return app


def _measure(context: Any, url: str) -> dict[str, Any]:
    """One first load of ``url`` in ``context`` (cache empty): weight, requests, times, heap, one pan."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    sent: dict[str, int] = {"requests": 0, "encoded": 0, "decoded": 0, "failed": 0}
    statuses: list[int] = []

    def on_request(_: Any) -> None:
        sent["requests"] += 1

    def on_finished(e: Any) -> None:
        sent["encoded"] += int(e.get("encodedDataLength", 0))

    def on_data(e: Any) -> None:
        sent["decoded"] += int(e.get("dataLength", 0))

    def on_failed(_: Any) -> None:
        sent["failed"] += 1

    def on_response(e: Any) -> None:
        statuses.append(int(e["response"]["status"]))

    cdp.on("Network.requestWillBeSent", on_request)
    cdp.on("Network.loadingFinished", on_finished)
    cdp.on("Network.dataReceived", on_data)
    cdp.on("Network.loadingFailed", on_failed)
    cdp.on("Network.responseReceived", on_response)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)[:200]))

    page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
    nav = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return [n.loadEventEnd, n.responseStart - n.requestStart]; })()")
    load_ms, server_ms = nav
    drawn = page.evaluate(DRAWN_JS, 1000)
    # a page may keep a request open (networkidle never comes): the shapes' count above is the figure
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_load_state("networkidle", timeout=10_000)
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")

    box = page.locator(".leaflet-container").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.evaluate(FRAMES_START_JS)
    t0 = time.perf_counter()
    page.mouse.move(cx, cy)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(cx - 30 * i, cy - 15 * i)
    page.mouse.up()
    frames = page.evaluate(FRAMES_STOP_JS)
    pan_ms = 1000 * (time.perf_counter() - t0)
    page.close()
    return {
        "status": statuses[0] if statuses else None,
        "transferred_kb": round(sent["encoded"] / 1024, 1),
        "decoded_kb": round(sent["decoded"] / 1024, 1),
        "requests": sent["requests"],
        "failed_requests": sent["failed"],
        "server_ms": round(server_ms),
        "load_ms": round(load_ms),
        "drawn_ms": round(max(drawn["drawn_ms"], load_ms)),
        "shapes": drawn["shapes"],
        "heap_mb": round(heap["usedSize"] / 2**20, 1),
        "pan_ms": round(pan_ms),
        "pan_worst_frame_ms": round(frames["worst_frame_ms"], 1),
        "errors": errors[:3],
    }


def _log_in(browser: Any, base: str) -> Any:
    """A fresh context holding only the session cookies: logging in lands on a map page, whose cached
    assets would make the next load a warm one, so the cookies are carried to a new context."""
    login = browser.new_context(viewport=VIEWPORT)
    page = login.new_page()
    page.goto(base + "/login", wait_until="load")
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    cookies = login.cookies()
    login.close()
    if not any(c["name"] == "gisgrid_session" for c in cookies):
        raise RuntimeError("the benchmark could not log in")
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies(cookies)
    return context


@case("pages")
def pages_case(*, url: str, households: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from api.main import create_app
    from benchmarks.browser import launch_chromium, serve
    from layers.settings import Settings

    info = _prepare(url, households)
    paths = ["/map", "/map/grids", f"/map/grids?community={info['community']}", "/map/coverage",
             "/map/incidents"]
    settings = Settings(environment="test", database_url=url, basemap="none", language="zh-CN",
                        secret_key=SECRET, db_pool_size=2)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "folium.html"
        peer = _peer_html(url, html)
        with serve(create_app(settings)) as base, serve(_peer_app(html)) as peer_base, sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                for path in paths:
                    # "first": the server's first view of the page (what it computes and keeps on a first
                    # view is paid here); "again": a new browser (empty cache) once the server has it
                    for view in ("first", "again"):
                        context = _log_in(browser, base)
                        try:
                            row = _measure(context, base + path)
                        except Exception as exc:  # a page that fails is a figure too
                            row = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                        context.close()
                        rows.append({"case": "ours", "page": path, "view": view} | row)
                context = browser.new_context(viewport=VIEWPORT)
                rows.append({"case": "folium_peer", "page": "folium.GeoJson(buildings + grids)",
                             "peer_html_kb": peer["html_kb"]} | _measure(context, peer_base + "/folium.html"))
                context.close()
            finally:
                browser.close()
    common = {"households": households, "buildings": info["buildings"], "grids": info["grids"],
              "prepare_s": info["prepare_s"], "communities": info["communities"],
              "unplanned_communities": info["unplanned"], "load_avg": _load()}
    return {"rows": [common | r for r in rows]}


def run(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    sizes = (SIZES[0],) if ctx.get("quick") else SIZES
    rows: list[dict[str, Any]] = []
    for households in sizes:
        result = run_in_subprocess(__name__, "pages", url=ctx["url"], households=households)
        rows.extend(result["rows"])
    return rows
