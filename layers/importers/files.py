"""Write checked layer frames (from :func:`gisgrid.readers.read_layer`) into PostGIS, one transaction each.

Each import:

1. validates every feature (:func:`gisgrid.readers.validate_features`); by default a single rejected
   feature aborts the import with all problems listed, ``skip_invalid=True`` writes the rest and reports
   the rejected ones;
2. estimates households for buildings that have none (:func:`gisgrid.households.estimate_households`);
3. COPYs the rows into a temporary table and upserts them with one ``INSERT … SELECT … ON CONFLICT``:
   rows are keyed by ``(source, source_ref)`` — ``source='import'`` and the feature's id — for buildings,
   complexes and stations, by ``code`` for admin areas, by ``idempotency_key = 'import:<id>'`` for
   incidents and by phone (else name + community) for staff, which has no source columns. Re-importing a
   file therefore updates rather than duplicates; rows whose values did not change are counted as
   ``unchanged`` and not touched;
4. links the imported rows to what contains them, only where the link is missing: buildings, complexes,
   stations and incidents to their community, buildings and stations to their complex, buildings to their
   current grid, incidents to the grid version valid when they were reported, areas to their parent.

Any error rolls the whole transaction back: nothing is half-written.

The per-kind writers are in :mod:`layers.importers.file_writers`, the SQL they share (COPY, upsert,
linking) in :mod:`layers.importers.upsert`.
"""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from gisgrid.errors import InvalidInputError
from gisgrid.households import estimate_households
from gisgrid.readers import validate_features
from gisgrid.report import ImportReport, Problem
from layers.importers.file_writers import WRITERS, raise_if_rejected

__all__ = ["import_layer"]


def import_layer(
    engine: Engine,
    gdf: gpd.GeoDataFrame,
    *,
    kind: str,
    source_name: str,
    repair: bool = False,
    skip_invalid: bool = False,
    progress: bool = True,
) -> ImportReport:
    """Validate ``gdf`` and upsert it into the table of ``kind``, all in one transaction.

    Parameters
    ----------
    engine
        The database.
    gdf
        Features from :func:`gisgrid.readers.read_layer` (WGS84, gisgrid field names).
    kind
        ``areas``, ``buildings``, ``complexes``, ``stations``, ``staff``, ``incidents``, ``streets`` or
        ``barriers``.
    source_name
        What to call the source in the report (usually the file name).
    repair
        Repair invalid polygons with ``make_valid`` instead of rejecting them (reported).
    skip_invalid
        Write the valid features and report the rejected ones, instead of refusing the whole file.
    progress
        Show a progress bar (tqdm, on stderr) while writing.

    Returns
    -------
    ImportReport
        ``imported`` new rows, ``updated`` changed rows, ``rejected``/``repaired`` features,
        ``estimated`` buildings by household method; ``extra`` holds ``unchanged``, ``linked`` counts and
        (complexes) ``property_companies_created``.

    Raises
    ------
    InvalidInputError
        A feature broke a rule (all problems in ``details``), a staff member names an unknown community
        code, or the database refused a row; nothing is written.
    """
    if kind not in WRITERS:
        raise InvalidInputError(
            f"cannot import {kind!r}; one of {', '.join(WRITERS)}", field="kind", rule="an importable kind"
        )
    report = ImportReport(kind=kind, source=source_name)
    _report_file(report, gdf)
    clean, problems = validate_features(gdf, kind, repair=repair)
    for problem in problems:
        report.add_problem(problem)
    raise_if_rejected(report, skip_invalid)
    if kind == "buildings":
        clean = _with_households(clean, report)
    try:
        with engine.begin() as conn:
            WRITERS[kind](conn, clean, report, skip_invalid, progress)
    except DBAPIError as exc:
        orig = getattr(exc, "orig", None)
        diag = getattr(orig, "diag", None)
        constraint = getattr(diag, "constraint_name", None)
        raise InvalidInputError(
            f"the database refused the {kind} of {source_name}: {str(orig or exc).strip()}; "
            "nothing was written",
            field=getattr(diag, "column_name", None),
            rule=constraint or "database constraint",
        ) from exc
    return report


def _report_file(report: ImportReport, gdf: gpd.GeoDataFrame) -> None:
    """What :func:`gisgrid.readers.read_layer` decided about the file: unknown columns (kept in
    ``attributes`` or ignored), the ids (given or generated, and why), features of another geometry type
    (entrances, or skipped — each a warning naming the feature)."""
    unknown = gdf.attrs.get("unknown_columns") or {"columns": [], "kept": False}
    report.extra["unknown_columns"] = {
        "columns": list(unknown["columns"]),
        "action": ("kept in attributes" if unknown["kept"] else "ignored") if unknown["columns"] else None,
    }
    if gdf.attrs.get("ids"):
        report.extra["ids"] = dict(gdf.attrs["ids"])
    aside = gdf.attrs.get("set_aside") or []
    if aside:
        report.extra["set_aside"] = {
            "entrances": sum(r["action"] == "entrance" for r in aside),
            "skipped": sum(r["action"] == "skipped" for r in aside),
        }
    for record in aside:
        if record["action"] == "skipped":
            report.add_problem(
                Problem(
                    feature=record["feature"],
                    field="geometry",
                    rule=f"{report.kind} are {_GEOMETRY_NAMES.get(report.kind, 'polygons')}",
                    message=f"feature {record['feature']!r} is a {record['type']}; it was not imported "
                    f"({report.kind} are {_GEOMETRY_NAMES.get(report.kind, 'polygons')})",
                    action="warned",
                )
            )


_GEOMETRY_NAMES = {
    "stations": "points",
    "incidents": "points",
    "streets": "lines",
    "barriers": "lines or polygons",
}


def _with_households(clean: gpd.GeoDataFrame, report: ImportReport) -> gpd.GeoDataFrame:
    """Fill missing households by estimate; keep estimates carried by an exported file as they are."""
    out = clean.copy()
    if not len(out):
        out["households_estimated"] = pd.Series(dtype=object)
        return out
    given = out["households"]
    carried = given.notna() & out["households_method"].isin(["levels", "height", "default"])
    frame = gpd.GeoDataFrame(
        {
            "id": out["id"],
            "households": given.where(given.notna(), None),
            "levels": out["levels"],
            "height": out["height"],
            "building_type": out["building_type"].where(out["building_type"].notna(), "other"),
        },
        geometry=out.geometry,
        crs=out.crs,
    )
    estimated = estimate_households(frame)
    method = estimated["households_method"].where(~carried, out["households_method"])
    out["households"] = estimated["households"].astype(int).to_numpy()
    out["households_method"] = method.to_numpy()
    out["households_estimated"] = (method != "supplied").to_numpy()
    report.estimated = Counter({m: int(n) for m, n in method[method != "supplied"].value_counts().items()})
    return out
