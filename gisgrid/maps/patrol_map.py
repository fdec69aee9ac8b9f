"""The patrol map of one worker's grid and week: the planned day routes, buildings visited and not
visited in two colours, and the check-ins (flagged ones apart)."""

from __future__ import annotations

import html
from typing import Any

import folium
import geopandas as gpd
import numpy as np

from gisgrid.maps.base import (
    HtmlControl,
    add_layer_control,
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
from gisgrid.maps.text import PATROL_TEXT, Language

__all__ = ["DAY_COLOURS", "PATROL_STYLES", "build_patrol_map"]

PATROL_STYLES: dict[str, dict[str, Any]] = {
    "grid": {"color": "#37474f", "weight": 2.5, "dashArray": "6 4", "fillColor": "#eceff1", "fillOpacity": 0.15},
    "visited": {"color": "#1b5e20", "weight": 1.2, "fillColor": "#43a047", "fillOpacity": 0.75},
    "unvisited": {"color": "#b71c1c", "weight": 1.2, "fillColor": "#e53935", "fillOpacity": 0.75},
    "checkin": {"color": "#0d47a1", "weight": 1, "fillColor": "#1e88e5", "fillOpacity": 0.9},
    "flagged": {"color": "#616161", "weight": 1, "fillColor": "#bdbdbd", "fillOpacity": 0.9},
}
DAY_COLOURS = ("#1565c0", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#558b2f", "#4e342e")


def build_patrol_map(
    *,
    grid: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    routes: gpd.GeoDataFrame | None = None,
    checkins: gpd.GeoDataFrame | None = None,
    week: str = "",
    static_url: str = "/static",
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    language: Language = "zh-CN",
    synthetic: bool = False,
    coord_transform: CoordTransform | None = None,
) -> folium.Map:
    """The patrol map.

    ``buildings`` need a boolean ``visited`` (and may have ``building_id``, ``name``, ``households``);
    ``routes`` one (Multi)LineString per day with ``day_index`` (and ``plan_date``, ``length_m``);
    ``checkins`` points with ``plausible`` (and ``at``, ``flags``). Each class is its own GeoJSON layer
    with one constant style (no per-feature style switch).
    """
    layers = overlays({"grid": grid, "buildings": buildings, "routes": routes, "checkins": checkins},
                      basemap=basemap, language=language, coord_transform=coord_transform)
    g, b, r, c = layers["grid"], layers["buildings"], layers["routes"], layers["checkins"]
    text = PATROL_TEXT[language]
    m = new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)
    if not g.empty:
        folium.GeoJson(features(g, {"code": column(g, "code")}), name=text["grid"],
                       style_function=fixed_style(PATROL_STYLES["grid"]),
                       tooltip=folium.GeoJsonTooltip(["code"], aliases=[text["grid"]])).add_to(m)
    visited = b["visited"].astype(bool).to_numpy() if "visited" in b else np.zeros(len(b), dtype=bool)
    counts = {"visited": int(visited.sum()), "unvisited": len(b) - int(visited.sum())}
    for cls, mask in (("visited", visited), ("unvisited", ~visited)):
        part = b[mask]
        if part.empty:
            continue
        folium.GeoJson(
            features(part, {"building_id": column(part, "building_id"), "name": column(part, "name"),
                            "households": column(part, "households"), "status": [cls] * len(part)}),
            name=f"{text[cls]} ({len(part)})", style_function=fixed_style(PATROL_STYLES[cls]),
            tooltip=folium.GeoJsonTooltip(["building_id", "name", "households"],
                                          aliases=[text["building"], "", text["households"]]),
        ).add_to(m)
    legend_days = []
    if not r.empty:
        days = r["day_index"].astype(int).tolist() if "day_index" in r else list(range(len(r)))
        dates = column(r, "plan_date")
        lengths = column(r, "length_m")
        for k, (day, date) in enumerate(zip(days, dates, strict=True)):
            colour = DAY_COLOURS[day % len(DAY_COLOURS)]
            label = text["day"].format(n=day + 1, date=date)
            folium.GeoJson(
                features(r.iloc[[k]], {"day": [label], "length_m": [lengths[k]]}), name=f"{text['route']} · {label}",
                style_function=fixed_style({"color": colour, "weight": 4, "opacity": 0.85}),
                tooltip=folium.GeoJsonTooltip(["day", "length_m"], aliases=[text["route"], text["length"]]),
            ).add_to(m)
            legend_days.append((colour, label))
    if not c.empty:
        plausible = c["plausible"].astype(bool).to_numpy() if "plausible" in c else np.ones(len(c), dtype=bool)
        for cls, mask in (("checkin", plausible), ("flagged", ~plausible)):
            part = c[mask]
            if part.empty:
                continue
            folium.GeoJson(
                features(part, {"at": column(part, "at"), "flags": column(part, "flags")}),
                name=text["checkins" if cls == "checkin" else "flagged"],
                marker=folium.CircleMarker(radius=5, fill=True), style_function=fixed_style(PATROL_STYLES[cls]),
                tooltip=folium.GeoJsonTooltip(["at", "flags"], aliases=[text["time"], text["flags"]]),
            ).add_to(m)
    total_km = (gpd.pd.to_numeric(r["length_m"], errors="coerce").sum() / 1000) if "length_m" in r else 0.0
    summary = text["summary"].format(week=week, v=counts["visited"], n=len(b), km=f"{total_km:.1f}")
    add_title(m, text["title"], html.escape(summary), "gg-patrol-summary")
    HtmlControl(_legend(language, counts, legend_days), position="bottomright",
                css_class="gg-panel gg-legend").add_to(m)
    if synthetic:
        add_synthetic_notice(m, language)
    add_layer_control(m)
    fit_to(m, (g, b, r))
    return m


def _legend(language: str, counts: dict[str, int], days: list[tuple[str, str]]) -> str:
    text = PATROL_TEXT[language]
    parts = []
    for cls in ("visited", "unvisited"):
        s = PATROL_STYLES[cls]
        label = f"{html.escape(text[cls])} ({counts[cls]})"
        parts.append(f'<div class="row-item gg-patrol-{cls}"><span class="gg-swatch" style="background:'
                     f'{s["fillColor"]};border-color:{s["color"]}"></span>{label}</div>')
    if days:
        parts.append(f"<h6>{html.escape(text['route'])}</h6>")
        for colour, label in days:
            parts.append(f'<div class="row-item"><span class="gg-swatch" style="background:{colour};'
                         f'border-color:{colour};height:4px"></span>{html.escape(label)}</div>')
    return "".join(parts)
