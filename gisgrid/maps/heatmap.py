"""The leader's incident heat map: where cases cluster, by category class and period."""

from __future__ import annotations

import html
from typing import Any

import folium
import geopandas as gpd
import numpy as np
from folium.plugins import HeatMap

from gisgrid.catalog import categories, category_classes
from gisgrid.maps.assets import heat_js
from gisgrid.maps.base import (
    HtmlControl,
    add_area_labels,
    add_layer_control,
    add_outline,
    add_synthetic_notice,
    add_title,
    fit_to,
    new_map,
    overlays,
)
from gisgrid.maps.basemaps import Basemap, CoordTransform
from gisgrid.maps.text import HEAT_TEXT, Language

#: Stops of the heat colour ramp (also drawn as the legend's bar), low → high density.
HEAT_GRADIENT: dict[float, str] = {0.4: "#2c7bb6", 0.6: "#00a6ca", 0.7: "#90eb9d", 0.8: "#f9d057", 1.0: "#d7191c"}
HEAT_RADIUS = 18
HEAT_BLUR = 14
#: Zoom at which one case reaches full intensity (leaflet.heat scales intensity by 2^(zoom − max_zoom)).
HEAT_MAX_ZOOM = 18
HEAT_DECIMALS = 5  # ~1 m: enough for a heat map, and keeps the page small
COMMUNITY_OUTLINE = {"color": "#546e7a", "weight": 1, "fill": False, "opacity": 0.8}


def category_label(category: str | None, language: str = "zh-CN") -> str:
    """``'06010 暴露垃圾'`` for an item code, ``'06 市容环境'`` for a 2-digit class, "all" for None."""
    if not category:
        return HEAT_TEXT[language]["all_categories"]
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
        self.default_js = heat_js(static_url)


def _heat_legend_html(language: str, class_counts: list[tuple[str, str, int]]) -> str:
    text = HEAT_TEXT[language]
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
        As for :func:`gisgrid.maps.build_overview_map`. The heat layer's script, leaflet.heat, is
        vendored under ``{static_url}/vendor/leaflet.heat/`` like the rest.
    synthetic
        Show the "合成数据 / synthetic demo data" notice.

    The "all" heat layer is shown; one layer per category class (the first two digits) can be
    switched on in the layer control instead. The legend draws the colour ramp and the counts per class.
    """
    layers = overlays(
        {"incidents": incidents, "communities": communities},
        basemap=basemap,
        language=language,
        coord_transform=coord_transform,
    )
    pts, areas = layers["incidents"], layers["communities"]
    pts = pts[pts.geometry.geom_type == "Point"]
    text = HEAT_TEXT[language]

    m = new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)

    add_outline(m, areas, COMMUNITY_OUTLINE, text["communities"], language)
    add_area_labels(m, areas, language)

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
    info = [
        f"{html.escape(text['category'])}: <b>{html.escape(category_label(category, language))}</b>",
        f"{html.escape(text['period'])}: <b>{html.escape(period_label or text['whole_period'])}</b>",
        html.escape(text["count"].format(n=len(pts)) if len(pts) else text["none"]),
    ]
    add_title(m, title, "<br>".join(info), "gg-heat-info")
    if synthetic:
        add_synthetic_notice(m, language)
    HtmlControl(
        _heat_legend_html(language, class_counts), position="bottomright", css_class="gg-panel gg-legend"
    ).add_to(m)
    add_layer_control(m, collapsed=True)
    fit_to(m, (pts, areas), widen_point=True)
    return m
