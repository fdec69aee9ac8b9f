"""The complex-indicator choropleth: communities (or streets) shaded by one share — professional
management, owners' committees (against the 90 % target) or party organisation coverage — with the
area's totals beside it. One GeoJSON layer per class, each with one fixed style."""

from __future__ import annotations

import html
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid.errors import InvalidInputError
from gisgrid.maps.base import (
    HtmlControl,
    add_area_labels,
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
from gisgrid.maps.coverage_text import INDICATOR_TEXT, share_text
from gisgrid.maps.text import Language

__all__ = ["INDICATORS", "SHARE_CLASSES", "build_indicator_map", "share_class"]

#: indicator → (share column, count columns shown)
INDICATORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "professional": ("professional_share", ("professional",)),
    "owners_committee": ("owners_committee_share", ("owners_committee",)),
    "party_org": ("party_org_share", ("party_independent", "party_joint", "party_affiliated")),
}
#: (lower bound, colour), highest first; the top class starts at the owners' committee target (90 %)
SHARE_CLASSES: tuple[tuple[float, str], ...] = (
    (0.9, "#1a9850"),
    (0.75, "#a6d96a"),
    (0.6, "#fdae61"),
    (0.0, "#d73027"),
)
NO_COMPLEXES = "#bdbdbd"


def share_class(share: float | None) -> int:
    """The class index of a share (``len(SHARE_CLASSES)`` for no complexes)."""
    if share is None or (isinstance(share, float) and np.isnan(share)):
        return len(SHARE_CLASSES)
    return next(k for k, (low, _) in enumerate(SHARE_CLASSES) if share >= low - 1e-12)


def _label(low: float, k: int) -> str:
    high = SHARE_CLASSES[k - 1][0] if k > 0 else None
    if high is None:
        return f"≥ {low:.0%}"
    return f"< {high:.0%}" if low <= 0 else f"{low:.0%} – {high:.0%}"


def _totals_html(text: dict[str, str], totals: dict[str, Any]) -> str:
    def n(key: str) -> str:
        return f"{int(totals.get(key, 0) or 0):,}"

    target = float(totals.get("owners_committee_target", 0.9))
    rows = [
        (text["complexes"], n("complexes")),
        (text["professional"], share_text(totals.get("professional_share"))),
        (
            text["owners_committee"],
            f"{share_text(totals.get('owners_committee_share'))} "
            f"({html.escape(text['target'].format(target=f'{target:.0%}'))})",
        ),
        (
            text["party_org"],
            f"{share_text(totals.get('party_org_share'))} · {html.escape(text['independent'])} "
            f"{n('party_independent')} / {html.escape(text['joint'])} {n('party_joint')} / "
            f"{html.escape(text['affiliated'])} {n('party_affiliated')}",
        ),
        (
            text["unmanaged"],
            f"{n('unmanaged')} · {html.escape(text['fallback_street'])} {n('unmanaged_street_fallback')}"
            f" / {html.escape(text['fallback_community'])} {n('unmanaged_community_fallback')}"
            f" / {html.escape(text['fallback_none'])} {n('unmanaged_no_fallback')}",
        ),
        (text["red"], n("company_red")),
        (text["black"], n("company_black")),
    ]
    body = "".join(f"<tr><td>{html.escape(k)}</td><td><b>{v}</b></td></tr>" for k, v in rows)
    head = f"<h6>{html.escape(text['totals'])}</h6>"
    return f"{head}<table class='gg-indicator-totals' style='font-size:12px'>{body}</table>"


def build_indicator_map(
    *,
    areas: gpd.GeoDataFrame,
    indicator: str = "owners_committee",
    totals: dict[str, Any] | None = None,
    static_url: str = "/static",
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    language: Language = "zh-CN",
    title: str | None = None,
    synthetic: bool = False,
    coord_transform: CoordTransform | None = None,
) -> folium.Map:
    """Areas (``code``, ``name`` and the columns of :func:`gisgrid.estate.complex_indicators`) shaded
    by ``indicator``'s share; ``totals`` (the totals row) in a panel."""
    if indicator not in INDICATORS:
        raise InvalidInputError(
            f"indicator must be one of {', '.join(INDICATORS)}",
            field="indicator",
            feature=indicator,
            rule="a known indicator",
        )
    layers = overlays({"areas": areas}, basemap=basemap, language=language, coord_transform=coord_transform)
    gdf = layers["areas"]
    text = INDICATOR_TEXT[language]
    share_col, count_cols = INDICATORS[indicator]
    m = new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)
    shares = gdf[share_col] if share_col in gdf else pd.Series([None] * len(gdf), index=gdf.index)
    classes = np.array([share_class(None if pd.isna(v) else float(v)) for v in shares], dtype=np.int64)
    complexes = pd.to_numeric(gdf.get("complexes", 0), errors="coerce").fillna(0).astype(int)
    counts = sum(
        (pd.to_numeric(gdf[c], errors="coerce").fillna(0) for c in count_cols if c in gdf),
        pd.Series(0, index=gdf.index),
    ).astype(int)
    for k in range(len(SHARE_CLASSES) + 1):
        rows = np.flatnonzero(classes == k)
        if not len(rows):
            continue
        part = gdf.iloc[rows]
        colour = SHARE_CLASSES[k][1] if k < len(SHARE_CLASSES) else NO_COMPLEXES
        label = _label(SHARE_CLASSES[k][0], k) if k < len(SHARE_CLASSES) else text["no_complexes"]
        folium.GeoJson(
            features(
                part,
                {
                    "name": column(part, "name"),
                    "code": column(part, "code"),
                    "complexes": [str(complexes.iloc[i]) for i in rows],
                    "count": [str(counts.iloc[i]) for i in rows],
                    "share": [
                        share_text(None if pd.isna(shares.iloc[i]) else float(shares.iloc[i])) for i in rows
                    ],
                },
            ),
            name=label,
            style_function=fixed_style(
                {
                    "color": "#455a64",
                    "weight": 1,
                    "fillColor": colour,
                    "fillOpacity": 0.7,
                    "className": f"gg-choropleth gg-class-{k}",
                }
            ),
            tooltip=folium.GeoJsonTooltip(
                ["name", "code", "complexes", "count", "share"],
                aliases=[text["name"], text["code"], text["complexes"], text["count"], text[indicator]],
            ),
        ).add_to(m)
    add_area_labels(m, gdf, language)
    heading = title or f"{text['title']} · {text[indicator]}"
    add_title(m, heading)
    if synthetic:
        add_synthetic_notice(m, language)
    legend = [f"<h6>{html.escape(text[indicator])}</h6>"]
    for k, (low, colour) in enumerate(SHARE_CLASSES):
        legend.append(
            f'<div class="row-item"><span class="gg-swatch" style="background:{colour};border-color:#455a64">'
            f"</span>{html.escape(_label(low, k))}</div>"
        )
    legend.append(
        f'<div class="row-item"><span class="gg-swatch" style="background:{NO_COMPLEXES};'
        f'border-color:#455a64"></span>{html.escape(text["no_complexes"])}</div>'
    )
    panel = "".join(legend) + ("<hr style='margin:6px 0'>" + _totals_html(text, totals) if totals else "")
    HtmlControl(panel, position="bottomright", css_class="gg-panel gg-legend").add_to(m)
    add_layer_control(m, collapsed=True)
    fit_to(m, (gdf,))
    return m
