"""Grids (网格): planning a community's grids, and validating any set of grids against the rules."""

from gisgrid.grids.membership import building_points, grid_households
from gisgrid.grids.partition import GridPlan, building_adjacency, number_grids, plan_grids, polsby_popper
from gisgrid.grids.problems import GridProblem, format_problems, problems_to_geojson
from gisgrid.grids.validate import validate_grids

__all__ = [
    "GridPlan",
    "GridProblem",
    "building_adjacency",
    "building_points",
    "format_problems",
    "grid_households",
    "number_grids",
    "plan_grids",
    "polsby_popper",
    "problems_to_geojson",
    "validate_grids",
]
