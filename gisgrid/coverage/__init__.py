"""Walking coverage of the service posts over the street network: who is within reach of a station,
service areas as walking isochrones, and where new stations would reach the most households (siting).

Pure core, like the rest of :mod:`gisgrid`. The modules are imported by name (nothing is re-exported
here), so that each concern keeps its own small public surface:

* :mod:`~gisgrid.coverage.reach` — walking thresholds per station kind, who reaches whom;
* :mod:`~gisgrid.coverage.sites` — demand (buildings weighted by households) and candidate sites;
* :mod:`~gisgrid.coverage.isochrones` — service areas as reached streets, buffered;
* :mod:`~gisgrid.coverage.siting` — maximal covering and set covering on HiGHS.

The complex indicators shown beside coverage are in :mod:`gisgrid.estate`.
"""
