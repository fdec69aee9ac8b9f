"""Request and response bodies (``XRead`` for what the API returns about an X)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Token(BaseModel):
    """An OAuth2 bearer token, as the password flow returns it."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")
    role: str
    scope: str | None = Field(None, description="12-digit code of the user's area; null for the whole system")


class UserRead(BaseModel):
    """A user as others may see them (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    scope_area_code: str | None = None
    scope_area_name: str | None = None
    scope_level: str | None = None
    department_id: int | None = None
    staff_id: int | None = None
    active: bool = True


class Health(BaseModel):
    status: Literal["ok", "error"]
    database: Literal["ok", "unavailable"]
    postgis: str | None = None
    error: dict[str, Any] | None = None


class LayerInfo(BaseModel):
    """One map layer the API serves, and where."""

    name: str
    title: str
    title_zh: str
    geometry: str
    href: str
    filters: list[str]
    roles: list[str] | None = Field(None, description="roles that may read it; null means every role")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    feature: Any = None
    rule: str | None = None
    details: Any = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail
