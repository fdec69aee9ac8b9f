"""Shared fixtures: a real PostGIS database (``gisgrid_test``), migrated, and clean sessions.

There is no fallback: if the database cannot be reached the tests *fail*, they are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from layers import bootstrap, migrate
from layers.db import make_engine
from layers.models import Base
from layers.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(environment="test", state_dir=str(ROOT / ".gisgrid"))


@pytest.fixture(scope="session")
def db_url(settings: Settings) -> str:
    """The migrated test database. Brought up (and PostGIS enabled) here if ``make test`` has not."""
    try:
        bootstrap.up(
            Path(settings.state_dir),
            env_url=settings.database_url,
            env_test_url=settings.test_database_url,
            test=True,
            quiet=True,
        )
        url = bootstrap.database_url(
            Path(settings.state_dir),
            test=True,
            env_url=settings.database_url,
            env_test_url=settings.test_database_url,
        )
    except Exception as exc:  # a database test that cannot reach its database is a failure
        pytest.fail(f"the test database is not available: {exc}", pytrace=False)
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", autouse=True)
def _one_session_at_a_time(db_url: str) -> Iterator[None]:
    """Test sessions that share the test database wait for each other instead of wiping each other's rows."""
    conn = bootstrap.connect(db_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(4242001)")
    yield
    conn.close()  # releases the lock


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url, pool_size=4)
    yield eng
    eng.dispose()


def truncate_all(engine: Engine) -> None:
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def clean_db(engine: Engine) -> Iterator[Engine]:
    """An empty schema before the test (for tests that commit, e.g. through the API)."""
    truncate_all(engine)
    yield engine
    truncate_all(engine)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; commits become savepoints."""
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            outer.rollback()
