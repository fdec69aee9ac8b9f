"""What makes every map page usable on a phone (390 px wide) as well as on a desk.

* :data:`MOBILE_CSS` — panels that never get wider than the screen, a smaller type on narrow screens,
  legends that scroll instead of covering the map;
* the collapsible legend: :class:`~gisgrid.maps.base.HtmlControl` with ``collapsible=True`` (every
  ``gg-legend``) gets a button that opens and closes it; under :data:`PHONE_WIDTH` px it starts closed;
* :class:`PhoneLayerControl` — a layer control that starts closed on a phone (a tap on its icon opens
  it, a tap on the map closes it);
* :class:`LabelLayout` — permanent labels (``.gg-label-icon`` markers) shown only from their own zoom
  (class ``gg-minz-<zoom>``), moved off the station dots and off each other, and hidden when no
  nearby place is free: labels thin out instead of overlapping.

Described in docs/map-pages.md.
"""

from __future__ import annotations

from branca.element import MacroElement
from folium.template import Template

PHONE_WIDTH = 600
"""Under this viewport width (px) legends and layer controls start collapsed."""

MOBILE_CSS = f"""
<style>
  .leaflet-control {{ max-width: calc(100vw - 20px); }}
  .gg-legend-toggle {{ display: block; margin: 0 0 4px auto; padding: 3px 10px; border: 1px solid #90a4ae;
                      border-radius: 3px; background: #fff; color: #263238; cursor: pointer;
                      font: 600 12px/1.3 system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; }}
  .gg-legend.gg-collapsed {{ padding: 3px; }}
  .gg-legend.gg-collapsed .gg-legend-toggle {{ margin: 0; }}
  .gg-legend.gg-collapsed .gg-legend-body {{ display: none; }}
  .gg-legend-body {{ max-height: 60vh; overflow-y: auto; }}
  .gg-label-icon {{ display: flex; align-items: center; justify-content: center; }}
  .gg-label-icon.gg-station-label-icon {{ justify-content: flex-start; }}
  .gg-label {{ display: inline-block; }}
  .gg-station-label {{ font-size: 11px; color: #37474f; }}
  .gg-label-icon.gg-zoomed-out, .gg-label-icon.gg-crowded {{ display: none; }}
  @media (max-width: {PHONE_WIDTH - 1}px) {{
    .gg-panel {{ font-size: 12px; padding: 4px 8px; }}
    .gg-title {{ font-size: 14px; white-space: normal; max-width: calc(100vw - 70px); }}
    .gg-legend .row-item {{ white-space: normal; }}
    .gg-legend-body {{ max-height: 45vh; }}
    .leaflet-control-layers-expanded {{ max-height: 50vh; overflow-y: auto; }}
    .gg-synthetic {{ font-size: 12px; }}
  }}
</style>
"""

LEGEND_BUTTON = {"zh-CN": "图例", "en": "Legend"}

# The script of a collapsible panel (appended to HtmlControl's onAdd): a button toggles the body.
COLLAPSIBLE_JS = f"""
var button = L.DomUtil.create("button", "gg-legend-toggle", div);
button.type = "button";
button.textContent = %(label)s;
var body = L.DomUtil.create("div", "gg-legend-body", div);
body.innerHTML = %(html)s;
function show(open) {{
    div.classList.toggle("gg-collapsed", !open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
}}
show(window.innerWidth >= {PHONE_WIDTH});
L.DomEvent.on(button, "click", function (e) {{
    L.DomEvent.stop(e);
    show(div.classList.contains("gg-collapsed"));
}});
"""


class PhoneLayerControl(MacroElement):
    """Collapse the (open-by-default) layer control ``control`` on a phone-sized screen."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, control) {
            if (window.innerWidth >= {{ this.width }}) { return; }
            control.collapse();
            map.on("click", function () { control.collapse(); });
        })({{ this._parent.get_name() }}, {{ this.control_name }});
        {% endmacro %}
        """
    )

    def __init__(self, control_name: str) -> None:
        super().__init__()
        self._name = "PhoneLayerControl"
        self.control_name = control_name
        self.width = PHONE_WIDTH


class LabelLayout(MacroElement):
    """Show each permanent label from its own zoom on, move it off station dots and other labels, or hide it.

    Runs after every move and zoom, when a layer is switched on or off, and (once per frame) when layers
    come and go, e.g. stations on the rollout map's time slider. Labels are placed in the
    order of the page (area names before station names); each tries its own place, then above, below,
    left and right of it; a label that fits nowhere is hidden (``gg-crowded``) until the next zoom.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            function overlaps(a, b) {
                return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
            }
            function shifted(r, dx, dy) {
                return {left: r.left + dx, right: r.right + dx, top: r.top + dy, bottom: r.bottom + dy};
            }
            function layout() {
                var zoom = map.getZoom();
                var box = map.getContainer().getBoundingClientRect();
                var dots = [];
                map.eachLayer(function (layer) {
                    if (!(layer instanceof L.CircleMarker) || !layer._path) { return; }
                    var p = map.latLngToContainerPoint(layer.getLatLng());
                    var r = layer.getRadius() + (layer.options.weight || 0) / 2 + 2;
                    dots.push({left: box.left + p.x - r, right: box.left + p.x + r,
                               top: box.top + p.y - r, bottom: box.top + p.y + r});
                });
                var placed = [];
                var icons = map.getContainer().querySelectorAll(".gg-label-icon");
                icons.forEach(function (icon) {
                    var label = icon.querySelector(".gg-label");
                    var min = /gg-minz-([0-9.]+)/.exec(icon.className);
                    icon.classList.remove("gg-crowded");
                    icon.classList.toggle("gg-zoomed-out", !!min && zoom < parseFloat(min[1]));
                    if (!label) { return; }
                    label.style.transform = "";
                    var r = label.getBoundingClientRect();
                    if (!r.width) { return; }  // hidden (zoomed out, or its layer is off)
                    var w = r.width + 4, h = r.height + 2;
                    var moves = [[0, 0], [0, -h], [0, h], [-w, 0], [w, 0], [0, -2 * h], [0, 2 * h],
                                 [-w, -h], [w, -h], [-w, h], [w, h]];
                    for (var i = 0; i < moves.length; i++) {
                        var c = shifted(r, moves[i][0], moves[i][1]);
                        var hit = dots.some(function (d) { return overlaps(c, d); }) ||
                                  placed.some(function (q) { return overlaps(c, q); });
                        if (!hit) {
                            if (i) { label.style.transform = "translate(" + moves[i][0] + "px," + moves[i][1] + "px)"; }
                            placed.push(c);
                            return;
                        }
                    }
                    icon.classList.add("gg-crowded");
                });
            }
            var pending = false;
            function soon() {  // once per frame, however many layers a time slider swaps
                if (pending) { return; }
                pending = true;
                requestAnimationFrame(function () { pending = false; layout(); });
            }
            map.on("moveend overlayadd overlayremove", layout);
            map.on("layeradd layerremove", soon);
            map.whenReady(function () { setTimeout(layout, 0); });
            window.addEventListener("resize", layout);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "LabelLayout"


__all__ = ["COLLAPSIBLE_JS", "LEGEND_BUTTON", "MOBILE_CSS", "PHONE_WIDTH", "LabelLayout", "PhoneLayerControl"]
