"""The walkable street network (graph, snapping, distances and paths), shared by coverage and patrols."""

from gisgrid.network.graph import StreetNetwork
from gisgrid.network.paths import (
    Nearest,
    distance_matrix,
    nearest,
    nearest_each,
    node_distances,
    path_between,
    place_distances,
)
from gisgrid.network.snap import Snap, snap_buildings, snap_points

__all__ = [
    "Nearest",
    "Snap",
    "StreetNetwork",
    "distance_matrix",
    "nearest",
    "nearest_each",
    "node_distances",
    "path_between",
    "place_distances",
    "snap_buildings",
    "snap_points",
]
