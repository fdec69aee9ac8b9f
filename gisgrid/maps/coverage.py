"""The leader's coverage map: each open station's walking service area, where the uncovered households
are (a heat map weighted by households), which complexes they live in (listed by size) and, when
asked, the suggested new sites."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import HeatMap

from gisgrid.maps.assets import heat_js
from gisgrid.maps.base import (
    HtmlControl,
    add_area_labels,
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
from gisgrid.maps.coverage_text import COVERAGE_TEXT, share_text
from gisgrid.maps.overview import STATION_COLOURS, STATION_RADII
from gisgrid.maps.text import Language, term

__all__ = ["AREA_STYLE", "UNCOVERED_GRADIENT", "build_coverage_map"]

COMMUNITY_OUTLINE = {"color": "#546e7a", "weight": 1, "fill": False, "opacity": 0.7}
AREA_STYLE: dict[str, Any] = {"weight": 1, "opacity": 0.8, "fillOpacity": 0.22, "className": "gg-isochrone"}
UNCOVERED_STYLE = {
    "color": "#c62828",
    "weight": 2,
    "dashArray": "5 4",
    "fill": True,
    "fillColor": "#ef9a9a",
    "fillOpacity": 0.12,
    "className": "gg-uncovered-complex",
}
SUGGESTION_COLOUR = "#6a1b9a"
#: from few to many uncovered households; the heat is weighted by households, so a 300-flat tower
#: glows where a villa barely shows
UNCOVERED_GRADIENT: dict[float, str] = {0.3: "#fee391", 0.55: "#fe9929", 0.8: "#d95f0e", 1.0: "#993404"}
HEAT_RADIUS = 22
HEAT_BLUR = 18
LISTED_COMPLEXES = 12


class _Heat(HeatMap):  # type: ignore[misc]
    """folium's HeatMap with leaflet.heat from the API's own static files (never the CDN it defaults to)."""

    def __init__(self, data: list[list[float]], *, static_url: str, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.default_js = heat_js(static_url)


def _figures_html(text: dict[str, str], kind: str, language: str, figures: dict[str, Any]) -> str:
    total, covered = int(figures.get("households_total", 0)), int(figures.get("households_covered", 0))
    share = covered / total if total else None
    return "<br>".join(
        [
            text["covered"].format(covered=f"{covered:,}", total=f"{total:,}", share=share_text(share)),
            text["stations"].format(
                kind=html.escape(term(kind, language)), n=int(figures.get("stations_open", 0))
            ),
            html.escape(text["uncovered_buildings"].format(n=int(figures.get("buildings_uncovered", 0)))),
        ]
    )


def _complex_list_html(text: dict[str, str], complexes: pd.DataFrame) -> str:
    rows = complexes[complexes["uncovered"] > 0].sort_values(["uncovered", "name"], ascending=[False, True])
    parts = [f"<h6>{html.escape(text['list_title'])}</h6>"]
    if rows.empty:
        return parts[0] + f"<div>{html.escape(text['list_none'])}</div>"
    parts.append('<table class="gg-uncovered-list" style="font-size:12px">')
    parts.append(
        f"<tr><th>{html.escape(text['complex'])}</th><th style='text-align:right'>"
        f"{html.escape(text['uncovered'])}</th><th style='text-align:right'>"
        f"{html.escape(text['households'])}</th></tr>"
    )
    for _, row in rows.head(LISTED_COMPLEXES).iterrows():
        parts.append(
            f"<tr><td>{html.escape(str(row['name']))}</td><td style='text-align:right'>"
            f"<b>{int(row['uncovered']):,}</b></td><td style='text-align:right'>{int(row['households']):,}</td></tr>"
        )
    parts.append("</table>")
    if len(rows) > LISTED_COMPLEXES:
        parts.append(
            f"<small>{html.escape(text['list_more'].format(n=len(rows) - LISTED_COMPLEXES))}</small>"
        )
    return "".join(parts)


def _legend_html(text: dict[str, str], kind: str, with_suggestions: bool) -> str:
    colour = STATION_COLOURS.get(kind, "#455a64")
    stops = ", ".join(f"{c} {int(s * 100)}%" for s, c in sorted(UNCOVERED_GRADIENT.items()))
    parts = [
        f'<div class="row-item"><span class="gg-swatch" style="background:{colour}33;border-color:{colour}"></span>'
        f"{html.escape(text['legend_area'])}</div>",
        f'<div class="row-item"><span class="gg-dot" style="background:{colour};border-color:#fff"></span>'
        f"{html.escape(text['legend_station'])}</div>",
        f'<div class="row-item"><span class="gg-swatch" style="background:#ef9a9a55;border-color:#c62828;'
        f'border-style:dashed"></span>{html.escape(text["legend_uncovered"])}</div>',
        f"<h6>{html.escape(text['legend_heat'])}</h6>",
        f'<div style="width:150px;height:10px;border:1px solid #999;background:linear-gradient(to right, '
        f'transparent 0%, {stops})"></div>',
        f'<div style="display:flex;justify-content:space-between;width:150px"><small>{html.escape(text["low"])}'
        f"</small><small>{html.escape(text['high'])}</small></div>",
    ]
    if with_suggestions:
        parts.append(
            f'<div class="row-item"><span class="gg-dot" style="background:{SUGGESTION_COLOUR};'
            f'border-color:#fff"></span>{html.escape(text["legend_suggestion"])}</div>'
        )
    return "".join(parts)


def _add_areas(m: folium.Map, areas: gpd.GeoDataFrame, kind: str, text: dict[str, str]) -> None:
    areas = areas[areas.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if areas.empty:
        return
    colour = STATION_COLOURS.get(kind, "#455a64")
    folium.GeoJson(
        features(areas, {"name": column(areas, "name")}),
        name=text["service_areas"],
        style_function=fixed_style({**AREA_STYLE, "color": colour, "fillColor": colour}),
        tooltip=folium.GeoJsonTooltip(["name"], labels=False),
        smooth_factor=1.0,
    ).add_to(m)


def _add_stations(m: folium.Map, stations: gpd.GeoDataFrame, kind: str, text: dict[str, str]) -> None:
    pts = stations[stations.geometry.geom_type == "Point"]
    if pts.empty:
        return
    colour = STATION_COLOURS.get(kind, "#455a64")
    folium.GeoJson(
        features(pts, {"name": column(pts, "name"), "opened_on": column(pts, "opened_on")}),
        name=text["stations_layer"],
        marker=folium.CircleMarker(radius=STATION_RADII.get(kind, 6)),
        style_function=fixed_style(
            {
                "color": "#ffffff",
                "weight": 1.5,
                "fill": True,
                "fillColor": colour,
                "fillOpacity": 0.95,
                "className": "gg-station",
            }
        ),
        tooltip=folium.GeoJsonTooltip(["name", "opened_on"], aliases=[text["name"], text["opened_on"]]),
    ).add_to(m)


def _add_uncovered(m: folium.Map, complexes: gpd.GeoDataFrame, text: dict[str, str]) -> None:
    part = complexes[complexes["uncovered"] > 0] if "uncovered" in complexes else complexes.iloc[:0]
    if part.empty:
        return
    folium.GeoJson(
        features(
            part,
            {
                "name": column(part, "name"),
                "uncovered": [f"{int(v):,}" for v in part["uncovered"]],
                "households": [f"{int(v):,}" for v in part["households"]],
            },
        ),
        name=text["uncovered_complexes"],
        style_function=fixed_style(UNCOVERED_STYLE),
        tooltip=folium.GeoJsonTooltip(
            ["name", "uncovered", "households"],
            aliases=[text["complex"], text["uncovered"], text["households"]],
        ),
    ).add_to(m)


def _add_suggestions(m: folium.Map, sites: gpd.GeoDataFrame, text: dict[str, str]) -> None:
    if sites.empty:
        return
    group = folium.FeatureGroup(name=text["suggestions"])
    for rank, (_, row) in enumerate(sites.iterrows(), start=1):
        label = html.escape(str(row.get("name", "")))
        adds = html.escape(text["adds"].format(n=f"{int(row.get('adds_households', 0)):,}"))
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x],
            radius=9,
            color="#ffffff",
            weight=2,
            fill=True,
            fill_color=SUGGESTION_COLOUR,
            fill_opacity=0.95,
            class_name="gg-suggestion",
            tooltip=f"<b>{int(row.get('rank', rank))}</b> {label}<br>{adds}",
        ).add_to(group)
    group.add_to(m)


def build_coverage_map(
    *,
    kind: str,
    threshold_m: float,
    as_of: dt.date,
    service_areas: gpd.GeoDataFrame | None,
    stations: gpd.GeoDataFrame | None,
    uncovered: gpd.GeoDataFrame | None,
    complexes: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    suggestions: gpd.GeoDataFrame | None = None,
    figures: dict[str, Any] | None = None,
    static_url: str = "/static",
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    language: Language = "zh-CN",
    title: str | None = None,
    synthetic: bool = False,
    coord_transform: CoordTransform | None = None,
) -> folium.Map:
    """The walking coverage of one station kind on one day.

    Parameters
    ----------
    kind, threshold_m, as_of
        The station kind, its walking threshold and the day shown (title and figures only).
    service_areas
        One polygon per open station (``name``): its walking isochrone
        (:func:`gisgrid.coverage.isochrones.service_areas`).
    stations
        The open stations (points; ``name``, ``opened_on``).
    uncovered
        Points of the buildings no open station reaches, with ``households`` (the heat's weight).
    complexes
        Complex polygons with ``name``, ``households`` and ``uncovered`` households; those with any
        uncovered are outlined and listed by size.
    communities
        Community polygons drawn as thin outlines (optional).
    suggestions
        Suggested new sites (points; ``rank``, ``name``, ``adds_households``), optional.
    figures
        ``households_total``, ``households_covered``, ``stations_open``, ``buildings_uncovered``.
    static_url, basemap, tianditu_key, language, coord_transform, synthetic
        As for :func:`gisgrid.maps.build_overview_map`.
    """
    layers = overlays(
        {
            "areas": service_areas,
            "stations": stations,
            "uncovered": uncovered,
            "complexes": complexes,
            "communities": communities,
            "suggestions": suggestions,
        },
        basemap=basemap,
        language=language,
        coord_transform=coord_transform,
    )
    text = COVERAGE_TEXT[language]
    m = new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)
    add_outline(m, layers["communities"], COMMUNITY_OUTLINE, text["communities"], language)
    add_area_labels(m, layers["communities"], language)
    cx = layers["complexes"]
    if not cx.empty:
        cx = cx.assign(
            uncovered=pd.to_numeric(cx.get("uncovered", 0), errors="coerce").fillna(0),
            households=pd.to_numeric(cx.get("households", 0), errors="coerce").fillna(0),
        )
    _add_uncovered(m, cx, text)
    _add_areas(m, layers["areas"], kind, text)
    pts = layers["uncovered"]
    pts = pts[pts.geometry.geom_type == "Point"]
    if len(pts):
        weight = pd.to_numeric(pts.get("households", 1), errors="coerce").fillna(0).to_numpy(dtype=float)
        top = float(weight.max()) or 1.0
        data = np.column_stack(
            [
                np.round(pts.geometry.y.to_numpy(), 5),
                np.round(pts.geometry.x.to_numpy(), 5),
                np.round(weight / top, 3),
            ]
        ).tolist()
        _Heat(
            data,
            static_url=static_url,
            name=text["heat"],
            radius=HEAT_RADIUS,
            blur=HEAT_BLUR,
            min_opacity=0.25,
            max_zoom=16,
            gradient={str(k): v for k, v in UNCOVERED_GRADIENT.items()},
        ).add_to(m)
    _add_stations(m, layers["stations"], kind, text)
    _add_suggestions(m, layers["suggestions"], text)

    heading = title or text["title"].format(kind=term(kind, language))
    details = html.escape(text["details"].format(threshold=f"{threshold_m:,.0f}", date=as_of.isoformat()))
    add_title(
        m, heading, details + "<br>" + _figures_html(text, kind, language, figures or {}), "gg-coverage-info"
    )
    if synthetic:
        add_synthetic_notice(m, language)
    panel = _legend_html(text, kind, not layers["suggestions"].empty)
    if not cx.empty:
        panel = _complex_list_html(text, cx) + "<hr style='margin:6px 0'>" + panel
    HtmlControl(panel, position="bottomright", css_class="gg-panel gg-legend").add_to(m)
    add_layer_control(m, collapsed=True)
    fit_to(m, (layers["communities"], layers["complexes"], layers["areas"], layers["stations"], pts))
    return m
