"""What the incident endpoints run beside requests: the scheduled tick loop and the asyncpg pool.

Wire both into the app's lifespan (``api/main.py``)::

    async with incident_background(app):
        yield

:func:`start_tick_loop` runs :func:`layers.incidents.lifecycle.tick` every ``GISGRID_INCIDENTS_TICK_SECONDS``
(default 60; 0 disables it; never in ``environment='test'``) in a worker thread, so a slow tick never
blocks the event loop; :func:`stop_background` cancels it and closes the intake pool that
:func:`intake_pool` opened on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import FastAPI

from layers.db import service_url
from layers.incidents.batcher import IntakeBatcher, create_intake_pool
from layers.settings import IncidentSettings

log = logging.getLogger("gisgrid.api.background")


def incident_settings(app: FastAPI) -> IncidentSettings:
    """``GISGRID_INCIDENTS_*``, read once per app."""
    found: IncidentSettings | None = getattr(app.state, "incident_settings", None)
    if found is None:
        found = IncidentSettings()
        app.state.incident_settings = found
    return found


async def intake_pool(app: FastAPI) -> Any:
    """The app's asyncpg pool for the intake hot path, opened on first use (one per event loop)."""
    pool = getattr(app.state, "incident_pool", None)
    if pool is not None:
        return pool
    lock: asyncio.Lock | None = getattr(app.state, "incident_pool_lock", None)
    if lock is None:
        lock = app.state.incident_pool_lock = asyncio.Lock()
    async with lock:
        pool = getattr(app.state, "incident_pool", None)
        if pool is None:
            settings = app.state.settings
            pool = await create_intake_pool(service_url(settings), settings.db_pool_size)
            app.state.incident_pool = pool
    return pool


async def intake_batcher(app: FastAPI) -> IntakeBatcher:
    """The app's :class:`~layers.incidents.batcher.IntakeBatcher` on the intake pool (one per event loop)."""
    batcher: IntakeBatcher | None = getattr(app.state, "intake_batcher", None)
    pool = await intake_pool(app)
    if batcher is None or batcher.pool is not pool:
        settings = incident_settings(app)
        # leave the pool a connection beside the statements, for reference loads and key look-ups
        streams = max(1, min(settings.intake_streams, app.state.settings.db_pool_size - 1))
        batcher = IntakeBatcher(pool, max_batch=settings.intake_batch, streams=streams)
        app.state.intake_batcher = batcher
    return batcher


async def _loop(app: FastAPI, seconds: float) -> None:
    from layers.db import transaction
    from layers.incidents.lifecycle import tick

    def run_once() -> dict[str, Any]:
        with transaction(app.state.sessionmaker) as session:
            return tick(session)

    while True:
        await asyncio.sleep(seconds)
        try:
            result = await anyio.to_thread.run_sync(run_once)
            if result["escalated"] or result["backlogged"] or result["whistles_flagged"]:
                log.info("incident tick: %s", result)
        except Exception:  # the loop must outlive a failed tick (database restart, …)
            log.exception("incident tick failed")


def start_tick_loop(app: FastAPI) -> asyncio.Task[None] | None:
    """Start the scheduled tick as a task of the running loop; None when disabled (tests, interval 0)."""
    seconds = incident_settings(app).tick_seconds
    if seconds <= 0 or app.state.settings.environment == "test":
        return None
    task = asyncio.get_running_loop().create_task(_loop(app, seconds), name="gisgrid-incident-tick")
    app.state.incident_tick_task = task
    return task


async def stop_background(app: FastAPI) -> None:
    """Cancel the tick loop and close the intake pool (safe to call when neither was started)."""
    task: asyncio.Task[None] | None = getattr(app.state, "incident_tick_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app.state.incident_tick_task = None
    pool = getattr(app.state, "incident_pool", None)
    if pool is not None:
        app.state.incident_pool = None
        await pool.close()


@contextlib.asynccontextmanager
async def incident_background(app: FastAPI) -> AsyncIterator[None]:
    """Start the tick loop, and on the way out stop it and close the intake pool."""
    start_tick_loop(app)
    try:
        yield
    finally:
        await stop_background(app)
