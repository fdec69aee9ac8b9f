"""User administration (admin only) — for now the list, which also shows a role-protected route."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import AdminDep, SessionDep
from api.schemas import ErrorResponse, UserRead
from layers.models import AdminArea, User

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get(
    "",
    response_model=list[UserRead],
    summary="All users with their roles and scopes (admin only)",
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse, "description": "not an admin"}},
)
def list_users(session: SessionDep, admin: AdminDep) -> list[UserRead]:
    rows = session.execute(
        select(User, AdminArea.code, AdminArea.name, AdminArea.level)
        .outerjoin(AdminArea, AdminArea.id == User.scope_area_id)
        .order_by(User.username)
    ).all()
    return [
        UserRead(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            scope_area_code=code,
            scope_area_name=name,
            scope_level=level,
            department_id=user.department_id,
            staff_id=user.staff_id,
            active=user.active,
        )
        for user, code, name, level in rows
    ]
