"""`gisgrid db up` on a machine where no server runs: a private cluster from the installed binaries."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gisgrid.errors import ConfigurationError
from layers import bootstrap, migrate


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # not pytest's tmp_path: that lives under a 0700 directory the 'postgres' user cannot enter
    path = Path(tempfile.mkdtemp(prefix="gisgrid-state-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    bootstrap.stop_private_cluster(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_private_cluster_comes_up_with_postgis_and_migrations(state_dir: Path) -> None:
    server = bootstrap.start_private_cluster(state_dir, port=bootstrap._free_port(55432), quiet=True)
    assert server.origin == "private"
    assert (state_dir / "pgdata" / "PG_VERSION").exists()
    assert bootstrap.create_database(server, "gisgrid", quiet=True) is True
    assert bootstrap.create_database(server, "gisgrid", quiet=True) is False  # idempotent
    url = server.database("gisgrid")
    assert bootstrap.ensure_postgis(url, install=False, quiet=True).startswith("3.")
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    # a second start finds it running and reuses the recorded port
    again = bootstrap.start_private_cluster(state_dir, quiet=True)
    assert again.url == server.url
    assert bootstrap.stop_private_cluster(state_dir) is True


def test_database_url_without_a_recorded_server_says_what_to_do(state_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="gisgrid db up") as info:
        bootstrap.database_url(state_dir)
    assert info.value.field == "GISGRID_DATABASE_URL"


def test_env_url_wins_and_test_database_is_derived() -> None:
    url = "postgresql+psycopg2://u:p@db.example:5433/prod"
    assert bootstrap.database_url(Path("/nonexistent"), env_url=url) == url
    assert bootstrap.database_url(Path("/nonexistent"), env_url=url, test=True).endswith("/gisgrid_test")


def test_postgis_package_matches_server_major_version() -> None:
    assert bootstrap.postgis_package(150019) == "postgresql-15-postgis-3"
    assert bootstrap.postgis_package(170002) == "postgresql-17-postgis-3"


def test_non_root_is_told_which_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from gisgrid.errors import DatabaseUnavailableError

    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # an ordinary user: no apt-get attempt
    with pytest.raises(DatabaseUnavailableError, match="postgresql-15-postgis-3"):
        bootstrap._install_postgis("postgresql-15-postgis-3", quiet=True)
