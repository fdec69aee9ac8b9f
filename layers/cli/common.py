"""What every ``gisgrid`` command shares: the console, ``--json``, error exits and database access.

A command prints (a table on stderr, or one JSON document on stdout with ``--json``); the work is done by
the flows in ``layers``. A :class:`~gisgrid.errors.GisgridError` exits with code 2 and names the field
and the rule — as ``{"error": {...}}`` on stdout with ``--json``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gisgrid.errors import GisgridError, InvalidInputError
from layers.settings import Settings, get_settings

__all__ = [
    "Basemap",
    "JsonOpt",
    "MaxOpt",
    "MinOpt",
    "check_window",
    "console",
    "database_url",
    "emit",
    "engine",
    "fail",
    "session_factory",
    "settings",
    "static_dir",
    "write_page",
]

console = Console(stderr=True)
Basemap = Literal["osm", "tianditu", "amap", "none"]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON result on stdout.")]
MinOpt = Annotated[int, typer.Option("--min", min=1, help="Fewest households per grid.")]
MaxOpt = Annotated[int, typer.Option("--max", min=1, help="Most households per grid.")]

_MAX_PROBLEMS_PRINTED = 20  # a long list goes to --json; the terminal shows the first ones


def emit(data: Any, as_json: bool = True) -> None:
    """Write ``data`` as one JSON document on stdout (when ``as_json``)."""
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(exc: GisgridError, as_json: bool) -> NoReturn:
    """Report ``exc`` (with the first problems it carries) and exit with code 2."""
    if as_json:
        sys.stdout.write(json.dumps({"error": exc.to_dict()}, ensure_ascii=False, default=str) + "\n")
    else:
        console.print(f"[red]error[/red] ({exc.code}): {exc.message}", highlight=False)
        problems = (exc.details or {}).get("problems") if isinstance(exc.details, dict) else None
        for problem in (problems or [])[:_MAX_PROBLEMS_PRINTED]:
            console.print(f"  - {problem.get('message')}", highlight=False)
        if problems and len(problems) > _MAX_PROBLEMS_PRINTED:
            console.print(f"  … and {len(problems) - _MAX_PROBLEMS_PRINTED} more (use --json for all)")
    raise typer.Exit(code=2)


def settings() -> Settings:
    return get_settings()


def database_url(*, test: bool = False) -> str:
    from layers.db import resolve_url

    return resolve_url(settings(), test=test)


def engine() -> Engine:
    from layers.db import make_engine

    return make_engine(database_url())


def session_factory() -> sessionmaker[Session]:
    from layers.db import make_sessionmaker

    return make_sessionmaker(engine())


def check_window(minimum: int, maximum: int) -> None:
    if minimum > maximum:
        raise InvalidInputError(f"--min ({minimum}) exceeds --max ({maximum})", field="--min", rule="--min ≤ --max")


def static_dir() -> Path:
    """``api/static`` — found beside the installed ``api`` package without importing it (the CLI
    layer never imports the web layer)."""
    spec = importlib.util.find_spec("api")
    if spec is None or not spec.submodule_search_locations:
        from gisgrid.errors import ConfigurationError

        raise ConfigurationError(
            "the api package (which holds the vendored assets) is not installed",
            field="api/static",
            rule="gisgrid installed with its api package",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static"


#: The prefix a page is built with when its assets are to be embedded (then replaced by their content).
EMBED_PREFIX = "/static"


def write_page(out: Path, page: str, static_url: str | None) -> None:
    """Write a rendered map page: with ``static_url`` None every vendored asset is embedded
    (:func:`gisgrid.maps.standalone.embed_assets`) so the file opens from disk; otherwise the page links
    the assets under ``static_url`` (a page put beside a server of ``api/static``)."""
    if static_url is None:
        from gisgrid.maps.standalone import embed_assets

        page = embed_assets(page, static_dir(), EMBED_PREFIX)
    out.write_text(page, encoding="utf-8")
