"""``gisgrid coverage suggest``, ``gisgrid complexes indicators`` and the ``coverage``, ``rollout`` and
``complexes`` maps of ``gisgrid map render``, added by :func:`register`.

The rendered maps embed every vendored asset (:func:`gisgrid.maps.standalone.embed_assets`), so the
file opens from disk — the pages the API serves link ``/static`` instead.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from gisgrid.errors import GisgridError, InvalidInputError
from layers.cli.common import JsonOpt, console, emit, fail, session_factory, settings, static_dir

if TYPE_CHECKING:  # the maps (folium) load only when a map is rendered
    from gisgrid.maps.text import Language

__all__ = ["register", "render_complexes", "render_coverage", "render_rollout", "static_dir"]

KINDS = ("service_centre", "service_station", "service_post", "red_heart_station", "police_room")


def _day(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"{field} must be a date YYYY-MM-DD, not {value!r}", field=field, rule="ISO date"
        ) from None


def _language(options: dict[str, Any]) -> Language:
    lang = options.get("lang") or settings().language
    if lang not in ("zh-CN", "en"):
        raise InvalidInputError(f"--lang must be zh-CN or en, not {lang!r}", field="--lang", rule="zh-CN|en")
    return cast("Language", lang)


# ------------------------------------------------------------------------------------------ suggest


def suggest_command(
    kind: Annotated[str, typer.Option(help=f"Station kind: {', '.join(KINDS)}.")] = "red_heart_station",
    count: Annotated[
        int | None, typer.Option(min=1, max=500, help="New sites covering the most households.")
    ] = None,
    cover_all: Annotated[
        bool, typer.Option("--cover-all", help="The fewest sites reaching every household.")
    ] = False,
    day: Annotated[
        str | None, typer.Option("--date", help="Stations open on this day count (default today).")
    ] = None,
    area: Annotated[str | None, typer.Option(help="12-digit area code (default everything).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Walking metres (default per kind).")] = None,
    include_planned: Annotated[
        bool, typer.Option(help="Planned and building stations count as existing.")
    ] = False,
    time_limit: Annotated[float, typer.Option(min=1, help="Seconds before the solver answers its best.")] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Suggest where new stations should open: --count N (maximal covering) or --cover-all (set covering)."""
    from layers.coverage.siting import suggest, suggestions_payload

    try:
        if (count is None) == (not cover_all):
            raise InvalidInputError(
                "give either --count N or --cover-all", field="--count", rule="one of the two"
            )
        with session_factory()() as session:
            inputs, candidates, result = suggest(
                session,
                kind=kind,
                method="lscp" if cover_all else "mclp",
                count=count,
                as_of=_day(day, "--date"),
                threshold_m=threshold,
                area_code=area,
                include_planned=include_planned,
                time_limit=time_limit,
            )
            payload = suggestions_payload(session, inputs, candidates, result)
            session.rollback()
    except GisgridError as exc:
        fail(exc, as_json)
    if as_json:
        emit(payload)
        return
    hh = payload["households"]
    table = Table(
        title=f"{kind}: {payload['method']} within {payload['threshold_m']:.0f} m ({payload['as_of']})"
    )
    for col, justify in (
        ("#", "right"),
        ("site", "left"),
        ("name", "left"),
        ("lon, lat", "left"),
        ("adds", "right"),
        ("share after", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for s in payload["suggestions"]:
        table.add_row(
            str(s["rank"]),
            s["site"],
            s["name"],
            f"{s['lon']:.6f}, {s['lat']:.6f}",
            f"{s['adds_households']:,}",
            f"{s['share_after']:.1%}",
        )
    console.print(table)
    console.print(
        f"households {hh['total']:,}: covered {hh['covered_before']:,} → {hh['covered_after']:,} "
        f"({hh['share_before']:.1%} → {hh['share_after']:.1%}); no candidate reaches {hh['unreachable']:,}; "
        f"solver {payload['solver']['status']} in {sum(payload['solver']['seconds'].values()):.2f} s"
    )
    for note in payload["notes"]:
        console.print(f"[yellow]note[/yellow]: {note}")


# ------------------------------------------------------------------------------------------ indicators


def indicators_command(
    level: Annotated[str, typer.Option(help="community, street or district.")] = "community",
    code: Annotated[str | None, typer.Option(help="12-digit area code (default everything).")] = None,
    day: Annotated[str | None, typer.Option("--date", help="As of this day (default today).")] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Also write the table as CSV (UTF-8 with BOM).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Complexes by management, owners' committee (target 90 %), party organisation and company credit."""
    from layers.indicators import indicators, indicators_csv

    try:
        with session_factory()() as session:
            figures = indicators(session, level=level, code=code, as_of=_day(day, "--date"))
            session.rollback()
    except GisgridError as exc:
        fail(exc, as_json)
    figures.pop("_table")
    if csv_out is not None:
        csv_out.write_bytes(indicators_csv(figures))
    if as_json:
        emit(figures)
        return
    table = Table(title=f"complex indicators by {level} ({figures['as_of']})")
    heads = (
        "code",
        "name",
        "complexes",
        "professional",
        "owners' committee",
        "gap to 90 %",
        "party org",
        "三无 (street/community/none)",
        "black list",
    )
    for col in heads:
        table.add_column(col, justify="left" if col in ("code", "name") else "right")
    for r in [*figures["rows"], {**figures["totals"], "name": "total"}]:
        table.add_row(
            str(r["code"] or "—"),
            str(r["name"]),
            f"{r['complexes']:,}",
            _pct(r["professional_share"]),
            _pct(r["owners_committee_share"]),
            str(r["owners_committee_gap"]),
            _pct(r["party_org_share"]),
            f"{r['unmanaged']} ({r['unmanaged_street_fallback']}/{r['unmanaged_community_fallback']}/"
            f"{r['unmanaged_no_fallback']})",
            str(r["company_black"]),
        )
    console.print(table)
    if csv_out is not None:
        console.print(f"wrote {csv_out}")


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1%}"


# ------------------------------------------------------------------------------------------ maps


def _write(out: Path, fmap: Any, as_json: bool, extra: dict[str, Any]) -> None:
    from gisgrid.maps import render_html
    from gisgrid.maps.standalone import embed_assets

    out.write_text(embed_assets(render_html(fmap), static_dir()), encoding="utf-8")
    if as_json:
        emit({"written": str(out), **extra})
    else:
        console.print(f"wrote {out}")


def render_coverage(out: Path, *, basemap: str | None, as_json: bool, options: dict[str, Any]) -> None:
    """``gisgrid map render coverage OUT.html [--kind K] [--date D] [--area CODE] [--suggest N]``."""
    from gisgrid.maps.coverage import build_coverage_map
    from layers.coverage.siting import suggest, suggestions_payload
    from layers.coverage_maps import coverage_layers, suggestion_points

    s = settings()
    kind = options.get("kind") or "red_heart_station"
    try:
        day = _day(options.get("date"), "--date")
        language = _language(options)
        with session_factory()() as session:
            layers = coverage_layers(session, kind=kind, as_of=day, area_code=options.get("area"))
            layers.pop("inputs")
            synthetic = layers.pop("synthetic")
            sites = None
            if options.get("suggest"):
                found = suggest(
                    session,
                    kind=kind,
                    count=int(options["suggest"]),
                    as_of=day,
                    area_code=options.get("area"),
                )
                sites = suggestion_points(suggestions_payload(session, *found))
            session.rollback()
        fmap = build_coverage_map(
            **layers,
            suggestions=sites,
            synthetic=synthetic,
            basemap=basemap or s.basemap,  # type: ignore[arg-type]
            tianditu_key=s.tianditu_key,
            language=language,
        )  # type: ignore[arg-type]
        _write(out, fmap, as_json, {"map": "coverage", "kind": kind, "figures": layers["figures"]})
    except GisgridError as exc:
        fail(exc, as_json)


def render_rollout(out: Path, *, basemap: str | None, as_json: bool, options: dict[str, Any]) -> None:
    """``gisgrid map render rollout OUT.html [--kind K] [--date LAST] [--area CODE]``."""
    from gisgrid.maps.rollout import build_rollout_map
    from layers.coverage_maps import rollout_layers

    s = settings()
    kind = options.get("kind") or "red_heart_station"
    try:
        language = _language(options)
        with session_factory()() as session:
            layers = rollout_layers(
                session, kind=kind, until=_day(options.get("date"), "--date"), area_code=options.get("area")
            )
            session.rollback()
        synthetic = layers.pop("synthetic")
        fmap = build_rollout_map(
            **layers,
            synthetic=synthetic,
            basemap=basemap or s.basemap,  # type: ignore[arg-type]
            tianditu_key=s.tianditu_key,
            language=language,
        )  # type: ignore[arg-type]
        _write(
            out,
            fmap,
            as_json,
            {
                "map": "rollout",
                "kind": kind,
                "months": len(layers["monthly"]),
                "stations": len(layers["stations"]),
            },
        )
    except GisgridError as exc:
        fail(exc, as_json)


def render_complexes(out: Path, *, basemap: str | None, as_json: bool, options: dict[str, Any]) -> None:
    """``gisgrid map render complexes OUT.html [--indicator I] [--area CODE]``: the choropleth by community."""
    from gisgrid.maps.indicator_map import build_indicator_map
    from layers.indicators import indicator_map_areas, indicators

    s = settings()
    indicator = options.get("indicator") or "owners_committee"
    try:
        language = _language(options)
        with session_factory()() as session:
            figures = indicators(
                session,
                level="community",
                code=options.get("area"),
                as_of=_day(options.get("date"), "--date"),
            )
            areas = indicator_map_areas(session, figures)
            session.rollback()
        fmap = build_indicator_map(
            areas=areas,
            indicator=indicator,
            totals=figures["totals"],
            synthetic=figures["synthetic"],
            basemap=basemap or s.basemap,  # type: ignore[arg-type]
            tianditu_key=s.tianditu_key,
            language=language,
        )  # type: ignore[arg-type]
        _write(out, fmap, as_json, {"map": "complexes", "indicator": indicator})
    except GisgridError as exc:
        fail(exc, as_json)


def register(app: typer.Typer, *, coverage_app: typer.Typer | None = None) -> None:
    """Add ``coverage suggest`` (to ``coverage_app`` when the coverage group exists, else to a new
    ``coverage`` group), ``complexes indicators``, and the three maps of ``map render``."""
    from layers.cli import maps

    if coverage_app is None:
        coverage_app = typer.Typer(help="Walking coverage of the service stations.", no_args_is_help=True)
        app.add_typer(coverage_app, name="coverage")
    coverage_app.command("suggest")(suggest_command)
    complexes_app = typer.Typer(help="Residential complex indicators.", no_args_is_help=True)
    complexes_app.command("indicators")(indicators_command)
    app.add_typer(complexes_app, name="complexes")
    maps.RENDERERS.update(
        {"coverage": render_coverage, "rollout": render_rollout, "complexes": render_complexes}
    )
