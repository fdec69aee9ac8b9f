"""``gisgrid map render overview|grids|patrol OUT.html`` (and the maps other modules add to :data:`RENDERERS`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import GisgridError
from layers.cli.common import (
    EMBED_PREFIX,
    Basemap,
    JsonOpt,
    console,
    database_url,
    emit,
    fail,
    settings,
    write_page,
)

map_app = typer.Typer(help="Render maps to HTML files.", no_args_is_help=True)

#: Maps other command modules add: name → ``render(out, *, basemap, as_json, options)``, where
#: ``options`` holds --kind, --date, --area, --lang, --suggest and --indicator as given (or None).
RENDERERS: dict[str, Callable[..., None]] = {}


@map_app.command("render")
def map_render(
    what: Annotated[str, typer.Argument(help="overview, grids, patrol, coverage, rollout or complexes.")],
    out: Annotated[Path, typer.Argument(help="Output HTML file.")],
    basemap: Annotated[Basemap | None, typer.Option(help="osm, tianditu, amap or none.")] = None,
    static_url: Annotated[str | None, typer.Option(
        help="Link the vendored assets under this URL instead of embedding them (a page served beside "
             "api/static); by default every asset is embedded and the file opens from disk.")] = None,
    community: Annotated[str | None, typer.Option(help="grids: only this community (12-digit code).")] = None,
    minimum: Annotated[int, typer.Option("--min", help="grids: fewest households per grid.")] = MIN_HOUSEHOLDS,
    maximum: Annotated[int, typer.Option("--max", help="grids: most households per grid.")] = MAX_HOUSEHOLDS,
    kind: Annotated[str | None, typer.Option(help="coverage/rollout: station kind.")] = None,
    day: Annotated[
        str | None, typer.Option("--date", help="coverage: the day (YYYY-MM-DD); rollout: the last month.")
    ] = None,
    area: Annotated[str | None, typer.Option(help="coverage/rollout/complexes: 12-digit area code.")] = None,
    lang: Annotated[str | None, typer.Option(help="coverage/rollout/complexes: zh-CN or en.")] = None,
    suggest: Annotated[int, typer.Option(min=0, max=50, help="coverage: suggested new sites to draw.")] = 0,
    indicator: Annotated[str | None, typer.Option(help="complexes: professional, owners_committee, party_org.")] = None,
    staff_id: Annotated[int | None, typer.Option("--staff-id", help="patrol: the worker.")] = None,
    week: Annotated[str | None, typer.Option(help="patrol: any day of the week (default this week).")] = None,
    grid: Annotated[str | None, typer.Option(help="patrol: the worker's grid (default their first).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a map to an HTML file that opens from disk: every script, stylesheet and font embedded
    (overview, grids and patrol link them under --static-url instead when it is given)."""
    if what in RENDERERS:
        options: dict[str, Any] = {"kind": kind, "date": day, "area": area, "lang": lang, "suggest": suggest,
                                   "indicator": indicator}
        RENDERERS[what](out, basemap=basemap, as_json=as_json, options=options)
        return
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
            known = ", ".join(["overview", "grids", "patrol", *sorted(RENDERERS)])
            raise InvalidInputError(f"unknown map {what!r}; available: {known}", field="what")
        engine = make_engine(database_url())
        with make_sessionmaker(engine)() as session:
            layers = load_overview_layers(session)
        engine.dispose()
        fmap = build_overview_map(
            **layers,
            static_url=static_url or EMBED_PREFIX,
            basemap=basemap or s.basemap,
            tianditu_key=s.tianditu_key,
            language=s.language,
            synthetic=is_synthetic(layers),
        )
        write_page(out, render_html(fmap), static_url)
    except GisgridError as exc:
        fail(exc, as_json)
    emit({"written": str(out)}, as_json)
    if not as_json:
        console.print(f"wrote {out}")
