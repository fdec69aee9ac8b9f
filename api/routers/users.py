"""User administration (admin only) — for now the list, which also shows a role-protected route."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminDep, SessionDep
from api.schemas import ErrorResponse, UserRead
from layers.accounts import accounts

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get(
    "",
    response_model=list[UserRead],
    summary="All users with their roles and scopes (admin only)",
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse, "description": "not an admin"}},
)
def list_users(session: SessionDep, admin: AdminDep) -> list[UserRead]:
    return [UserRead.model_validate(account) for account in accounts(session)]
