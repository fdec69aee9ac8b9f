"""Grid workers onto new grids: a community's workers are assigned to its community, and grids only
exist once planned, so publishing a plan (``layers.grids.planning``) hands each community's grid workers
without a current grid one of its grids that has no worker.

Assignments to grids that are no longer current are closed (``valid_to``) first; a worker who still
answers for a current grid keeps it. Workers are taken by id and grids by code, so the same plan gives
the same assignment.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ

__all__ = ["assign_grid_workers"]


def assign_grid_workers(session: Session, community_code: str, *, on: dt.date | None = None) -> dict[str, int]:
    """Close assignments to retired grids of the community and give unassigned grid workers free grids.

    Returns how many assignments were closed and made, and how many grids still have no worker.
    """
    on = on or dt.datetime.now(CHINA_TZ).date()
    cid = session.execute(text("SELECT id FROM admin_area WHERE code = :c"), {"c": community_code}).scalar_one()
    closed = session.execute(text(  # type: ignore[attr-defined]  # an UPDATE's CursorResult has rowcount
        "UPDATE assignment a SET valid_to = :on FROM staff s WHERE s.id = a.staff_id AND s.community_id = :cid "
        "AND a.target_kind = 'grid' AND a.valid_to IS NULL AND a.target_ref LIKE :prefix AND NOT EXISTS "
        "(SELECT 1 FROM grid g WHERE g.code = a.target_ref AND g.valid_to IS NULL)"
    ), {"on": on, "cid": cid, "prefix": community_code + "%"}).rowcount
    # open-ended assignments only: the ones just closed stay valid through today (valid_to is inclusive)
    current = "a.target_kind = 'grid' AND a.valid_to IS NULL"
    free_grids = list(session.execute(text(
        "SELECT g.code FROM grid g WHERE g.community_id = :cid AND g.valid_to IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM assignment a JOIN staff s ON s.id = a.staff_id WHERE {current} "
        "AND a.target_ref = g.code AND s.role = 'grid_worker') ORDER BY g.code"
    ), {"cid": cid, "on": on}).scalars())
    free_workers = list(session.execute(text(
        "SELECT s.id FROM staff s WHERE s.community_id = :cid AND s.role = 'grid_worker' AND s.active "
        f"AND NOT EXISTS (SELECT 1 FROM assignment a WHERE a.staff_id = s.id AND {current}) ORDER BY s.id"
    ), {"cid": cid, "on": on}).scalars())
    pairs = list(zip(free_workers, free_grids, strict=False))
    for staff_id, code in pairs:
        session.execute(text(
            "INSERT INTO assignment (staff_id, target_kind, target_ref, valid_from) VALUES (:s, 'grid', :c, :on)"
        ), {"s": staff_id, "c": code, "on": on})
    return {"closed": int(closed or 0), "assigned": len(pairs), "grids_without_worker": len(free_grids) - len(pairs)}
