"""Every browser test runs against the real PostGIS test database: brought up (and locked) once a session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _database(db_url: str) -> str:
    return db_url
