"""What every map page shares: the empty map, gisgrid's CSS and controls, input checks, rendering.

These are the building blocks of :mod:`~gisgrid.maps.overview`, :mod:`~gisgrid.maps.grid_map` and
:mod:`~gisgrid.maps.heatmap`; only :func:`render_html` and :func:`layer_summary` are re-exported by
:mod:`gisgrid.maps`.

No per-feature style switch: a ``style_function`` that varies by feature becomes a JavaScript
``switch`` with one case per feature, which makes a district's page megabytes long and slow to draw.
Each layer is therefore split by class into a few GeoJSON layers, each with one constant style
(:func:`fixed_style`).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
from branca.element import Element, Figure, MacroElement
from folium.template import Template
from jinja2.utils import htmlsafe_json_dumps

from gisgrid.errors import CRSError, InvalidInputError
from gisgrid.maps.assets import use_local_assets
from gisgrid.maps.basemaps import BASEMAPS, PLAIN_BACKGROUND, CoordTransform, add_basemap, to_basemap
from gisgrid.maps.mobile import COLLAPSIBLE_JS, LEGEND_BUTTON, MOBILE_CSS, LabelLayout, PhoneLayerControl
from gisgrid.maps.text import LANGUAGES, phrase

CSS = """
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
  .gg-far .gg-label-icon:not([class*="gg-minz-"]) { display: none; }
</style>
"""


class HtmlControl(MacroElement):
    """A fixed Leaflet control (title, legend, data notice) holding a piece of trusted HTML."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = L.control({position: {{ this.position|tojson }}});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
                {% if this.collapsible %}{{ this.collapsible_js() }}
                {% else %}div.innerHTML = {{ this.html|tojson }};{% endif %}
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, html_text: str, *, position: str, css_class: str, collapsible: bool | None = None
    ) -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html = html_text
        self.position = position
        self.css_class = css_class
        # a legend gets a button that opens and closes it (closed at first on a phone)
        self.collapsible = "gg-legend" in css_class.split() if collapsible is None else collapsible

    def collapsible_js(self) -> str:
        """The script that builds the button and the body of a collapsible panel (in the page's language)."""
        language = getattr(self._parent, "_gisgrid_language", "zh-CN")
        label = LEGEND_BUTTON.get(language, LEGEND_BUTTON["zh-CN"])
        return COLLAPSIBLE_JS % {"label": htmlsafe_json_dumps(label), "html": htmlsafe_json_dumps(self.html)}


class HideLabelsWhenFar(MacroElement):
    """Labels pile up when a whole district is in view: show them from ``min_zoom`` on."""

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


# --------------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------------


def check_choice(value: str, choices: tuple[str, ...], field: str) -> None:
    """Refuse a basemap or language the maps do not know, naming the ones they do."""
    if value not in choices:
        raise InvalidInputError(
            f"unknown {field} {value!r}; choose one of {', '.join(choices)}", field=field, rule="one of"
        )


def prepare(gdf: gpd.GeoDataFrame | None, field: str) -> gpd.GeoDataFrame:
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


def _display(value: Any) -> str:
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


def column(gdf: gpd.GeoDataFrame, name: str) -> list[str]:
    """A column's values ready for a tooltip or popup (a missing column gives blanks)."""
    if name not in gdf.columns:
        return [""] * len(gdf)
    return [_display(v) for v in gdf[name]]


def features(gdf: gpd.GeoDataFrame, props: Mapping[str, list[str]]) -> gpd.GeoDataFrame:
    """A slim GeoDataFrame (display properties + geometry) for folium to serialise."""
    data = {k: list(v) for k, v in props.items()}
    return gpd.GeoDataFrame(data, geometry=list(gdf.geometry.values), crs=4326)


def overlays(
    layers: Mapping[str, gpd.GeoDataFrame | None],
    *,
    basemap: str,
    language: str,
    coord_transform: CoordTransform | None,
) -> dict[str, gpd.GeoDataFrame]:
    """A map builder's inputs checked and ready to draw, keyed like ``layers``.

    The basemap and language must be known; each layer is brought to EPSG:4326 without empty
    geometries (None gives an empty layer) and, on Amap's GCJ-02 tiles, shifted to match.
    """
    check_choice(basemap, BASEMAPS, "basemap")
    check_choice(language, LANGUAGES, "language")
    prepared = {name: prepare(gdf, name) for name, gdf in layers.items()}
    return {name: to_basemap(gdf, basemap, coord_transform) for name, gdf in prepared.items()}


def fixed_style(style: Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """A ``style_function`` that ignores the feature, so folium emits one style, not a switch."""
    fixed = dict(style)
    return lambda _feature: fixed


# --------------------------------------------------------------------------------------------------
# The map and its fixed controls
# --------------------------------------------------------------------------------------------------


def new_map(*, static_url: str, basemap: str, tianditu_key: str | None, language: str) -> folium.Map:
    """An empty map with the local assets, gisgrid's CSS, the page language and the chosen basemap."""
    m = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25, location=[35.0, 105.0], zoom_start=4)
    use_local_assets(m, static_url)
    setattr(m, "_gisgrid_language", language)  # noqa: B010 - read by render_html for <html lang>
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(CSS), name="gisgrid_css")
    root.header.add_child(Element(MOBILE_CSS), name="gisgrid_mobile_css")
    # an empty inline icon: the browser then asks the server for no /favicon.ico (no 404 in the console)
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="gisgrid_favicon")
    if basemap == "none":
        root.header.add_child(
            Element(f"<style>.leaflet-container {{ background: {PLAIN_BACKGROUND}; }}</style>"),
            name="gisgrid_plain_background",
        )
    add_basemap(m, basemap, tianditu_key, language)
    LabelLayout().add_to(m)
    return m


def add_layer_control(m: folium.Map, *, collapsed: bool = False) -> folium.LayerControl:
    """The layer switcher, top right; open on a desk (unless ``collapsed``), closed at first on a phone."""
    control = folium.LayerControl(collapsed=collapsed, position="topright")
    control.add_to(m)
    if not collapsed:
        PhoneLayerControl(control.get_name()).add_to(m)
    return control


def set_title(m: folium.Map, title: str) -> None:
    """The page's ``<title>``."""
    root = m.get_root()
    assert isinstance(root, Figure)
    root.title = title


def add_title(m: folium.Map, title: str, details: str | None = None, details_class: str = "") -> None:
    """The page's ``<title>`` and the title panel, top right; ``details`` is trusted HTML under it."""
    set_title(m, title)
    body = html.escape(title)
    if details is not None:
        body += f"<div class='{details_class}'><small>{details}</small></div>"
    HtmlControl(body, position="topright", css_class="gg-panel gg-title").add_to(m)


def add_synthetic_notice(m: folium.Map, language: str) -> None:
    """The loud "合成数据 / synthetic demo data" notice, bottom left: nobody may take the demo for real."""
    HtmlControl(
        html.escape(phrase(language, "synthetic")), position="bottomleft", css_class="gg-panel gg-synthetic"
    ).add_to(m)


def fit_to(m: folium.Map, candidates: Iterable[gpd.GeoDataFrame], *, widen_point: bool = False) -> None:
    """Open the map on the first non-empty layer of ``candidates`` (nothing to fit: the default view).

    With ``widen_point``, a single point (or a cluster under ~100 m) opens at street level rather
    than at the highest zoom.
    """
    bounds_from = next((gdf for gdf in candidates if not gdf.empty), None)
    if bounds_from is None:
        return
    minx, miny, maxx, maxy = bounds_from.total_bounds
    if widen_point and maxx - minx < 1e-3 and maxy - miny < 1e-3:
        minx, miny, maxx, maxy = minx - 0.005, miny - 0.005, maxx + 0.005, maxy + 0.005
    m.fit_bounds([[float(miny), float(minx)], [float(maxy), float(maxx)]], padding=(10, 10))


def add_outline(
    m: folium.Map, gdf: gpd.GeoDataFrame, style: Mapping[str, Any], name: str, language: str
) -> None:
    """Polygons as outlines named in the layer control, with their name and code on hover."""
    if gdf.empty:
        return
    feats = features(gdf, {"name": column(gdf, "name"), "code": column(gdf, "code")})
    folium.GeoJson(
        feats,
        name=name,
        style_function=fixed_style(style),
        tooltip=folium.GeoJsonTooltip(
            ["name", "code"], aliases=[phrase(language, "name"), phrase(language, "code")]
        ),
        smooth_factor=1.0,
    ).add_to(m)


AREA_LABEL_MIN_ZOOM = 14
"""Community names show from this zoom (a community fills a good part of a phone's screen)."""


def add_area_labels(
    m: folium.Map, gdf: gpd.GeoDataFrame, language: str, *, min_zoom: float = AREA_LABEL_MIN_ZOOM
) -> None:
    """Permanent name labels (with the code under the name) of areas, from ``min_zoom`` on.

    A layer of its own ("community names") in the layer control; the page's label layout keeps them
    off station dots and off each other.
    """
    if gdf.empty or "name" not in gdf.columns:
        return
    labels = folium.FeatureGroup(name=phrase(language, "community_labels"))
    codes = column(gdf, "code")
    for point, name, code in zip(gdf.geometry.representative_point(), column(gdf, "name"), codes, strict=True):
        if not name:
            continue
        small = f"<br><small>{code}</small>" if code else ""
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=f'<div class="gg-label gg-area-label">{name}{small}</div>',
                class_name=f"gg-label-icon gg-minz-{min_zoom:g}",
                icon_size=(160, 32),
                icon_anchor=(80, 16),
            ),
            interactive=False,
        ).add_to(labels)
    labels.add_to(m)


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
