"""The ``gisgrid`` command line (Typer). Every command has ``--json`` output for scripts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import GisgridError
from layers.settings import Settings, get_settings

app = typer.Typer(
    help="gisgrid — grid mapping, incidents and patrols on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Bring up and migrate the PostGIS database.", no_args_is_help=True)
map_app = typer.Typer(help="Render maps to HTML files.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import OSM extracts and GIS files into PostGIS (one transaction each).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(map_app, name="map")

console = Console(stderr=True)
Basemap = Literal["osm", "tianditu", "amap", "none"]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON result on stdout.")]


def _emit(data: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(exc: GisgridError, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": exc.to_dict()}, ensure_ascii=False, default=str) + "\n")
    else:
        console.print(f"[red]error[/red] ({exc.code}): {exc.message}")
    raise typer.Exit(code=2)


def _settings() -> Settings:
    return get_settings()


def _url(settings: Settings, *, test: bool = False) -> str:
    from layers.db import resolve_url

    return resolve_url(settings, test=test)


# ------------------------------------------------------------------------------------------ db


@db_app.command("up")
def db_up(
    test: Annotated[bool, typer.Option("--test", help="Set up only the test database gisgrid_test.")] = False,
    install: Annotated[bool, typer.Option(help="Install PostGIS with apt when missing (root only).")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Find or start PostgreSQL, create the databases, enable PostGIS and apply the migrations."""
    from layers import bootstrap

    s = _settings()
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
        _fail(exc, as_json)
    result["seconds"] = f"{time.perf_counter() - started:.1f}"
    if as_json:
        _emit(result, True)
    else:
        for key, value in result.items():
            console.print(f"[green]{key}[/green]: {value}")


@db_app.command("url")
def db_url(test: Annotated[bool, typer.Option("--test")] = False, as_json: JsonOpt = False) -> None:
    """Print the database URL in use (password hidden)."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(_url(_settings(), test=test)).render_as_string(hide_password=True)
    except GisgridError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit({"url": url}, True)
    else:
        print(url)


@db_app.command("migrate")
def db_migrate(
    revision: str = "head", test: Annotated[bool, typer.Option("--test")] = False, as_json: JsonOpt = False
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from layers import migrate

    url = _url(_settings(), test=test)
    migrate.upgrade(url, revision)
    _emit({"revision": migrate.current(url)}, as_json)


@db_app.command("downgrade")
def db_downgrade(
    revision: str, test: Annotated[bool, typer.Option("--test")] = False, as_json: JsonOpt = False
) -> None:
    """Undo migrations down to REVISION ('base' removes every table)."""
    from layers import migrate

    url = _url(_settings(), test=test)
    migrate.downgrade(url, revision)
    _emit({"revision": migrate.current(url)}, as_json)


@db_app.command("stop")
def db_stop(as_json: JsonOpt = False) -> None:
    """Stop the private cluster under .gisgrid/pgdata, if this project started one."""
    from layers import bootstrap

    stopped = bootstrap.stop_private_cluster(Path(_settings().state_dir))
    if as_json:
        _emit({"stopped": stopped}, True)
    else:
        console.print("stopped the private cluster" if stopped else "no private cluster is running here")


# ---------------------------------------------------------------------------------------- demo


@app.command("demo")
def demo(
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same district.")] = 7,
    households: Annotated[int, typer.Option(min=2_000, max=5_000_000, help="Total households.")] = 60_000,
    users: Annotated[bool, typer.Option(help="(Re)create the demo users and print their passwords.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Generate the synthetic demo district (inside the real 薛城区 boundary) and load it into PostGIS."""
    from gisgrid.synth import generate_district
    from layers.accounts import create_demo_users
    from layers.db import make_engine, make_sessionmaker, transaction
    from layers.demo import load_district

    s = _settings()
    try:
        url = _url(s)
        t0 = time.perf_counter()
        with console.status(f"generating a synthetic district of {households:,} households (seed {seed}) …"):
            district = generate_district(seed=seed, households=households)
        t1 = time.perf_counter()
        engine = make_engine(url)
        with console.status("loading it into PostGIS …"):
            counts = load_district(engine, district)
        t2 = time.perf_counter()
        logins: list[dict[str, Any]] = []
        if users:
            with transaction(make_sessionmaker(engine)) as session:
                logins = create_demo_users(session)
            state = Path(s.state_dir)
            state.mkdir(parents=True, exist_ok=True)
            path = state / "demo-users.json"
            path.write_text(json.dumps(logins, ensure_ascii=False, indent=2))
            path.chmod(0o600)
        engine.dispose()
    except GisgridError as exc:
        _fail(exc, as_json)
    summary = district.summary()
    result = {
        "summary": summary,
        "loaded": counts,
        "users": logins,
        "seconds": {"generate": round(t1 - t0, 1), "load": round(t2 - t1, 1)},
    }
    if as_json:
        _emit(result, True)
        return
    table = Table(title="合成演示区 synthetic demo district (薛城区 370403)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else f"{value:,}")
    console.print(table)
    console.print(f"generated in {t1 - t0:.1f} s, loaded in {t2 - t1:.1f} s")
    if logins:
        users_table = Table(title="demo logins (also in .gisgrid/demo-users.json)")
        for col in ("username", "password", "role", "scope"):
            users_table.add_column(col)
        for u in logins:
            scope = f"{u['scope_area_name']} ({u['scope_area_code']})" if u.get("scope_area_code") else "all"
            users_table.add_row(str(u["username"]), str(u["password"]), str(u["role"]), scope)
        console.print(users_table)


# --------------------------------------------------------------------------------------- serve


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default GISGRID_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default GISGRID_PORT, 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Serve the API and the maps with uvicorn (uvloop + httptools)."""
    import uvicorn

    s = _settings()
    _url(s)  # fail early and clearly when no database is configured
    h, p = host or s.host, port or s.port
    base = f"http://{h}:{p}"
    console.print(
        f"gisgrid API on {base}/\n  overview map: {base}/map\n  grid map:     {base}/map/grids\n"
        f"  API docs:     {base}/docs\n  health:       {base}/healthz",
        soft_wrap=True,
        highlight=False,
    )
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=h,
        port=p,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="info",
    )


# ----------------------------------------------------------------------------------------- map


@map_app.command("render")
def map_render(
    what: Annotated[str, typer.Argument(help="Which map: 'overview' or 'grids'.")],
    out: Annotated[Path, typer.Argument(help="Output HTML file.")],
    basemap: Annotated[Basemap | None, typer.Option(help="osm, tianditu, amap or none.")] = None,
    static_url: Annotated[str, typer.Option(help="Where the page finds the vendored assets.")] = "/static",
    community: Annotated[str | None, typer.Option(help="grids: only this community (12-digit code).")] = None,
    minimum: Annotated[int, typer.Option("--min", help="grids: fewest households per grid.")] = MIN_HOUSEHOLDS,
    maximum: Annotated[int, typer.Option("--max", help="grids: most households per grid.")] = MAX_HOUSEHOLDS,
    as_json: JsonOpt = False,
) -> None:
    """Write a map to an HTML file (the assets are referenced under --static-url)."""
    if what == "grids":
        from layers.grids_cli import render_grids_command

        render_grids_command(
            out,
            community=community,
            basemap=basemap,
            static_url=static_url,
            minimum=minimum,
            maximum=maximum,
            as_json=as_json,
        )
        return
    from gisgrid.errors import InvalidInputError
    from gisgrid.maps import build_overview_map, render_html
    from layers.db import make_engine, make_sessionmaker
    from layers.mapdata import is_synthetic, load_overview_layers

    s = _settings()
    try:
        if what != "overview":
            raise InvalidInputError(f"unknown map {what!r}; available: overview, grids", field="what")
        engine = make_engine(_url(s))
        with make_sessionmaker(engine)() as session:
            layers = load_overview_layers(session)
        engine.dispose()
        fmap = build_overview_map(
            **layers,
            static_url=static_url,
            basemap=basemap or s.basemap,
            tianditu_key=s.tianditu_key,
            language=s.language,
            synthetic=is_synthetic(layers),
        )
        out.write_text(render_html(fmap), encoding="utf-8")
    except GisgridError as exc:
        _fail(exc, as_json)
    _emit({"written": str(out)}, as_json)
    if not as_json:
        console.print(f"wrote {out}")


def _register_subcommands() -> None:
    from layers import grids_cli, incidents_cli
    from layers.importers import files_cli, osm_cli

    osm_cli.register(import_app)
    files_cli.register(import_app, app)
    grids_cli.register(app, map_app)
    incidents_cli.register(app)


_register_subcommands()

if __name__ == "__main__":  # pragma: no cover
    app()
