"""``gisgrid db up|url|migrate|downgrade|stop``: find or start PostgreSQL, create the databases, migrate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from gisgrid.errors import GisgridError
from layers.cli.common import JsonOpt, console, database_url, emit, fail, settings

db_app = typer.Typer(help="Bring up and migrate the PostGIS database.", no_args_is_help=True)


@db_app.command("up")
def db_up(
    test: Annotated[bool, typer.Option("--test", help="Set up only the test database gisgrid_test.")] = False,
    install: Annotated[bool, typer.Option(help="Install PostGIS with apt when missing (root only).")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Find or start PostgreSQL, create the databases, enable PostGIS and apply the migrations."""
    from layers import bootstrap

    s = settings()
    started = time.perf_counter()
    try:
        result = bootstrap.up(
            Path(s.state_dir),
            env_url=s.database_url,
            env_test_url=s.test_database_url,
            test=test,
            install=install,
            quiet=as_json,
        )
    except GisgridError as exc:
        fail(exc, as_json)
    result["seconds"] = f"{time.perf_counter() - started:.1f}"
    if as_json:
        emit(result, True)
    else:
        for key, value in result.items():
            console.print(f"[green]{key}[/green]: {value}")


@db_app.command("url")
def db_url(test: Annotated[bool, typer.Option("--test")] = False, as_json: JsonOpt = False) -> None:
    """Print the database URL in use (password hidden)."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(database_url(test=test)).render_as_string(hide_password=True)
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit({"url": url}, True)
    else:
        print(url)


@db_app.command("migrate")
def db_migrate(
    revision: str = "head", test: Annotated[bool, typer.Option("--test")] = False, as_json: JsonOpt = False
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from layers import migrate

    url = database_url(test=test)
    migrate.upgrade(url, revision)
    emit({"revision": migrate.current(url)}, as_json)


@db_app.command("downgrade")
def db_downgrade(
    revision: str, test: Annotated[bool, typer.Option("--test")] = False, as_json: JsonOpt = False
) -> None:
    """Undo migrations down to REVISION ('base' removes every table)."""
    from layers import migrate

    url = database_url(test=test)
    migrate.downgrade(url, revision)
    emit({"revision": migrate.current(url)}, as_json)


@db_app.command("stop")
def db_stop(as_json: JsonOpt = False) -> None:
    """Stop the private cluster under .gisgrid/pgdata, if this project started one."""
    from layers import bootstrap

    stopped = bootstrap.stop_private_cluster(Path(settings().state_dir))
    if as_json:
        emit({"stopped": stopped}, True)
    else:
        console.print("stopped the private cluster" if stopped else "no private cluster is running here")
