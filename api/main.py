"""The app factory. Nothing connects at import: the engine is made in the lifespan from explicit settings.

Serve it with::

    uvicorn api.main:create_app --factory --host 127.0.0.1 --port 8000

(``gisgrid serve`` does the same with the settings from ``GISGRID_*``.)
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse

from api import login, pages
from api.background import incident_background
from api.errors import add_exception_handlers
from api.query_check import QueryCheck
from api.routers import (
    auth,
    complexes,
    coverage,
    coverage_maps,
    grids,
    health,
    incidents,
    kpis,
    layers,
    open311,
    patrol,
    siting,
    stations,
    users,
)
from api.session import SessionBar
from api.transport import MINIMUM_GZIP_BYTES, CachedStaticFiles, GZipReads
from layers.db import make_engine, make_sessionmaker, service_url
from layers.settings import Settings, get_settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
SWAGGER_DIR = "/static/vendor/swagger-ui"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = make_engine(service_url(settings), pool_size=settings.db_pool_size)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    # Sync endpoints run on AnyIO's thread pool (40 threads by default). Let no more run at once than
    # the pool has connections (pool_size + max_overflow), so a burst waits for a thread instead of
    # failing on a pool checkout: a smaller pool than the thread pool answered "connection pool exhausted"
    # as HTTP 500s under load.
    anyio.to_thread.current_default_thread_limiter().total_tokens = 2 * settings.db_pool_size
    # Everything alive now — the modules of FastAPI, SQLAlchemy, pandas, shapely: ~180,000 objects —
    # lives as long as the process. Out of the collector's sight, a full collection under load no
    # longer walks them all (190 ms here, an event loop stopped for every request in flight: the
    # intake p99 was mostly these pauses).
    gc.collect()
    gc.freeze()
    try:
        async with incident_background(app):  # the overdue tick loop and the async intake pool
            yield
    finally:
        engine.dispose()
        del app.state.sessionmaker
        del app.state.engine


def _add_docs(app: FastAPI) -> None:
    """Swagger UI from the vendored swagger-ui-dist: /docs works with no internet."""
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{SWAGGER_DIR}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_DIR}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_DIR}/favicon-32x32.png",
            oauth2_redirect_url=oauth2_redirect,
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app for ``settings`` (default: from ``GISGRID_*``); the database is opened at start-up."""
    settings = settings or get_settings()
    app = FastAPI(
        title="gisgrid",
        summary="Grid management GIS for urban community governance (网格化管理)",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    add_exception_handlers(app)
    # the intake endpoint first: routes are matched in order, and it is the one under load (its router
    # carries no router-wide dependency: its one GET route has the query check itself)
    app.include_router(incidents.router)
    app.include_router(health.router)
    # every other GET /api/v1 route refuses query parameters it does not declare (api/query_check.py)
    for router in (auth.router, users.router, layers.router, grids.router, kpis.router, stations.router,
                   coverage.router, siting.router, coverage_maps.router, complexes.router, patrol.router,
                   pages.router, login.router):
        app.include_router(router, dependencies=[QueryCheck])
    app.include_router(open311.router)  # last: it ends with a catch-all under /open311/v2
    _add_docs(app)
    app.mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static")
    # GET answers compressed for clients that accept gzip (pages, GeoJSON, JSON); see api/transport.py
    # a page served to a logged-in browser gets the logout form (inside the gzip layer: it edits plain HTML)
    app.add_middleware(SessionBar)
    app.add_middleware(GZipReads, minimum_size=MINIMUM_GZIP_BYTES)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/map", status_code=307)

    return app
