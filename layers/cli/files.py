"""``gisgrid import layer KIND FILE`` and ``gisgrid export KIND FILE``, wired in by :func:`register`."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from gisgrid.errors import GisgridError
from layers.cli.common import JsonOpt, console, emit, fail
from layers.cli.common import engine as make_engine


def import_layer_command(
    kind: Annotated[
        str,
        typer.Argument(help="areas, buildings, complexes, stations, staff, incidents, streets or barriers."),
    ],
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile (.shp or .zip) or CSV.")],
    layer: Annotated[str | None, typer.Option(help="GeoPackage layer (or shapefile name in a zip).")] = None,
    crs: Annotated[str | None, typer.Option(help="wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn.")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", help="Map a column: 户数=households.")] = None,
    fields: Annotated[
        Path | None, typer.Option("--fields", help="YAML file mapping columns to fields.")
    ] = None,
    x: Annotated[str | None, typer.Option("--x", help="CSV longitude column.")] = None,
    y: Annotated[str | None, typer.Option("--y", help="CSV latitude column.")] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="The column holding the feature ids.")
    ] = None,
    generate_ids: Annotated[
        bool, typer.Option("--generate-ids", help="Number the features <file>-1, -2 … in file order.")
    ] = False,
    repair: Annotated[bool, typer.Option(help="Repair invalid polygons with make_valid.")] = False,
    skip_invalid: Annotated[bool, typer.Option(help="Import the valid features, report the rest.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a layer file into the database — all of it in one transaction, or nothing."""
    from gisgrid.readers import load_field_mapping, parse_field_options, read_layer
    from layers.importers.files import import_layer

    try:
        mapping = load_field_mapping(fields) if fields else {}
        mapping.update(parse_field_options(field))
        with console.status(f"reading {file.name} …") if not as_json else nullcontext():
            gdf = read_layer(
                file, kind=kind, layer=layer, crs=crs, fields=mapping, x=x, y=y, id_column=id_column,
                generate_ids=generate_ids,
            )
        eng = make_engine()
        try:
            report = import_layer(
                eng,
                gdf,
                kind=kind,
                source_name=file.name,
                repair=repair,
                skip_invalid=skip_invalid,
                progress=not as_json,
            )
        finally:
            eng.dispose()
    except GisgridError as exc:
        fail(exc, as_json)
    result = report.to_dict()
    if as_json:
        emit(result)
        return
    console.print(
        f"{kind} from {file.name}: [green]{report.imported} imported[/green], {report.updated} updated, "
        f"{result.get('unchanged', 0)} unchanged, {report.rejected} rejected, {report.repaired} repaired",
        highlight=False,
    )
    _print_file_notes(result)
    if kind == "buildings":
        methods = ", ".join(f"{n} by {m}" for m, n in sorted(report.estimated.items())) or "none"
        console.print(f"households estimated: {sum(report.estimated.values())} ({methods})", highlight=False)
        moved = result.get("moved") or {}
        if moved.get("buildings"):
            console.print(
                f"moved: {moved['buildings']} buildings, {moved['relinked']} relinked to where they are now "
                f"({moved['grid_changed']} changed grid)",
                highlight=False,
            )
    for problem in report.problems:
        console.print(f"  [{problem.action}] {problem.message}", highlight=False)


def _print_file_notes(result: dict[str, Any]) -> None:
    """Unknown columns, generated ids and set-aside features, one line each."""
    unknown = result.get("unknown_columns") or {}
    if unknown.get("columns"):
        console.print(f"unknown columns {unknown['action']}: {', '.join(unknown['columns'])}", highlight=False)
    ids = result.get("ids") or {}
    if ids.get("generated"):
        console.print(f"ids generated ({ids['reason']}): {ids['first']} … {ids['last']}", highlight=False)
    aside = result.get("set_aside") or {}
    if aside:
        console.print(
            f"other geometry types: {aside['entrances']} used as entrances, {aside['skipped']} not imported",
            highlight=False,
        )


def export_command(
    kind: Annotated[
        str,
        typer.Argument(
            help="areas, grids, buildings, building_parts, complexes, stations, street_edges, incidents or staff."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="Output .geojson or .gpkg.")],
    crs: Annotated[
        str, typer.Option(help="wgs84, cgcs2000, gcj02 (Amap), bd09 (Baidu) or EPSG:nnnn.")
    ] = "wgs84",
    as_json: JsonOpt = False,
) -> None:
    """Export a layer to GeoJSON or GeoPackage (GCJ-02/BD-09 files carry no CRS label)."""
    from layers.export import export_layer

    try:
        eng = make_engine()
        try:
            result = export_layer(eng, kind, file, crs=crs)
        finally:
            eng.dispose()
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit(result)
    else:
        console.print(
            f"wrote {result['features']} {kind} to {file} ({result['format']}, {result['crs']})",
            highlight=False,
        )


def register(import_app: typer.Typer, app: typer.Typer) -> None:
    """Add ``import layer KIND FILE`` to ``import_app`` and ``export KIND FILE`` to the top-level ``app``."""
    import_app.command("layer")(import_layer_command)
    app.command("export")(export_command)
