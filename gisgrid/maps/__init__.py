"""Folium map builders: the district overview, the planner's grid map and the incident heat map.

Pure core: GeoDataFrames in, a :class:`folium.Map` out — no database, no HTTP. One module per concern:

* :mod:`~gisgrid.maps.assets` — the vendored Leaflet/jQuery/Bootstrap/Font Awesome/leaflet.heat;
* :mod:`~gisgrid.maps.basemaps` — none, OSM, Tianditu, Amap, and the GCJ-02 shift Amap needs;
* :mod:`~gisgrid.maps.text` — every string in zh-CN and English, vocabulary terms;
* :mod:`~gisgrid.maps.base` — the empty map, shared CSS and controls, input checks, rendering;
* :mod:`~gisgrid.maps.overview`, :mod:`~gisgrid.maps.grid_map`, :mod:`~gisgrid.maps.heatmap`,
  :mod:`~gisgrid.maps.patrol_map` — the four pages.

Two rules shape every page:

* **Nothing is fetched from a CDN.** The only remote URLs a page may contain are the basemap tiles,
  and only when a basemap is chosen; the default basemap ``"none"`` works on an intranet.
* **No per-feature style switch.** Each layer is split by class (management kind, station kind ×
  status, colour index, household class, problem severity) into a few GeoJSON layers, each with one
  constant style.
"""

from __future__ import annotations

from gisgrid.maps.assets import HEAT_JS, VENDOR_CSS, VENDOR_JS, use_local_assets, vendor_assets
from gisgrid.maps.base import layer_summary, render_html
from gisgrid.maps.basemaps import BASEMAPS, Basemap, CoordTransform
from gisgrid.maps.grid_map import (
    BUILDING_STYLE,
    GRID_CLASSES,
    GRID_STYLES,
    PROBLEM_STYLES,
    build_grid_map,
    grid_class,
)
from gisgrid.maps.heatmap import HEAT_GRADIENT, build_incident_heatmap, category_label
from gisgrid.maps.overview import build_overview_map, station_style
from gisgrid.maps.patrol_map import PATROL_STYLES, build_patrol_map
from gisgrid.maps.text import LANGUAGES, Language, term

__all__ = [
    "BASEMAPS",
    "BUILDING_STYLE",
    "GRID_CLASSES",
    "GRID_STYLES",
    "HEAT_GRADIENT",
    "HEAT_JS",
    "LANGUAGES",
    "PATROL_STYLES",
    "PROBLEM_STYLES",
    "VENDOR_CSS",
    "VENDOR_JS",
    "Basemap",
    "CoordTransform",
    "Language",
    "build_grid_map",
    "build_incident_heatmap",
    "build_overview_map",
    "build_patrol_map",
    "category_label",
    "grid_class",
    "layer_summary",
    "render_html",
    "station_style",
    "term",
    "use_local_assets",
    "vendor_assets",
]
