"""Browser login: the form, the HttpOnly session cookie, CSRF on cookie writes, logout, redirects of pages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.responses import Response
from fastapi.testclient import TestClient
from starlette.requests import Request

from api.security import create_access_token
from api.session import CSRF_COOKIE, SESSION_COOKIE, safe_next, set_session
from layers.models import User
from layers.settings import Settings
from tests.api.conftest import PASSWORD

PAGE = "/map/incidents?start=2026-01-01&end=2026-01-31"


def form_csrf(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    assert client.cookies.get(CSRF_COOKIE) == found.group(1)
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD, next_path: str | None = PAGE,
           csrf: str | None = None) -> Any:
    token = csrf if csrf is not None else form_csrf(client)
    data = {"username": username, "password": password, "csrf_token": token}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/login", data=data, follow_redirects=False)


@pytest.fixture
def admin(user_factory: Callable[..., User]) -> User:
    return user_factory("admin", username="admin_browser")


def test_login_page_in_chinese_and_english(client: TestClient) -> None:
    zh = client.get("/login")
    assert zh.status_code == 200 and zh.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in zh.text and "用户名" in zh.text and "密码" in zh.text
    assert "http://" not in zh.text and "https://" not in zh.text  # nothing fetched from elsewhere
    en = client.get("/login", params={"lang": "en"})
    assert '<html lang="en">' in en.text and "Username" in en.text


def test_pages_redirect_to_login_and_the_api_keeps_its_401(client: TestClient) -> None:
    page = client.get(PAGE, follow_redirects=False)
    assert page.status_code == 303
    target = urlsplit(page.headers["location"])
    assert target.path == "/login" and parse_qs(target.query)["next"] == [PAGE]
    api = client.get("/api/v1/auth/me")
    assert api.status_code == 401 and api.json()["error"]["field"] == "Authorization"
    # an API client whose token is bad gets the JSON 401 on a page too
    bad_token = client.get(PAGE, headers={"Authorization": "Bearer nonsense"}, follow_redirects=False)
    assert bad_token.status_code == 401 and bad_token.json()["error"]["code"] == "not_authenticated"
    assert api.headers["www-authenticate"] == "Bearer"


def test_form_login_sets_a_safe_cookie_and_opens_pages_and_api(client: TestClient, admin: User) -> None:
    done = log_in(client, admin.username)
    assert done.status_code == 303 and done.headers["location"] == PAGE
    cookies = {c.split("=", 1)[0]: c.lower() for c in done.headers.get_list("set-cookie")}
    assert "httponly" in cookies[SESSION_COOKIE] and "samesite=lax" in cookies[SESSION_COOKIE]
    assert "httponly" not in cookies[CSRF_COOKIE] and "samesite=strict" in cookies[CSRF_COOKIE]
    assert "secure" not in cookies[SESSION_COOKIE]  # not production
    assert "max-age=43200" in cookies[SESSION_COOKIE]  # token_minutes (12 h)
    page = client.get(PAGE)
    assert page.status_code == 200 and "leaflet" in page.text.lower()
    # the logout form with the session's CSRF token, which differs from the login form's
    csrf = client.cookies.get(CSRF_COOKIE)
    assert f'name="csrf_token" value="{csrf}"' in page.text and 'action="/logout' in page.text
    assert page.headers["cache-control"] == "private, no-store"
    overview = client.get("/map")  # public and cacheable, but not once it carries the user's logout form
    assert 'id="gg-session"' in overview.text and overview.headers["cache-control"] == "private, no-store"
    saved = dict(client.cookies)
    client.cookies.clear()
    anonymous = client.get("/map")
    assert "gg-session" not in anonymous.text and anonymous.headers["cache-control"].startswith("public")
    client.cookies.update(saved)
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["username"] == admin.username


def test_wrong_password_shows_the_form_again(client: TestClient, admin: User) -> None:
    bad = log_in(client, admin.username, password="wrong-password")
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    assert SESSION_COOKIE not in bad.headers.get("set-cookie", "")
    assert client.get("/api/v1/auth/me").status_code == 401


def test_login_form_needs_its_csrf_token(client: TestClient, admin: User) -> None:
    form_csrf(client)
    forged = client.post("/login", data={"username": admin.username, "password": PASSWORD,
                                         "csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.headers.get("set-cookie", "")


def test_cookie_writes_need_the_csrf_header(client: TestClient, admin: User,
                                            auth_header: Callable[[User], dict[str, str]]) -> None:
    log_in(client, admin.username)
    csrf = client.cookies.get(CSRF_COOKIE)
    assert csrf
    missing = client.post("/api/v1/incidents/tick", json={})
    assert missing.status_code == 403 and missing.json()["error"]["field"] == "X-CSRF-Token"
    wrong = client.post("/api/v1/incidents/tick", json={}, headers={"X-CSRF-Token": csrf[:-2] + "xx"})
    assert wrong.status_code == 403
    # the intake endpoint, which reads its credentials itself, checks it too
    intake = client.post("/api/v1/incidents", json={})
    assert intake.status_code == 403 and intake.json()["error"]["field"] == "X-CSRF-Token"
    right = client.post("/api/v1/incidents/tick", json={}, headers={"X-CSRF-Token": csrf})
    assert right.status_code == 200, right.text
    # a bearer token needs no CSRF token, cookie or not
    client.cookies.clear()
    bearer = client.post("/api/v1/incidents/tick", json={}, headers=auth_header(admin))
    assert bearer.status_code == 200


def test_logout_clears_the_session(client: TestClient, admin: User) -> None:
    log_in(client, admin.username)
    assert client.get(PAGE, follow_redirects=False).status_code == 200
    refused = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    out = client.post("/logout", data={"csrf_token": client.cookies.get(CSRF_COOKIE)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/login?logged_out=1")
    assert client.cookies.get(SESSION_COOKIE) is None
    assert client.get(PAGE, follow_redirects=False).status_code == 303
    assert client.get("/api/v1/auth/me").status_code == 401
    assert "已退出登录" in client.get(out.headers["location"]).text


def test_expired_session_redirects_with_a_message(client: TestClient, admin: User,
                                                  api_settings: Settings) -> None:
    old = create_access_token(username=admin.username, role="admin", scope=None, settings=api_settings,
                              now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2), minutes=60, csrf="c" * 40)
    client.cookies.set(SESSION_COOKIE, old)
    page = client.get(PAGE, follow_redirects=False)
    assert page.status_code == 303
    query = parse_qs(urlsplit(page.headers["location"]).query)
    assert query["expired"] == ["1"] and query["next"] == [PAGE]
    assert f'{SESSION_COOKIE}=""' in page.headers["set-cookie"]  # the stale cookie is dropped
    assert "登录已过期" in client.get(page.headers["location"]).text
    client.cookies.set(SESSION_COOKIE, old)
    api = client.get("/api/v1/auth/me")
    assert api.status_code == 401 and api.json()["error"]["rule"] == "token not expired"


def test_a_bearer_token_in_the_cookie_is_not_a_session(client: TestClient, admin: User,
                                                       api_settings: Settings) -> None:
    token = create_access_token(username=admin.username, role="admin", scope=None, settings=api_settings)
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "map", "/\t/evil.example"])
def test_next_never_leaves_the_site(client: TestClient, admin: User, target: str) -> None:
    assert safe_next(target) == "/map"
    done = log_in(client, admin.username, next_path=target)
    assert done.status_code == 303 and done.headers["location"] == "/map"
    assert 'name="next" value="/map"' in client.get("/login", params={"next": target}).text


def test_cookies_are_secure_in_production() -> None:
    settings = Settings(environment="production", secret_key="a-production-secret-0123456789abcdef",
                        token_minutes=30)
    response = Response()
    request = Request({"type": "http", "method": "POST", "path": "/login", "headers": [], "root_path": ""})
    set_session(response, request, token="t", csrf="c", settings=settings)
    cookies = [c.lower() for c in response.headers.getlist("set-cookie")]
    assert len(cookies) == 2 and all("secure" in c and "max-age=1800" in c for c in cookies)
