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


def test_a_missing_database_is_one_line_naming_db_up(db_url: str) -> None:
    """A command run before ``gisgrid db up`` (the database does not exist yet) says so in one line, exit 2."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    missing = make_url(db_url).set(drivername="postgresql", database=f"gisgrid_absent_{uuid.uuid4().hex[:8]}")
    env = {**os.environ, "GISGRID_DATABASE_URL": missing.render_as_string(hide_password=False)}
    gisgrid = Path(sys.executable).with_name("gisgrid")  # the installed entry point, as a user runs it
    done = subprocess.run([str(gisgrid), "grids", "validate", "--community", "370403001001"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "does not exist" in done.stderr and "gisgrid db up" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
