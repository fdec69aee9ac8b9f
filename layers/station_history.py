"""The status history of stations written in bulk (demo loader, OSM and file imports): the changes a
station's own dates state, for every station that has no recorded history yet.

The same rule as :func:`gisgrid.stations.timeline`: one change per dated status up to the current one;
a planned station without a date is planned from today (China time).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BACKFILL_SQL", "backfill"]

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
