"""The API's intake writer: reports arriving together written together, on an asyncpg pool.

:class:`IntakeBatcher` queues the rows of :data:`~layers.incidents.intake.INTAKE_SQL` that arrive
while statements run and writes them in one statement — one round trip, one plan start, one commit
and one WAL flush for all of them (docs/benchmarks.md, "Intake under load"). :func:`create_intake_pool`
opens the pool it writes on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import make_url

from gisgrid.incidents.reference import Reference
from layers.incidents.intake import ASYNC_SQL, run_intake_rows
from layers.placement import ReferenceCache

__all__ = ["IntakeBatcher", "asyncpg_dsn", "create_intake_pool"]


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg2://…``) as a libpq DSN asyncpg accepts."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    url = url.difference_update_query(["connect_timeout"])
    return url.render_as_string(hide_password=False)


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own (which rolls back an open transaction).

    The default runs ``RESET ALL; CLOSE ALL; UNLISTEN *; pg_advisory_unlock_all()`` — one more round
    trip per request — but intake sets no session state, opens no cursor, listens to nothing and takes
    no advisory lock.
    """


async def create_intake_pool(sqlalchemy_url: str, size: int) -> Any:
    """An asyncpg pool of up to ``size`` connections for intake (opens one connection now)."""
    import asyncpg

    return await asyncpg.create_pool(
        asyncpg_dsn(sqlalchemy_url),
        min_size=1,
        max_size=size,
        timeout=5,
        command_timeout=30,
        # intake is one large statement: planning it per call (a custom plan, ~1 ms) would cost as much
        # as running it; its plan's shape does not hang on statistics, so the generic plan is as good
        # even when made on an empty table (layers/incidents/intake.py INTAKE_SQL)
        server_settings={"plan_cache_mode": "force_generic_plan"},
        reset=_keep_session,
    )


class IntakeBatcher:
    """Reports arriving together written together: one :data:`INTAKE_SQL` statement — one round trip,
    one plan, one commit — for all the reports that queued while the previous statements ran.

    At most ``streams`` statements run at once, each with at most ``max_batch`` reports; a report
    arriving while fewer run starts a statement at once, so a lone report waits for nothing. When a
    statement fails, its reports are written one by one, so one report's error (say a grid deleted
    since it was decided) reaches only its own request.
    """

    def __init__(self, pool: Any, *, max_batch: int = 32, streams: int = 2) -> None:
        if max_batch < 1 or streams < 1:
            raise ValueError("max_batch and streams must be at least 1")
        self.pool, self.max_batch, self.streams = pool, max_batch, streams
        self._queue: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self._running = 0
        self.statements = 0  # how many statements ran (the batch sizes' denominator)
        self.reports = 0

    async def reference(self, cache: ReferenceCache, *, stale: Reference | None = None) -> Reference:
        """The cache's reference data, loaded on a connection of the pool when needed."""
        if cache.current is not None and cache.current is not stale:
            return cache.current
        async with self.pool.acquire() as conn:
            return await cache.get_async(conn, stale=stale)

    async def existing(self, key: str | None) -> Any:
        """The incident already holding this idempotency key (its id and stored answer)."""
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(ASYNC_SQL["existing"], key)

    async def submit(self, row: dict[str, Any]) -> Any:
        """Queue one report's row; its answer row once written."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((row, fut))
        if self._running < self.streams:
            self._running += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
                try:
                    async with self.pool.acquire() as conn:
                        await self._write(conn, batch)
                except Exception as exc:  # no connection: every report of the batch gets the error
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
        finally:
            self._running -= 1

    async def _write(self, conn: Any, batch: list[tuple[dict[str, Any], asyncio.Future[Any]]]) -> None:
        self.statements += 1
        self.reports += len(batch)
        import asyncpg

        try:
            rows = await run_intake_rows(conn, [r for r, _ in batch])
        except Exception as exc:
            # a statement error (not a lost connection): nothing was written, so retry report by report
            retry = isinstance(exc, asyncpg.PostgresError) and not isinstance(exc, asyncpg.PostgresConnectionError)
            if len(batch) == 1 or not retry:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            for item in batch:  # one by one: each report gets its own answer or its own error
                await self._write(conn, [item])
            return
        for (_, fut), row in zip(batch, rows, strict=True):
            if not fut.done():
                fut.set_result(row)
