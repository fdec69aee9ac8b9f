"""The API's intake batcher (layers/incidents/batcher.py IntakeBatcher) against PostGIS: reports arriving
together are written together, each gets its own answer, and one report's error stays its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gisgrid.incidents.intake import DEFAULT_OPTIONS
from layers.incidents import intake
from layers.incidents.batcher import IntakeBatcher, asyncpg_dsn
from layers.models import Incident, IncidentEvent
from layers.placement import default_cache
from tests.integration.test_incident_intake import AFTER, G1, LAT, PATROL, World, build_world

NOW = AFTER + dt.timedelta(hours=1)


@pytest.fixture
def world(clean_db: Engine) -> Iterator[World]:
    with Session(clean_db, expire_on_commit=False) as s:
        yield build_world(s)


def report(lon: float, **extra: Any) -> dict[str, Any]:
    return {"lon": lon, "lat": LAT, "category_code": "06010", "source": "patrol", "description": "批量",
            "reported_at": AFTER.isoformat(), **extra}


async def _with_batcher(db_url: str, work: Any, **kw: Any) -> tuple[Any, IntakeBatcher]:
    """``work(batcher)`` on a batcher over a pool of the test database; its result and the batcher."""
    pool = await asyncpg.create_pool(asyncpg_dsn(db_url), min_size=1, max_size=4)
    try:
        batcher = IntakeBatcher(pool, **kw)
        return await work(batcher), batcher
    finally:
        await pool.close()


def test_reports_arriving_together_are_written_together(world: World, clean_db: Engine, db_url: str) -> None:
    lons = [116.301 + i * 0.0007 for i in range(24)]  # all in G1, some within 100 m of each other

    async def work(b: IntakeBatcher) -> list[intake.IntakeResult]:
        return await asyncio.gather(*(
            intake.intake_async(None, report(lon), actor=PATROL, idempotency_key=f"b-{i}", now=NOW, batcher=b)
            for i, lon in enumerate(lons)))

    results, batcher = asyncio.run(_with_batcher(db_url, work, max_batch=8, streams=1))
    statements = batcher.statements
    assert statements < len(lons)  # batched: at most 8 per statement, one statement at a time
    assert statements >= len(lons) // 8
    assert len({r.incident_id for r in results}) == len(lons) and all(r.created for r in results)
    for lon, r in zip(lons, results, strict=True):  # each answer is its own report's
        a = r.answer
        assert a["incident"]["lon"] == pytest.approx(lon) and a["assignment"]["grid_code"] == G1
        assert a["incident"]["id"] == r.incident_id and a["assignment"]["assignee_staff_id"] == world.worker.id
    with Session(clean_db) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == len(lons)
        events = s.execute(select(IncidentEvent.incident_id, IncidentEvent.action)).all()
        assert sorted(events) == sorted((r.incident_id, "report") for r in results)
        stored = s.get(Incident, results[0].incident_id)
        assert stored is not None and stored.intake["assignment"] == results[0].answer["assignment"]


def test_one_bad_report_fails_alone(world: World, clean_db: Engine, db_url: str) -> None:
    ref_cache = default_cache()

    async def work(b: IntakeBatcher) -> list[Any]:
        ref = await b.reference(ref_cache, stale=ref_cache.current)  # this test's world, not an earlier one
        rows = []
        for i in range(5):
            plan = intake.plan(report(116.302 + i * 0.001), f"bad-{i}", NOW, DEFAULT_OPTIONS, None, PATROL, None)
            rows.append(intake.decided(plan, ref).row)
        rows[2]["grid_id"] = 2_000_000_000  # as if the grid were deleted after the decision: an FK error
        return await asyncio.gather(*(b.submit(r) for r in rows), return_exceptions=True)

    out, _ = asyncio.run(_with_batcher(db_url, work, max_batch=8, streams=1))
    assert isinstance(out[2], asyncpg.ForeignKeyViolationError)
    assert all(o["new_id"] is not None for i, o in enumerate(out) if i != 2)
    with Session(clean_db) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 4


def test_the_same_key_twice_in_one_batch_makes_one_incident(world: World, clean_db: Engine, db_url: str) -> None:
    async def work(b: IntakeBatcher) -> list[intake.IntakeResult]:
        return await asyncio.gather(*(
            intake.intake_async(None, report(116.305), actor=PATROL, idempotency_key="twice", now=NOW, batcher=b)
            for _ in range(3)))

    results, _ = asyncio.run(_with_batcher(db_url, work, max_batch=8, streams=1))
    assert len({r.incident_id for r in results}) == 1
    assert sorted(r.created for r in results) == [False, False, True]
    assert len({r.body for r in results if not r.created}) == 1
    with Session(clean_db) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
