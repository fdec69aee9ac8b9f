"""The district overview a leader opens first: areas, complexes by management, stations by kind."""

from __future__ import annotations

import html
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely

from gisgrid import vocab
from gisgrid.maps.base import (
    HideLabelsWhenFar,
    HtmlControl,
    add_layer_control,
    add_outline,
    add_synthetic_notice,
    add_title,
    column,
    features,
    fit_to,
    fixed_style,
    new_map,
    overlays,
)
from gisgrid.maps.basemaps import Basemap, CoordTransform
from gisgrid.maps.text import Language, phrase, term

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


LABEL_MIN_ZOOM = 14  # community labels; below this the district view is a pile of names
STATION_LABEL_MIN_ZOOM = 16  # station names: only close in, where stations are a street apart


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
        Shown top right; defaults to the district's name + "网格化管理总览".
    synthetic
        Show the "合成数据 / synthetic demo data" notice (on for the demo district).
    coord_transform
        Override of the WGS84 → GCJ-02 shift used for ``basemap="amap"`` (vectorised ``(lon, lat)``).
    """
    layers = overlays(
        {
            "district": district,
            "street_areas": street_areas,
            "communities": communities,
            "complexes": complexes,
            "stations": stations,
        },
        basemap=basemap,
        language=language,
        coord_transform=coord_transform,
    )
    m = new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)

    _add_communities(m, layers["communities"], language)
    _add_complexes(m, layers["complexes"], language)
    add_outline(m, layers["street_areas"], STREET_STYLE, phrase(language, "streets"), language)
    add_outline(m, layers["district"], DISTRICT_STYLE, phrase(language, "district"), language)
    _add_stations(m, layers["stations"], language)

    district_name = (
        layers["district"]["name"].iloc[0]
        if "name" in layers["district"] and len(layers["district"])
        else None
    )
    if title is None:
        title = (
            phrase(language, "title").format(district=district_name)
            if district_name
            else phrase(language, "title_empty")
        )
    add_title(m, title)
    if synthetic:
        add_synthetic_notice(m, language)
    HtmlControl(_legend_html(language), position="bottomright", css_class="gg-panel gg-legend").add_to(m)
    add_layer_control(m)

    HideLabelsWhenFar(LABEL_MIN_ZOOM).add_to(m)
    # open on where people live (the communities), not on the whole district's fields and hills
    fit_to(m, (layers[k] for k in ("communities", "street_areas", "complexes", "stations", "district")))
    return m


def _add_communities(m: folium.Map, gdf: gpd.GeoDataFrame, language: str) -> None:
    if gdf.empty:
        return
    group = folium.FeatureGroup(name=phrase(language, "communities"))
    names, codes = column(gdf, "name"), column(gdf, "code")
    colours = np.asarray(_greedy_colours(gdf))
    for index in sorted(set(colours.tolist())):
        rows = np.flatnonzero(colours == index)
        part = gdf.iloc[rows]
        fill = COMMUNITY_PALETTE[index]
        folium.GeoJson(
            features(part, {"name": [names[i] for i in rows], "code": [codes[i] for i in rows]}),
            style_function=fixed_style({"color": "#546e7a", "weight": 1, "fillColor": fill, "fillOpacity": 0.45}),
            tooltip=folium.GeoJsonTooltip(
                ["name", "code"], aliases=[phrase(language, "name"), phrase(language, "code")]
            ),
            control=False,
        ).add_to(group)
    group.add_to(m)

    labels = folium.FeatureGroup(name=phrase(language, "community_labels"))
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
    group = folium.FeatureGroup(name=phrase(language, "complexes"))
    management = (
        gdf["management"].fillna("unknown").astype(str)
        if "management" in gdf
        else gpd.pd.Series("unknown", index=gdf.index)
    )
    management = management.where(management.isin(vocab.MANAGEMENT_KINDS), "unknown")  # never drop a complex
    names = column(gdf, "name")
    for kind in vocab.MANAGEMENT_KINDS:
        rows = np.flatnonzero((management == kind).to_numpy())
        if not len(rows):
            continue
        part = gdf.iloc[rows]
        feats = features(
            part, {"name": [names[i] for i in rows], "management": [term(kind, language)] * len(rows)}
        )
        folium.GeoJson(
            feats,
            style_function=fixed_style(MANAGEMENT_STYLES[kind]),
            tooltip=folium.GeoJsonTooltip(
                ["name", "management"], aliases=[phrase(language, "name"), phrase(language, "management")]
            ),
            control=False,
        ).add_to(group)
    group.add_to(m)


def _add_stations(m: folium.Map, gdf: gpd.GeoDataFrame, language: str) -> None:
    if gdf.empty:
        return
    group = folium.FeatureGroup(name=phrase(language, "stations"))
    kinds = gdf["kind"].astype(str) if "kind" in gdf else gpd.pd.Series("", index=gdf.index)
    statuses = gdf["status"].astype(str) if "status" in gdf else gpd.pd.Series("open", index=gdf.index)
    names = column(gdf, "name")
    opened = column(gdf, "opened_on")
    radius = column(gdf, "service_radius_m")
    fields = ["name", "kind", "status", "opened_on", "radius"]
    aliases = [phrase(language, f) for f in fields]
    pairs = sorted(set(zip(kinds, statuses, strict=True)))
    for kind, status in pairs:
        rows = np.flatnonzero(((kinds == kind) & (statuses == status)).to_numpy())
        feats = features(
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
            style_function=fixed_style(station_style(kind, status)),
            popup=folium.GeoJsonPopup(fields, aliases=aliases),
            tooltip=folium.GeoJsonTooltip(["name", "kind"], labels=False),
            control=False,
        ).add_to(group)
    group.add_to(m)
    add_station_labels(m, gdf, names, [STATION_RADII.get(k, 6) for k in kinds], phrase(language, "station_labels"))


def add_station_labels(
    m: folium.Map, gdf: gpd.GeoDataFrame, names: list[str], radii: list[int], layer_name: str
) -> None:
    """Station names beside (not on) their dots, from zoom :data:`STATION_LABEL_MIN_ZOOM` on.

    ``names`` are already HTML-escaped. The label starts a few pixels right of the dot; the page's
    label layout moves it elsewhere, or hides it, when it would cover another dot or label.
    """
    labels = folium.FeatureGroup(name=layer_name)
    for point, name, radius in zip(gdf.geometry, names, radii, strict=True):
        if not name:
            continue
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=f'<div class="gg-label gg-station-label">{name}</div>',
                class_name=f"gg-label-icon gg-station-label-icon gg-minz-{STATION_LABEL_MIN_ZOOM}",
                icon_size=(200, 16),
                icon_anchor=(-(radius + 4), 8),
            ),
            interactive=False,
        ).add_to(labels)
    labels.add_to(m)


def _legend_html(language: str) -> str:
    parts = [f"<h6>{html.escape(phrase(language, 'management'))}</h6>"]
    for kind in vocab.MANAGEMENT_KINDS:
        s = MANAGEMENT_STYLES[kind]
        parts.append(
            f'<div class="row-item"><span class="gg-swatch" style="background:{s["fillColor"]};'
            f'border-color:{s["color"]}"></span>{html.escape(term(kind, language))}</div>'
        )
    parts.append(f"<h6>{html.escape(phrase(language, 'station_kind'))}</h6>")
    for kind in vocab.STATION_KINDS:
        colour = STATION_COLOURS[kind]
        parts.append(
            f'<div class="row-item"><span class="gg-dot" style="background:{colour};'
            f'border-color:#fff"></span>{html.escape(term(kind, language))}</div>'
        )
    parts.append(f"<h6>{html.escape(phrase(language, 'station_status'))}</h6>")
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

