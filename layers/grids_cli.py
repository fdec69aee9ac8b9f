"""``gisgrid grids plan|validate|history|rollback`` and the grid map renderer, wired in by :func:`register`.

``register(app, map_app)`` adds the ``grids`` command group to ``app``. The grid map is rendered by
:func:`render_grids_command`, which ``gisgrid map render grids OUT.html`` calls (``layers/cli.py``).
Every command has ``--json``; a :class:`~gisgrid.errors.GisgridError` exits with code 2.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import GisgridError, InvalidInputError

console = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON result on stdout.")]
MinOpt = Annotated[int, typer.Option("--min", min=1, help="Fewest households per grid.")]
MaxOpt = Annotated[int, typer.Option("--max", min=1, help="Most households per grid.")]

grids_app = typer.Typer(help="Plan, validate, version and roll back unit grids (网格).", no_args_is_help=True)


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(exc: GisgridError, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": exc.to_dict()}, ensure_ascii=False, default=str) + "\n")
    else:
        console.print(f"[red]error[/red] ({exc.code}): {exc.message}", highlight=False)
    raise typer.Exit(code=2)


def _sessionmaker() -> Any:
    from layers.db import make_engine, make_sessionmaker, resolve_url
    from layers.settings import get_settings

    return make_sessionmaker(make_engine(resolve_url(get_settings())))


def _check_window(minimum: int, maximum: int) -> None:
    if minimum > maximum:
        raise InvalidInputError(f"--min ({minimum}) exceeds --max ({maximum})", field="--min",
                                rule="--min ≤ --max")


# ------------------------------------------------------------------------------------------ plan


def _plan_inputs(session: Any, community_code: str) -> dict[str, Any]:
    """Buildings (with ``units`` and ``complex_id``), complexes, streets and the polygon of a community."""
    import geopandas as gpd
    from sqlalchemy import text

    from layers import grids as lg

    community = lg.community_geometry(session, community_code)
    buildings = gpd.read_postgis(
        text(
            "SELECT b.id, b.households, b.units, b.complex_id, b.geom FROM building b "
            "JOIN admin_area c ON c.code = :code "
            "WHERE b.geom && c.geom AND ST_Intersects(c.geom, ST_PointOnSurface(b.geom)) ORDER BY b.id"
        ),
        session.connection(), geom_col="geom", crs=4326, params={"code": community_code},
    ).set_index("id")
    buildings["units"] = buildings["units"].fillna(1).astype(int)
    streets = gpd.read_postgis(
        text(
            "SELECT e.id, e.highway, e.geom FROM street_edge e JOIN admin_area c ON c.code = :code "
            "WHERE e.geom && c.geom AND ST_Intersects(e.geom, c.geom)"
        ),
        session.connection(), geom_col="geom", crs=4326, params={"code": community_code},
    )
    return {
        "buildings": buildings,
        "community": community,
        "streets": streets if len(streets) else None,
        "complexes": lg.load_complexes(session, community_code),
    }


def plan_command(
    community: Annotated[str | None, typer.Option(help="12-digit community code.")] = None,
    all_communities: Annotated[bool, typer.Option("--all", help="Every community with buildings.")] = False,
    minimum: MinOpt = MIN_HOUSEHOLDS,
    maximum: MaxOpt = MAX_HOUSEHOLDS,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same plan.")] = 0,
    publish: Annotated[bool, typer.Option(help="Publish the plans as new grid versions.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Partition communities into grids of --min…--max households; with --publish, save them."""
    from sqlalchemy import text

    from gisgrid.grids import plan_grids
    from layers import grids as lg

    results: list[dict[str, Any]] = []
    try:
        _check_window(minimum, maximum)
        if (community is None) == (not all_communities):
            raise InvalidInputError("give --community CODE or --all", field="--community",
                                    rule="exactly one of --community, --all")
        factory = _sessionmaker()
        with factory() as session, session.begin():
            codes = [community] if community else list(session.execute(text(
                "SELECT c.code FROM admin_area c WHERE c.level = 'community' AND EXISTS "
                "(SELECT 1 FROM building b WHERE b.geom && c.geom "
                "AND ST_Intersects(c.geom, ST_PointOnSurface(b.geom))) "
                "ORDER BY c.code"
            )).scalars())
            for code in codes:
                inputs = _plan_inputs(session, code)
                if inputs["buildings"].empty:
                    results.append({"community_code": code, "k": 0, "skipped": "no buildings"})
                    continue
                plan = plan_grids(
                    inputs["buildings"], inputs["community"], community_code=code, streets=inputs["streets"],
                    complexes=inputs["complexes"], min_households=minimum, max_households=maximum, seed=seed,
                )
                entry: dict[str, Any] = {
                    "community_code": code,
                    "k": plan.k,
                    "k_range": list(plan.k_range),
                    "in_range_share": plan.stats.get("in_range_share"),
                    "households": {str(c): int(h) for c, h in zip(plan.grids["code"], plan.grids["households"],
                                                                  strict=True)},
                    "problems": [p.to_dict() for p in plan.problems],
                    "stats": plan.stats,
                }
                if publish:
                    published = lg.publish_plan(
                        session, code, plan.grids[["code", "geometry"]], user_id=None,
                        pieces=plan.pieces if len(plan.pieces) else None,
                        min_households=minimum, max_households=maximum,
                    )
                    entry["published"] = published.to_dict()
                results.append(entry)
    except GisgridError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit({"communities": results, "published": publish})
        return
    table = Table(title=f"grid plans ({minimum}–{maximum} households, seed {seed})")
    for column in ("community", "k", "k range", "in range", "problems", "published"):
        table.add_column(column)
    for r in results:
        share = r.get("in_range_share")
        table.add_row(
            r["community_code"], str(r["k"]), "–".join(map(str, r.get("k_range", []))),
            f"{share:.0%}" if isinstance(share, int | float) else "-", str(len(r.get("problems", []))),
            "yes" if "published" in r else "no",
        )
    console.print(table)
    for r in results:
        for p in r.get("problems", []):
            console.print(f"  {r['community_code']}: {p['rule']}: {p['message']}", highlight=False)


# ------------------------------------------------------------------------------------------ validate


def validate_command(
    community: Annotated[str | None, typer.Option(help="12-digit community code (default: all).")] = None,
    minimum: MinOpt = MIN_HOUSEHOLDS,
    maximum: MaxOpt = MAX_HOUSEHOLDS,
    geojson: Annotated[Path | None, typer.Option("--geojson", help="Write the problem locations here.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit with code 1 when an error-level problem is found.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check the current grids: households, contiguity, overlaps, gaps, buildings, complexes, slivers, codes."""
    from sqlalchemy import text

    from gisgrid.grids import GridProblem, format_problems, problems_to_geojson
    from layers import grids as lg

    by_community: dict[str, list[GridProblem]] = {}
    try:
        _check_window(minimum, maximum)
        with _sessionmaker()() as session:
            codes = [community] if community else list(session.execute(text(
                "SELECT DISTINCT a.code FROM grid g JOIN admin_area a ON a.id = g.community_id "
                "WHERE g.valid_to IS NULL ORDER BY a.code"
            )).scalars())
            for code in codes:
                by_community[code] = lg.validate_community(
                    session, code, min_households=minimum, max_households=maximum
                )
            session.rollback()
    except GisgridError as exc:
        _fail(exc, as_json)
    everything = [p for problems in by_community.values() for p in problems]
    if geojson is not None:
        geojson.write_text(json.dumps(problems_to_geojson(everything), ensure_ascii=False), encoding="utf-8")
    if as_json:
        _emit({
            "communities": {c: [p.to_dict() for p in ps] for c, ps in by_community.items()},
            "count": len(everything),
            "errors": sum(p.severity == "error" for p in everything),
            "geojson": str(geojson) if geojson else None,
        })
    else:
        for code, problems in by_community.items():
            print(f"== {code}")
            print(format_problems(problems))
        if geojson is not None:
            console.print(f"wrote {geojson}")
    if strict and any(p.severity == "error" for p in everything):
        raise typer.Exit(code=1)


# ------------------------------------------------------------------------------------------ history, rollback


def history_command(
    code: Annotated[str, typer.Argument(help="15-digit grid code.")],
    as_json: JsonOpt = False,
) -> None:
    """Every version of a grid: when it was valid, its status and households."""
    from layers import grids as lg

    try:
        with _sessionmaker()() as session:
            versions = lg.history(session, code)
            session.rollback()
    except GisgridError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit({"code": code, "versions": [v.to_dict() for v in versions]})
        return
    table = Table(title=f"grid {code}")
    for column in ("version", "status", "households", "valid from", "valid to", "row id"):
        table.add_column(column)
    for v in versions:
        table.add_row(str(v.version), v.status, str(v.households), v.valid_from.isoformat(timespec="seconds"),
                      v.valid_to.isoformat(timespec="seconds") if v.valid_to else "", str(v.id))
    console.print(table)


def rollback_command(
    code: Annotated[str, typer.Argument(help="15-digit grid code, or 12-digit community code with --to-date.")],
    to_version: Annotated[int | None, typer.Option("--to-version", min=1, help="Version to bring back.")] = None,
    to_date: Annotated[str | None, typer.Option("--to-date", help="YYYY-MM-DD: the state at the end of that day.")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the tallies without saving.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Publish an earlier boundary as a new version (history is kept); neighbours adjust."""
    from layers import grids as lg

    try:
        when = None
        if to_date is not None:
            try:
                when = date.fromisoformat(to_date)
            except ValueError as exc:
                raise InvalidInputError(f"--to-date must be YYYY-MM-DD; got {to_date!r}", field="--to-date",
                                        rule="an ISO date") from exc
        with _sessionmaker()() as session, session.begin():
            result = lg.rollback(session, code, to_version=to_version, to_date=when, dry_run=dry_run)
            data = result.to_dict()
    except GisgridError as exc:
        _fail(exc, as_json)
    if as_json:
        data.pop("grids", None)
        data.pop("problem_locations", None)
        _emit(data)
        return
    for grid_code, version in data["versions"].items():
        console.print(f"{grid_code}: version {version}, {data['households'][grid_code]} households")
    for retired in data.get("retired", []):
        console.print(f"{retired}: retired")
    console.print(f"{len(data['problems'])} problem(s)" + (" (dry run, nothing saved)" if dry_run else ""))


# ------------------------------------------------------------------------------------------ map


def render_grids_command(
    out: Path,
    *,
    community: str | None = None,
    basemap: str | None = None,
    static_url: str = "/static",
    minimum: int = MIN_HOUSEHOLDS,
    maximum: int = MAX_HOUSEHOLDS,
    as_json: bool = False,
) -> None:
    """Write the grid map (current grids by household class, labels, problems) to ``out``.

    Called by ``gisgrid map render grids OUT.html`` in ``layers/cli.py``.
    """
    from gisgrid.maps import build_grid_map, render_html
    from layers import grids as lg
    from layers.settings import get_settings

    settings = get_settings()
    try:
        _check_window(minimum, maximum)
        with _sessionmaker()() as session:
            layers = lg.load_grid_layers(session, community, min_households=minimum, max_households=maximum)
            session.rollback()
        fmap = build_grid_map(
            **layers, min_households=minimum, max_households=maximum, static_url=static_url,
            basemap=basemap or settings.basemap,  # type: ignore[arg-type]
            tianditu_key=settings.tianditu_key, language=settings.language,
        )
        out.write_text(render_html(fmap), encoding="utf-8")
    except GisgridError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit({"written": str(out), "grids": len(layers["grids"]), "problems": len(layers["problems"])})
    else:
        console.print(f"wrote {out}")


def register(app: typer.Typer, map_app: typer.Typer | None = None) -> None:
    """Add ``gisgrid grids …`` to ``app``. (``map_app`` is accepted for symmetry: the grid map is hooked
    into ``map render`` by ``layers/cli.py`` through :func:`render_grids_command`.)"""
    grids_app.command("plan")(plan_command)
    grids_app.command("validate")(validate_command)
    grids_app.command("history")(history_command)
    grids_app.command("rollback")(rollback_command)
    app.add_typer(grids_app, name="grids")
