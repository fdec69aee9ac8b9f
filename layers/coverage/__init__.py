"""Coverage on PostGIS: the stored table ("now") kept current, and the figures, rollout and building
layer as of any day. The pure computations are in :mod:`gisgrid.coverage`.

Modules: :mod:`~layers.coverage.inputs` (what is read, the per-process cache of buildings on the
network, fingerprints), :mod:`~layers.coverage.store` (full and incremental writes, staleness),
:mod:`~layers.coverage.figures` (figures, rollout, GeoJSON).
"""

from layers.coverage.figures import buildings_geojson, figures, rollout, snapshot, today
from layers.coverage.inputs import thresholds_from
from layers.coverage.store import (
    StationState,
    current_kinds,
    ensure_current,
    lock,
    recompute,
    station_changed,
)

__all__ = [
    "StationState",
    "buildings_geojson",
    "current_kinds",
    "ensure_current",
    "figures",
    "lock",
    "recompute",
    "rollout",
    "snapshot",
    "station_changed",
    "thresholds_from",
    "today",
]
