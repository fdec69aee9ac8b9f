"""Basemaps — none, OpenStreetMap, Tianditu, Amap —, the page's basemap switch, and the GCJ-02 shift
that Amap's tiles need.

``"none"`` (the default) draws on a plain background and works on an intranet; ``"tianditu"`` needs
its ``tk`` key. Amap tiles are in GCJ-02, so with ``basemap="amap"`` every overlay is shifted
WGS84 → GCJ-02 before drawing (stored data stays WGS84); drawn unshifted, everything would sit a few
hundred metres off the streets beneath it. The configured basemap (``GISGRID_BASEMAP``) is the one a
page opens on; its layer control switches to the others of :func:`switch_choices`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import folium
import geopandas as gpd
import numpy as np
import shapely
from folium.map import Layer
from folium.template import Template

from gisgrid.crs import gcj02_from_wgs84
from gisgrid.errors import ConfigurationError
from gisgrid.maps.text import phrase

Basemap = Literal["none", "osm", "tianditu", "amap"]
CoordTransform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

BASEMAPS: tuple[str, ...] = ("none", "osm", "tianditu", "amap")

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
TIANDITU_TILES = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
TIANDITU_ATTRIBUTION = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
AMAP_TILES = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang={lang}&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
)
AMAP_ATTRIBUTION = '&copy; <a href="https://www.amap.com/">高德地图 AutoNavi</a> (GCJ-02)'
PLAIN_BACKGROUND = "#eef1f4"


NO_BASEMAP_LABEL = {"zh-CN": "无底图", "en": "No basemap"}


class NoBasemap(Layer):
    """The 'none' choice of the basemap switch: an empty base layer (the plain background shows)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.layerGroup();
        {% endmacro %}
        """
    )

    def __init__(self, name: str, show: bool) -> None:
        super().__init__(name=name, overlay=False, control=True, show=show)
        self._name = "NoBasemap"


def switch_choices(basemap: str) -> tuple[str, ...]:
    """The basemaps a page's layer control offers: the configured one (shown) and 'none'.

    With 'none' configured there is nothing to switch to and the page names no tile server at all (an
    intranet page makes no request outside the server). OpenStreetMap is never offered beside Amap:
    an Amap page's overlays are shifted to GCJ-02 and would sit off the streets of any other basemap.
    """
    return ("none",) if basemap == "none" else (basemap, "none")


def add_basemap(m: folium.Map, basemap: str, tianditu_key: str | None, language: str) -> None:
    """The basemap switch: the configured basemap (shown) and the other choices of :func:`switch_choices`.

    The layers are base layers of the page's layer control (a page without one shows the configured
    basemap only); their names are in ``language``.
    """
    choices = switch_choices(basemap)
    if choices == ("none",):
        return  # the plain background; no switch
    for choice in choices:
        _add_tiles(m, choice, tianditu_key, language, show=choice == basemap)


def _add_tiles(m: folium.Map, basemap: str, tianditu_key: str | None, language: str, *, show: bool) -> None:
    if basemap == "none":
        NoBasemap(NO_BASEMAP_LABEL.get(language, NO_BASEMAP_LABEL["zh-CN"]), show=show).add_to(m)
    elif basemap == "osm":
        folium.TileLayer(OSM_TILES, attr=OSM_ATTRIBUTION, name="OpenStreetMap", max_zoom=19, show=show).add_to(m)
    elif basemap == "tianditu":
        if not tianditu_key:
            raise ConfigurationError(
                "the Tianditu basemap needs a key (the 'tk' parameter)",
                field="tianditu_key",
                rule="basemap=tianditu requires a key",
            )
        # vec = vector map; cva = Chinese annotation, eva = English annotation
        note = "cva" if language == "zh-CN" else "eva"
        for layer, overlay in (("vec", False), (note, True)):
            folium.TileLayer(
                TIANDITU_TILES.replace("{layer}", layer).replace("{key}", tianditu_key),
                attr=TIANDITU_ATTRIBUTION,
                name=phrase(language, "tianditu_vec" if layer == "vec" else "tianditu_note"),
                subdomains="01234567",
                max_zoom=18,
                overlay=overlay,
                control=True,
                show=show,
            ).add_to(m)
    elif basemap == "amap":
        folium.TileLayer(
            AMAP_TILES.replace("{lang}", "zh_cn" if language == "zh-CN" else "en"),
            attr=AMAP_ATTRIBUTION,
            name=phrase(language, "amap"),
            subdomains="1234",
            max_zoom=18,
            show=show,
        ).add_to(m)
    else:  # pragma: no cover - checked by the caller
        raise AssertionError(basemap)


def shift(gdf: gpd.GeoDataFrame, transform: CoordTransform) -> gpd.GeoDataFrame:
    """The frame with every coordinate passed through ``transform`` (vectorised ``(lon, lat)``)."""
    if gdf.empty:
        return gdf

    def apply(coords: np.ndarray) -> np.ndarray:
        lon, lat = transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out[out.geometry.name] = shapely.transform(np.asarray(gdf.geometry.values), apply)
    return out


def to_basemap(
    gdf: gpd.GeoDataFrame, basemap: str, coord_transform: CoordTransform | None = None
) -> gpd.GeoDataFrame:
    """An EPSG:4326 overlay in the basemap's coordinates: shifted to GCJ-02 for Amap, else unchanged."""
    if basemap != "amap":
        return gdf
    return shift(gdf, coord_transform or gcj02_from_wgs84)
