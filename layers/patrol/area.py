"""A worker's own area: their current grids, the buildings with households, the open incidents with
deadlines (``GET /api/v1/me/area``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shapely.geometry import mapping
from sqlalchemy.orm import Session

from gisgrid.codes import CHINA_TZ
from layers.patrol.queries import grid_area, grid_buildings, open_incidents, staff_row, worker_grids

__all__ = ["my_area"]


def my_area(session: Session, staff_id: int, *, on: dt.date | None = None) -> dict[str, Any]:
    """The worker's grids on ``on`` (default today, China time) as one GeoJSON FeatureCollection:
    ``kind`` grid / building / incident features, and a summary per grid."""
    on = on or dt.datetime.now(CHINA_TZ).date()
    staff = staff_row(session, staff_id)
    features: list[dict[str, Any]] = []
    grids = []
    for pair in worker_grids(session, on, staff_id=staff_id):
        area = grid_area(session, pair.grid_code)
        buildings = grid_buildings(session, pair.grid_code)
        incidents = open_incidents(session, pair.grid_code)
        features.append({"type": "Feature", "geometry": mapping(area),
                         "properties": {"kind": "grid", "grid_code": pair.grid_code,
                                        "community_code": pair.community_code}})
        for bid, row in buildings.iterrows():
            features.append({"type": "Feature", "geometry": mapping(row.geometry), "properties": {
                "kind": "building", "building_id": int(bid), "name": row["name"], "households": int(row["households"]),
                "parts": row["parts"], "grid_code": pair.grid_code}})
        for iid, row in incidents.iterrows():
            deadline = row["deadline_at"]
            features.append({"type": "Feature", "geometry": mapping(row.geometry), "properties": {
                "kind": "incident", "incident_id": int(iid), "category_code": row["category_code"],
                "status": row["status"], "grid_code": pair.grid_code,
                "deadline_at": deadline.isoformat() if deadline is not None and deadline == deadline else None}})
        grids.append({"grid_code": pair.grid_code, "buildings": len(buildings),
                      "households": int(buildings["households"].sum()), "open_incidents": len(incidents)})
    return {"type": "FeatureCollection", "staff": {"id": staff.id, "name": staff.name, "role": staff.role,
                                                   "community_code": staff.community_code},
            "on": on.isoformat(), "grids": grids, "features": features}
