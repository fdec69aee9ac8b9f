"""``gisgrid incidents import FILE`` and ``gisgrid incidents tick``, wired in by :func:`register`.

``import`` reads the file with :func:`gisgrid.readers.read_layer` (``kind='incidents'``; the CRS is
converted to WGS84 there) and takes each row through :func:`layers.incidents.intake.intake` — the same
assignment, routing and duplicate check as the API — in one transaction: any bad row rejects the
file and changes nothing. The row's ``id`` (``source:ref``) is the idempotency key, so importing the
same file again writes nothing new.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gisgrid.errors import GisgridError, InvalidInputError
from layers.cli.common import JsonOpt, console, emit, fail, session_factory, settings

incidents_app = typer.Typer(help="Report incidents from files and run the deadline tick.", no_args_is_help=True)


@incidents_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile or CSV of incidents.")],
    crs: Annotated[str | None, typer.Option(help="wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Report every incident of FILE (assignment, routing, duplicates), all or nothing."""
    from gisgrid.incidents.states import SYSTEM
    from gisgrid.readers import read_layer
    from layers.db import transaction
    from layers.incidents.intake import intake

    try:
        gdf = read_layer(file, kind="incidents", crs=crs)
        options = settings().incidents.options()
        created = replayed = flagged = 0
        rows: list[dict[str, Any]] = []
        with transaction(session_factory()) as session:
            for pos, rec in enumerate(gdf.itertuples(index=False)):
                r = rec._asdict()
                geom = r.pop(gdf.geometry.name)
                when = r.get("reported_at")
                data = {
                    "lon": float(geom.x), "lat": float(geom.y), "crs": "wgs84",
                    "category_code": str(r.get("category_code") or ""), "source": str(r.get("source") or ""),
                    "description": "" if r.get("description") is None else str(r["description"]),
                    "reporter_contact": r.get("reporter_contact"),
                    "reported_at": None if when is None or when != when else when,
                }
                key = None if r.get("id") is None else f"import:{r['id']}"
                try:
                    res = intake(session, data, actor=SYSTEM, idempotency_key=key, options=options)
                except InvalidInputError as exc:
                    raise InvalidInputError(f"row {pos + 1} (id {r.get('id')}): {exc.message}", field=exc.field,
                                            feature=r.get("id"), rule=exc.rule, details=exc.details) from exc
                created += res.created
                replayed += not res.created
                flagged += bool(res.answer["assignment"]["boundary_flag"])
                rows.append({"id": r.get("id"), "incident_id": res.incident_id, "created": res.created})
    except GisgridError as exc:
        fail(exc, as_json)
        return
    summary = {"file": str(file), "rows": len(gdf), "created": created, "already_imported": replayed,
               "boundary_flagged": flagged, "incidents": rows}
    if as_json:
        emit(summary)
    else:
        console.print(f"{created} incidents reported, {replayed} already imported, {flagged} near a grid boundary")


@incidents_app.command("tick")
def tick_command(as_json: JsonOpt = False) -> None:
    """Escalate or backlog overdue cases and flag overdue whistles (what the API runs every minute)."""
    from layers.db import transaction
    from layers.incidents.lifecycle import tick

    try:
        with transaction(session_factory()) as session:
            result = tick(session)
    except GisgridError as exc:
        fail(exc, as_json)
        return
    if as_json:
        emit(result)
    else:
        console.print(f"checked {result['checked']}: {result['escalated']} escalated, "
                      f"{result['backlogged']} backlogged, {result['whistles_flagged']} whistles flagged")


def register(app: typer.Typer) -> None:
    """Add the ``incidents`` command group to ``app``."""
    app.add_typer(incidents_app, name="incidents")
