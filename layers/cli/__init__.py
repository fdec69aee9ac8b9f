"""The ``gisgrid`` command line (Typer). Every command has ``--json`` output for scripts.

One module per command group; each prints what a flow of ``layers`` returns. Shared pieces (console,
``--json``, exit codes, database access) are in :mod:`layers.cli.common`.
"""

from __future__ import annotations

import typer

from layers.cli import (
    coverage,
    coverage_extra,
    db,
    demo,
    files,
    grids,
    incidents,
    maps,
    osm,
    patrol,
    stations,
)

__all__ = ["app", "main"]

app = typer.Typer(
    help="gisgrid — grid mapping, incidents and patrols on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(
    help="Import OSM extracts and GIS files into PostGIS (one transaction each).", no_args_is_help=True
)
app.add_typer(db.db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(maps.map_app, name="map")
demo.register(app)
osm.register(import_app)
files.register(import_app, app)
grids.register(app)
incidents.register(app)
patrol.register(app)
stations.register(app)
coverage.register(app)
coverage_extra.register(app, coverage_app=coverage.coverage_app)



@app.callback()
def _settings_first() -> None:
    """Read the ``GISGRID_*`` settings before any command: a wrong one is one line and exit code 2."""
    from pydantic import ValidationError

    from layers import settings as settings_module
    from layers.cli.common import console

    try:
        settings_module.get_settings()
    except ValidationError as exc:
        model = getattr(settings_module, exc.title, settings_module.Settings)
        prefix = str(model.model_config.get("env_prefix") or "GISGRID_")
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            field = ".".join(str(part) for part in error["loc"])
            if field and not message.startswith("GISGRID_"):
                message = f"{prefix}{field.upper().replace('.', '_')}: {message}"
            console.print(f"[red]error[/red] (configuration): {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def main() -> None:
    """The ``gisgrid`` entry point: the Typer app, with an unreachable or missing database said in one line
    (exit code 2) instead of a driver traceback."""
    import sys

    from sqlalchemy.exc import OperationalError

    try:
        app()
    except OperationalError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        hint = ("run `gisgrid db up` (it creates and migrates the database, or starts a local PostgreSQL), or set "
                "GISGRID_DATABASE_URL")
        print(f"error (database): {reason} — {hint}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
