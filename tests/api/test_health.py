"""/healthz: 200 with the PostGIS version when the database answers, 503 when it does not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from api.security import create_access_token
from layers.settings import Settings


def test_healthz_ok(client):
    res = client.get("/healthz")
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["postgis"].split(".")[0] == "3"


def test_healthz_503_when_database_unreachable():
    settings = Settings(
        environment="test", database_url="postgresql+psycopg2://postgres@127.0.0.1:1/gisgrid_test"
    )
    with TestClient(create_app(settings)) as client:
        res = client.get("/healthz")
        assert res.status_code == 503
        body = res.json()
        assert (body["status"], body["database"]) == ("error", "unavailable")
        assert body["error"]["code"] == "database_unavailable"
        # any endpoint that needs the database says 503 too, in the common error shape
        login = client.post("/api/v1/auth/token", data={"username": "a", "password": "b" * 8})
        assert login.status_code == 503
        assert login.json()["error"]["code"] == "database_unavailable"
        # the async intake path (asyncpg, not psycopg2) too
        token = create_access_token(username="a", role="patrol", scope=None, settings=settings)
        report = client.post(
            "/api/v1/incidents",
            json={"lon": 117.26, "lat": 34.80, "crs": "wgs84", "category_code": "06010", "source": "patrol"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert report.status_code == 503, report.text
        assert report.json()["error"]["code"] == "database_unavailable"


def test_creating_the_app_does_not_connect():
    # no lifespan has run: nothing has tried the (unreachable) database yet
    app = create_app(
        Settings(environment="test", database_url="postgresql+psycopg2://postgres@127.0.0.1:1/x")
    )
    assert not hasattr(app.state, "engine")


def test_docs_are_served_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        url = f"/static/vendor/swagger-ui/{asset}"
        assert url in page.text
        assert client.get(url).status_code == 200
    assert client.get("/docs/oauth2-redirect").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/buildings" in spec["paths"]
    assert spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == (
        "/api/v1/auth/token"
    )


def test_root_redirects(client):
    res = client.get("/", follow_redirects=False)
    assert res.status_code == 307
    assert res.headers["location"] in ("/map", "/docs")


def test_unknown_route_uses_the_error_shape(client):
    res = client.get("/api/v1/nothing-here")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "not_found"
