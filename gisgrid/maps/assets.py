"""The vendored browser assets every map page links to, under ``{static_url}/vendor/``.

folium links Leaflet, jQuery, Bootstrap and Font Awesome from three CDNs by default; offline (or on an
intranet) that is a blank page with ``L`` undefined. Every map built here has its ``default_js`` /
``default_css`` replaced, *on the instance*, by these local copies (vendored from npm by
``scripts/vendor_assets.sh``; versions and licences in ``api/static/vendor/VERSIONS.txt``).
"""

from __future__ import annotations

import folium

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
#: leaflet.heat, for the incident heat map only (folium's HeatMap plugin would fetch it from a CDN).
HEAT_JS: tuple[str, str] = ("leaflet-heat.js", "vendor/leaflet.heat/leaflet-heat.js")
#: The rollout map's time slider: what folium's TimestampedGeoJson links from CDNs, under the same names,
#: less jQuery UI and highlight.js (Leaflet.TimeDimension uses neither) and jQuery (the map has it).
TIMEDIMENSION_JS: tuple[tuple[str, str], ...] = (
    ("iso8601", "vendor/iso8601-js-period/iso8601.js"),
    ("leaflet.timedimension", "vendor/leaflet.timedimension/leaflet.timedimension.min.js"),
    ("moment", "vendor/moment/moment.min.js"),
)
TIMEDIMENSION_CSS: tuple[tuple[str, str], ...] = (
    ("leaflet.timedimension_css", "vendor/leaflet.timedimension/leaflet.timedimension.control.css"),
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


def heat_js(static_url: str = "/static") -> list[tuple[str, str]]:
    """The ``default_js`` of a heat layer: leaflet.heat from the API's own static files."""
    return [(HEAT_JS[0], f"{static_url.rstrip('/')}/{HEAT_JS[1]}")]


def timedimension_assets(static_url: str = "/static") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The ``default_js`` / ``default_css`` of the time slider, from the API's own static files."""
    base = static_url.rstrip("/")
    return ([(n, f"{base}/{p}") for n, p in TIMEDIMENSION_JS], [(n, f"{base}/{p}") for n, p in TIMEDIMENSION_CSS])
