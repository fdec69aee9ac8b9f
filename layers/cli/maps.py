"""``gisgrid map render overview|grids|patrol OUT.html``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import GisgridError
from layers.cli.common import Basemap, JsonOpt, console, database_url, emit, fail, settings

map_app = typer.Typer(help="Render maps to HTML files.", no_args_is_help=True)


@map_app.command("render")
def map_render(
    what: Annotated[str, typer.Argument(help="Which map: 'overview', 'grids' or 'patrol'.")],
    out: Annotated[Path, typer.Argument(help="Output HTML file.")],
    basemap: Annotated[Basemap | None, typer.Option(help="osm, tianditu, amap or none.")] = None,
    static_url: Annotated[str, typer.Option(help="Where the page finds the vendored assets.")] = "/static",
    community: Annotated[str | None, typer.Option(help="grids: only this community (12-digit code).")] = None,
    minimum: Annotated[int, typer.Option("--min", help="grids: fewest households per grid.")] = MIN_HOUSEHOLDS,
    maximum: Annotated[int, typer.Option("--max", help="grids: most households per grid.")] = MAX_HOUSEHOLDS,
    staff_id: Annotated[int | None, typer.Option("--staff-id", help="patrol: the worker.")] = None,
    week: Annotated[str | None, typer.Option(help="patrol: any day of the week (default this week).")] = None,
    grid: Annotated[str | None, typer.Option(help="patrol: the worker's grid (default their first).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a map to an HTML file (the assets are referenced under --static-url)."""
    if what == "patrol":
        from layers.cli.patrol import render_patrol_command

        render_patrol_command(out, staff_id=staff_id, week=week, grid=grid, basemap=basemap, static_url=static_url,
                              as_json=as_json)
        return
    if what == "grids":
        from layers.cli.grids import render_grids_command

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

    s = settings()
    try:
        if what != "overview":
            raise InvalidInputError(f"unknown map {what!r}; available: overview, grids, patrol", field="what")
        engine = make_engine(database_url())
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
        fail(exc, as_json)
    emit({"written": str(out)}, as_json)
    if not as_json:
        console.print(f"wrote {out}")
