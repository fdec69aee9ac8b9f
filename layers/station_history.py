"""The status history of stations written in bulk (demo loader, OSM and file imports).

:func:`backfill` gives every station without recorded history the changes its own dates state — the
rule of :func:`gisgrid.stations.timeline`: one change per dated status up to the current one, a planned
station without a date planned from today (China time). A file import checks its stations against the
history they already have first (:func:`plan_import`) and records what they add (:func:`write_import`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg2.extras import execute_values

from gisgrid.stations import DATE_FIELDS, StatusEvent, merge_timeline, timeline

__all__ = ["BACKFILL_SQL", "backfill", "plan_import", "relink_complexes", "write_import"]

BACKFILL_SQL = """
    INSERT INTO station_status (station_id, status, since, recorded_by)
    SELECT s.id, e.status, e.since, %(recorded_by)s
    FROM station s
    CROSS JOIN LATERAL (VALUES
        (1, 'planned', COALESCE(s.planned_on, CASE WHEN s.status = 'planned'
                                              THEN (now() AT TIME ZONE 'Asia/Shanghai')::date END)),
        (2, 'building', s.building_since), (3, 'open', s.opened_on), (4, 'closed', s.closed_on)
    ) AS e(rank, status, since)
    WHERE e.since IS NOT NULL
      AND e.rank <= array_position(ARRAY['planned', 'building', 'open', 'closed']::text[], s.status::text)
      AND NOT EXISTS (SELECT 1 FROM station_status h WHERE h.station_id = s.id)
    ORDER BY s.id, e.rank
"""


def backfill(cur: Any, recorded_by: str) -> int:
    """Give every station without history the changes its dates state (a DBAPI cursor); how many rows."""
    cur.execute(BACKFILL_SQL, {"recorded_by": recorded_by[:100]})
    return int(cur.rowcount)


def plan_import(cur: Any, *, today: dt.date) -> list[tuple[str, str, list[StatusEvent]]]:
    """The status changes an import's stations (in ``_import``) add to their history, checked before any
    write: each feature's dates must make a valid timeline (:func:`gisgrid.stations.timeline`), and a
    station that has history may only gain later changes (:func:`gisgrid.stations.merge_timeline`)."""
    cur.execute("""
        SELECT i.source, i.source_ref, i.status, i.planned_on, i.building_since, i.opened_on, i.closed_on,
               coalesce((SELECT json_agg(json_build_array(h.status, h.since) ORDER BY h.since, h.id)
                         FROM station_status h WHERE h.station_id = s.id), '[]'::json)
        FROM _import i LEFT JOIN station s ON s.source = i.source AND s.source_ref = i.source_ref ORDER BY i.pos""")
    out = []
    for source, ref, status, *dates, recorded in cur.fetchall():
        stated = timeline(status, dict(zip(DATE_FIELDS.values(), dates, strict=True)), today=today, feature=ref)
        history = [StatusEvent(dt.date.fromisoformat(since), s) for s, since in recorded]
        out.append((source, ref, merge_timeline(history, stated, feature=ref)))
    return out


def write_import(cur: Any, additions: list[tuple[str, str, list[StatusEvent]]], recorded_by: str) -> int:
    """Record the changes :func:`plan_import` found, once the stations are written; how many rows."""
    rows = [(source, ref, e.status, e.since) for source, ref, events in additions for e in events]
    if not rows:
        return 0
    execute_values(cur, f"""
        INSERT INTO station_status (station_id, status, since, recorded_by)
        SELECT s.id, v.status, CAST(v.since AS date), {_quote(recorded_by[:100])}
        FROM (VALUES %s) AS v(source, source_ref, status, since)
        JOIN station s ON s.source = v.source AND s.source_ref = v.source_ref
        ORDER BY s.id, CAST(v.since AS date)""", rows, page_size=len(rows))
    return len(rows)


def relink_complexes(cur: Any) -> int:
    """Point every imported station at the complex it now stands in (the lowest id), or at none."""
    cur.execute("""
        UPDATE station s SET complex_id = found.id
        FROM _import i LEFT JOIN LATERAL (
            SELECT c.id FROM complex c WHERE c.geom && i.geom AND ST_Covers(c.geom, i.geom) ORDER BY c.id LIMIT 1
        ) found ON true
        WHERE s.source = i.source AND s.source_ref = i.source_ref AND s.complex_id IS DISTINCT FROM found.id""")
    return int(cur.rowcount)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
