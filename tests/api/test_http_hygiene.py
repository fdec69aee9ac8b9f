"""What a client sees on the wire: unknown query parameters are 422 naming them (on every GET /api/v1 route),
answers are gzip-compressed when asked for, and static assets say how long they may be cached."""

from __future__ import annotations

import gzip
import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from api.query_check import CHECKED_PREFIX, declared_query_params
from tests.api.conftest import make_building


@pytest.fixture
def admin(user_factory, auth_header):
    return auth_header(user_factory("admin"))


def _get_paths(client: TestClient) -> dict[str, dict]:
    """Every documented GET operation under /api/v1 (the OpenAPI document lists them all)."""
    paths = client.get("/openapi.json").json()["paths"]
    return {path: ops["get"] for path, ops in paths.items() if path.startswith(CHECKED_PREFIX) and "get" in ops}


def test_an_unknown_filter_is_422_naming_it(client, admin, session, district) -> None:
    make_building(session, x=116.31, y=39.91, community=district["A"], name="甲1号楼")
    session.commit()
    res = client.get("/api/v1/buildings?community=110105001002", headers=admin)
    assert res.status_code == 422, res.text
    error = res.json()["error"]
    assert error["field"] == "community" and error["code"] == "invalid_input"
    assert "bbox" in error["message"] and "limit" in error["message"]  # says what the endpoint takes
    # two unknown ones: the first is the field, both are listed
    res = client.get("/api/v1/buildings?communtiy=1&pagesize=5", headers=admin)
    assert res.json()["error"]["field"] == "communtiy" and res.json()["error"]["details"]["unknown"] == [
        "communtiy", "pagesize"]
    # the declared ones still work, repeated or not
    ok = client.get("/api/v1/buildings?bbox=116.3,39.9,116.4,40.0&limit=5&offset=0", headers=admin)
    assert ok.status_code == 200 and ok.json()["numberReturned"] == 1


def test_every_get_route_under_api_v1_refuses_an_unknown_parameter(client, admin) -> None:
    paths = _get_paths(client)
    assert len(paths) >= 25
    for template in paths:
        path = re.sub(r"\{[^}]+\}", "1", template)
        res = client.get(f"{path}?zz_unknown=1", headers=admin)
        assert res.status_code == 422, (template, res.status_code, res.text[:200])
        assert res.json()["error"]["field"] == "zz_unknown", template
    assert "/api/v1/grids" in paths and "/api/v1/incidents/{incident_id}" in paths


def test_declared_parameters_are_those_documented(client) -> None:
    """The check allows exactly what OpenAPI documents as query parameters, dependencies' included."""
    documented = {path: {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
                  for path, op in _get_paths(client).items()}
    routes = {r.path: r for r in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
              if isinstance(r.original_route, APIRoute) and "GET" in r.original_route.methods}
    for path, names in documented.items():
        assert declared_query_params(routes[path].original_route.dependant) == names, path
    assert {"bbox", "limit", "offset"} <= documented["/api/v1/buildings"]


def test_open311_keeps_its_documented_parameters(client) -> None:
    res = client.get("/open311/v2/services.json?jurisdiction_id=370403")
    assert res.status_code == 200, res.text


def test_pages_and_geojson_are_gzipped_when_asked(client, admin, session, district) -> None:
    for i in range(40):
        make_building(session, x=116.30 + i * 0.0006, y=39.91, community=district["A"], name=f"甲{i}号楼")
    session.commit()
    page = client.get("/map", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    raw = client.get("/map", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    layer = client.get("/api/v1/buildings", headers={**admin, "Accept-Encoding": "gzip"})
    assert layer.headers["content-encoding"] == "gzip"
    assert layer.headers["content-type"].startswith("application/geo+json")
    assert int(layer.headers["content-length"]) < len(layer.content) / 3  # compressed on the wire
    assert layer.json()["numberReturned"] == 40  # the client decoded it
    # the bytes on the wire are gzip
    with client.stream("GET", "/api/v1/buildings", headers={**admin, "Accept-Encoding": "gzip"}) as res:
        assert gzip.decompress(b"".join(res.iter_raw())).startswith(b"{")


def test_small_answers_and_writes_are_not_compressed(client) -> None:
    health = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in health.headers  # under the minimum size


def test_static_assets_carry_a_cache_lifetime(client) -> None:
    res = client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert res.status_code == 200
    assert res.headers["cache-control"] == "public, max-age=2592000"
    assert res.headers["content-encoding"] == "gzip"
    other = client.get("/static/vendor/VERSIONS.txt")
    assert other.status_code == 200 and "max-age" in other.headers["cache-control"]
    # a revalidation answers 304
    again = client.get("/static/vendor/leaflet/leaflet.js", headers={"If-None-Match": res.headers["etag"]})
    assert again.status_code == 304
