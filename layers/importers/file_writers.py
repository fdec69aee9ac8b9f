"""One writer per kind for ``gisgrid import layer``: the rows COPYed, upserted and linked (see :mod:`.files`)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection

from gisgrid.codes import CHINA_TZ
from gisgrid.errors import GeometryError, InvalidInputError
from gisgrid.readers import SCHEMAS
from gisgrid.report import ImportReport, Problem, problems_summary
from layers import station_history
from layers.copying import ewkb, raw_cursor
from layers.importers.line_writers import write_barriers, write_streets
from layers.importers.upsert import (
    COMMUNITY,
    copy_temp,
    count_upserted,
    geom_changed,
    link,
    link_spatial,
    locate,
    set_clause,
    sources,
    upsert,
)

__all__ = ["WRITERS", "feature_label", "raise_if_rejected", "relink_moved"]


def raise_if_rejected(report: ImportReport, skip_invalid: bool) -> None:
    rejected = [p for p in report.problems if p.action == "rejected"]
    if not rejected or skip_invalid:
        return
    first = rejected[0]
    cls = GeometryError if first.field == "geometry" else InvalidInputError
    raise cls(
        f"{len({p.feature for p in rejected})} feature(s) of {report.source} break the rules, so nothing was "
        f"imported: {problems_summary(rejected)}. Fix the file, or import the valid features only with "
        "--skip-invalid",
        field=first.field,
        feature=first.feature,
        rule=first.rule,
        details={
            "problems": [p.to_dict() for p in report.problems],
            "rejected_by_reason": report.rejected_by_reason(),
        },
    )


_SQL_TYPES = {
    "str": "text",
    "int": "integer",
    "float": "double precision",
    "bool": "boolean",
    "date": "date",
    "datetime": "timestamptz",
}
_GEOMETRY = {"polygon": "geometry(MultiPolygon, 4326)", "point": "geometry(Point, 4326)"}


def _columns(kind: str, names: Sequence[str], *, keyed: bool = False, **extra: str) -> dict[str, str]:
    """The columns of ``_import``: ``source, source_ref`` when ``keyed``, ``names`` with the SQL types of
    their fields, the kind's geometry, then ``extra``."""
    schema = SCHEMAS[kind]
    out = {"source": "text", "source_ref": "text"} if keyed else {}
    out.update({n: _SQL_TYPES[schema.spec(n).type] for n in names})
    if schema.geometry is not None:
        out["geom"] = _GEOMETRY[schema.geometry]
    return {**out, **extra}


def _keyed_frame(gdf: gpd.GeoDataFrame, names: Sequence[str]) -> pd.DataFrame:
    """``source`` and ``source_ref`` from the feature ids, the ``names`` columns and the geometry."""
    source, ref = sources(gdf["id"])
    frame = pd.DataFrame({"source": source, "source_ref": ref, **{c: gdf[c].to_numpy() for c in names}})
    frame["geom"] = ewkb(gdf.geometry.values)
    return frame


def _upsert_keyed(
    cur: Any,
    report: ImportReport,
    total: int,
    table: str,
    cols: list[str],
    select: str,
    *,
    extra: Sequence[str] = (),
    also_set: str = "",
) -> None:
    """Upsert keyed by ``(source, source_ref)``: ``select`` gives ``cols``, ``extra``, then the key."""
    upsert(
        cur,
        report,
        total,
        table=table,
        columns=[*cols, *extra, "source", "source_ref"],
        select=select,
        key="source, source_ref",
        update=cols,
        also_set=also_set,
    )


def _write_areas(
    conn: Connection, gdf: gpd.GeoDataFrame, report: ImportReport, skip: bool, progress: bool
) -> None:
    names = ["code", "name", "level", "parent_code"]
    frame = pd.DataFrame({c: gdf[c] for c in names})
    frame["geom"] = ewkb(gdf.geometry.values)
    with raw_cursor(conn) as cur:
        copy_temp(cur, "areas", frame, _columns("areas", names), progress)
        upsert(
            cur,
            report,
            len(frame),
            table="admin_area",
            columns=["code", "name", "level", "source", "geom"],
            select="SELECT code, name, level, 'import', geom FROM _import ORDER BY pos",
            key="code",
            update=["name", "level", "geom"],
        )
        link(
            cur,
            report,
            "parent",
            """
            UPDATE admin_area a SET parent_id = p.id
            FROM _import i JOIN admin_area p ON p.code = i.parent_code
            WHERE a.code = i.code AND a.parent_id IS DISTINCT FROM p.id""",
        )
        cur.execute("""SELECT i.code, i.parent_code FROM _import i
                       LEFT JOIN admin_area p ON p.code = i.parent_code
                       WHERE i.parent_code IS NOT NULL AND p.id IS NULL ORDER BY i.pos""")
        for code, parent in cur.fetchall():
            report.add_problem(
                Problem(
                    feature=code,
                    field="parent_code",
                    rule="parent area known",
                    message=f"area {code}: its parent {parent} is not in the database "
                    "(import it and re-import this file to link them)",
                    action="warned",
                )
            )


def _attributes(gdf: gpd.GeoDataFrame) -> list[str]:
    """The ``attributes`` of each feature as JSON text (``{}`` when the file has no unknown columns)."""
    if "attributes" not in gdf.columns:
        return ["{}"] * len(gdf)
    return [json.dumps(v or {}, ensure_ascii=False, sort_keys=True) for v in gdf["attributes"]]


def _write_buildings(
    conn: Connection, gdf: gpd.GeoDataFrame, report: ImportReport, skip: bool, progress: bool
) -> None:
    footprints = np.asarray(gdf.geometry.values, dtype=object)
    points = shapely.point_on_surface(footprints)
    given = gdf["entrance"].to_numpy(dtype=object) if "entrance" in gdf.columns else np.full(len(gdf), None)
    entrances = np.asarray([g if g is not None else p for g, p in zip(given, points, strict=True)], dtype=object)
    source, ref = sources(gdf["id"])
    height = pd.to_numeric(gdf["height"], errors="coerce")
    frame = pd.DataFrame(
        {
            "source": source,
            "source_ref": ref,
            "name": gdf["name"].to_numpy(),
            "building_type": gdf["building_type"].where(gdf["building_type"].notna(), "other").to_numpy(),
            "levels": pd.array(gdf["levels"].to_numpy(), dtype="Int64"),
            # a height of 0 is how many files say "unknown"
            "height_m": height.where(height > 0).to_numpy(),
            "units": pd.array(gdf["units"].to_numpy(), dtype="Int64"),
            "households": pd.array(gdf["households"].to_numpy(), dtype="Int64"),
            "households_estimated": gdf["households_estimated"].to_numpy(),
            "households_method": gdf["households_method"].to_numpy(),
            "attributes": _attributes(gdf),
            "geom": ewkb(gdf.geometry.values),
            "entrance": ewkb(entrances),
            "entrance_given": [g is not None for g in given],
        }
    )
    cols = [
        "name",
        "building_type",
        "levels",
        "height_m",
        "units",
        "households",
        "households_estimated",
        "households_method",
        "attributes",
        "geom",
    ]
    linked = ["community_id", "complex_id", "grid_code"]
    with raw_cursor(conn) as cur:
        # the community, complex and current grid of the representative point (as validation counts it)
        links = locate(cur, points)
        for column, values in links.items():
            frame[column] = pd.array(values, dtype="Int64") if column != "grid_code" else values.to_numpy()
        report.extra.setdefault("linked", {}).update(
            {c.removesuffix("_id").removesuffix("_code"): int(v.notna().sum()) for c, v in links.items()}
        )
        types = _columns(
            "buildings",
            [c for c in cols[:-1] if c not in ("height_m", "attributes")],
            keyed=True,
            height_m="double precision",
            attributes="jsonb",
            entrance=_GEOMETRY["point"],
            entrance_given="boolean",
            community_id="integer",
            complex_id="integer",
            grid_code="varchar(15)",
        )
        copy_temp(cur, "buildings", frame, types, progress)
        moved = relink_moved(cur)
        report.extra["moved"] = moved
        # the entrance follows the footprint only when the footprint changed (a hand-placed one survives);
        # links found now fill only what the row lacks (a hand-made link survives a re-import), except
        # for a building that moved: it gets the community, complex and grid of where it is now
        changed = geom_changed("t.geom", "EXCLUDED.geom")
        extra = ["entrance", *linked]
        _upsert_keyed(
            cur,
            report,
            len(frame),
            "building",
            cols,
            f"SELECT {', '.join([*cols, *extra])}, source, source_ref FROM _import ORDER BY pos",
            extra=extra,
            also_set=f"entrance = CASE WHEN {changed} THEN EXCLUDED.entrance ELSE t.entrance END, "
            + ", ".join(
                f"{c} = CASE WHEN {changed} THEN EXCLUDED.{c} ELSE COALESCE(t.{c}, EXCLUDED.{c}) END"
                for c in linked
            ),
        )
        # entrances the file gives (points inside a footprint) replace the stored ones
        cur.execute("""UPDATE building b SET entrance = i.entrance FROM _import i
                       WHERE i.entrance_given AND b.source = i.source AND b.source_ref = i.source_ref
                         AND NOT ST_Equals(b.entrance, i.entrance)""")
        report.extra["entrances_set"] = cur.rowcount
        # unchanged rows that lack a link found now (e.g. their complex was imported after them)
        link(
            cur,
            report,
            "filled",
            """
            UPDATE building b SET community_id = COALESCE(b.community_id, i.community_id),
                complex_id = COALESCE(b.complex_id, i.complex_id), grid_code = COALESCE(b.grid_code, i.grid_code)
            FROM _import i WHERE b.source = i.source AND b.source_ref = i.source_ref
              AND ((b.community_id IS NULL AND i.community_id IS NOT NULL)
                OR (b.complex_id IS NULL AND i.complex_id IS NOT NULL)
                OR (b.grid_code IS NULL AND i.grid_code IS NOT NULL))""",
        )


def relink_moved(cur: Any) -> dict[str, Any]:
    """Before the upsert: the buildings of ``_import`` whose footprint moved, and those of them whose
    community, complex or grid will change (named by their id in the file and their name)."""
    cur.execute(f"""
        SELECT i.source, i.source_ref, i.name, b.grid_code, i.grid_code,
               (b.community_id, b.complex_id, b.grid_code) IS DISTINCT FROM
               (i.community_id, i.complex_id, i.grid_code)
        FROM _import i JOIN building b ON b.source = i.source AND b.source_ref = i.source_ref
        WHERE {geom_changed("b.geom", "i.geom")} ORDER BY i.pos""")
    rows = cur.fetchall()
    relinked = [r for r in rows if r[5]]
    return {
        "buildings": len(rows),
        "relinked": len(relinked),
        "grid_changed": sum(1 for r in relinked if r[3] != r[4]),
        "examples": [
            {"feature": feature_label(s, ref, name), "grid_code": {"from": old, "to": new}}
            for s, ref, name, old, new, _ in relinked[:20]
        ],
    }


def feature_label(source: str, ref: str, name: str | None) -> str:
    """A feature as people know it: its id in the file (``B-17``) or in OSM (``osm:way/123``) and name."""
    ident = ref if source == "import" else f"{source}:{ref}"
    return f"{ident} {name}" if name else ident


def _write_complexes(
    conn: Connection, gdf: gpd.GeoDataFrame, report: ImportReport, skip: bool, progress: bool
) -> None:
    names = SCHEMAS["complexes"].attributes
    frame = _keyed_frame(gdf, names)
    frame["built_year"] = pd.array(gdf["built_year"].to_numpy(), dtype="Int64")
    frame["attributes"] = _attributes(gdf)
    cols = [("property_company_id" if c == "property_company" else c) for c in names] + ["attributes", "geom"]
    with raw_cursor(conn) as cur:
        copy_temp(cur, "complexes", frame, _columns("complexes", names, keyed=True, attributes="jsonb"), progress)
        cur.execute("""INSERT INTO property_company (name, source)
                       SELECT DISTINCT property_company, 'import' FROM _import
                       WHERE property_company IS NOT NULL
                       ON CONFLICT (name) DO NOTHING""")
        report.extra["property_companies_created"] = cur.rowcount
        _upsert_keyed(
            cur,
            report,
            len(frame),
            "complex",
            cols,
            """
            SELECT i.name, pc.id, i.management, i.owners_committee_since, COALESCE(i.party_org, 'none'),
                   COALESCE(i.red_property, false), i.built_year, i.attributes, i.geom, i.source, i.source_ref
            FROM _import i LEFT JOIN property_company pc ON pc.name = i.property_company ORDER BY i.pos""",
        )
        link_spatial(cur, report, "complex", "ST_PointOnSurface(complex.geom)")


def _write_stations(
    conn: Connection, gdf: gpd.GeoDataFrame, report: ImportReport, skip: bool, progress: bool
) -> None:
    names = SCHEMAS["stations"].attributes
    frame = _keyed_frame(gdf, names)
    frame["attributes"] = _attributes(gdf)
    cols = [*names, "attributes", "geom"]
    with raw_cursor(conn) as cur:
        copy_temp(cur, "stations", frame, _columns("stations", names, keyed=True, attributes="jsonb"), progress)
        history = station_history.plan_import(cur, today=dt.datetime.now(CHINA_TZ).date())
        select = ", ".join("COALESCE(service_radius_m, 300)" if c == "service_radius_m" else c for c in cols)
        _upsert_keyed(
            cur, report, len(frame), "station", cols, f"SELECT {select}, source, source_ref FROM _import ORDER BY pos"
        )
        link_spatial(cur, report, "station", "station.geom")
        report.extra["linked"]["complex"] += station_history.relink_complexes(cur)
        report.extra["station_history"] = station_history.write_import(cur, history, f"import:{report.source}")


def _write_staff(
    conn: Connection, gdf: gpd.GeoDataFrame, report: ImportReport, skip: bool, progress: bool
) -> None:
    frame = pd.DataFrame(
        {c: gdf[c].to_numpy() for c in ("id", "name", "role", "phone", "community_code", "active")}
    )
    keys = [
        (p,) if p else (n, c)
        for n, p, c in zip(frame["name"], frame["phone"], frame["community_code"], strict=True)
    ]
    dup = sorted({str(k) for k, n in Counter(keys).items() if n > 1})
    if dup:
        raise InvalidInputError(
            f"{report.source} lists the same person more than once (same phone, or same name and community "
            f"without a phone): {', '.join(dup[:10])}",
            field="phone",
            rule="one row per person (phone, else name + community)",
            details={"duplicates": dup},
        )
    with raw_cursor(conn) as cur:
        copy_temp(cur, "staff", frame, _columns("staff", list(frame.columns)), progress)
        cur.execute("""SELECT i.pos, i.id, i.name, i.community_code FROM _import i
                       LEFT JOIN admin_area a ON a.code = i.community_code
                       WHERE i.community_code IS NOT NULL AND a.id IS NULL ORDER BY i.pos""")
        unknown = cur.fetchall()
        for _pos, ident, name, code in unknown:
            report.add_problem(
                Problem(
                    feature=ident or name,
                    field="community_code",
                    rule="a known community code",
                    message=f"staff {ident or name!r}: community {code} is not in the database",
                )
            )
        raise_if_rejected(report, skip)
        cur.execute("""DELETE FROM _import i WHERE i.community_code IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM admin_area a WHERE a.code = i.community_code)""")
        cur.execute("""ALTER TABLE _import ADD COLUMN community_id integer, ADD COLUMN match_id integer;
            UPDATE _import i SET community_id = a.id FROM admin_area a WHERE a.code = i.community_code;
            UPDATE _import i SET match_id = (
                SELECT min(s.id) FROM staff s
                WHERE (i.phone IS NOT NULL AND s.phone = i.phone)
                   OR (i.phone IS NULL AND s.phone IS NULL AND s.name = i.name
                       AND s.community_id IS NOT DISTINCT FROM i.community_id))""")
        cols = ["name", "role", "phone", "community_id", "active"]
        cur.execute(f"""
            UPDATE staff s SET name = i.name, role = i.role, phone = i.phone, community_id = i.community_id,
                               active = COALESCE(i.active, s.active)
            FROM _import i WHERE s.id = i.match_id
              AND ({", ".join("s." + c for c in cols)}) IS DISTINCT FROM
                  (i.name, i.role, i.phone, i.community_id, COALESCE(i.active, s.active))""")
        report.updated = cur.rowcount
        cur.execute("""INSERT INTO staff (name, role, phone, community_id, active)
                       SELECT name, role, phone, community_id, COALESCE(active, true) FROM _import
                       WHERE match_id IS NULL ORDER BY pos""")
        report.imported = cur.rowcount
        cur.execute("SELECT count(*) FROM _import")
        report.extra["unchanged"] = cur.fetchone()[0] - report.imported - report.updated


def _write_incidents(
    conn: Connection, gdf: gpd.GeoDataFrame, report: ImportReport, skip: bool, progress: bool
) -> None:
    source, ref = sources(gdf["id"])
    names = ["category_code", "source", "description", "reporter_contact", "reported_at"]
    frame = pd.DataFrame(
        {
            "key": [f"{s}:{r}" for s, r in zip(source, ref, strict=True)],
            **{c: gdf[c].to_numpy() for c in names[:4]},
            "reported_at": [None if v is None else v.isoformat() for v in gdf["reported_at"]],
            "geom": ewkb(gdf.geometry.values),
        }
    )
    cols = [*names, "geom"]
    with raw_cursor(conn) as cur:
        copy_temp(cur, "incidents", frame, {"key": "text", **_columns("incidents", names)}, progress)
        # a missing report time keeps the stored one on re-import, and is the import time for new incidents
        cur.execute("""UPDATE _import i SET reported_at = t.reported_at FROM incident t
                       WHERE t.idempotency_key = i.key AND i.reported_at IS NULL;
                       UPDATE _import SET reported_at = now() WHERE reported_at IS NULL;
                       UPDATE _import SET description = '' WHERE description IS NULL""")
        cur.execute(
            f"""
            WITH up AS (
                INSERT INTO incident AS t (idempotency_key, {", ".join(cols)})
                SELECT key, {", ".join(cols)} FROM _import ORDER BY pos
                ON CONFLICT (idempotency_key) {set_clause("t", cols)}
                RETURNING t.id, (t.xmax = 0) AS inserted
            ), history AS (
                INSERT INTO incident_event (incident_id, action, from_status, to_status, note)
                SELECT id, 'import', NULL, 'reported', %s FROM up WHERE inserted
            )
            SELECT inserted FROM up""",
            (f"imported from {report.source}",),
        )
        count_upserted(cur, len(frame), report)
        match = "incident.idempotency_key = i.key"
        community = COMMUNITY.format(point="incident.geom")
        link(
            cur,
            report,
            "community",
            f"""
            UPDATE incident SET community_id = ({community}) FROM _import i
            WHERE {match} AND incident.community_id IS NULL AND EXISTS ({community})""",
        )
        link(
            cur,
            report,
            "street",
            f"""
            UPDATE incident SET street_id = a.parent_id FROM _import i, admin_area a
            WHERE {match} AND incident.street_id IS NULL AND a.id = incident.community_id
              AND a.parent_id IS NOT NULL""",
        )
        grid = (
            "SELECT g.id FROM grid g WHERE ST_Covers(g.geom, incident.geom) AND g.valid_from <= "
            "incident.reported_at AND (g.valid_to IS NULL OR g.valid_to > incident.reported_at) "
            "ORDER BY g.id LIMIT 1"
        )
        link(
            cur,
            report,
            "grid",
            f"""
            UPDATE incident SET grid_id = ({grid}),
                                grid_code = (SELECT g.code FROM grid g WHERE g.id = ({grid}))
            FROM _import i WHERE {match} AND incident.grid_id IS NULL AND EXISTS ({grid})""",
        )


_Writer = Callable[[Connection, gpd.GeoDataFrame, ImportReport, bool, bool], None]
WRITERS: dict[str, _Writer] = {
    "areas": _write_areas,
    "buildings": _write_buildings,
    "complexes": _write_complexes,
    "stations": _write_stations,
    "staff": _write_staff,
    "incidents": _write_incidents,
    "streets": write_streets,
    "barriers": write_barriers,
}
