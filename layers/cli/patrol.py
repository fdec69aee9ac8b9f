"""``gisgrid patrol plan`` (a week of patrol, stored, replacing that week's plans) and ``gisgrid patrol
compliance`` (per worker, grid and week: JSON, a table or CSV), wired in by :func:`register`."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gisgrid.errors import GisgridError, InvalidInputError
from layers.cli.common import (
    EMBED_PREFIX,
    JsonOpt,
    console,
    emit,
    fail,
    session_factory,
    settings,
    write_page,
)

patrol_app = typer.Typer(help="Weekly patrol plans and compliance.", no_args_is_help=True)

WeekOpt = Annotated[str, typer.Option("--week", help="Any day of the week, YYYY-MM-DD (its Monday is used).")]


def _week(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(f"--week {value!r} is not a date", field="--week", rule="YYYY-MM-DD") from exc


def _base(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise InvalidInputError(f"--base {value!r} is not LON,LAT", field="--base", rule="LON,LAT in WGS84") from exc
    return lon, lat


@patrol_app.command("plan")
def plan_command(
    week: WeekOpt,
    community: Annotated[str | None, typer.Option(help="Only this community's workers (12 digits).")] = None,
    staff_id: Annotated[int | None, typer.Option("--staff-id", help="Only this worker.")] = None,
    base: Annotated[str | None, typer.Option(help="LON,LAT to start every walk from instead of the station.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan the week for every grid worker and grid (one transaction: all plans or none)."""
    from layers.db import transaction
    from layers.patrol import plan_patrol_week

    started = time.perf_counter()
    try:
        with transaction(session_factory()) as session:
            report = plan_patrol_week(session, _week(week), rules=settings().patrol.rules(),
                                      community_code=community, staff_id=staff_id, base=_base(base))
    except GisgridError as exc:
        fail(exc, as_json)
    report["seconds"] = round(time.perf_counter() - started, 2)
    if as_json:
        emit(report, True)
        return
    plans = [p for p in report["plans"] if "days" in p]
    table = Table(title=f"patrol week {report['week']} ({', '.join(report['dates'])})")
    for col in ("worker", "grid", "stops", "km by day", "minutes by day", "balance", "over shift", "islands"):
        table.add_column(col)
    for p in plans:
        table.add_row(f"{p['staff_name']} ({p['staff_id']})", p["grid_code"], str(p["stats"]["stops"]),
                      " / ".join(f"{(d['street_m'] + d['access_m']) / 1000:.1f}" for d in p["days"]),
                      " / ".join(f"{d['minutes']:.0f}" for d in p["days"]), f"{p['balance']:.2f}",
                      str(p["over_shift_days"]), str(len(p["islands"])))
    console.print(table)
    console.print(f"{len(plans)} worker–grid weeks, {report.get('stored_days', 0)} day routes stored "
                  f"in {report['seconds']} s" + (f"; {report['message']}" if report.get("message") else ""))


@patrol_app.command("compliance")
def compliance_command(
    week: WeekOpt,
    staff_id: Annotated[int | None, typer.Option("--staff-id", help="Only this worker.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Also write the rows as CSV (UTF-8 with BOM).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Days present, buildings and households visited, metres planned and walked, per worker and grid."""
    from layers.patrol import compliance_csv, compliance_rows

    try:
        with session_factory()() as session:
            rows = compliance_rows(session, _week(week), rules=settings().patrol.rules(), staff_id=staff_id)
    except GisgridError as exc:
        fail(exc, as_json)
    if csv is not None:
        csv.write_bytes(compliance_csv(rows))
    if as_json:
        emit({"week": _week(week).isoformat(), "rows": rows}, True)
        return
    table = Table(title=f"patrol compliance, week of {week}")
    for col in ("worker", "grid", "days", "buildings", "households", "planned m", "walked m", "longest unvisited"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            f"{r['staff_name']} ({r['staff_id']})", r["grid_code"], f"{r['days_present']}/{r['days_required']}",
            f"{r['buildings_visited']}/{r['buildings_total']}", f"{r['households_visited']}/{r['households_total']}",
            f"{r['planned_m']:.0f}", f"{r['walked_m']:.0f}", str(r["longest_unvisited_building"]),
        )
    console.print(table)


def render_patrol_command(out: Path, *, staff_id: int | None, week: str | None, grid: str | None, basemap: str | None,
                          static_url: str | None, as_json: bool) -> None:
    """``gisgrid map render patrol OUT.html``: the patrol map of a worker's grid and week."""
    from gisgrid.patrol import week_start
    from layers.patrol import render_patrol_map

    s = settings()
    try:
        if staff_id is None:
            raise InvalidInputError("the patrol map needs --staff-id", field="--staff-id", rule="required for patrol")
        monday = week_start(_week(week) if week else dt.date.today())
        with session_factory()() as session:
            page = render_patrol_map(session, monday, staff_id, grid, static_url=static_url or EMBED_PREFIX,
                                     basemap=basemap or s.basemap, tianditu_key=s.tianditu_key,  # type: ignore[arg-type]
                                     language=s.language)
        write_page(out, page, static_url)
    except GisgridError as exc:
        fail(exc, as_json)
    emit({"written": str(out)}, as_json)
    if not as_json:
        console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(patrol_app, name="patrol")
