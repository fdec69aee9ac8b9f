"""``gisgrid import osm FILE [--repair] [--json]``, added to the ``import`` sub-app by :func:`register`."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gisgrid.errors import DatabaseUnavailableError, GisgridError
from layers.cli.common import JsonOpt, console, emit, fail
from layers.cli.common import engine as make_engine

__all__ = ["register"]


def _print_report(data: dict[str, Any]) -> None:
    table = Table(title=f"OSM import: {data['source']}")
    for col in ("layer", "imported", "updated", "rejected", "repaired"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for layer, counts in data.get("layers", {}).items():
        table.add_row(layer.replace("_", " "), *(f"{counts[k]:,}" for k in ("imported", "updated", "rejected",
                                                                              "repaired")))
    table.add_row("total", f"{data['imported']:,}", f"{data['updated']:,}", f"{data['rejected']:,}",
                  f"{data['repaired']:,}", style="bold")
    console.print(table)

    methods = Table(title="households of the buildings written, by method")
    methods.add_column("method")
    methods.add_column("buildings", justify="right")
    for method, n in data.get("households_methods", {}).items():
        methods.add_row(method, f"{n:,}")
    console.print(methods)

    comps = data.get("street_components", {"count": 0, "sizes": []})
    sizes = comps["sizes"]
    shown = ", ".join(f"{s:,}" for s in sizes[:10]) + (" …" if len(sizes) > 10 else "")
    console.print(f"street network: {comps['count']:,} connected components (nodes: {shown or '—'})")
    linked = data.get("linked", {})
    if linked:
        console.print("linked: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in linked.items()))
    reasons = data.get("rejected_by_reason", {})
    if reasons:
        console.print("rejected by reason: " + ", ".join(f"{k} {v:,}" for k, v in reasons.items()))
    shown_problems = [p for p in data.get("problems", []) if p["action"] != "warned"][:10]
    for p in shown_problems:
        console.print(f"  [yellow]{p['action']}[/yellow] {p['feature']} {p['field']}: {p['message']}")
    warned = sum(p["action"] == "warned" for p in data.get("problems", []))
    if warned:
        console.print(f"{warned:,} tag values ignored (see --json for each)")
    console.print(f"{data.get('seconds', 0)} s, {data.get('buildings_per_second') or 0:,} buildings/s")


def import_osm_command(
    file: Annotated[Path, typer.Argument(help="An .osm.pbf or .osm (XML) file.")],
    repair: Annotated[
        bool,
        typer.Option("--repair", help="Repair invalid polygons (make_valid) instead of rejecting them."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import buildings, residential complexes, the walking network and service posts from OpenStreetMap.

    Re-importing the same file updates the rows (keyed by OSM id) instead of duplicating them.
    Everything is written in one transaction.
    """
    from sqlalchemy.exc import OperationalError

    from gisgrid.osm import read_osm
    from layers.importers.osm import import_osm

    try:
        engine = make_engine()
        try:
            with console.status(f"reading {file.name} …") if not as_json else nullcontext():
                extract = read_osm(file)
            report = import_osm(engine, extract, repair=repair, progress=not as_json)
        except OperationalError as exc:
            raise DatabaseUnavailableError(f"the database cannot be reached: {exc.orig}") from exc
        finally:
            engine.dispose()
    except GisgridError as exc:
        fail(exc, as_json)
    data = report.to_dict()
    data["extract"] = extract.summary()
    if as_json:
        emit(data)
    else:
        _print_report(data)


def register(import_app: typer.Typer) -> None:
    """Add the ``osm`` command to the ``gisgrid import`` sub-app."""
    import_app.command("osm")(import_osm_command)
