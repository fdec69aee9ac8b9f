"""Logging in (OAuth2 password flow) and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from api.deps import CurrentUserDep, SessionDep, SettingsDep
from api.schemas import ErrorResponse, Token, UserRead
from api.security import create_access_token
from layers.accounts import authenticate
from layers.models import AdminArea

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=Token,
    summary="Log in with username and password (OAuth2 password flow)",
    responses={401: {"model": ErrorResponse, "description": "wrong username or password"}},
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> Token:
    user = authenticate(session, form.username, form.password)
    scope = (
        session.scalar(select(AdminArea.code).where(AdminArea.id == user.scope_area_id))
        if user.scope_area_id is not None
        else None
    )
    token = create_access_token(username=user.username, role=user.role, scope=scope, settings=settings)
    return Token(access_token=token, expires_in=settings.token_minutes * 60, role=user.role, scope=scope)


@router.get(
    "/me",
    response_model=UserRead,
    summary="The logged-in user, with their role and area scope",
    responses={401: {"model": ErrorResponse}},
)
def me(user: CurrentUserDep) -> UserRead:
    return UserRead.model_validate(user)
