"""Liveness and readiness: ``/healthz`` answers 200 only when PostgreSQL and PostGIS answer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from api.schemas import Health
from gisgrid.errors import DatabaseUnavailableError

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="Check that the database and PostGIS answer",
    responses={503: {"model": Health, "description": "the database or PostGIS does not answer"}},
)
def healthz(request: Request) -> JSONResponse:
    engine: Engine | None = getattr(request.app.state, "engine", None)
    try:
        if engine is None:
            raise DatabaseUnavailableError("The app was started without a database engine.")
        try:
            with engine.connect() as conn:
                version = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
        except (DBAPIError, PoolTimeoutError) as exc:
            missing_postgis = "postgis_lib_version" in str(exc)
            raise DatabaseUnavailableError(
                "PostGIS is not installed in the database."
                if missing_postgis
                else "The database cannot be reached.",
                rule="the database must answer and have PostGIS",
            ) from exc
    except DatabaseUnavailableError as exc:
        body = Health(status="error", database="unavailable", error=exc.to_dict())
        return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
    return JSONResponse(
        Health(status="ok", database="ok", postgis=str(version)).model_dump(exclude_none=True)
    )
