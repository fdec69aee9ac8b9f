"""Shared fixtures: a real PostGIS database (``gisgrid_test``), migrated, and clean sessions.

Nothing here is autouse: the unit tests (``tests/unit``) request none of these fixtures and run with no
PostgreSQL at all (``make test`` runs them first with the database URL pointing at a closed port). Every
integration, API and browser test reaches the database through :func:`db_url`.

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
def db_url(settings: Settings) -> Iterator[str]:
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
    # Test sessions that share the test database wait for each other instead of wiping each other's rows.
    lock = bootstrap.connect(url)
    lock.autocommit = True
    with lock.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(4242001)")
    migrate.upgrade(url)
    yield url
    lock.close()  # releases the lock


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
