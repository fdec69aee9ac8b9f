"""Folium map builders: the district overview map (areas, residential complexes, service stations).

Pure core: GeoDataFrames in, a :class:`folium.Map` out — no database, no HTTP.

Two rules from PITFALLS.md ("Maps") shape this module:

* **Nothing is fetched from a CDN.** folium links Leaflet, jQuery, Bootstrap and Font Awesome from
  three CDNs by default; offline that is a blank page with ``L`` undefined. Every map built here has
  its ``default_js`` / ``default_css`` replaced, *on the instance*, by URLs under
  ``{static_url}/vendor/`` (vendored from npm by ``scripts/vendor_assets.sh``). The only remote URLs a
  page may then contain are the basemap tiles, and only when a basemap is chosen.
* **No per-feature style switch.** A ``style_function`` that varies by feature becomes a JavaScript
  ``switch`` with one case per feature. Each layer here is split by class (management kind, station
  kind × status, colour index) into a few GeoJSON layers, each with one constant style.

Basemaps: ``"none"`` (intranet; plain background, everything still drawn), ``"osm"``, ``"tianditu"``
(needs the ``tk`` key) and ``"amap"``. Amap tiles are in GCJ-02, so with ``basemap="amap"`` every
overlay is shifted WGS84 → GCJ-02 before drawing (stored data stays WGS84).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any, Literal

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from gisgrid import vocab
from gisgrid.catalog import categories, category_classes
from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.crs import gcj02_from_wgs84
from gisgrid.errors import ConfigurationError, CRSError, InvalidInputError

Basemap = Literal["none", "osm", "tianditu", "amap"]
Language = Literal["zh-CN", "en"]
CoordTransform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

BASEMAPS: tuple[str, ...] = ("none", "osm", "tianditu", "amap")
LANGUAGES: tuple[str, ...] = ("zh-CN", "en")

# --------------------------------------------------------------------------------------------------
# Vendored browser assets (paths under {static_url}/vendor/, see api/static/vendor/VERSIONS.txt)
# --------------------------------------------------------------------------------------------------

# Same names as folium's own defaults, so a plugin that adds e.g. "jquery" again is de-duplicated.
VENDOR_JS: tuple[tuple[str, str], ...] = (
    ("leaflet", "vendor/leaflet/leaflet.js"),
    ("jquery", "vendor/jquery/jquery.min.js"),
    ("bootstrap", "vendor/bootstrap/js/bootstrap.bundle.min.js"),
    ("awesome_markers", "vendor/leaflet.awesome-markers/js/leaflet.awesome-markers.js"),
)
# folium's "glyphicons_css" (Bootstrap 3 glyphicons) is deliberately absent: it is not on npm as a
# standalone file. Use folium.Icon(prefix="fa", ...) — Font Awesome 6 is vendored.
VENDOR_CSS: tuple[tuple[str, str], ...] = (
    ("leaflet_css", "vendor/leaflet/leaflet.css"),
    ("bootstrap_css", "vendor/bootstrap/css/bootstrap.min.css"),
    ("awesome_markers_font_css", "vendor/fontawesome-free/css/all.min.css"),
    ("awesome_markers_css", "vendor/leaflet.awesome-markers/css/leaflet.awesome-markers.css"),
    ("awesome_rotate_css", "vendor/folium/leaflet.awesome.rotate.css"),
)


def vendor_assets(static_url: str = "/static") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (name, url) lists to put on a folium element's ``default_js`` / ``default_css``."""
    base = static_url.rstrip("/")
    return (
        [(name, f"{base}/{path}") for name, path in VENDOR_JS],
        [(name, f"{base}/{path}") for name, path in VENDOR_CSS],
    )


def use_local_assets(m: folium.Map, static_url: str = "/static") -> folium.Map:
    """Point this map (only this instance — folium's class defaults stay untouched) at local assets."""
    js, css = vendor_assets(static_url)
    m.default_js = js
    m.default_css = css
    return m


# --------------------------------------------------------------------------------------------------
# Basemaps
# --------------------------------------------------------------------------------------------------

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


def _add_basemap(m: folium.Map, basemap: str, tianditu_key: str | None, language: str) -> None:
    if basemap == "none":
        return
    if basemap == "osm":
        folium.TileLayer(OSM_TILES, attr=OSM_ATTRIBUTION, name="OpenStreetMap", max_zoom=19).add_to(m)
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
                name=_t(language, "tianditu_vec" if layer == "vec" else "tianditu_note"),
                subdomains="01234567",
                max_zoom=18,
                overlay=overlay,
                control=overlay,
            ).add_to(m)
    elif basemap == "amap":
        folium.TileLayer(
            AMAP_TILES.replace("{lang}", "zh_cn" if language == "zh-CN" else "en"),
            attr=AMAP_ATTRIBUTION,
            name=_t(language, "amap"),
            subdomains="1234",
            max_zoom=18,
        ).add_to(m)
    else:  # pragma: no cover - checked by the caller
        raise AssertionError(basemap)


# --------------------------------------------------------------------------------------------------
# Shifting overlays onto GCJ-02 tiles (Amap)
# --------------------------------------------------------------------------------------------------


def _shift(gdf: gpd.GeoDataFrame, transform: CoordTransform) -> gpd.GeoDataFrame:
    if gdf.empty:
        return gdf

    def apply(coords: np.ndarray) -> np.ndarray:
        lon, lat = transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out[out.geometry.name] = shapely.transform(np.asarray(gdf.geometry.values), apply)
    return out


# --------------------------------------------------------------------------------------------------
# Labels (zh-CN by default, English on request)
# --------------------------------------------------------------------------------------------------

_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "{district}网格化管理总览",
        "title_empty": "网格化管理总览",
        "synthetic": "合成数据 · 非真实 / synthetic demo data",
        "district": "区界",
        "streets": "街道",
        "communities": "社区",
        "community_labels": "社区名称",
        "complexes": "物业小区",
        "stations": "服务站点",
        "management": "小区管理方式",
        "station_kind": "站点类型",
        "station_status": "站点状态",
        "name": "名称",
        "code": "代码",
        "kind": "类型",
        "status": "状态",
        "opened_on": "运行日期",
        "radius": "服务半径(米)",
        "tianditu_vec": "天地图",
        "tianditu_note": "天地图注记",
        "amap": "高德地图",
    },
    "en": {
        "title": "{district} — grid management overview",
        "title_empty": "Grid management overview",
        "synthetic": "Synthetic demo data · 合成数据",
        "district": "District boundary",
        "streets": "Streets (subdistricts)",
        "communities": "Communities",
        "community_labels": "Community names",
        "complexes": "Residential complexes",
        "stations": "Service stations",
        "management": "Complex management",
        "station_kind": "Station kind",
        "station_status": "Station status",
        "name": "Name",
        "code": "Code",
        "kind": "Kind",
        "status": "Status",
        "opened_on": "Opened",
        "radius": "Service radius (m)",
        "tianditu_vec": "Tianditu",
        "tianditu_note": "Tianditu labels",
        "amap": "Amap",
    },
}

# English names of vocabulary values where the identifier alone reads poorly
_EN_TERMS: dict[str, str] = {
    "professional": "Professional management",
    "self": "Self-managed",
    "none": "No manager (三无)",
    "unknown": "Unknown",
    "service_centre": "Party–masses service centre",
    "service_station": "Party–masses service station",
    "service_post": "Service post",
    "red_heart_station": "Red heart station",
    "police_room": "Police room",
    "building": "Under construction",
}


def _t(language: str, key: str) -> str:
    return _TEXT[language][key]


def term(value: str, language: str = "zh-CN") -> str:
    """A vocabulary value as the user reads it: Chinese from :data:`vocab.ZH`, or English."""
    if language == "zh-CN":
        return vocab.ZH.get(value, value)
    return _EN_TERMS.get(value, value.replace("_", " ").capitalize())


# --------------------------------------------------------------------------------------------------
# Styles, one per class
# --------------------------------------------------------------------------------------------------

DISTRICT_STYLE = {"color": "#212121", "weight": 3.5, "fill": False, "opacity": 0.9}
STREET_STYLE = {"color": "#6a1b9a", "weight": 2.5, "dashArray": "8 5", "fill": False, "opacity": 0.9}
# a qualitative palette; neighbouring communities get different indices (greedy colouring)
COMMUNITY_PALETTE = ("#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3", "#b3de69", "#fccde5", "#ffed6f")
MANAGEMENT_STYLES: dict[str, dict[str, Any]] = {
    "professional": {"color": "#1565c0", "fillColor": "#42a5f5", "weight": 1, "fillOpacity": 0.35},
    "self": {"color": "#2e7d32", "fillColor": "#66bb6a", "weight": 1, "fillOpacity": 0.35},
    # 三无小区 need a fallback manager: drawn loudest
    "none": {"color": "#b71c1c", "fillColor": "#e53935", "weight": 2.5, "fillOpacity": 0.55},
    "unknown": {
        "color": "#616161",
        "fillColor": "#bdbdbd",
        "weight": 1,
        "fillOpacity": 0.35,
        "dashArray": "3 3",
    },
}
STATION_COLOURS: dict[str, str] = {
    "service_centre": "#b71c1c",
    "service_station": "#ef6c00",
    "service_post": "#f9a825",
    "red_heart_station": "#d81b60",
    "police_room": "#1a237e",
}
STATION_RADII: dict[str, int] = {
    "service_centre": 10,
    "service_station": 8,
    "service_post": 6,
    "red_heart_station": 6,
    "police_room": 7,
}


def station_style(kind: str, status: str) -> dict[str, Any]:
    """Colour says the kind, fill and outline say the status (open solid, planned hollow, …)."""
    colour = STATION_COLOURS.get(kind, "#455a64")
    style: dict[str, Any] = {"color": colour, "fillColor": colour, "fill": True, "weight": 2, "opacity": 1.0}
    if status == "open":
        style.update(fillOpacity=0.9, color="#ffffff", weight=1.5)
    elif status == "building":
        style.update(fillOpacity=0.45, dashArray="3 2")
    elif status == "planned":
        style.update(fillOpacity=0.08, dashArray="2 3")
    else:  # closed
        style.update(color="#616161", fillColor="#9e9e9e", fillOpacity=0.6)
    return style


_CSS = """
<style>
  .gg-panel { background: rgba(255,255,255,.93); padding: 6px 10px; border-radius: 4px;
              box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 13px/1.4 system-ui, "PingFang SC",
              "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; color: #212121; }
  .gg-title { font-size: 16px; font-weight: 600; }
  .gg-synthetic { background: #fff3cd; border: 2px solid #d39e00; color: #7a4f01; font-weight: 700;
                  font-size: 14px; }
  .gg-legend h6 { font-size: 12px; font-weight: 700; margin: 6px 0 2px; }
  .gg-legend h6:first-child { margin-top: 0; }
  .gg-legend .row-item { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
  .gg-swatch { display: inline-block; width: 16px; height: 11px; border: 1px solid; }
  .gg-dot { display: inline-block; width: 12px; height: 12px; border-radius: 50%; border: 2px solid; }
  .gg-label-icon { background: none; border: none; }
  .gg-label { font: 12px/1.2 system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
              color: #263238; text-align: center; text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff;
              white-space: nowrap; pointer-events: none; }
  .gg-label small { color: #546e7a; font-size: 10px; }
  .gg-far .gg-label-icon { display: none; }
</style>
"""


class _HtmlControl(MacroElement):
    """A fixed Leaflet control (title, legend, data notice) holding a piece of trusted HTML."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = L.control({position: {{ this.position|tojson }}});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, position: str, css_class: str) -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html = html_text
        self.position = position
        self.css_class = css_class


class _HideLabelsWhenFar(MacroElement):
    """Community labels pile up when the whole district is in view: show them from ``min_zoom`` on."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            function toggle() {
                map.getContainer().classList.toggle("gg-far", map.getZoom() < {{ this.min_zoom }});
            }
            map.on("zoomend", toggle);
            map.whenReady(toggle);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, min_zoom: int) -> None:
        super().__init__()
        self._name = "HideLabelsWhenFar"
        self.min_zoom = min_zoom


LABEL_MIN_ZOOM = 14
GRID_LABEL_MIN_ZOOM = 16  # unit grids are a few hundred metres across: their labels need a closer view

# --------------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------------


def _prepare(gdf: gpd.GeoDataFrame | None, field: str) -> gpd.GeoDataFrame:
    """Check the CRS (must be known; brought to EPSG:4326) and drop empty geometries."""
    if gdf is None:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=4326)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InvalidInputError(f"{field} must be a GeoDataFrame", field=field, rule="type")
    if gdf.crs is None:
        raise CRSError(
            f"{field} has no CRS; the map needs EPSG:4326 (WGS84)", field=field, rule="crs required"
        )
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    geoms = gdf.geometry
    return gdf[geoms.notna() & ~geoms.is_empty]


def _text(value: Any) -> str:
    """A display value, HTML-escaped (names come from imports and must not inject markup)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    try:
        if value is gpd.pd.NaT or gpd.pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if hasattr(value, "isoformat"):
        value = value.isoformat()[:10]
    return html.escape(str(value))


def _column(gdf: gpd.GeoDataFrame, name: str) -> list[str]:
    if name not in gdf.columns:
        return [""] * len(gdf)
    return [_text(v) for v in gdf[name]]


def _features(gdf: gpd.GeoDataFrame, props: Mapping[str, list[str]]) -> gpd.GeoDataFrame:
    """A slim GeoDataFrame (display properties + geometry) for folium to serialise."""
    data = {k: list(v) for k, v in props.items()}
    return gpd.GeoDataFrame(data, geometry=list(gdf.geometry.values), crs=4326)


def _greedy_colours(gdf: gpd.GeoDataFrame) -> list[int]:
    """A colour index per polygon so that touching neighbours differ (greedy; palette is cyclic)."""
    geoms = list(gdf.geometry.values)
    tree = shapely.STRtree(geoms)
    colours: list[int] = []
    n = len(COMMUNITY_PALETTE)
    for i, geom in enumerate(geoms):
        taken = {colours[j] for j in tree.query(geom, predicate="intersects") if j < i}
        colours.append(next((c for c in range(n) if c not in taken), i % n))
    return colours


def _style(style: Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
    fixed = dict(style)
    return lambda _feature: fixed


# --------------------------------------------------------------------------------------------------
# The overview map
# --------------------------------------------------------------------------------------------------


def _new_map(*, static_url: str, basemap: str, tianditu_key: str | None, language: str) -> folium.Map:
    """An empty map with the local assets, gisgrid's CSS, the page language and the chosen basemap."""
    m = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25, location=[35.0, 105.0], zoom_start=4)
    use_local_assets(m, static_url)
    setattr(m, "_gisgrid_language", language)  # noqa: B010 - read by render_html for <html lang>
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(_CSS), name="gisgrid_css")
    # an empty inline icon: the browser then asks the server for no /favicon.ico (no 404 in the console)
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="gisgrid_favicon")
    if basemap == "none":
        root.header.add_child(
            Element(f"<style>.leaflet-container {{ background: {PLAIN_BACKGROUND}; }}</style>"),
            name="gisgrid_plain_background",
        )
    _add_basemap(m, basemap, tianditu_key, language)
    return m


def _set_title(m: folium.Map, title: str) -> None:
    root = m.get_root()
    assert isinstance(root, Figure)
    root.title = title


def build_overview_map(
    *,
    district: gpd.GeoDataFrame,
    street_areas: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    complexes: gpd.GeoDataFrame | None = None,
    stations: gpd.GeoDataFrame | None = None,
    static_url: str = "/static",
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    language: Language = "zh-CN",
    title: str | None = None,
    synthetic: bool = True,
    coord_transform: CoordTransform | None = None,
) -> folium.Map:
    """The district overview a leader opens first: areas, complexes by management, stations by kind.

    Parameters
    ----------
    district, street_areas, communities
        Polygons of the 区, its 街道 and its 社区 (columns ``name``, ``code``), EPSG:4326.
    complexes
        物业小区 polygons with ``name`` and ``management`` (professional / self / none / unknown).
    stations
        Points with ``name``, ``kind``, ``status`` and optionally ``opened_on``, ``service_radius_m``.
    static_url
        Where the API serves ``api/static`` (the vendored assets are under ``{static_url}/vendor/``).
    basemap
        ``"none"`` (default; plain background), ``"osm"``, ``"tianditu"`` (needs ``tianditu_key``)
        or ``"amap"`` (GCJ-02 tiles: the overlays are shifted to match).
    language
        ``"zh-CN"`` (default) or ``"en"`` for every label, legend and popup.
    title
        Shown top-left; defaults to the district's name + "网格化管理总览".
    synthetic
        Show the "合成数据 / synthetic demo data" notice (on for the demo district).
    coord_transform
        Override of the WGS84 → GCJ-02 shift used for ``basemap="amap"`` (vectorised ``(lon, lat)``).
    """
    if basemap not in BASEMAPS:
        raise InvalidInputError(
            f"unknown basemap {basemap!r}; choose one of {', '.join(BASEMAPS)}",
            field="basemap",
            rule="one of",
        )
    if language not in LANGUAGES:
        raise InvalidInputError(
            f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}",
            field="language",
            rule="one of",
        )

    layers = {
        "district": _prepare(district, "district"),
        "street_areas": _prepare(street_areas, "street_areas"),
        "communities": _prepare(communities, "communities"),
        "complexes": _prepare(complexes, "complexes"),
        "stations": _prepare(stations, "stations"),
    }
    if basemap == "amap":
        shift = coord_transform or gcj02_from_wgs84
        layers = {key: _shift(gdf, shift) for key, gdf in layers.items()}

    m = _new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)

    _add_communities(m, layers["communities"], language)
    _add_complexes(m, layers["complexes"], language)
    _add_outline(m, layers["street_areas"], STREET_STYLE, _t(language, "streets"), language)
    _add_outline(m, layers["district"], DISTRICT_STYLE, _t(language, "district"), language)
    _add_stations(m, layers["stations"], language)

    district_name = (
        layers["district"]["name"].iloc[0]
        if "name" in layers["district"] and len(layers["district"])
        else None
    )
    if title is None:
        title = (
            _t(language, "title").format(district=district_name)
            if district_name
            else _t(language, "title_empty")
        )
    _set_title(m, title)
    _HtmlControl(html.escape(title), position="topright", css_class="gg-panel gg-title").add_to(m)
    if synthetic:
        _HtmlControl(
            html.escape(_t(language, "synthetic")), position="bottomleft", css_class="gg-panel gg-synthetic"
        ).add_to(m)
    _HtmlControl(_legend_html(language), position="bottomright", css_class="gg-panel gg-legend").add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)

    _HideLabelsWhenFar(LABEL_MIN_ZOOM).add_to(m)
    # open on where people live (the communities), not on the whole district's fields and hills
    bounds_from = next(
        (
            layers[k]
            for k in ("communities", "street_areas", "complexes", "stations", "district")
            if not layers[k].empty
        ),
        None,
    )
    if bounds_from is not None:
        minx, miny, maxx, maxy = bounds_from.total_bounds
        m.fit_bounds([[float(miny), float(minx)], [float(maxy), float(maxx)]], padding=(10, 10))
    return m


def _add_outline(
    m: folium.Map, gdf: gpd.GeoDataFrame, style: Mapping[str, Any], name: str, language: str
) -> None:
    if gdf.empty:
        return
    feats = _features(gdf, {"name": _column(gdf, "name"), "code": _column(gdf, "code")})
    folium.GeoJson(
        feats,
        name=name,
        style_function=_style(style),
        tooltip=folium.GeoJsonTooltip(["name", "code"], aliases=[_t(language, "name"), _t(language, "code")]),
        smooth_factor=1.0,
    ).add_to(m)


def _add_communities(m: folium.Map, gdf: gpd.GeoDataFrame, language: str) -> None:
    if gdf.empty:
        return
    group = folium.FeatureGroup(name=_t(language, "communities"))
    names, codes = _column(gdf, "name"), _column(gdf, "code")
    colours = np.asarray(_greedy_colours(gdf))
    for index in sorted(set(colours.tolist())):
        rows = np.flatnonzero(colours == index)
        part = gdf.iloc[rows]
        fill = COMMUNITY_PALETTE[index]
        folium.GeoJson(
            _features(part, {"name": [names[i] for i in rows], "code": [codes[i] for i in rows]}),
            style_function=_style({"color": "#546e7a", "weight": 1, "fillColor": fill, "fillOpacity": 0.45}),
            tooltip=folium.GeoJsonTooltip(
                ["name", "code"], aliases=[_t(language, "name"), _t(language, "code")]
            ),
            control=False,
        ).add_to(group)
    group.add_to(m)

    labels = folium.FeatureGroup(name=_t(language, "community_labels"))
    points = gdf.geometry.representative_point()
    for point, name, code in zip(points, names, codes, strict=True):
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=f'<div class="gg-label">{name}<br><small>{code}</small></div>',
                class_name="gg-label-icon",
                icon_size=(160, 32),
                icon_anchor=(80, 16),
            ),
            interactive=False,
        ).add_to(labels)
    labels.add_to(m)


def _add_complexes(m: folium.Map, gdf: gpd.GeoDataFrame, language: str) -> None:
    if gdf.empty:
        return
    group = folium.FeatureGroup(name=_t(language, "complexes"))
    management = (
        gdf["management"].fillna("unknown").astype(str)
        if "management" in gdf
        else gpd.pd.Series("unknown", index=gdf.index)
    )
    management = management.where(management.isin(vocab.MANAGEMENT_KINDS), "unknown")  # never drop a complex
    names = _column(gdf, "name")
    for kind in vocab.MANAGEMENT_KINDS:
        rows = np.flatnonzero((management == kind).to_numpy())
        if not len(rows):
            continue
        part = gdf.iloc[rows]
        feats = _features(
            part, {"name": [names[i] for i in rows], "management": [term(kind, language)] * len(rows)}
        )
        folium.GeoJson(
            feats,
            style_function=_style(MANAGEMENT_STYLES[kind]),
            tooltip=folium.GeoJsonTooltip(
                ["name", "management"], aliases=[_t(language, "name"), _t(language, "management")]
            ),
            control=False,
        ).add_to(group)
    group.add_to(m)


def _add_stations(m: folium.Map, gdf: gpd.GeoDataFrame, language: str) -> None:
    if gdf.empty:
        return
    group = folium.FeatureGroup(name=_t(language, "stations"))
    kinds = gdf["kind"].astype(str) if "kind" in gdf else gpd.pd.Series("", index=gdf.index)
    statuses = gdf["status"].astype(str) if "status" in gdf else gpd.pd.Series("open", index=gdf.index)
    names = _column(gdf, "name")
    opened = _column(gdf, "opened_on")
    radius = _column(gdf, "service_radius_m")
    fields = ["name", "kind", "status", "opened_on", "radius"]
    aliases = [_t(language, f) for f in fields]
    pairs = sorted(set(zip(kinds, statuses, strict=True)))
    for kind, status in pairs:
        rows = np.flatnonzero(((kinds == kind) & (statuses == status)).to_numpy())
        feats = _features(
            gdf.iloc[rows],
            {
                "name": [names[i] for i in rows],
                "kind": [html.escape(term(kind, language))] * len(rows),
                "status": [html.escape(term(status, language))] * len(rows),
                "opened_on": [opened[i] for i in rows],
                "radius": [radius[i].split(".")[0] for i in rows],
            },
        )
        folium.GeoJson(
            feats,
            marker=folium.CircleMarker(radius=STATION_RADII.get(kind, 6)),
            style_function=_style(station_style(kind, status)),
            popup=folium.GeoJsonPopup(fields, aliases=aliases),
            tooltip=folium.GeoJsonTooltip(["name", "kind"], labels=False),
            control=False,
        ).add_to(group)
    group.add_to(m)


def _legend_html(language: str) -> str:
    parts = [f"<h6>{html.escape(_t(language, 'management'))}</h6>"]
    for kind in vocab.MANAGEMENT_KINDS:
        s = MANAGEMENT_STYLES[kind]
        parts.append(
            f'<div class="row-item"><span class="gg-swatch" style="background:{s["fillColor"]};'
            f'border-color:{s["color"]}"></span>{html.escape(term(kind, language))}</div>'
        )
    parts.append(f"<h6>{html.escape(_t(language, 'station_kind'))}</h6>")
    for kind in vocab.STATION_KINDS:
        colour = STATION_COLOURS[kind]
        parts.append(
            f'<div class="row-item"><span class="gg-dot" style="background:{colour};'
            f'border-color:#fff"></span>{html.escape(term(kind, language))}</div>'
        )
    parts.append(f"<h6>{html.escape(_t(language, 'station_status'))}</h6>")
    for status in vocab.STATION_STATUSES:
        s = station_style("service_station", status)
        border = "dashed" if "dashArray" in s else "solid"
        background = s["fillColor"] if s["fillOpacity"] >= 0.4 else "transparent"
        parts.append(
            f'<div class="row-item"><span class="gg-dot" style="background:{background};'
            f"border-color:{s['color'] if status != 'open' else '#555'};border-style:{border};"
            f'opacity:{max(s["fillOpacity"], 0.6)}"></span>{html.escape(term(status, language))}</div>'
        )
    return "".join(parts)


def render_html(m: folium.Map) -> str:
    """The complete, standalone HTML page of a map (links to the local assets, nothing remote)."""
    page = m.get_root().render()
    lang = getattr(m, "_gisgrid_language", "zh-CN")
    return page.replace("<html>", f'<html lang="{lang}">', 1)


def layer_summary(m: folium.Map) -> dict[str, int]:
    """How many GeoJSON layers of each folium class the map holds (for tests and debugging)."""
    counts: dict[str, int] = {}

    def walk(element: Any) -> None:
        for child in element._children.values():
            name = type(child).__name__
            counts[name] = counts.get(name, 0) + 1
            walk(child)

    walk(m)
    return counts


__all__ = [
    "BASEMAPS",
    "LANGUAGES",
    "VENDOR_CSS",
    "VENDOR_JS",
    "build_overview_map",
    "render_html",
    "station_style",
    "term",
    "use_local_assets",
    "vendor_assets",
]


# --------------------------------------------------------------------------------------------------
# The grid map: grids coloured by households against the window, labels, problem locations
# --------------------------------------------------------------------------------------------------

#: Household classes of a grid, in legend order.
GRID_CLASSES: tuple[str, ...] = ("under", "in_range", "over")
GRID_STYLES: dict[str, dict[str, Any]] = {
    "under": {"color": "#1565c0", "weight": 1.5, "fillColor": "#64b5f6", "fillOpacity": 0.5},
    "in_range": {"color": "#2e7d32", "weight": 1.5, "fillColor": "#81c784", "fillOpacity": 0.45},
    "over": {"color": "#b71c1c", "weight": 1.5, "fillColor": "#e57373", "fillOpacity": 0.5},
}
PROBLEM_STYLES: dict[str, dict[str, Any]] = {
    "error": {"color": "#d50000", "weight": 3, "dashArray": "6 4", "fillColor": "#ff1744", "fillOpacity": 0.35},
    "warning": {"color": "#ff6f00", "weight": 2.5, "dashArray": "4 4", "fillColor": "#ffab00",
                "fillOpacity": 0.3},
}
#: Problems whose location is a whole grid: drawn as a dashed outline only, so the household colour shows.
OUTLINE_ONLY_RULES: frozenset[str] = frozenset({"households_out_of_range", "sliver", "duplicate_code"})
BUILDING_STYLE = {"color": "#616161", "weight": 0.8, "fillColor": "#9e9e9e", "fillOpacity": 0.35}

_GRID_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "网格划分图",
        "grids": "网格",
        "grid_labels": "网格编号与户数",
        "buildings": "楼栋",
        "problems": "校验问题",
        "households": "户数",
        "household_classes": "网格户数",
        "under": "少于{min}户",
        "in_range": "{min}–{max}户",
        "over": "多于{max}户",
        "error": "错误",
        "warning": "提示",
        "rule": "规则",
        "message": "说明",
        "code": "网格编号",
        "version": "版本",
        "unit": "户",
        "summary": "{n}个网格，{ok}个户数达标，{p}个问题",
    },
    "en": {
        "title": "Grid map",
        "grids": "Grids",
        "grid_labels": "Grid codes and households",
        "buildings": "Buildings",
        "problems": "Validation problems",
        "households": "Households",
        "household_classes": "Households per grid",
        "under": "under {min}",
        "in_range": "{min}–{max}",
        "over": "over {max}",
        "error": "Error",
        "warning": "Warning",
        "rule": "Rule",
        "message": "Message",
        "code": "Grid code",
        "version": "Version",
        "unit": "hh",
        "summary": "{n} grids, {ok} within the household window, {p} problem(s)",
    },
}

#: The validation rules as a planner reads them (English: the identifier, spaced).
PROBLEM_RULES_ZH: dict[str, str] = {
    "invalid_geometry": "几何无效",
    "duplicate_code": "编号重复",
    "households_out_of_range": "户数超出范围",
    "non_contiguous": "网格不连续",
    "overlap": "网格重叠",
    "gap": "未覆盖空隙",
    "outside_community": "超出社区边界",
    "building_unassigned": "楼栋未入网格",
    "building_in_several": "楼栋跨多个网格",
    "complex_split": "小区被拆分",
    "sliver": "狭长或过小网格",
}


def grid_class(households: float, min_households: int, max_households: int) -> str:
    """``"under"``, ``"in_range"`` or ``"over"`` for a grid's households (the window is inclusive)."""
    if households < min_households:
        return "under"
    if households > max_households:
        return "over"
    return "in_range"


def _problems_frame(problems: Any) -> gpd.GeoDataFrame:
    """Problems (``GridProblem`` objects or a GeoJSON FeatureCollection) as a GeoDataFrame with a location."""
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    if isinstance(problems, Mapping):
        for feature in problems.get("features", []):
            if feature.get("geometry") is None:
                continue
            props = feature.get("properties") or {}
            rows.append(
                {
                    "rule": props.get("rule", ""),
                    "severity": props.get("severity", "error"),
                    "message": props.get("message", ""),
                    "codes": ", ".join(props.get("grid_codes") or []),
                }
            )
            geoms.append(shapely.geometry.shape(feature["geometry"]))
    else:
        for p in problems or []:
            if p.geometry is None or p.geometry.is_empty:
                continue
            rows.append(
                {"rule": p.rule, "severity": p.severity, "message": p.message, "codes": ", ".join(p.grid_codes)}
            )
            geoms.append(p.geometry)
    if not rows:
        return gpd.GeoDataFrame({"rule": [], "severity": [], "message": [], "codes": []}, geometry=[], crs=4326)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def _rule_name(rule: str, language: str) -> str:
    if language == "zh-CN":
        return PROBLEM_RULES_ZH.get(rule, rule)
    return rule.replace("_", " ")


def build_grid_map(
    *,
    grids: gpd.GeoDataFrame,
    problems: Any = None,
    buildings: gpd.GeoDataFrame | None = None,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
    static_url: str = "/static",
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    language: Language = "zh-CN",
    title: str | None = None,
    coord_transform: CoordTransform | None = None,
) -> folium.Map:
    """The planner's grid map: grids coloured by households against the window, labels, problems.

    Parameters
    ----------
    grids
        Grid polygons (EPSG:4326 or another CRS, reprojected) with ``code`` and ``households``
        (optionally ``version``).
    problems
        Validation problems to highlight: a list of :class:`gisgrid.validate.GridProblem` or the GeoJSON
        of :func:`gisgrid.validate.problems_to_geojson`. Errors are drawn red and dashed, warnings orange;
        point locations (e.g. where a geometry is invalid) as circles.
    buildings
        Footprints drawn thin and grey under the grids (optional).
    min_households, max_households
        The window: grids below are blue, inside green, above red — one GeoJSON layer per class
        (PITFALLS.md: no per-feature style switch).
    static_url, basemap, tianditu_key, language, coord_transform
        As for :func:`build_overview_map`.
    """
    if basemap not in BASEMAPS:
        raise InvalidInputError(
            f"unknown basemap {basemap!r}; choose one of {', '.join(BASEMAPS)}", field="basemap", rule="one of"
        )
    if language not in LANGUAGES:
        raise InvalidInputError(
            f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}", field="language",
            rule="one of",
        )
    text = _GRID_TEXT[language]
    g = _prepare(grids, "grids")
    b = _prepare(buildings, "buildings")
    p = _problems_frame(problems)
    if basemap == "amap":
        shift = coord_transform or gcj02_from_wgs84
        g, b, p = _shift(g, shift), _shift(b, shift), _shift(p, shift)

    m = _new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)

    if not b.empty:
        folium.GeoJson(
            _features(b, {}), name=text["buildings"], style_function=_style(BUILDING_STYLE), smooth_factor=1.0
        ).add_to(m)

    households = (
        gpd.pd.to_numeric(g["households"], errors="coerce").fillna(0).astype(int).tolist()
        if "households" in g else [0] * len(g)
    )
    classes = [grid_class(h, min_households, max_households) for h in households]
    codes = _column(g, "code")
    versions = _column(g, "version")
    counts = {c: classes.count(c) for c in GRID_CLASSES}
    group = folium.FeatureGroup(name=text["grids"])
    for cls in GRID_CLASSES:
        rows = [i for i, c in enumerate(classes) if c == cls]
        if not rows:
            continue
        folium.GeoJson(
            _features(
                g.iloc[rows],
                {
                    "code": [codes[i] for i in rows],
                    "households": [str(households[i]) for i in rows],
                    "version": [versions[i] for i in rows],
                    "grid_class": [cls] * len(rows),
                },
            ),
            style_function=_style(GRID_STYLES[cls]),
            tooltip=folium.GeoJsonTooltip(
                ["code", "households", "version"], aliases=[text["code"], text["households"], text["version"]]
            ),
            control=False,
        ).add_to(group)
    group.add_to(m)

    labels = folium.FeatureGroup(name=text["grid_labels"])
    for point, code, hh, cls in zip(g.geometry.representative_point(), codes, households, classes, strict=True):
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=(
                    f'<div class="gg-label gg-grid-label gg-{cls}"><small>{code}</small><br>'
                    f"<b>{hh}</b> {html.escape(text['unit'])}</div>"
                ),
                class_name="gg-label-icon",
                icon_size=(130, 32),
                icon_anchor=(65, 16),
            ),
            interactive=False,
        ).add_to(labels)
    labels.add_to(m)

    if not p.empty:
        _add_problems(m, p, language)

    if title is None:
        title = text["title"]
    _set_title(m, title)
    summary = text["summary"].format(n=len(g), ok=counts["in_range"], p=len(p))
    _HtmlControl(
        f"{html.escape(title)}<div class='gg-grid-summary'><small>{html.escape(summary)}</small></div>",
        position="topright",
        css_class="gg-panel gg-title",
    ).add_to(m)
    _HtmlControl(
        _grid_legend_html(language, min_households, max_households, counts, p),
        position="bottomright",
        css_class="gg-panel gg-legend",
    ).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    _HideLabelsWhenFar(GRID_LABEL_MIN_ZOOM).add_to(m)
    bounds_from = next((x for x in (g, b, p) if not x.empty), None)
    if bounds_from is not None:
        minx, miny, maxx, maxy = bounds_from.total_bounds
        m.fit_bounds([[float(miny), float(minx)], [float(maxy), float(maxx)]], padding=(10, 10))
    return m


def _add_problems(m: folium.Map, p: gpd.GeoDataFrame, language: str) -> None:
    text = _GRID_TEXT[language]
    group = folium.FeatureGroup(name=text["problems"])
    kinds = gpd.pd.Series(
        [
            "point" if t in ("Point", "MultiPoint") else "outline" if rule in OUTLINE_ONLY_RULES else "area"
            for t, rule in zip(p.geometry.geom_type, p["rule"], strict=True)
        ],
        index=p.index,
    )
    severities = p["severity"].where(p["severity"].isin(tuple(PROBLEM_STYLES)), "error")
    rules = [html.escape(_rule_name(r, language)) for r in p["rule"]]
    messages = _column(p, "message")
    codes = _column(p, "codes")
    for severity in ("warning", "error"):  # errors drawn last, on top
        for kind in ("outline", "area", "point"):
            rows = np.flatnonzero(((severities == severity) & (kinds == kind)).to_numpy())
            if not len(rows):
                continue
            feats = _features(
                p.iloc[rows],
                {
                    "rule": [rules[i] for i in rows],
                    "codes": [codes[i] for i in rows],
                    "message": [messages[i] for i in rows],
                    "severity": [severity] * len(rows),
                },
            )
            style = dict(PROBLEM_STYLES[severity])
            if kind == "point":
                style = {"color": style["color"], "fillColor": style["fillColor"], "fillOpacity": 0.8,
                         "weight": 2}
            elif kind == "outline":
                style["fillOpacity"] = 0.0
            folium.GeoJson(
                feats,
                marker=folium.CircleMarker(radius=8) if kind == "point" else None,
                style_function=_style(style),
                tooltip=folium.GeoJsonTooltip(
                    ["rule", "codes", "message"], aliases=[text["rule"], text["code"], text["message"]]
                ),
                control=False,
            ).add_to(group)
    group.add_to(m)


def _grid_legend_html(
    language: str, min_households: int, max_households: int, counts: Mapping[str, int], p: gpd.GeoDataFrame
) -> str:
    text = _GRID_TEXT[language]
    parts = [f"<h6>{html.escape(text['household_classes'])}</h6>"]
    for cls in GRID_CLASSES:
        s = GRID_STYLES[cls]
        label = text[cls].format(min=min_households, max=max_households)
        parts.append(
            f'<div class="row-item gg-class-{cls}"><span class="gg-swatch" style="background:{s["fillColor"]};'
            f'border-color:{s["color"]}"></span>{html.escape(label)} ({counts.get(cls, 0)})</div>'
        )
    if not p.empty:
        parts.append(f"<h6>{html.escape(text['problems'])}</h6>")
        for severity in ("error", "warning"):
            s = PROBLEM_STYLES[severity]
            n = int((p["severity"] == severity).sum())
            if not n:
                continue
            parts.append(
                f'<div class="row-item"><span class="gg-swatch" style="background:{s["fillColor"]};'
                f'border-color:{s["color"]};border-style:dashed"></span>{html.escape(text[severity])} ({n})</div>'
            )
    return "".join(parts)


__all__ += ["GRID_CLASSES", "GRID_STYLES", "PROBLEM_STYLES", "build_grid_map", "grid_class"]


# --------------------------------------------------------------------------------------------------
# The incident heat map: where cases cluster, by category class and period
# --------------------------------------------------------------------------------------------------


from folium.plugins import HeatMap  # noqa: E402

#: leaflet.heat from npm (vendored by scripts/vendor_assets.sh), under ``{static_url}/``.
HEAT_JS: tuple[str, str] = ("leaflet-heat.js", "vendor/leaflet.heat/leaflet-heat.js")
#: Stops of the heat colour ramp (also drawn as the legend's bar), low → high density.
HEAT_GRADIENT: dict[float, str] = {0.4: "#2c7bb6", 0.6: "#00a6ca", 0.7: "#90eb9d", 0.8: "#f9d057", 1.0: "#d7191c"}
HEAT_RADIUS = 18
HEAT_BLUR = 14
#: Zoom at which one case reaches full intensity (leaflet.heat scales intensity by 2^(zoom − max_zoom)).
HEAT_MAX_ZOOM = 18
HEAT_DECIMALS = 5  # ~1 m: enough for a heat map, and keeps the page small

_HEAT_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "事件热力图",
        "all": "全部事件",
        "all_categories": "全部类别",
        "category": "类别",
        "period": "时段",
        "whole_period": "全部时间",
        "count": "{n}件",
        "none": "该条件下没有事件",
        "density": "事件密度",
        "low": "少",
        "high": "多",
        "classes": "按大类",
        "communities": "社区",
    },
    "en": {
        "title": "Incident heat map",
        "all": "All incidents",
        "all_categories": "All categories",
        "category": "Category",
        "period": "Period",
        "whole_period": "All time",
        "count": "{n} cases",
        "none": "No incidents match",
        "density": "Incident density",
        "low": "few",
        "high": "many",
        "classes": "By class",
        "communities": "Communities",
    },
}


def category_label(category: str | None, language: str = "zh-CN") -> str:
    """``'06010 暴露垃圾'`` for an item code, ``'06 市容环境'`` for a 2-digit class, "all" for None."""
    if not category:
        return _HEAT_TEXT[language]["all_categories"]
    cats = categories()
    if category in cats:
        return f"{category} {cats[category].name}"
    classes = category_classes()
    if category in classes:
        return f"{category} {classes[category]}"
    return category


class _Heat(HeatMap):  # type: ignore[misc]
    """folium's HeatMap, loading leaflet.heat from the API's own static files (never a CDN)."""

    def __init__(self, data: list[list[float]], *, static_url: str, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.default_js = [(HEAT_JS[0], f"{static_url.rstrip('/')}/{HEAT_JS[1]}")]


def _heat_legend_html(language: str, class_counts: list[tuple[str, str, int]]) -> str:
    text = _HEAT_TEXT[language]
    stops = ", ".join(f"{colour} {int(stop * 100)}%" for stop, colour in sorted(HEAT_GRADIENT.items()))
    parts = [
        f"<h6>{html.escape(text['density'])}</h6>",
        f'<div class="gg-heat-bar" style="width:160px;height:10px;border:1px solid #999;'
        f'background:linear-gradient(to right, transparent 0%, {stops})"></div>',
        f'<div style="display:flex;justify-content:space-between;width:160px"><small>'
        f"{html.escape(text['low'])}</small><small>{html.escape(text['high'])}</small></div>",
    ]
    if class_counts:
        parts.append(f"<h6>{html.escape(text['classes'])}</h6>")
        for code, name, n in class_counts:
            parts.append(
                f'<div class="row-item gg-heat-class" data-class="{html.escape(code)}">'
                f"{html.escape(code)} {html.escape(name)}: <b>{n}</b></div>"
            )
    return "".join(parts)


def build_incident_heatmap(
    *,
    incidents: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame | None = None,
    category: str | None = None,
    period_label: str | None = None,
    static_url: str = "/static",
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    language: Language = "zh-CN",
    title: str | None = None,
    synthetic: bool = False,
    coord_transform: CoordTransform | None = None,
) -> folium.Map:
    """A leader's heat map of where incidents cluster, for one category (or all) and one period.

    Parameters
    ----------
    incidents
        Incident points (any CRS with a known EPSG, brought to 4326) with ``category_code``. Filter
        them by category and period *before* calling; ``category`` and ``period_label`` only say
        what was chosen, in the title panel.
    communities
        Community polygons (``name``, ``code``) drawn as thin outlines for orientation (optional).
    category
        The category filter that was applied: a 5-digit code, a 2-digit class, or None for all.
    period_label
        The period shown, e.g. ``"2025-03"`` or ``"2025-01-01 – 2025-03-31"``.
    static_url, basemap, tianditu_key, language, coord_transform
        As for :func:`build_overview_map`. The heat layer's script, leaflet.heat, is vendored under
        ``{static_url}/vendor/leaflet.heat/`` like the rest.
    synthetic
        Show the "合成数据 / synthetic demo data" notice.

    The "all" heat layer is shown; one layer per category class (the first two digits) can be
    switched on in the layer control instead. The legend draws the colour ramp and the counts per class.
    """
    if basemap not in BASEMAPS:
        raise InvalidInputError(
            f"unknown basemap {basemap!r}; choose one of {', '.join(BASEMAPS)}", field="basemap", rule="one of"
        )
    if language not in LANGUAGES:
        raise InvalidInputError(
            f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}", field="language",
            rule="one of",
        )
    text = _HEAT_TEXT[language]
    pts = _prepare(incidents, "incidents")
    pts = pts[pts.geometry.geom_type == "Point"]
    areas = _prepare(communities, "communities")
    if basemap == "amap":
        shift = coord_transform or gcj02_from_wgs84
        pts, areas = _shift(pts, shift), _shift(areas, shift)

    m = _new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)

    if not areas.empty:
        folium.GeoJson(
            _features(areas, {"name": _column(areas, "name"), "code": _column(areas, "code")}),
            name=text["communities"],
            style_function=_style({"color": "#546e7a", "weight": 1, "fill": False, "opacity": 0.8}),
            tooltip=folium.GeoJsonTooltip(["name", "code"], aliases=[_t(language, "name"), _t(language, "code")]),
            smooth_factor=1.0,
        ).add_to(m)

    lat = np.round(pts.geometry.y.to_numpy(dtype=float), HEAT_DECIMALS)
    lon = np.round(pts.geometry.x.to_numpy(dtype=float), HEAT_DECIMALS)
    codes = (
        pts["category_code"].astype(str).to_numpy(dtype=object)
        if "category_code" in pts
        else np.full(len(pts), "", dtype=object)
    )
    classes = np.asarray([c[:2] for c in codes], dtype=object)
    class_names = category_classes()
    heat_options: dict[str, Any] = {
        "radius": HEAT_RADIUS,
        "blur": HEAT_BLUR,
        "max_zoom": HEAT_MAX_ZOOM,
        "min_opacity": 0.3,
        "gradient": {str(k): v for k, v in HEAT_GRADIENT.items()},
    }
    class_counts: list[tuple[str, str, int]] = []
    if len(pts):
        data = np.column_stack([lat, lon]).tolist()
        _Heat(data, static_url=static_url, name=text["all"], **heat_options).add_to(m)
        for cls in sorted(set(classes.tolist())):
            sel = np.flatnonzero(classes == cls)
            name = class_names.get(cls, cls)
            class_counts.append((cls, name, len(sel)))
            if len(set(classes.tolist())) > 1:
                _Heat(
                    np.column_stack([lat[sel], lon[sel]]).tolist(),
                    static_url=static_url,
                    name=f"{cls} {name} ({len(sel)})",
                    show=False,
                    **heat_options,
                ).add_to(m)

    if title is None:
        title = text["title"]
    _set_title(m, title)
    info = [
        f"{html.escape(text['category'])}: <b>{html.escape(category_label(category, language))}</b>",
        f"{html.escape(text['period'])}: <b>{html.escape(period_label or text['whole_period'])}</b>",
        html.escape(text["count"].format(n=len(pts)) if len(pts) else text["none"]),
    ]
    _HtmlControl(
        f"{html.escape(title)}<div class='gg-heat-info'><small>{'<br>'.join(info)}</small></div>",
        position="topright",
        css_class="gg-panel gg-title",
    ).add_to(m)
    if synthetic:
        _HtmlControl(
            html.escape(_t(language, "synthetic")), position="bottomleft", css_class="gg-panel gg-synthetic"
        ).add_to(m)
    _HtmlControl(
        _heat_legend_html(language, class_counts), position="bottomright", css_class="gg-panel gg-legend"
    ).add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    bounds_from = next((x for x in (pts, areas) if not x.empty), None)
    if bounds_from is not None:
        minx, miny, maxx, maxy = bounds_from.total_bounds
        if maxx - minx < 1e-3 and maxy - miny < 1e-3:  # one point: a street-level view, not zoom 18
            minx, miny, maxx, maxy = minx - 0.005, miny - 0.005, maxx + 0.005, maxy + 0.005
        m.fit_bounds([[float(miny), float(minx)], [float(maxy), float(maxx)]], padding=(10, 10))
    return m


__all__ += ["HEAT_GRADIENT", "HEAT_JS", "build_incident_heatmap", "category_label"]
