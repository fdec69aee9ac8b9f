"""``GISGRID_DATABASE_URL`` as every PostgreSQL tool prints it is accepted; anything else is one clear line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from layers.settings import Settings, get_settings, normalise_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db.example:5433/gis?sslmode=require",
         "postgresql+psycopg2://u:p@db.example:5433/gis?sslmode=require"),
        ("postgres://u@db.example/gis", "postgresql+psycopg2://u@db.example/gis"),
        ("postgresql+psycopg2://u@/gis?host=/run/postgresql", "postgresql+psycopg2://u@/gis?host=%2Frun%2Fpostgresql"),
        ("  postgresql://u@h/gis \n", "postgresql+psycopg2://u@h/gis"),
    ],
)
def test_postgresql_urls_get_the_installed_driver(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected
    assert Settings(database_url=given, test_database_url=given).test_database_url == expected


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("postgresql+psycopg://u@h/gis", "names the driver 'psycopg'"),
        ("postgresql+asyncpg://u@h/gis", "names the driver 'asyncpg'"),
        ("sqlite:///gis.db", "must point at PostgreSQL"),
        ("host=h dbname=gis user=u", "is not a database URL"),
    ],
)
def test_other_urls_are_refused_naming_the_setting(given: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        normalise_database_url(given, "GISGRID_TEST_DATABASE_URL")
    assert "GISGRID_TEST_DATABASE_URL" in str(caught.value)


def test_an_empty_url_means_not_set() -> None:
    assert Settings(database_url="", test_database_url=" ").database_url is None


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"GISGRID_DATABASE_URL": "postgresql+psycopg://u:secret@h/gis"}, "GISGRID_DATABASE_URL names the driver"),
        ({"GISGRID_BASEMAP": "google"}, "GISGRID_BASEMAP: Input should be"),
        ({"GISGRID_PATROL_DAYS": "9"}, "GISGRID_PATROL_DAYS: Input should be less than or equal to 7"),
    ],
)
def test_the_command_line_refuses_a_bad_setting_in_one_line(
    env: dict[str, str], line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from layers.cli import app

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["grids", "validate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and line in lines[0] and "Traceback" not in result.output
    assert "secret" not in result.output
