"""An unknown community, grid or area code on a map page answers 404 with a readable page naming the
parameter — never an empty map at country scale. The JSON API keeps its JSON errors."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from layers.models import AdminArea, User

UNKNOWN = "110105009999"


def check_page(response, status: int, field: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text[response.text.find("<main"):]
    assert response.headers["content-type"].startswith("text/html")
    body = response.text
    assert f'data-field="{field}"' in body
    assert f"<code>{field}</code>" in body
    assert '<meta name="viewport"' in body
    assert "leaflet" not in body.lower()  # an error page, not a map
    assert "返回总览" in body and "back to the overview" in body


def test_unknown_community_on_the_grid_map_is_a_404_page(client: TestClient, district: dict[str, AdminArea]) -> None:
    response = client.get(f"/map/grids?community={UNKNOWN}")
    check_page(response, 404, "community")
    assert UNKNOWN in response.text
    assert "找不到" in response.text and "Not found" in response.text
    assert response.text.index("找不到") < response.text.index("Not found")  # Chinese first by default

    english = client.get(f"/map/grids?community={UNKNOWN}&lang=en")
    check_page(english, 404, "community")
    assert english.text.index("Not found") < english.text.index("找不到")
    assert '<html lang="en">' in english.text

    # a known community with no grids yet is still a map (its outline and name), not an error
    known = client.get(f"/map/grids?community={district['A'].code}")
    assert known.status_code == 200
    assert "gg-area-label" in known.text
    assert "甲社区" in known.text or json.dumps("甲社区")[1:-1] in known.text  # as written in the script


def test_malformed_code_on_a_page_is_a_422_page_and_the_api_stays_json(
    client: TestClient, district: dict[str, AdminArea]
) -> None:
    check_page(client.get("/map/grids?community=abc"), 422, "community")
    api = client.get("/api/v1/grids?community=abc")
    assert api.status_code == 422
    assert api.headers["content-type"].startswith("application/json")
    assert api.json()["error"]["field"] == "community"


def test_unknown_area_on_the_signed_in_pages_is_a_404_page(
    client: TestClient,
    district: dict[str, AdminArea],
    user_factory: Callable[..., User],
    auth_header: Callable[[User], dict[str, str]],
) -> None:
    headers = auth_header(user_factory("admin"))
    check_page(client.get(f"/map/complexes?code={UNKNOWN}", headers=headers), 404, "code")
    check_page(client.get(f"/map/coverage?area={UNKNOWN}", headers=headers), 404, "area")
    check_page(client.get(f"/map/rollout?area={UNKNOWN}", headers=headers), 404, "area")
    # the same unknown code on the JSON API: a JSON 404 naming the field
    api = client.get(f"/api/v1/complexes/indicators?code={UNKNOWN}", headers=headers)
    assert api.status_code == 404
    assert api.json()["error"]["field"] == "code"
    # and an unknown page path under /map is a page too
    check_page_404 = client.get("/map/nowhere", headers=headers)
    assert check_page_404.status_code == 404
    assert check_page_404.headers["content-type"].startswith("text/html")
