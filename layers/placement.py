"""The process's copy of intake's reference data: loaded from PostGIS, reloaded when it changed.

What the copy answers — where a report lies and who would handle it there — is the pure
:class:`gisgrid.incidents.reference.Reference` (grid versions through
:class:`gisgrid.grids.locate.GridLocator`, the rule bulk assignment uses too). This module reads its
rows (:data:`QUERIES`) and keeps one per process (:class:`ReferenceCache`).

It is never stale when it matters: migration 0003 keeps a ``reference_generation`` row — an instance
id and a counter that statement triggers on ``grid``, ``admin_area``, ``assignment``, ``staff``,
``complex``, ``station`` and ``department`` bump in the writer's transaction. The intake statement
writes nothing unless the row still holds the generation the decision was made with; otherwise intake
reloads (:meth:`ReferenceCache.get`) and decides again. The instance id makes a cache filled from one
database useless against another.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.incidents.reference import Reference

__all__ = ["GENERATION_SQL", "QUERIES", "ReferenceCache", "default_cache"]

# The row comes back if a TRUNCATE of every table took it (a new instance id: no cache matches it).
GENERATION_SQL: Final = """
WITH made AS (INSERT INTO reference_generation (id, generation) VALUES (1, nextval('reference_generation_seq'))
              ON CONFLICT (id) DO NOTHING RETURNING instance::text AS instance, generation)
SELECT instance, generation FROM made
UNION ALL SELECT instance::text, generation FROM reference_generation WHERE id = 1
LIMIT 1"""

# Read the generation first: a change that commits while the rest is read bumps it past the value
# kept, so the next intake finds the cache stale and reloads — never the other way round.
QUERIES: Final[dict[str, str]] = {
    "grids": """SELECT id, code, version, community_id, valid_from, valid_to, ST_AsBinary(geom) AS wkb
                FROM grid WHERE status <> 'draft' ORDER BY id""",
    "areas": """SELECT id, code, level, parent_id, ST_AsBinary(geom) AS wkb FROM admin_area ORDER BY id""",
    "workers": """SELECT a.target_kind, a.target_ref, a.valid_from, a.valid_to, s.id AS staff_id, s.role
                  FROM assignment a JOIN staff s ON s.id = a.staff_id
                  WHERE s.active AND s.role IN ('grid_worker', 'grid_chief')
                    AND a.target_kind IN ('grid', 'community')""",
    "complexes": """SELECT id, property_company_id, ST_AsBinary(geom) AS wkb FROM complex ORDER BY id""",
    "rooms": """SELECT community_id, min(id) AS id FROM station
                WHERE kind = 'police_room' AND status = 'open' AND community_id IS NOT NULL GROUP BY community_id""",
    "officers": """SELECT community_id, min(id) AS id FROM staff
                   WHERE active AND role = 'police' AND community_id IS NOT NULL GROUP BY community_id""",
    "departments": """SELECT id, code, categories FROM department ORDER BY id""",
}


def _reference(generation: Any, rows: Mapping[str, Sequence[Any]]) -> Reference:
    """From the rows of :data:`GENERATION_SQL` and :data:`QUERIES` (any driver's mappings)."""
    return Reference(rows, instance=str(generation["instance"]), generation=int(generation["generation"]))


class ReferenceCache:
    """The process's current :class:`~gisgrid.incidents.reference.Reference`, reloaded when intake finds it stale.

    Safe to share between threads (sync callers) and between the tasks of one event loop: one load
    at a time, and a caller that waited for someone else's load uses it.
    """

    def __init__(self) -> None:
        self.current: Reference | None = None
        self._lock = threading.Lock()
        self._alocks: dict[int, asyncio.Lock] = {}
        self.loads = 0

    def _usable(self, stale: Reference | None) -> Reference | None:
        ref = self.current
        return ref if ref is not None and ref is not stale else None

    def get(self, session: Session, *, stale: Reference | None = None) -> Reference:
        """The current reference data, (re)loaded through ``session`` when missing or ``stale``."""
        if (ref := self._usable(stale)) is not None:
            return ref
        with self._lock:
            if (ref := self._usable(stale)) is not None:
                return ref
            gen = session.execute(text(GENERATION_SQL)).mappings().one()
            rows = {name: session.execute(text(sql)).mappings().all() for name, sql in QUERIES.items()}
            ref = _reference(gen, rows)
            self.current, self.loads = ref, self.loads + 1
            return ref

    async def get_async(self, conn: Any, *, stale: Reference | None = None) -> Reference:
        """:meth:`get` on an asyncpg connection."""
        if (ref := self._usable(stale)) is not None:
            return ref
        loop = asyncio.get_running_loop()
        lock = self._alocks.get(id(loop))
        if lock is None:
            lock = self._alocks[id(loop)] = asyncio.Lock()
        async with lock:
            if (ref := self._usable(stale)) is not None:
                return ref
            gen = await conn.fetchrow(GENERATION_SQL)
            rows = {name: await conn.fetch(sql) for name, sql in QUERIES.items()}
            ref = _reference(gen, rows)
            self.current, self.loads = ref, self.loads + 1
            return ref


_DEFAULT = ReferenceCache()


def default_cache() -> ReferenceCache:
    """The process-wide cache (the API and the CLI share it; the instance id keeps databases apart)."""
    return _DEFAULT
