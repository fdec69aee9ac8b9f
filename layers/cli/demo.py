"""``gisgrid demo`` (generate and load the synthetic district) and ``gisgrid serve``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gisgrid.errors import GisgridError
from layers.cli.common import JsonOpt, console, database_url, emit, fail, settings


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("serve")(serve)


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

    s = settings()
    try:
        url = database_url()
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
        fail(exc, as_json)
    summary = district.summary()
    result = {
        "summary": summary,
        "loaded": counts,
        "users": logins,
        "seconds": {"generate": round(t1 - t0, 1), "load": round(t2 - t1, 1)},
    }
    if as_json:
        emit(result, True)
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


def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default GISGRID_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default GISGRID_PORT, 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Serve the API and the maps with uvicorn (uvloop + httptools)."""
    import uvicorn

    s = settings()
    database_url()  # fail early and clearly when no database is configured
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
