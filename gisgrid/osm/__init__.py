"""Read OpenStreetMap extracts (``.osm.pbf`` and ``.osm`` XML) into the frames gisgrid imports.

:func:`read_osm` returns an :class:`OsmExtract`: five GeoDataFrames in WGS84 (EPSG:4326) — buildings,
residential complexes, the walkable street network as nodes and edges, and service posts (stations)
— plus the problems found while reading. Nothing here touches a database; ``layers.importers.osm``
writes an extract into PostGIS.

The modules, each with its rules in its docstring:

* :mod:`~gisgrid.osm.read` — file checks, XML → PBF, :func:`read_osm` and :class:`OsmExtract`;
* :mod:`~gisgrid.osm.features` — buildings (households supplied by tags or estimated), complexes and
  service posts from the tags;
* :mod:`~gisgrid.osm.network` — the walking network, fully noded, with its connected components;
* :mod:`~gisgrid.osm.validity` — :func:`checked`: invalid geometries rejected or repaired;
* :mod:`~gisgrid.osm.tags` — reading pyrosm's tag columns, names, numbers and dates.
"""

from gisgrid.osm.features import HOUSEHOLD_TAGS, station_kind
from gisgrid.osm.read import OsmExtract, read_osm
from gisgrid.osm.tags import NAME_TAGS
from gisgrid.osm.validity import check_geometries, checked

__all__ = [
    "HOUSEHOLD_TAGS",
    "NAME_TAGS",
    "OsmExtract",
    "check_geometries",
    "checked",
    "read_osm",
    "station_kind",
]
