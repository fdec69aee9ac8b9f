"""The planner's grid map: grids coloured by households against the window, labels, problem locations."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.grids.parts import part_label
from gisgrid.maps.base import (
    HideLabelsWhenFar,
    HtmlControl,
    add_area_labels,
    add_layer_control,
    add_outline,
    add_title,
    column,
    features,
    fit_to,
    fixed_style,
    new_map,
    overlays,
)
from gisgrid.maps.basemaps import Basemap, CoordTransform, to_basemap
from gisgrid.maps.problem_text import problem_text
from gisgrid.maps.text import GRID_TEXT, Language, phrase, rule_name

#: Household classes of a grid, in legend order.
GRID_CLASSES: tuple[str, ...] = ("under", "in_range", "over")
GRID_STYLES: dict[str, dict[str, Any]] = {
    "under": {"color": "#1565c0", "weight": 1.5, "fillColor": "#64b5f6", "fillOpacity": 0.5},
    "in_range": {"color": "#2e7d32", "weight": 1.5, "fillColor": "#81c784", "fillOpacity": 0.45},
    "over": {"color": "#b71c1c", "weight": 1.5, "fillColor": "#e57373", "fillOpacity": 0.5},
}
#: Errors purple (not the red of "over the maximum"), dashed; warnings a thin dotted outline with no fill, so
#: the household colours under them — 300–500 green above all — still show.
PROBLEM_STYLES: dict[str, dict[str, Any]] = {
    "error": {"color": "#6a1b9a", "weight": 3, "dashArray": "6 4", "fillColor": "#ab47bc", "fillOpacity": 0.35},
    "warning": {"color": "#ef6c00", "weight": 1.2, "dashArray": "1 4", "lineCap": "round", "fillColor": "#ffb74d",
                "fillOpacity": 0.0},
}
#: Problems whose location is a whole grid: drawn as a dashed outline only, so the household colour shows.
OUTLINE_ONLY_RULES: frozenset[str] = frozenset({"households_out_of_range", "sliver", "duplicate_code"})
BUILDING_STYLE = {"color": "#616161", "weight": 0.8, "fillColor": "#9e9e9e", "fillOpacity": 0.35}
SPLIT_BUILDING_STYLE = {"color": "#6a1b9a", "weight": 2, "dashArray": "3 3", "fillColor": "#ce93d8",
                        "fillOpacity": 0.5}
COMMUNITY_OUTLINE = {"color": "#37474f", "weight": 2.5, "fill": False, "opacity": 0.9}
GRID_LABEL_MIN_ZOOM = 16  # unit grids are a few hundred metres across: their labels need a closer view


def grid_class(households: float, min_households: int, max_households: int) -> str:
    """``"under"``, ``"in_range"`` or ``"over"`` for a grid's households (the window is inclusive)."""
    if households < min_households:
        return "under"
    if households > max_households:
        return "over"
    return "in_range"


def _problems_frame(problems: Any, language: str = "en") -> gpd.GeoDataFrame:
    """Problems (``GridProblem`` objects or a GeoJSON FeatureCollection) as a GeoDataFrame with a location;
    the message of a ``GridProblem`` in ``language`` (:func:`~gisgrid.maps.problem_text.problem_text`)."""
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
                {"rule": p.rule, "severity": p.severity, "message": problem_text(p, language),
                 "codes": ", ".join(p.grid_codes)}
            )
            geoms.append(p.geometry)
    if not rows:
        return gpd.GeoDataFrame({"rule": [], "severity": [], "message": [], "codes": []}, geometry=[], crs=4326)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def build_grid_map(
    *,
    grids: gpd.GeoDataFrame,
    problems: Any = None,
    buildings: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    min_households: int = MIN_HOUSEHOLDS,
    max_households: int = MAX_HOUSEHOLDS,
    static_url: str = "/static",
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    language: Language = "zh-CN",
    title: str | None = None,
    coord_transform: CoordTransform | None = None,
    parts: pd.DataFrame | None = None,
) -> folium.Map:
    """The planner's grid map: grids coloured by households against the window, labels, problems.

    Parameters
    ----------
    grids
        Grid polygons (EPSG:4326 or another CRS, reprojected) with ``code`` and ``households``
        (optionally ``version``).
    problems
        Validation problems to highlight: a list of :class:`gisgrid.grids.GridProblem` or the GeoJSON
        of :func:`gisgrid.grids.problems_to_geojson`. Errors are drawn purple and dashed, warnings as a thin
        dotted orange outline with no fill; point locations (e.g. where a geometry is invalid) as circles.
        The hover says each problem in ``language``.
    buildings
        Footprints drawn thin and grey under the grids (optional).
    communities
        The communities shown (``name``, ``code``): outlined, with their names as permanent labels
        from zoom 14 (optional).
    min_households, max_households
        The window: grids below are blue, inside green, above red — one GeoJSON layer per class,
        not a per-feature style switch.
    static_url, basemap, tianditu_key, language, coord_transform
        As for :func:`gisgrid.maps.build_overview_map`.
    parts
        Parts of buildings split over grids (:data:`gisgrid.grids.parts.PART_COLUMNS`, optionally
        ``building_name``): each grid's tooltip lists the parts it owns ("3号楼 1–2单元 (300户)"), and
        with ``buildings`` the split buildings are outlined with their parts and owning grids.
    """
    layers = overlays(
        {"grids": grids, "buildings": buildings, "communities": communities},
        basemap=basemap,
        language=language,
        coord_transform=coord_transform,
    )
    g, b = layers["grids"], layers["buildings"]
    p = to_basemap(_problems_frame(problems, language), basemap, coord_transform)
    text = GRID_TEXT[language]

    m = new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)

    if not b.empty:
        folium.GeoJson(
            features(b, {}),
            name=text["buildings"],
            style_function=fixed_style(BUILDING_STYLE),
            smooth_factor=1.0,
        ).add_to(m)

    households = (
        gpd.pd.to_numeric(g["households"], errors="coerce").fillna(0).astype(int).tolist()
        if "households" in g else [0] * len(g)
    )
    classes = [grid_class(h, min_households, max_households) for h in households]
    codes = column(g, "code")
    versions = column(g, "version")
    counts = {c: classes.count(c) for c in GRID_CLASSES}
    owned = _owned_parts(parts, language)
    if not b.empty and parts is not None and len(parts):
        _add_split_buildings(m, b, parts, language)
    group = folium.FeatureGroup(name=text["grids"])
    for cls in GRID_CLASSES:
        rows = [i for i, c in enumerate(classes) if c == cls]
        if not rows:
            continue
        folium.GeoJson(
            features(
                g.iloc[rows],
                {
                    "code": [codes[i] for i in rows],
                    "households": [str(households[i]) for i in rows],
                    "version": [versions[i] for i in rows],
                    "grid_class": [cls] * len(rows),
                    "split": [owned.get(codes[i], "") for i in rows],
                },
            ),
            style_function=fixed_style(GRID_STYLES[cls]),
            tooltip=folium.GeoJsonTooltip(
                ["code", "households", "version", "split"],
                aliases=[text["code"], text["households"], text["version"], text["split"]],
            ),
            control=False,
        ).add_to(group)
    group.add_to(m)

    add_outline(m, layers["communities"], COMMUNITY_OUTLINE, phrase(language, "communities"), language)
    add_area_labels(m, layers["communities"], language)

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
    summary = text["summary"].format(n=len(g), ok=counts["in_range"], p=len(p))
    add_title(m, title, html.escape(summary), "gg-grid-summary")
    HtmlControl(
        _grid_legend_html(language, min_households, max_households, counts, p),
        position="bottomright",
        css_class="gg-panel gg-legend",
    ).add_to(m)
    add_layer_control(m)
    HideLabelsWhenFar(GRID_LABEL_MIN_ZOOM).add_to(m)
    fit_to(m, (g, b, p, layers["communities"]))
    return m


def _building_name(part: Mapping[str, Any]) -> str:
    name = part.get("building_name")
    return str(name) if isinstance(name, str) and name else f"#{part['building']}"


def _owned_parts(parts: pd.DataFrame | None, language: str) -> dict[str, str]:
    """Grid code → the parts it owns, one "3号楼 1–2单元 (300户)" per part, joined."""
    if parts is None or not len(parts):
        return {}
    unit = GRID_TEXT[language]["unit"]
    out: dict[str, list[str]] = {}
    for part in parts.to_dict("records"):
        if part.get("grid_code"):
            out.setdefault(str(part["grid_code"]), []).append(
                f"{_building_name(part)} {part_label(part, language)} ({int(part['households'])}{unit})")
    return {code: html.escape("; ".join(lines)) for code, lines in out.items()}


def _add_split_buildings(m: folium.Map, b: gpd.GeoDataFrame, parts: pd.DataFrame, language: str) -> None:
    """Split buildings outlined, each with "1–2单元 → grid …" per part in its tooltip."""
    text = GRID_TEXT[language]
    lines: dict[Any, list[str]] = {}
    for part in parts.to_dict("records"):
        lines.setdefault(part["building"], []).append(f"{part_label(part, language)} → {part.get('grid_code') or '—'}")
    split = b[b.index.isin(list(lines))]
    if split.empty:
        return
    names = column(split, "name")
    folium.GeoJson(
        features(split, {
            "name": [names[i] or f"#{bid}" for i, bid in enumerate(split.index)],
            "parts": [html.escape("; ".join(lines[bid])) for bid in split.index],
        }),
        name=text["parts"],
        style_function=fixed_style(SPLIT_BUILDING_STYLE),
        tooltip=folium.GeoJsonTooltip(["name", "parts"], aliases=[text["buildings"], text["parts"]]),
    ).add_to(m)


def _add_problems(m: folium.Map, p: gpd.GeoDataFrame, language: str) -> None:
    text = GRID_TEXT[language]
    group = folium.FeatureGroup(name=text["problems"])
    kinds = gpd.pd.Series(
        [
            "point" if t in ("Point", "MultiPoint") else "outline" if rule in OUTLINE_ONLY_RULES else "area"
            for t, rule in zip(p.geometry.geom_type, p["rule"], strict=True)
        ],
        index=p.index,
    )
    severities = p["severity"].where(p["severity"].isin(tuple(PROBLEM_STYLES)), "error")
    rules = [html.escape(rule_name(r, language)) for r in p["rule"]]
    messages = column(p, "message")
    codes = column(p, "codes")
    for severity in ("warning", "error"):  # errors drawn last, on top
        for kind in ("outline", "area", "point"):
            rows = np.flatnonzero(((severities == severity) & (kinds == kind)).to_numpy())
            if not len(rows):
                continue
            feats = features(
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
            elif kind == "outline" or severity == "warning":
                style["fillOpacity"] = 0.0
            folium.GeoJson(
                feats,
                marker=folium.CircleMarker(radius=8) if kind == "point" else None,
                style_function=fixed_style(style),
                tooltip=folium.GeoJsonTooltip(
                    ["rule", "codes", "message"], aliases=[text["rule"], text["code"], text["message"]]
                ),
                control=False,
            ).add_to(group)
    group.add_to(m)


def _grid_legend_html(
    language: str, min_households: int, max_households: int, counts: Mapping[str, int], p: gpd.GeoDataFrame
) -> str:
    text = GRID_TEXT[language]
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
            background = s["fillColor"] if s["fillOpacity"] > 0 else "transparent"
            border = "dashed" if severity == "error" else "dotted"
            parts.append(
                f'<div class="row-item gg-problem-{severity}"><span class="gg-swatch" style="background:{background};'
                f'border-color:{s["color"]};border-style:{border};border-width:2px"></span>'
                f'{html.escape(text[severity])} ({n})</div>'
            )
    return "".join(parts)
