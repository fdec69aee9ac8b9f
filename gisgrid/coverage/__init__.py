"""Walking coverage of the service posts over the street network: who is within reach of a station,
service areas as walking isochrones, where new stations would reach the most households (siting), and
the complex indicators that sit beside coverage on a leader's page.

Pure core, like the rest of :mod:`gisgrid`. The modules are imported by name (nothing is re-exported
here), so that each concern keeps its own small public surface:

* :mod:`~gisgrid.coverage.reach` — walking thresholds per station kind, who reaches whom;
* :mod:`~gisgrid.coverage.sites` — demand (buildings weighted by households) and candidate sites;
* :mod:`~gisgrid.coverage.isochrones` — service areas as reached streets, buffered;
* :mod:`~gisgrid.coverage.siting` — maximal covering and set covering on HiGHS;
* :mod:`~gisgrid.coverage.indicators` — complex management, owners' committees, party organisation.
"""
