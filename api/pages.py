"""Web pages served as HTML: the district overview map (``GET /map``).

The map page is **public** in this first version — no login. It shows only administrative areas,
residential complexes (name and management class) and service stations (kind, status, dates): no
personal data, no contacts, no incidents. Pages that show people or incidents must require a login.

Wiring (done by the app factory in ``api/main.py``):

* ``app.mount("/static", StaticFiles(directory=<api/static>), name="static")`` — the vendored
  Leaflet, jQuery, Bootstrap and Font Awesome the page links to (nothing comes from a CDN);
* ``app.include_router(api.pages.router)``;
* ``app.state.sessionmaker`` (a SQLAlchemy ``sessionmaker``) and ``app.state.settings``
  (``layers.settings.Settings``: ``basemap``, ``tianditu_key``, ``language``).

This module reads those from ``request.app.state`` directly so that it does not depend on
``api.deps``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.routing import NoMatchFound

from gisgrid.errors import ConfigurationError
from gisgrid.maps import Basemap, Language, build_overview_map, render_html
from layers.mapdata import is_synthetic, load_overview_layers

router = APIRouter(tags=["pages"])

CACHE_SECONDS = 60.0
"""How long a rendered map page is reused: building it reads every layer and renders the folium HTML."""


@dataclass
class PageCache:
    """Rendered pages per key, each kept ``ttl`` seconds; one lock so a miss is computed only once."""

    ttl: float = CACHE_SECONDS
    entries: dict[tuple[Any, ...], tuple[float, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[Any, ...]) -> str | None:
        hit = self.entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key: tuple[Any, ...], page: str) -> None:
        self.entries[key] = (time.monotonic() + self.ttl, page)

    def clear(self) -> None:
        self.entries.clear()


def page_cache(request: Request) -> PageCache:
    """The app's page cache (created on first use; ``app.state.page_cache.clear()`` after imports)."""
    state = request.app.state
    cache = getattr(state, "page_cache", None)
    if cache is None:
        cache = state.page_cache = PageCache()
    return cache


def page_state(request: Request) -> tuple[Any, Any]:
    """The app's settings and sessionmaker, which a page needs; a clear error if the app has none."""
    state = request.app.state
    settings = getattr(state, "settings", None)
    factory = getattr(state, "sessionmaker", None)
    if settings is None or factory is None:
        raise ConfigurationError(
            "the app has no database or settings: it was not started through its app factory",
            field="app.state",
            rule="sessionmaker and settings required",
        )
    return settings, factory


def static_url_for(request: Request) -> str:
    """The URL path of the static mount (``/static`` unless mounted elsewhere or behind a root path).

    Every map page links its vendored assets under this prefix, so a page served behind a proxy's
    root path still finds them; the grid map and the heat map use it too.
    """
    try:
        path = request.app.url_path_for("static", path="/")
    except NoMatchFound:
        path = "/static/"
    return request.scope.get("root_path", "").rstrip("/") + str(path).rstrip("/")


@router.get("/map", response_class=HTMLResponse, summary="District overview map (public)")
def overview_map(
    request: Request,
    lang: Annotated[
        Literal["zh-CN", "en"] | None, Query(description="UI language; default from settings")
    ] = None,
) -> HTMLResponse:
    """The overview map: district, streets, communities, complexes by management, stations by kind/status.

    Public (no login): areas, complexes and stations only, no personal data.
    """
    settings, factory = page_state(request)
    basemap = cast(Basemap, getattr(settings, "basemap", "none"))
    language = cast(Language, lang or getattr(settings, "language", "zh-CN"))
    static_url = static_url_for(request)
    key = (basemap, language, static_url)

    cache = page_cache(request)
    page = cache.get(key)
    if page is None:
        with cache.lock:
            page = cache.get(key)
            if page is None:
                with factory() as session:
                    layers = load_overview_layers(session)
                    session.rollback()  # read only
                m = build_overview_map(
                    **layers,
                    static_url=static_url,
                    basemap=basemap,
                    tianditu_key=getattr(settings, "tianditu_key", None),
                    language=language,
                    synthetic=is_synthetic(layers),
                )
                page = render_html(m)
                cache.put(key, page)
    return HTMLResponse(page, headers={"Cache-Control": f"public, max-age={int(CACHE_SECONDS)}"})
