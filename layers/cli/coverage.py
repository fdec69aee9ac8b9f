"""``gisgrid coverage report|rollout|recompute``, wired in by :func:`register`.

``report`` prints the coverage figures by street (or ``--level``) with the totals, as of today or
``--as-of``; ``rollout`` the month-by-month curve of one kind and when the pace reaches every complex;
``recompute`` computes the stored table in full. ``--csv OUT`` writes UTF-8 with a BOM, like the KPI CSV.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gisgrid import vocab
from gisgrid.errors import GisgridError, InvalidInputError
from layers.cli.common import JsonOpt, console, emit, fail, session_factory, settings

coverage_app = typer.Typer(help="Walking-distance coverage of households by service stations.",
                           no_args_is_help=True)

AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today, China time).")]
CodeOpt = Annotated[str | None, typer.Option(help="Area code (12 digits, or a 15-digit grid) to report on.")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="Also write the rows as CSV (UTF-8 with BOM).")]


def _day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(f"{option} must be YYYY-MM-DD; got {value!r}", field=option,
                                rule="an ISO date") from exc


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def report_command(
    as_of: AsOfOpt = None,
    level: Annotated[str, typer.Option(help="grid, community, street or district.")] = "street",
    code: CodeOpt = None,
    csv: CsvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Households and complexes within a short walk of each kind of open station, by area."""
    from layers import coverage
    from layers.kpis import kpis_to_csv

    try:
        day = _day(as_of, "--as-of")
        with session_factory()() as session, session.begin():
            fig = coverage.figures(session, coverage.thresholds_from(settings().coverage), level=level, code=code,
                                   as_of=day)
    except GisgridError as exc:
        fail(exc, as_json)
    if csv is not None:
        csv.write_bytes(kpis_to_csv([*fig["rows"], fig["totals"]], columns=fig["columns"]))
    if as_json:
        emit(fig)
        return
    table = Table(title=f"coverage on {fig['as_of']} by {level} ({fig['source']})")
    for column in ("code", "name", "households", "complexes", "red heart: households", "complexes",
                   "station 500 m", "centre 1 km", "police room", "post", "islands"):
        table.add_column(column)
    for r in [*fig["rows"], fig["totals"]]:
        table.add_row(
            r["code"] or "-", r["name"], str(r["households"]), str(r["complexes"]),
            _pct(r["red_heart_station_households_share"]), _pct(r["red_heart_station_complexes_share"]),
            _pct(r["service_station_households_share"]), _pct(r["service_centre_households_share"]),
            _pct(r["police_room_households_share"]), _pct(r["service_post_households_share"]),
            f"{r['island_buildings']} ({r['island_households']} hh)",
        )
    console.print(table)
    console.print("thresholds (m): " + ", ".join(f"{k} {v:g}" for k, v in fig["thresholds_m"].items()),
                  highlight=False)
    if csv is not None:
        console.print(f"wrote {csv}")


def rollout_command(
    kind: Annotated[str, typer.Option(help=", ".join(vocab.STATION_KINDS))] = "red_heart_station",
    code: CodeOpt = None,
    start: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD (default: the first change).")] = None,
    as_of: AsOfOpt = None,
    csv: CsvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Month by month: stations open, households and complexes covered, and when every complex is."""
    from layers import coverage
    from layers.kpis import kpis_to_csv

    try:
        conf = settings().coverage
        first, day = _day(start, "--from"), _day(as_of, "--as-of")
        with session_factory()() as session, session.begin():
            curve: dict[str, Any] = coverage.rollout(
                session, coverage.thresholds_from(conf), kind=kind, code=code, start=first, as_of=day,
                pace_months=conf.pace_months)
    except GisgridError as exc:
        fail(exc, as_json)
    if csv is not None:
        csv.write_bytes(kpis_to_csv(curve["months"], columns=curve["columns"]))
    if as_json:
        emit(curve)
        return
    table = Table(title=f"rollout of {kind} (≤ {curve['threshold_m']:g} m)")
    for column in ("month", "open", "households covered", "complexes covered"):
        table.add_column(column)
    for m in curve["months"]:
        table.add_row(m["day"], str(m["stations_open"]), f"{m['households_covered']} ({_pct(m['households_share'])})",
                      f"{m['complexes_covered']}/{m['complexes']} ({_pct(m['complexes_share'])})")
    console.print(table)
    console.print(f"target: {curve['target']['what']} — {curve['projection']['message']}", highlight=False)


def recompute_command(as_json: JsonOpt = False) -> None:
    """Compute the stored coverage of every building and kind in full."""
    from layers import coverage

    try:
        with session_factory()() as session, session.begin():
            coverage.lock(session)
            changes = coverage.recompute(session, coverage.thresholds_from(settings().coverage))
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit({"changes": [c.to_dict() for c in changes]})
        return
    for c in changes:
        console.print(f"{c.kind}: {c.buildings_changed} buildings in {c.seconds * 1000:.0f} ms", highlight=False)


def register(app: typer.Typer) -> None:
    coverage_app.command("report")(report_command)
    coverage_app.command("rollout")(rollout_command)
    coverage_app.command("recompute")(recompute_command)
    app.add_typer(coverage_app, name="coverage")
