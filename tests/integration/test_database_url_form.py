"""``gisgrid db up`` with ``postgresql://…`` (the form ``psql`` and every PostgreSQL tool prints) on the real server."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from layers import bootstrap, migrate
from layers.settings import get_settings


def test_db_up_takes_a_plain_postgresql_url_and_creates_the_missing_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from layers.cli import app

    name = f"gisgrid_urlform_{uuid.uuid4().hex[:8]}"
    plain = make_url(db_url).set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    assert plain.startswith("postgresql://")
    monkeypatch.setenv("GISGRID_TEST_DATABASE_URL", plain)
    get_settings.cache_clear()
    maintenance = bootstrap.Server(make_url(db_url).set(database="postgres").render_as_string(False), "env")
    try:
        result = CliRunner().invoke(app, ["db", "up", "--test", "--no-install", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["test_database"].startswith("postgresql+psycopg2://")
        url = make_url(db_url).set(database=name).render_as_string(hide_password=False)
        assert migrate.current(url) == migrate.head()
        url_result = CliRunner().invoke(app, ["db", "url", "--test", "--json"])
        assert json.loads(url_result.stdout)["url"].startswith("postgresql+psycopg2://")
    finally:
        get_settings.cache_clear()
        bootstrap.drop_database(maintenance, name)
