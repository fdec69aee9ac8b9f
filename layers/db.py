"""Engines and sessions, created from explicit settings by whoever starts the process — never at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from layers import bootstrap
from layers.settings import Settings


def resolve_url(settings: Settings, *, test: bool = False) -> str:
    """The database URL for these settings: env var, else the server ``gisgrid db up`` recorded."""
    return bootstrap.database_url(
        Path(settings.state_dir),
        test=test,
        env_url=settings.database_url,
        env_test_url=settings.test_database_url,
    )


CONNECT_TIMEOUT_S = 5  # an unreachable database fails fast (the API answers 503) instead of hanging


def service_url(settings: Settings) -> str:
    """The URL a long-running service uses: :func:`resolve_url` with a connect timeout."""
    url = make_url(resolve_url(settings))
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    return url.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 8) -> Engine:
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, future=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with factory() as session, session.begin():
        yield session
