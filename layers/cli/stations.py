"""``gisgrid stations create|edit|status|list|history``, wired in by :func:`register`.

Each command is one transaction through the flows of :mod:`layers.stations` (the ones the API runs): bad
input changes nothing and exits with code 2 naming the field and the rule. Changes are recorded as made by
``--by`` (default ``cli:<login>``), with no area limit.
"""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Annotated, Any

import typer
from rich.table import Table

from gisgrid import vocab
from gisgrid.errors import GisgridError, InvalidInputError
from layers.cli.common import JsonOpt, console, emit, fail, session_factory, settings

stations_app = typer.Typer(help="Create, edit and move service stations through their statuses.",
                           no_args_is_help=True)

ByOpt = Annotated[str | None, typer.Option("--by", help="Who records the change (default cli:<login>).")]
CrsOpt = Annotated[str, typer.Option(help="wgs84, gcj02 (Amap, Tencent) or bd09 (Baidu).")]
KINDS = ", ".join(vocab.STATION_KINDS)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(f"{option} must be YYYY-MM-DD; got {value!r}", field=option,
                                rule="an ISO date") from exc


def _run(flow: str, as_json: bool, by: str | None, *args: Any, **kwargs: Any) -> dict[str, Any]:
    from layers import stations
    from layers.coverage import thresholds_from

    try:
        thresholds = thresholds_from(settings().coverage)
        actor = stations.Actor(name=by or f"cli:{getpass.getuser()}")
        with session_factory()() as session, session.begin():
            out: dict[str, Any] = getattr(stations, flow)(session, thresholds, actor, *args, **kwargs)
    except GisgridError as exc:
        fail(exc, as_json)
    return out


def _show(station: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(station)
        return
    console.print(f"station {station['id']} {station['name']} ({station['kind']}): {station['status']}, "
                  f"community {station['community_code']}, complex {station['complex_id']}", highlight=False)
    for change in station.get("coverage", []):
        console.print(f"  coverage of {change['kind']}: {change['mode']}, {change['buildings_changed']} buildings "
                      f"in {change['seconds'] * 1000:.0f} ms", highlight=False)


def create_command(
    name: Annotated[str, typer.Option(help="Name, e.g. 幸福小区红心驿站.")],
    kind: Annotated[str, typer.Option(help=KINDS)],
    lon: Annotated[float, typer.Option(help="Longitude (east), e.g. 117.26.")],
    lat: Annotated[float, typer.Option(help="Latitude (north), e.g. 34.80.")],
    crs: CrsOpt = "wgs84",
    status: Annotated[str | None, typer.Option(help="planned, building, open or closed (default: the latest "
                                                    "dated one, else planned today).")] = None,
    planned_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    building_since: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    opened_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    closed_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    radius: Annotated[float | None, typer.Option(help="Service radius in metres (default: the kind's "
                                                      "coverage threshold).")] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the history.")] = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a station at LON, LAT with its status history."""
    try:
        dates = {"planned_on": _date(planned_on, "--planned-on"), "building_since": _date(building_since,
                 "--building-since"), "opened_on": _date(opened_on, "--opened-on"),
                 "closed_on": _date(closed_on, "--closed-on")}
    except GisgridError as exc:
        fail(exc, as_json)
    _show(_run("create", as_json, by, name=name, kind=kind, lon=lon, lat=lat, crs=crs, status=status,
               dates=dates, service_radius_m=radius, note=note), as_json)


def edit_command(
    station_id: Annotated[int, typer.Argument(help="Station id.")],
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    kind: Annotated[str | None, typer.Option(help=KINDS)] = None,
    lon: Annotated[float | None, typer.Option(help="New longitude (with --lat).")] = None,
    lat: Annotated[float | None, typer.Option(help="New latitude (with --lon).")] = None,
    crs: CrsOpt = "wgs84",
    radius: Annotated[float | None, typer.Option(help="Service radius in metres.")] = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename, re-kind, move or re-radius a station (statuses: gisgrid stations status)."""
    _show(_run("edit", as_json, by, station_id, name=name, kind=kind, lon=lon, lat=lat, crs=crs,
               service_radius_m=radius), as_json)


def status_command(
    station_id: Annotated[int, typer.Argument(help="Station id.")],
    status: Annotated[str, typer.Argument(help="building, open or closed (or open again after closed).")],
    on: Annotated[str | None, typer.Option("--on", help="YYYY-MM-DD the change happened (default today).")]
    = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the history.")] = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a dated status change (kept as history; never dated before the previous one)."""
    try:
        since = _date(on, "--on")
    except GisgridError as exc:
        fail(exc, as_json)
    _show(_run("change_status", as_json, by, station_id, status=status, since=since, note=note), as_json)


def list_command(
    kind: Annotated[str | None, typer.Option(help=KINDS)] = None,
    status: Annotated[str | None, typer.Option(help="planned, building, open or closed")] = None,
    code: Annotated[str | None, typer.Option(help="Area code (12 digits) the stations are in.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stations by kind, status and area."""
    from layers import stations

    try:
        with session_factory()() as session:
            rows = stations.list_stations(session, stations.Actor("cli"), kind=kind, status=status, code=code)
            session.rollback()
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit({"stations": rows, "count": len(rows)})
        return
    table = Table(title=f"{len(rows)} stations")
    for column in ("id", "name", "kind", "status", "opened", "community", "complex", "lon, lat"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["kind"], r["status"], r["opened_on"] or "",
                      r["community_code"] or "", str(r["complex_id"] or ""), f"{r['lon']:.6f}, {r['lat']:.6f}")
    console.print(table)


def history_command(
    station_id: Annotated[int, typer.Argument(help="Station id.")],
    as_json: JsonOpt = False,
) -> None:
    """Every recorded status change of a station, oldest first."""
    from layers import stations

    try:
        with session_factory()() as session:
            station = stations.get(session, stations.Actor("cli"), station_id)
            session.rollback()
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit(station)
        return
    table = Table(title=f"station {station_id} {station['name']} ({station['kind']})")
    for column in ("status", "since", "recorded by", "recorded at", "note"):
        table.add_column(column)
    for h in station["history"]:
        table.add_row(h["status"], h["since"], h["recorded_by"], h["recorded_at"][:19], h["note"] or "")
    console.print(table)


def register(app: typer.Typer) -> None:
    stations_app.command("create")(create_command)
    stations_app.command("edit")(edit_command)
    stations_app.command("status")(status_command)
    stations_app.command("list")(list_command)
    stations_app.command("history")(history_command)
    app.add_typer(stations_app, name="stations")
