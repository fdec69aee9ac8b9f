"""Patrols on PostGIS: weekly plans, check-ins, compliance, a worker's own area.

| module | what |
|---|---|
| ``queries.py`` | grid workers and their grids, a grid's boundary, buildings and open incidents, the base |
| ``staffing.py`` | grid workers onto a community's new grids when a plan is published |
| ``plans.py`` | :func:`plan_patrol_week` (store, replacing the week) and the stored routes |
| ``checkins.py`` | :func:`record_checkins`: idempotent batches, judged tracks, visits |
| ``compliance.py`` | compliance rows, CSV, the patrol map's layers |
| ``area.py`` | :func:`my_area` |
"""

from layers.patrol.area import my_area
from layers.patrol.checkins import record_checkins
from layers.patrol.compliance import compliance_csv, compliance_rows, patrol_map_layers, render_patrol_map
from layers.patrol.plans import day_route, plan_patrol_week, stored_plans
from layers.patrol.queries import staff_row, worker_grids
from layers.patrol.staffing import assign_grid_workers

__all__ = [
    "assign_grid_workers",
    "compliance_csv",
    "compliance_rows",
    "day_route",
    "my_area",
    "patrol_map_layers",
    "plan_patrol_week",
    "record_checkins",
    "render_patrol_map",
    "staff_row",
    "stored_plans",
    "worker_grids",
]
