"""Logging in, tokens, roles: 401 without or with a bad token, 403 for the wrong role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api.security import create_access_token, decode_access_token
from gisgrid.errors import AuthenticationError, ConflictError, InvalidInputError
from layers.accounts import authenticate, create_demo_users, create_user, hash_password, verify_password
from layers.models import User
from tests.api.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("district")


def login(client, username: str, password: str):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_no_token_is_401_with_bearer_challenge(client):
    res = client.get("/api/v1/auth/me")
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == "Bearer"
    assert res.json()["error"]["code"] == "not_authenticated"


def test_garbage_token_is_401(client):
    res = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not.a.token"})
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == "Bearer"
    assert res.json()["error"]["code"] == "not_authenticated"


def test_token_signed_with_another_key_is_401(client, api_settings, user_factory):
    user_factory("admin")
    forged = create_access_token(
        username="admin_all",
        role="admin",
        scope=None,
        settings=api_settings.model_copy(update={"secret_key": "some-other-secret-of-sufficient-length"}),
    )
    res = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert res.status_code == 401


def test_expired_token_is_401(client, api_settings, user_factory):
    user_factory("admin")
    token = create_access_token(
        username="admin_all",
        role="admin",
        scope=None,
        settings=api_settings,
        now=datetime.now(UTC) - timedelta(hours=2),
        minutes=60,
    )
    res = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 401
    assert "expired" in res.json()["error"]["message"]


def test_token_of_deleted_user_is_401(client, auth_header, user_factory, session):
    user = user_factory("leader")
    header = auth_header(user)
    session.delete(user)
    session.commit()
    assert client.get("/api/v1/auth/me", headers=header).status_code == 401


def test_wrong_role_is_403_and_right_role_is_200(client, auth_header, user_factory, district):
    patrol = user_factory("patrol", district["A"].code)
    admin = user_factory("admin")
    res = client.get("/api/v1/users", headers=auth_header(patrol))
    assert res.status_code == 403
    assert res.json()["error"]["code"] == "permission_denied"
    res = client.get("/api/v1/users", headers=auth_header(admin))
    assert res.status_code == 200
    assert {u["username"] for u in res.json()} == {"patrol_110105001001", "admin_all"}
    assert all("password_hash" not in u for u in res.json())


def test_login_with_wrong_password_is_401(client, user_factory):
    user_factory("planner")
    res = login(client, "planner_all", "wrong-password")
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == "Bearer"
    assert res.json()["error"]["code"] == "not_authenticated"
    # an unknown user gets exactly the same answer
    other = login(client, "nobody", "wrong-password")
    assert other.status_code == 401
    assert other.json() == res.json()


def test_login_round_trip(client, api_settings, user_factory, district):
    user_factory("patrol", district["A"].code)
    res = login(client, "patrol_110105001001", PASSWORD)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "patrol"
    assert body["scope"] == "110105001001"
    assert body["expires_in"] == api_settings.token_minutes * 60
    claims = decode_access_token(body["access_token"], settings=api_settings)
    assert (claims.username, claims.role, claims.scope) == ("patrol_110105001001", "patrol", "110105001001")
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "patrol_110105001001"
    assert me.json()["scope_area_code"] == "110105001001"
    assert me.json()["scope_level"] == "community"


def test_login_form_missing_field_is_422_naming_it(client):
    res = client.post("/api/v1/auth/token", data={"username": "x"})
    assert res.status_code == 422
    error = res.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_input", "password")


def test_deactivated_user_cannot_log_in(client, user_factory, session):
    user = user_factory("dispatcher")
    user.active = False
    session.commit()
    assert login(client, "dispatcher_all", PASSWORD).status_code == 401


# ------------------------------------------------------------------------------ layers.accounts


def test_hash_and_verify_password():
    hashed = hash_password("s3cret-enough", rounds=4)
    assert hashed.startswith("$2b$04$")
    assert verify_password("s3cret-enough", hashed)
    assert not verify_password("s3cret-enougH", hashed)
    assert not verify_password("s3cret-enough", "not-a-hash")
    with pytest.raises(InvalidInputError) as short:
        hash_password("short")
    assert short.value.field == "password"
    with pytest.raises(InvalidInputError):
        hash_password("密" * 30)  # 90 bytes in UTF-8: beyond bcrypt's 72


def test_create_user_errors_name_the_field(session, district):
    with pytest.raises(InvalidInputError) as role:
        create_user(session, username="x1", password=PASSWORD, role="superuser")
    assert role.value.field == "role"
    with pytest.raises(InvalidInputError) as area:
        create_user(session, username="x2", password=PASSWORD, role="patrol", scope_area_code="999999999999")
    assert area.value.field == "scope_area_code"
    create_user(session, username="x3", password=PASSWORD, role="patrol")
    with pytest.raises(ConflictError) as dup:
        create_user(session, username="x3", password=PASSWORD, role="leader")
    assert dup.value.field == "username"


def test_authenticate(session):
    create_user(session, username="leader1", password=PASSWORD, role="leader")
    assert authenticate(session, "leader1", PASSWORD).role == "leader"
    with pytest.raises(AuthenticationError):
        authenticate(session, "leader1", PASSWORD + "x")


def test_demo_users_one_per_role_with_scopes(session, district):
    first = create_demo_users(session)
    session.commit()
    by_role = {u["role"]: u for u in first}
    assert set(by_role) == {"admin", "planner", "leader", "dispatcher", "patrol", "department"}
    assert by_role["admin"]["scope_area_code"] is None
    assert by_role["leader"]["scope_level"] == "district"
    assert by_role["planner"]["scope_level"] == by_role["dispatcher"]["scope_level"] == "street"
    assert by_role["patrol"]["scope_level"] == "community"
    for u in first:
        assert authenticate(session, u["username"], u["password"]).role == u["role"]
    # running it again replaces them: same users, new passwords, old ones refused
    second = create_demo_users(session)
    session.commit()
    assert len(session.scalars(select(User.username)).all()) == 6
    old = {u["username"]: u["password"] for u in first}
    for u in second:
        assert u["password"] != old[u["username"]]
        with pytest.raises(AuthenticationError):
            authenticate(session, u["username"], old[u["username"]])
