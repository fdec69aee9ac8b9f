"""``gisgrid grids plan|validate|history|rollback`` and the grid map renderer, wired in by :func:`register`.

``register(app, map_app)`` adds the ``grids`` command group to ``app``. The grid map is rendered by
:func:`render_grids_command`, which ``gisgrid map render grids OUT.html`` calls (``layers/cli/maps.py``).
Every command has ``--json``; a :class:`~gisgrid.errors.GisgridError` exits with code 2.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gisgrid.codes import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from gisgrid.errors import GisgridError, InvalidInputError, NotFoundError
from layers.cli.common import (
    EMBED_PREFIX,
    JsonOpt,
    MaxOpt,
    MinOpt,
    check_window,
    console,
    emit,
    fail,
    session_factory,
    write_page,
)

grids_app = typer.Typer(help="Plan, validate, version and roll back unit grids (网格).", no_args_is_help=True)


# ------------------------------------------------------------------------------------------ plan


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
    from layers import grids as lg

    results: list[dict[str, Any]] = []
    try:
        check_window(minimum, maximum)
        if (community is None) == (not all_communities):
            raise InvalidInputError("give --community CODE or --all", field="--community",
                                    rule="exactly one of --community, --all")
        with session_factory()() as session, session.begin():
            reports = lg.plan_communities(
                session, [community] if community else None, min_households=minimum, max_households=maximum,
                seed=seed, publish=publish,
            )
            results = [r.to_dict() for r in reports]
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit({"communities": results, "published": publish})
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
    _print_plan_problems(results)


def _print_plan_problems(results: list[dict[str, Any]]) -> None:
    """Each problem in its own line, but the complexes a plan splits in one: a complex with more households
    than one grid may hold must be split, and one line each for them buried the problems that matter."""
    splits = larger = 0
    for r in results:
        for p in r.get("problems", []):
            if p["rule"] == "complex split":
                continue
            console.print(f"  {r['community_code']}: {p['rule']}: {p['message']}", highlight=False)
        splits += r.get("complex_splits", {}).get("split", 0)
        larger += r.get("complex_splits", {}).get("larger_than_a_grid", 0)
        for part in r.get("parts", []):  # buildings split over grids, part by part
            console.print(f"  {r['community_code']}: building {part['building']} {part['label']} "
                          f"({part['households']} households) → {part['grid_code']}", highlight=False)
    if splits:
        console.print(
            f"  {splits} complex(es) split over several grids, {larger} of them larger than one grid may hold "
            f"(unavoidable); --json lists each, and `gisgrid map render grids` draws them", highlight=False,
        )


# ------------------------------------------------------------------------------------------ validate


def validate_command(
    community: Annotated[str | None, typer.Option(help="12-digit community code (default: all).")] = None,
    minimum: MinOpt = MIN_HOUSEHOLDS,
    maximum: MaxOpt = MAX_HOUSEHOLDS,
    geojson: Annotated[Path | None, typer.Option("--geojson", help="Write the problem locations here.")] = None,
    strict: Annotated[bool, typer.Option(
        help="Exit with code 1 when an error-level problem is found (--no-strict: exit 0 regardless).")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Check the current grids: households, contiguity, overlaps, gaps, buildings, complexes, slivers, codes.

    Exit code 0: no error-level problem (warnings allowed); 1: errors found; 2: nothing to validate (no
    published grid: plan first) or bad input."""
    from gisgrid.grids import GridProblem, format_problems, problems_to_geojson
    from layers import grids as lg

    by_community: dict[str, list[GridProblem]] = {}
    try:
        check_window(minimum, maximum)
        with session_factory()() as session:
            codes = [community] if community else lg.communities_with_grids(session)
            if not codes:
                raise NotFoundError(
                    "no community has published grids yet: plan and publish them first "
                    "(gisgrid grids plan --all --publish), then validate",
                    field="--community", rule="grids are published before they are validated",
                )
            for code in codes:
                by_community[code] = lg.validate_community(
                    session, code, min_households=minimum, max_households=maximum
                )
            session.rollback()
    except GisgridError as exc:
        fail(exc, as_json)
    everything = [p for problems in by_community.values() for p in problems]
    if geojson is not None:
        geojson.write_text(json.dumps(problems_to_geojson(everything), ensure_ascii=False), encoding="utf-8")
    if as_json:
        emit({
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
        with session_factory()() as session:
            versions = lg.history(session, code)
            session.rollback()
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit({"code": code, "versions": [v.to_dict() for v in versions]})
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
        with session_factory()() as session, session.begin():
            result = lg.rollback(session, code, to_version=to_version, to_date=when, dry_run=dry_run)
            data = result.to_dict()
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        data.pop("grids", None)
        data.pop("problem_locations", None)
        emit(data)
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
    static_url: str | None = None,
    minimum: int = MIN_HOUSEHOLDS,
    maximum: int = MAX_HOUSEHOLDS,
    as_json: bool = False,
) -> None:
    """Write the grid map (current grids by household class, labels, problems) to ``out``.

    Called by ``gisgrid map render grids OUT.html`` in ``layers/cli/maps.py``; with ``static_url`` None
    the assets are embedded and the file opens from disk.
    """
    from gisgrid.maps import build_grid_map, render_html
    from layers.mapdata import load_grid_layers
    from layers.settings import get_settings

    settings = get_settings()
    try:
        check_window(minimum, maximum)
        with session_factory()() as session:
            layers = load_grid_layers(session, community, min_households=minimum, max_households=maximum)
            session.rollback()
        fmap = build_grid_map(
            **layers, min_households=minimum, max_households=maximum, static_url=static_url or EMBED_PREFIX,
            basemap=basemap or settings.basemap,  # type: ignore[arg-type]
            tianditu_key=settings.tianditu_key, language=settings.language,
        )
        write_page(out, render_html(fmap), static_url)
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit({"written": str(out), "grids": len(layers["grids"]), "problems": len(layers["problems"])})
    else:
        console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``gisgrid grids …`` to ``app`` (the grid map is rendered by ``gisgrid map render grids``,
    :mod:`layers.cli.maps`, through :func:`render_grids_command`)."""
    grids_app.command("plan")(plan_command)
    grids_app.command("validate")(validate_command)
    grids_app.command("history")(history_command)
    grids_app.command("rollback")(rollback_command)
    app.add_typer(grids_app, name="grids")
