"""The rollout map: stations opening month by month on a time slider, with their service areas and the
share of households covered at the end of each month.

The slider is Leaflet.TimeDimension, the library behind folium's ``TimestampedGeoJson``, loaded from
the vendored copies (:data:`gisgrid.maps.assets.TIMEDIMENSION_JS`) instead of the five CDN links
folium's plugin carries. folium's own template is not used: it logs every date to the console, shows
dates in the browser's time zone (a month starting at 00:00 UTC reads as the previous month west of
Greenwich), and its GeoJSON layer can only *add* features over time — a station that closes never
leaves, and a polygon's rings are sliced as if they were a track. Here each feature carries the
month it opens and the month it closes (``start`` ≤ month < ``end``), and the layer shows exactly
the features open in the month on the slider.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.plugins import TimestampedGeoJson
from folium.template import Template

from gisgrid.maps.assets import timedimension_assets
from gisgrid.maps.base import (
    HtmlControl,
    add_area_labels,
    add_outline,
    add_synthetic_notice,
    add_title,
    fit_to,
    new_map,
    overlays,
)
from gisgrid.maps.basemaps import Basemap, CoordTransform
from gisgrid.maps.coverage_text import ROLLOUT_TEXT, share_text
from gisgrid.maps.overview import STATION_COLOURS, STATION_RADII
from gisgrid.maps.text import Language, term

__all__ = ["MonthlySlider", "build_rollout_map", "month_starts"]

COMMUNITY_OUTLINE = {"color": "#546e7a", "weight": 1, "fill": False, "opacity": 0.7}
NEW_COLOUR = "#2e7d32"
COORD_DECIMALS = 6  # ~0.1 m: the page carries every station's polygon for every month it is open


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first day of every month from ``first``'s to ``last``'s, both included."""
    out, day = [], dt.date(first.year, first.month, 1)
    while day <= last:
        out.append(day)
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def _month(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    day = pd.Timestamp(value).date()
    return dt.date(day.year, day.month, 1)


class MonthlySlider(TimestampedGeoJson):  # type: ignore[misc]
    """A month-by-month slider over features that carry ``start`` and ``end`` (ms since the epoch, UTC;
    ``end`` null while open) and a style class ``cls``; a panel shows each month's figures."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var times = {{ this.times|tojson }};
            var figures = {{ this.figures|tojson }};
            var styles = {{ this.styles|tojson }};
            var td = L.timeDimension({times: times, currentTime: times[{{ this.start_index }}]});
            map.timeDimension = td;
            var Control = L.Control.TimeDimension.extend({
                _getDisplayDateFormat: function (date) { return moment.utc(date).format("YYYY-MM"); }
            });
            map.addControl(new Control(Object.assign({timeDimension: td}, {{ this.options|tojson }})));
            var Monthly = L.TimeDimension.Layer.GeoJson.extend({
                _getFeatureBetweenDates: function (feature, minTime, maxTime) {
                    var p = feature.properties;
                    if (!(p.start <= maxTime && (p.end === null || p.end > maxTime))) { return null; }
                    return {type: "Feature", geometry: feature.geometry,
                            properties: Object.assign({}, p, {fresh: p.start === maxTime})};
                }
            });
            // GeoJSON applies "style" after "pointToLayer", so both must pick the same style
            function pick(f) {
                return (f.properties.fresh && styles[f.properties.cls + "_new"]) || styles[f.properties.cls];
            }
            var base = L.geoJson({{ this.data }}, {
                pointToLayer: function (f, latlng) { return L.circleMarker(latlng, pick(f)); },
                style: pick,
                onEachFeature: function (f, layer) {
                    if (f.properties.tip) { layer.bindTooltip(f.properties.tip); }
                }
            });
            var layer = new Monthly(base, {timeDimension: td, updateTimeDimension: false}).addTo(map);
            window[{{ this.get_name()|tojson }}] = layer;
            function show(time) {
                var box = document.getElementById({{ this.panel_id|tojson }});
                var f = figures[String(time)];
                if (!box || !f) { return; }
                box.querySelector(".gg-month").textContent = moment.utc(time).format("YYYY-MM");
                ["open", "new", "closed", "covered", "share"].forEach(function (key) {
                    box.querySelector(".gg-" + key).textContent = f[key];
                });
                var marker = box.querySelector(".gg-curve-now");
                if (marker) { marker.setAttribute("x1", f.x); marker.setAttribute("x2", f.x); }
            }
            td.on("timeload", function (e) { show(e.time); });
            map.whenReady(function () { show(td.getCurrentTime()); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: dict[str, Any],
        *,
        times: list[int],
        figures: dict[str, dict[str, Any]],
        styles: dict[str, dict[str, Any]],
        panel_id: str,
        static_url: str,
        start_index: int = 0,
    ) -> None:
        super().__init__(
            data,
            auto_play=False,
            loop=False,
            period="P1M",
            date_options="YYYY-MM",
            time_slider_drag_update=True,
            speed_slider=False,
            transition_time=600,
        )
        self._name = "MonthlySlider"
        self.times, self.figures, self.styles = times, figures, styles
        self.panel_id, self.start_index = panel_id, start_index
        self.options = {
            "position": "bottomleft",
            "autoPlay": False,
            "loopButton": True,
            "timeSliderDragUpdate": True,
            "speedSlider": False,
            "playerOptions": {"transitionTime": 600, "loop": False, "startOver": True},
        }
        self.default_js, self.default_css = timedimension_assets(static_url)


def _features(
    stations: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, kind: str, text: dict[str, str]
) -> list[dict[str, Any]]:
    feats: list[dict[str, Any]] = []

    def add(geom: shapely.Geometry, cls: str, start: dt.date, end: dt.date | None, tip: str) -> None:
        rounded = shapely.set_precision(geom, 10**-COORD_DECIMALS)
        feats.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(rounded),
                "properties": {
                    "start": _ms(start),
                    "end": None if end is None else _ms(end),
                    "cls": cls,
                    "tip": tip,
                },
            }
        )

    for frame, cls in ((areas, "area"), (stations, "station")):
        if frame.empty or "opened_on" not in frame:
            continue
        names = frame["name"] if "name" in frame else pd.Series("", index=frame.index)
        closing = frame["closed_on"] if "closed_on" in frame else pd.Series(None, index=frame.index)
        for geom, name, opened, closed in zip(
            frame.geometry.values, names, frame["opened_on"], closing, strict=True
        ):
            start, end = _month(opened), _month(closed)
            if start is None or geom is None or geom.is_empty:
                continue
            if end is not None and end <= start:
                continue  # opened and closed within one month: never open at a month's end
            tip = f"<b>{html.escape(str(name or ''))}</b><br>"
            tip += f"{html.escape(text['opened_on'])}: {pd.Timestamp(opened).date()}"
            if end is not None:
                tip += f"<br>{html.escape(text['closed_on'])}: {pd.Timestamp(closed).date()}"
            add(geom, cls, start, end, tip)
    return feats


def _curve_svg(values: list[float], width: int = 220, height: int = 54) -> tuple[str, list[float]]:
    """A small line of coverage share per month, from 0 to the highest share (labelled), and the x of
    each month on it; scaled to its own top so a slow rollout still shows its shape."""
    n = len(values)
    top = max(max(values, default=0.0), 0.01)
    xs = [4 + (width - 8) * (k / (n - 1) if n > 1 else 0.5) for k in range(n)]
    pts = " ".join(
        f"{x:.1f},{height - 4 - (height - 12) * v / top:.1f}" for x, v in zip(xs, values, strict=True)
    )
    svg = (
        f'<svg class="gg-curve" width="{width}" height="{height}" style="background:#fafafa;border:1px solid #ddd">'
        f'<text x="4" y="9" font-size="9" fill="#546e7a">{share_text(top)}</text>'
        f'<polyline points="{pts}" fill="none" stroke="#1565c0" stroke-width="2"/>'
        f'<line class="gg-curve-now" x1="{xs[0]:.1f}" x2="{xs[0]:.1f}" y1="0" y2="{height}" stroke="#c62828"/></svg>'
    )
    return svg, xs


def _panel_html(text: dict[str, str], panel_id: str, curve: str) -> str:
    rows = "".join(
        f"<div class='row-item'>{html.escape(text[key])}: <b class='gg-{key}'></b></div>"
        for key in ("open", "new", "closed", "covered", "share")
    )
    return (
        f"<div id='{panel_id}' class='gg-rollout-figures'><h6>{html.escape(text['month'])}: "
        f"<span class='gg-month'></span></h6>{rows}<h6>{html.escape(text['curve'])}</h6>{curve}</div>"
    )


def build_rollout_map(
    *,
    kind: str,
    threshold_m: float,
    stations: gpd.GeoDataFrame | None,
    service_areas: gpd.GeoDataFrame | None = None,
    monthly: pd.DataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    until: dt.date | None = None,
    static_url: str = "/static",
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    language: Language = "zh-CN",
    title: str | None = None,
    synthetic: bool = False,
    coord_transform: CoordTransform | None = None,
) -> folium.Map:
    """Stations of one kind opening month by month.

    Parameters
    ----------
    stations
        Every station that ever opened (points; ``name``, ``opened_on``, ``closed_on``).
    service_areas
        Their walking service areas (polygons with the same ``name``, ``opened_on``, ``closed_on``).
    monthly
        One row per month (``month`` = its first day): ``open``, ``new``, ``closed``,
        ``households_covered``, ``households_total`` — the figures at the month's end.
    until
        The last month on the slider (default: the last month in ``monthly``, else today).
    """
    layers = overlays(
        {"stations": stations, "areas": service_areas, "communities": communities},
        basemap=basemap,
        language=language,
        coord_transform=coord_transform,
    )
    text = ROLLOUT_TEXT[language]
    m = new_map(static_url=static_url, basemap=basemap, tianditu_key=tianditu_key, language=language)
    add_outline(m, layers["communities"], COMMUNITY_OUTLINE, text["communities"], language)
    add_area_labels(m, layers["communities"], language)
    colour = STATION_COLOURS.get(kind, "#455a64")
    heading = title or text["title"].format(kind=term(kind, language))
    add_title(m, heading, html.escape(text["details"].format(threshold=f"{threshold_m:,.0f}")))
    if synthetic:
        add_synthetic_notice(m, language)

    opened = pd.to_datetime(layers["stations"].get("opened_on", pd.Series(dtype=object)), errors="coerce")
    table = monthly if monthly is not None and len(monthly) else None
    first = opened.min().date() if opened.notna().any() else None
    last = until or (pd.Timestamp(table["month"].max()).date() if table is not None else dt.date.today())
    if first is None:
        HtmlControl(html.escape(text["none"]), position="bottomright", css_class="gg-panel gg-legend").add_to(
            m
        )
        fit_to(m, (layers["communities"],))
        return m
    months = month_starts(first, max(first, last))
    times = [_ms(d) for d in months]
    by_month = (
        table.assign(month=pd.to_datetime(table["month"]).dt.date).set_index("month")
        if table is not None
        else None
    )
    shares = []
    for day in months:
        row = by_month.loc[day] if by_month is not None and day in by_month.index else None
        total = float(row["households_total"]) if row is not None else 0.0
        shares.append(float(row["households_covered"]) / total if row is not None and total else 0.0)
    curve, xs = _curve_svg(shares)
    figures: dict[str, dict[str, Any]] = {}
    unit_s, unit_h = text["unit_station"], text["unit_households"]
    for k, day in enumerate(months):
        row = by_month.loc[day] if by_month is not None and day in by_month.index else None
        figures[str(times[k])] = {
            "open": f"{int(row['open']) if row is not None else 0}{unit_s}",
            "new": f"{int(row['new']) if row is not None else 0}{unit_s}",
            "closed": f"{int(row['closed']) if row is not None else 0}{unit_s}",
            "covered": f"{int(row['households_covered']) if row is not None else 0:,}{unit_h}",
            "share": share_text(shares[k] if row is not None else None),
            "x": round(xs[k], 1),
        }
    panel_id = f"gg-rollout-{m.get_name()}"
    radius = STATION_RADII.get(kind, 6)
    styles = {
        "station": {
            "radius": radius,
            "color": "#ffffff",
            "weight": 1.5,
            "fillColor": colour,
            "fillOpacity": 0.95,
            "className": "gg-rollout-station",
        },
        "station_new": {
            "radius": radius + 2,
            "color": NEW_COLOUR,
            "weight": 3,
            "fillColor": colour,
            "fillOpacity": 0.95,
            "className": "gg-rollout-station gg-rollout-new",
        },
        "area": {
            "color": colour,
            "weight": 1,
            "opacity": 0.7,
            "fillColor": colour,
            "fillOpacity": 0.18,
            "className": "gg-rollout-area",
        },
    }
    data = {
        "type": "FeatureCollection",
        "features": _features(layers["stations"], layers["areas"], kind, text),
    }
    legend = (
        f'<div class="row-item"><span class="gg-dot" style="background:{colour};border-color:#fff"></span>'
        f"{html.escape(text['legend_station'])}</div>"
        f'<div class="row-item"><span class="gg-dot" style="background:{colour};border-color:{NEW_COLOUR}">'
        f"</span>{html.escape(text['legend_new'])}</div>"
        f'<div class="row-item"><span class="gg-swatch" style="background:{colour}33;border-color:{colour}">'
        f"</span>{html.escape(text['legend_area'])}</div>"
    )
    # the panel first: the slider's script fills it in as soon as it runs
    HtmlControl(
        _panel_html(text, panel_id, curve) + "<hr style='margin:6px 0'>" + legend,
        position="bottomright",
        css_class="gg-panel gg-legend",
    ).add_to(m)
    MonthlySlider(
        data, times=times, figures=figures, styles=styles, panel_id=panel_id, static_url=static_url
    ).add_to(m)
    fit_to(m, (layers["communities"], layers["areas"], layers["stations"]))
    return m
