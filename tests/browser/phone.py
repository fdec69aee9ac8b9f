"""Measuring a map page on a phone-sized screen in the browser (shared by the browser tests).

``LAYOUT_JS`` returns what a person would see as broken: the page's scroll width, controls cut off at the
screen's edge, and name labels lying on a station dot (any circle marker) or on another label — boxes
measured by the browser, only those in view.
"""

from __future__ import annotations

from typing import Any

PHONE = {"width": 390, "height": 844}

MAP_JS = """Object.keys(window).map((k) => window[k]).find((v) => v instanceof L.Map)"""

LAYOUT_JS = f"""
() => {{
    const map = {MAP_JS};
    const inView = (r) => r.width > 0 && r.right > 0 && r.left < innerWidth && r.bottom > 0 && r.top < innerHeight;
    const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const dots = [];
    map.eachLayer((l) => {{
        if (l instanceof L.CircleMarker && l._path) {{
            const r = l._path.getBoundingClientRect();
            if (inView(r)) dots.push(r);
        }}
    }});
    const labels = [...document.querySelectorAll(".gg-label")]
        .map((e) => [e.textContent, e.getBoundingClientRect()]).filter(([, r]) => inView(r));
    const onDots = [], onLabels = [];
    labels.forEach(([t, r], i) => {{
        if (dots.some((d) => hit(r, d))) onDots.push(t);
        labels.slice(i + 1).forEach(([u, q]) => {{ if (hit(r, q)) onLabels.push(t + " / " + u); }});
    }});
    const controls = [...document.querySelectorAll(".leaflet-control")].map((e) => e.getBoundingClientRect())
        .filter((r) => r.width > 0);
    return {{
        zoom: map.getZoom(), dots: dots.length, labels: labels.map(([t]) => t), onDots, onLabels,
        scrollWidth: document.documentElement.scrollWidth,
        bodyScrollWidth: document.body.scrollWidth,
        cutOff: controls.filter((r) => r.left < 0 || r.right > innerWidth).length,
    }};
}}
"""

ZOOM_JS = f"""(z) => {{ const map = {MAP_JS}; map.setZoom(z, {{animate: false}}); }}"""
CENTRE_JS = f"""([lat, lon, z]) => {{ const map = {MAP_JS}; map.setView([lat, lon], z, {{animate: false}}); }}"""


def check_fits(page: Any, width: int, where: str) -> dict[str, Any]:
    state = page.evaluate(LAYOUT_JS)
    print(where, state)
    assert state["scrollWidth"] <= width and state["bodyScrollWidth"] <= width, f"{where}: horizontal scroll"
    assert state["cutOff"] == 0, f"{where}: a control is cut off at the screen's edge"
    assert state["onDots"] == [], f"{where}: labels on station dots: {state['onDots']}"
    assert state["onLabels"] == [], f"{where}: labels on labels: {state['onLabels']}"
    return state


def check_legend(page: Any, where: str) -> None:
    """The legend is closed behind its button, opens on a tap (or click) within the screen, closes again."""
    legend = page.locator(".gg-legend").first
    body = legend.locator(".gg-legend-body")
    assert "gg-collapsed" in (legend.get_attribute("class") or ""), f"{where}: legend open on a phone"
    assert not body.is_visible()
    button = legend.locator(".gg-legend-toggle")
    assert button.is_visible() and button.get_attribute("aria-expanded") == "false"
    if page.evaluate("navigator.maxTouchPoints > 0"):
        button.tap()
    else:
        button.click()
    assert body.is_visible(), f"{where}: the legend did not open"
    assert button.get_attribute("aria-expanded") == "true"
    box = legend.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] <= PHONE["height"] * 0.75, f"{where}: the open legend covers the screen"
    check_fits(page, PHONE["width"], f"{where} legend open")
    button.click()
    assert not body.is_visible()
