"""What the incident endpoints keep for the app's life: the intake writer and the scheduled tick loop.

The lifespan (``api/main.py``) enters :func:`incident_background`, which puts an
:class:`IncidentRuntime` on ``app.state.incidents`` — the routers reach it through
:func:`api.deps.incident_runtime`, never by importing this module — and starts the tick loop.

* :meth:`IncidentRuntime.batcher` — the :class:`~layers.incidents.batcher.IntakeBatcher` on an asyncpg
  pool, opened on first use (an app starts, and answers ``/healthz``, with the database down);
* the tick loop runs :func:`layers.incidents.lifecycle.tick` every ``GISGRID_INCIDENTS_TICK_SECONDS``
  (default 60; 0 disables it; never in ``environment='test'``) in a worker thread, so a slow tick never
  blocks the event loop. Leaving the lifespan cancels it and closes the pool.
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
from layers.settings import Settings

log = logging.getLogger("gisgrid.api.background")


class IncidentRuntime:
    """The app's incident settings (read once, with the app's :class:`~layers.settings.Settings`), the
    intake options made from them, and the intake pool and batcher."""

    def __init__(self, settings: Settings) -> None:
        self.app_settings = settings
        self.settings = settings.incidents
        self.options = self.settings.options()
        self._batcher: IntakeBatcher | None = None
        self._lock: asyncio.Lock | None = None

    async def batcher(self) -> IntakeBatcher:
        """The intake batcher on the intake pool, both made on first use."""
        if self._batcher is not None:
            return self._batcher
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._batcher is None:
                size = self.app_settings.db_pool_size
                pool = await create_intake_pool(service_url(self.app_settings), size)
                # leave the pool a connection beside the statements, for reference loads and key look-ups
                streams = max(1, min(self.settings.intake_streams, size - 1))
                self._batcher = IntakeBatcher(pool, max_batch=self.settings.intake_batch, streams=streams)
        return self._batcher

    async def close(self) -> None:
        """Close the intake pool (safe when it was never opened)."""
        batcher, self._batcher = self._batcher, None
        if batcher is not None:
            await batcher.pool.close()


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


def _start_tick_loop(app: FastAPI, runtime: IncidentRuntime) -> asyncio.Task[None] | None:
    """The scheduled tick as a task of the running loop; None when disabled (tests, interval 0)."""
    seconds = runtime.settings.tick_seconds
    if seconds <= 0 or runtime.app_settings.environment == "test":
        return None
    return asyncio.get_running_loop().create_task(_loop(app, seconds), name="gisgrid-incident-tick")


@contextlib.asynccontextmanager
async def incident_background(app: FastAPI) -> AsyncIterator[IncidentRuntime]:
    """``app.state.incidents`` and the tick loop for the app's life; on the way out the loop is
    cancelled and the intake pool closed."""
    runtime = app.state.incidents = IncidentRuntime(app.state.settings)
    task = _start_tick_loop(app, runtime)
    try:
        yield runtime
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runtime.close()
        del app.state.incidents
