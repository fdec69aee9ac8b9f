"""Walking coverage of the service posts over the street network: who is within reach of a station,
the figures that add up by area, the rollout over time, service areas as walking isochrones, and where new
stations would reach the most households (siting).

Modules: :mod:`~gisgrid.coverage.thresholds` (how far a short walk is, per kind),
:mod:`~gisgrid.coverage.compute` (nearest open station over the street network, full and incremental),
:mod:`~gisgrid.coverage.figures` (counts by grid / community / street / district that add up),
:mod:`~gisgrid.coverage.rollout` (statuses on a day, month ends, the pace to full coverage),
:mod:`~gisgrid.coverage.reach` (who reaches whom), :mod:`~gisgrid.coverage.sites` (demand and candidate
sites), :mod:`~gisgrid.coverage.isochrones` (service areas as reached streets, buffered) and
:mod:`~gisgrid.coverage.siting` (maximal and set covering on HiGHS). The complex indicators shown beside
coverage are in :mod:`gisgrid.estate`.
"""

from gisgrid.coverage.compute import KindCoverage, Places, Update, cover, place_buildings, place_stations
from gisgrid.coverage.figures import Figures, area_figures
from gisgrid.coverage.rollout import Projection, month_ends, project, statuses_on
from gisgrid.coverage.thresholds import DEFAULT_THRESHOLDS_M, Thresholds

__all__ = [
    "DEFAULT_THRESHOLDS_M",
    "Figures",
    "KindCoverage",
    "Places",
    "Projection",
    "Thresholds",
    "Update",
    "area_figures",
    "cover",
    "month_ends",
    "place_buildings",
    "place_stations",
    "project",
    "statuses_on",
]
