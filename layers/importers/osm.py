"""Write an :class:`gisgrid.osm.OsmExtract` into PostGIS — one transaction, COPY and set-based upserts.

Keys and what a re-import does
------------------------------
* ``building``, ``complex``, ``station``: keyed by ``(source='osm', source_ref)`` (``way/123``,
  ``relation/456``, ``node/789``) and upserted with ``INSERT … ON CONFLICT (source, source_ref) DO
  UPDATE``; ``RETURNING (xmax = 0)`` tells inserted rows from updated ones. What a person may have
  changed since is kept:

  - buildings: a **supplied** household count (e.g. surveyed) is not overwritten by an estimate; the
    entrance is kept while it still lies on the new footprint; the grid code is kept unless the
    footprint moved (or there is none): then it is the current grid covering the building's
    representative point, like its complex and community;
  - complexes: only the geometry and the name are updated (a name only when OSM has one); management,
    property company, owners' committee and party organisation stay;
  - stations: only name, kind and point are updated; status and dates stay.
* ``barrier``: keyed by ``(source='osm', source_ref)``; kind, name and geometry are updated
  (:mod:`gisgrid.osm.barriers` says which tags make a barrier).
* ``street_node``: keyed by ``source_ref`` (``node/ID``), upserted; ``component`` is rewritten.
* ``street_edge``: keyed by ``(source='osm', source_ref)`` with ``source_ref = way/ID/k`` (the k-th
  segment of the way) — updated in place when it exists, inserted otherwise; the segments of a way that
  the new file no longer has (the way was shortened) are deleted.

Everything is COPYed into temporary tables first, then moved with one statement per table (the
approach of :mod:`layers.demo`). Then, in SQL: each building gets the complex that contains a point on
its footprint (the smallest one if complexes overlap) — so do buildings of earlier imports without a
complex that fall inside the new complexes — and buildings, complexes and stations get the
``admin_area`` of level ``community`` containing them (when there are communities); stations also get
their complex.

Invalid geometries are rejected (or repaired with ``repair=True``) by :func:`gisgrid.osm.checked`
before anything is written, each reported as a :class:`gisgrid.report.Problem`. If any statement fails
nothing is written: the transaction is rolled back.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine
from tqdm import tqdm

from gisgrid import vocab
from gisgrid.osm import OsmExtract, checked
from gisgrid.osm.features import UNNAMED_COMPLEX
from gisgrid.report import ImportReport
from layers.copying import copy_csv, ewkb, in_transaction, raw_cursor
from layers.importers.upsert import geom_changed
from layers.station_history import backfill

__all__ = ["import_osm"]

OSM = "osm"
CHUNK = 20_000  # rows per COPY (the progress bar advances per chunk)
LAYERS = ("buildings", "complexes", "stations", "street_nodes", "street_edges", "barriers")
# an existing supplied (e.g. surveyed) household count is not replaced by an estimate
_KEEP = "b.households_method = 'supplied' AND EXCLUDED.households_method <> 'supplied'"
UPSERT_BUILDINGS = (
    "INSERT INTO building AS b (name, building_type, levels, height_m, households, households_estimated,"
    "  households_method, source, source_ref, geom, entrance)"
    " SELECT name, building_type, levels, height_m, households, households_estimated, households_method,"
    "  'osm', source_ref, ST_SetSRID(geom, 4326), ST_PointOnSurface(ST_SetSRID(geom, 4326))"
    " FROM (SELECT DISTINCT ON (source_ref) * FROM tmp_osm_building) t"
    " ON CONFLICT (source, source_ref) DO UPDATE SET"
    "  name = EXCLUDED.name, building_type = EXCLUDED.building_type, levels = EXCLUDED.levels,"
    "  height_m = EXCLUDED.height_m,"
    f"  households = CASE WHEN {_KEEP} THEN b.households ELSE EXCLUDED.households END,"
    f"  households_estimated = CASE WHEN {_KEEP} THEN false ELSE EXCLUDED.households_estimated END,"
    f"  households_method = CASE WHEN {_KEEP} THEN 'supplied' ELSE EXCLUDED.households_method END,"
    "  geom = EXCLUDED.geom,"
    # a moved entrance is kept while it still lies on the footprint
    "  entrance = CASE WHEN ST_Intersects(b.entrance, EXCLUDED.geom) THEN b.entrance"
    "   ELSE EXCLUDED.entrance END"
    " RETURNING (xmax = 0), households_method"
)


def import_osm(
    bind: Engine | Connection, extract: OsmExtract, *, repair: bool = False, progress: bool = True
) -> ImportReport:
    """Upsert an OSM extract into PostGIS in one transaction and link buildings to complexes and communities.

    Parameters
    ----------
    bind
        An engine (a transaction is opened and committed here) or a connection (its open transaction is
        used and left for the caller to commit; one is begun and committed if none is open).
    extract
        From :func:`gisgrid.osm.read_osm`.
    repair
        Repair invalid polygons with ``make_valid`` (reported as ``repaired``) instead of rejecting them.
    progress
        Show a tqdm progress bar on stderr.

    Returns
    -------
    ImportReport
        ``imported`` / ``updated`` summed over all layers, ``rejected`` / ``repaired`` geometries,
        ``estimated`` = buildings written whose households were estimated, by method (``levels`` /
        ``height`` / ``default``; as in the file importer), every problem, and in ``extra``:
        ``households_methods`` (all four methods including ``supplied``, summing to the buildings
        written), ``layers`` (imported / updated / rejected / repaired per layer),
        ``street_components`` (count and sizes, largest first), ``linked`` counts,
        ``removed_street_edges``, ``seconds`` and ``buildings_per_second`` (buildings written per
        second of the whole import, streets included).
    """
    started = time.perf_counter()
    report = ImportReport(kind="osm", source=extract.source)
    for problem in extract.problems:
        report.add_problem(problem)
    clean, problems = checked(extract, repair=repair)
    layers: dict[str, dict[str, int]] = {}
    for layer in LAYERS:
        found = problems.get(layer, [])
        for problem in found:
            report.add_problem(problem)
        layers[layer] = {
            "imported": 0,
            "updated": 0,
            "rejected": sum(p.action == "rejected" for p in found),
            "repaired": sum(p.action == "repaired" for p in found),
        }

    with in_transaction(bind) as conn:
        extra = _write(conn, clean, layers, report, progress)

    report.imported = sum(v["imported"] for v in layers.values())
    report.updated = sum(v["updated"] for v in layers.values())
    seconds = time.perf_counter() - started
    written = layers["buildings"]["imported"] + layers["buildings"]["updated"]
    sizes = clean.component_sizes()
    report.extra.update(
        {
            "layers": layers,
            "street_components": {"count": len(sizes), "sizes": sizes},
            **extra,
            "seconds": round(seconds, 3),
            "buildings_per_second": round(written / seconds, 1) if seconds > 0 else None,
        }
    )
    return report


# ------------------------------------------------------------------------------------- helpers
def _frame(gdf: Any, columns: Sequence[str]) -> pd.DataFrame:
    df = pd.DataFrame({c: gdf[c].to_numpy(dtype=object) for c in columns})
    df["geom"] = ewkb(gdf.geometry.values)
    return df


def _copy(cur: Any, table: str, frame: pd.DataFrame, bar: tqdm) -> None:
    copy_csv(cur, table, frame, list(frame.columns), chunk=CHUNK, on_chunk=bar.update)


def _upsert(cur: Any, layer: dict[str, int], sql: str, params: tuple[Any, ...] | None = None) -> list[Any]:
    """Run an upsert ``RETURNING (xmax = 0), …``, count its inserted and updated rows, return the rows."""
    cur.execute(sql, params)
    rows = cur.fetchall()
    layer["imported"] = sum(1 for r in rows if r[0])
    layer["updated"] = len(rows) - layer["imported"]
    return rows


# ------------------------------------------------------------------------------------- writing
def _write(
    conn: Connection, ex: OsmExtract, layers: dict[str, dict[str, int]], report: ImportReport, progress: bool
) -> dict[str, Any]:
    total = sum(len(getattr(ex, layer)) for layer in LAYERS)
    bar = tqdm(
        total=total,
        desc="osm import",
        unit=" rows",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    with raw_cursor(conn) as cur, bar:
        cur.execute(
            "DROP TABLE IF EXISTS tmp_osm_building, tmp_osm_complex, tmp_osm_station, tmp_osm_node,"
            " tmp_osm_edge, tmp_osm_barrier, tmp_osm_moved;"
            "CREATE TEMP TABLE tmp_osm_barrier (source_ref text, kind text, name text, geom geometry)"
            " ON COMMIT DROP;"
            "CREATE TEMP TABLE tmp_osm_building (source_ref text, name text, building_type text, levels int,"
            " height_m double precision, households int, households_estimated boolean, households_method text,"
            " geom geometry)"
            " ON COMMIT DROP;"
            "CREATE TEMP TABLE tmp_osm_complex (source_ref text, name text, named boolean, geom geometry)"
            " ON COMMIT DROP;"
            "CREATE TEMP TABLE tmp_osm_station (source_ref text, name text, kind text, status text,"
            " opened_on date, geom geometry) ON COMMIT DROP;"
            "CREATE TEMP TABLE tmp_osm_node (source_ref text, component int, geom geometry) ON COMMIT DROP;"
            "CREATE TEMP TABLE tmp_osm_edge (source_ref text, source_node_ref text, target_node_ref text,"
            " length_m double precision, name text, highway text, geom geometry) ON COMMIT DROP;"
        )

        # complexes first, so buildings can be linked to them
        bar.set_description("complexes")
        _copy(cur, "tmp_osm_complex", _frame(ex.complexes, ["source_ref", "name", "named"]), bar)
        _upsert(
            cur,
            layers["complexes"],
            "INSERT INTO complex AS c (name, source, source_ref, geom)"
            " SELECT name, 'osm', source_ref, ST_SetSRID(geom, 4326)"
            " FROM (SELECT DISTINCT ON (source_ref) * FROM tmp_osm_complex) t"
            " ON CONFLICT (source, source_ref) DO UPDATE SET"
            "  name = CASE WHEN EXCLUDED.name = %s THEN c.name ELSE EXCLUDED.name END,"
            "  geom = EXCLUDED.geom"
            " RETURNING (xmax = 0)",
            (UNNAMED_COMPLEX,),
        )

        bar.set_description("buildings")
        cols = [
            "source_ref",
            "name",
            "building_type",
            "levels",
            "households",
            "households_estimated",
            "households_method",
        ]
        b = _frame(ex.buildings, cols)
        b["levels"] = pd.array(ex.buildings["levels"], dtype="Int64")
        height = pd.to_numeric(ex.buildings["height"], errors="coerce")
        b.insert(4, "height_m", height.where((height > 0) & (height <= 1000)).to_numpy())
        _copy(cur, "tmp_osm_building", b, bar)
        # buildings whose footprint moved since the last import: relinked to their grid afterwards
        cur.execute(
            "CREATE TEMP TABLE tmp_osm_moved ON COMMIT DROP AS SELECT b.id FROM building b"
            " JOIN tmp_osm_building t ON b.source = 'osm' AND b.source_ref = t.source_ref"
            f" WHERE {geom_changed('b.geom', 'ST_SetSRID(t.geom, 4326)')}"
        )
        methods = Counter(r[1] for r in _upsert(cur, layers["buildings"], UPSERT_BUILDINGS))
        report.estimated = Counter({m: n for m, n in methods.items() if m != "supplied"})
        report.extra["households_methods"] = {m: int(methods.get(m, 0)) for m in vocab.HOUSEHOLD_METHODS}

        bar.set_description("stations")
        cols = ["source_ref", "name", "kind", "status", "opened_on"]
        _copy(cur, "tmp_osm_station", _frame(ex.stations, cols), bar)
        _upsert(
            cur,
            layers["stations"],
            "INSERT INTO station AS s (name, kind, status, opened_on, source, source_ref, geom)"
            " SELECT name, kind, status, opened_on, 'osm', source_ref, ST_SetSRID(geom, 4326)"
            " FROM (SELECT DISTINCT ON (source_ref) * FROM tmp_osm_station) t"
            " ON CONFLICT (source, source_ref) DO UPDATE SET"
            "  name = EXCLUDED.name, kind = EXCLUDED.kind, geom = EXCLUDED.geom"
            " RETURNING (xmax = 0)",
        )
        report.extra["station_history"] = backfill(cur, f"import:{report.source}")

        bar.set_description("street nodes")
        _copy(cur, "tmp_osm_node", _frame(ex.street_nodes, ["source_ref", "component"]), bar)
        _upsert(
            cur,
            layers["street_nodes"],
            "INSERT INTO street_node AS n (source_ref, component, geom)"
            " SELECT source_ref, component, ST_SetSRID(geom, 4326)"
            " FROM (SELECT DISTINCT ON (source_ref) * FROM tmp_osm_node) t"
            " ON CONFLICT (source_ref) DO UPDATE SET component = EXCLUDED.component, geom = EXCLUDED.geom"
            " RETURNING (xmax = 0)",
        )

        bar.set_description("street edges")
        cols = ["source_ref", "source_node_ref", "target_node_ref", "length_m", "name", "highway"]
        _copy(cur, "tmp_osm_edge", _frame(ex.street_edges, cols), bar)
        cur.execute("CREATE INDEX ON tmp_osm_edge (source_ref); ANALYZE tmp_osm_edge")
        cur.execute(
            "UPDATE street_edge e SET source_node = su.id, target_node = sv.id, length_m = t.length_m,"
            "  name = t.name, highway = t.highway, geom = ST_SetSRID(t.geom, 4326)"
            " FROM tmp_osm_edge t JOIN street_node su ON su.source_ref = t.source_node_ref"
            "  JOIN street_node sv ON sv.source_ref = t.target_node_ref"
            " WHERE e.source = 'osm' AND e.source_ref = t.source_ref"
        )
        layers["street_edges"]["updated"] = cur.rowcount
        cur.execute(
            "INSERT INTO street_edge (source_node, target_node, length_m, name, highway, source, source_ref,"
            "  geom)"
            " SELECT su.id, sv.id, t.length_m, t.name, t.highway, 'osm', t.source_ref,"
            "  ST_SetSRID(t.geom, 4326)"
            " FROM (SELECT DISTINCT ON (source_ref) * FROM tmp_osm_edge) t"
            "  JOIN street_node su ON su.source_ref = t.source_node_ref"
            "  JOIN street_node sv ON sv.source_ref = t.target_node_ref"
            " WHERE NOT EXISTS (SELECT 1 FROM street_edge e"
            "  WHERE e.source = 'osm' AND e.source_ref = t.source_ref)"
        )
        layers["street_edges"]["imported"] = cur.rowcount
        # segments of the same ways that the new file no longer has (the way was shortened or re-noded)
        cur.execute(
            "DELETE FROM street_edge e WHERE e.source = 'osm'"
            " AND split_part(e.source_ref, '/', 2) IN"
            "  (SELECT DISTINCT split_part(source_ref, '/', 2) FROM tmp_osm_edge)"
            " AND NOT EXISTS (SELECT 1 FROM tmp_osm_edge t WHERE t.source_ref = e.source_ref)"
        )
        removed = cur.rowcount

        bar.set_description("barriers")
        _copy(cur, "tmp_osm_barrier", _frame(ex.barriers, ["source_ref", "kind", "name"]), bar)
        _upsert(
            cur,
            layers["barriers"],
            "INSERT INTO barrier AS r (kind, name, source, source_ref, geom)"
            " SELECT kind, name, 'osm', source_ref, ST_SetSRID(geom, 4326)"
            " FROM (SELECT DISTINCT ON (source_ref) * FROM tmp_osm_barrier) t"
            " ON CONFLICT (source, source_ref) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name,"
            "  geom = EXCLUDED.geom RETURNING (xmax = 0)",
        )

        bar.set_description("linking")
        linked = _link(cur)
        linked.update(_link_grids(cur))
        bar.set_description("done")
    return {"linked": linked, "removed_street_edges": removed}


def _link_grids(cur: Any) -> dict[str, int]:
    """Buildings of this import without a grid, and those whose footprint moved, get the current grid
    covering their representative point (the smallest grid id where grids overlap; none outside)."""
    cur.execute(
        "UPDATE building b SET grid_code = s.code FROM ("
        "  SELECT x.id, (SELECT g.code FROM grid g WHERE g.valid_to IS NULL AND g.geom && x.geom"
        "   AND ST_Covers(g.geom, ST_PointOnSurface(x.geom)) ORDER BY g.id LIMIT 1) AS code"
        "  FROM building x JOIN tmp_osm_building t ON x.source = 'osm' AND x.source_ref = t.source_ref"
        "  WHERE x.grid_code IS NULL OR x.id IN (SELECT id FROM tmp_osm_moved)) s"
        " WHERE b.id = s.id AND b.grid_code IS DISTINCT FROM s.code"
    )
    relinked = cur.rowcount
    cur.execute("SELECT count(*) FROM tmp_osm_moved")
    return {"buildings_in_grid_set": relinked, "buildings_moved": cur.fetchone()[0]}


def _link(cur: Any) -> dict[str, int]:
    """Link this import's buildings and stations to complexes, and everything to communities, in SQL."""
    linked: dict[str, int] = {}
    for tmp in ("tmp_osm_building", "tmp_osm_complex", "tmp_osm_station"):
        cur.execute(f"CREATE INDEX ON {tmp} (source_ref); ANALYZE {tmp}")
    # buildings of this import, and earlier buildings without a complex inside this import's complexes;
    # each gets the smallest complex containing a point on its footprint (or none)
    cur.execute(
        "WITH targets AS ("
        "  SELECT b.id, ST_PointOnSurface(b.geom) AS p FROM tmp_osm_building t"
        "   JOIN building b ON b.source = 'osm' AND b.source_ref = t.source_ref"
        "  UNION ALL"
        "  SELECT b.id, ST_PointOnSurface(b.geom) FROM tmp_osm_complex tc"
        "   JOIN complex c ON c.source = 'osm' AND c.source_ref = tc.source_ref"
        "   JOIN building b ON b.geom && c.geom"
        "  WHERE b.complex_id IS NULL AND ST_Contains(c.geom, ST_PointOnSurface(b.geom))),"
        " found AS ("
        "  SELECT DISTINCT ON (t.id) t.id, inside.id AS complex_id FROM targets t"
        "  LEFT JOIN LATERAL (SELECT c.id FROM complex c WHERE ST_Contains(c.geom, t.p)"
        "   ORDER BY ST_Area(c.geom), c.id LIMIT 1) inside ON true)"
        " UPDATE building b SET complex_id = found.complex_id FROM found"
        " WHERE b.id = found.id AND b.complex_id IS DISTINCT FROM found.complex_id"
    )
    cur.execute(
        "SELECT count(*) FROM building b JOIN tmp_osm_building t ON b.source = 'osm'"
        " AND b.source_ref = t.source_ref WHERE b.complex_id IS NOT NULL"
    )
    linked["buildings_in_complex"] = cur.fetchone()[0]
    cur.execute(
        "UPDATE station s SET complex_id = ("
        "  SELECT c.id FROM complex c WHERE ST_Contains(c.geom, s.geom)"
        "  ORDER BY ST_Area(c.geom), c.id LIMIT 1)"
        " FROM tmp_osm_station t WHERE s.source = 'osm' AND s.source_ref = t.source_ref"
    )
    cur.execute(
        "SELECT count(*) FROM station s JOIN tmp_osm_station t ON s.source = 'osm'"
        " AND s.source_ref = t.source_ref WHERE s.complex_id IS NOT NULL"
    )
    linked["stations_in_complex"] = cur.fetchone()[0]

    cur.execute("SELECT EXISTS (SELECT 1 FROM admin_area WHERE level = 'community')")
    if not cur.fetchone()[0]:
        linked.update(buildings_in_community=0, complexes_in_community=0, stations_in_community=0)
        return linked
    community = (
        "(SELECT a.id FROM admin_area a WHERE a.level = 'community' AND ST_Contains(a.geom, {point})"
        " ORDER BY ST_Area(a.geom), a.id LIMIT 1)"
    )
    for table, tmp, point, key in (
        ("building", "tmp_osm_building", "ST_PointOnSurface(x.geom)", "buildings_in_community"),
        ("complex", "tmp_osm_complex", "ST_PointOnSurface(x.geom)", "complexes_in_community"),
        ("station", "tmp_osm_station", "x.geom", "stations_in_community"),
    ):
        # only rows whose community changes are rewritten: an UPDATE of every row would rewrite its
        # two GiST and five B-tree index entries for nothing (it was a third of a large import)
        cur.execute(
            f"UPDATE {table} y SET community_id = s.cid"
            f" FROM (SELECT x.id, {community.format(point=point)} AS cid FROM {table} x"
            f"  JOIN {tmp} t ON x.source = 'osm' AND x.source_ref = t.source_ref) s"
            " WHERE y.id = s.id AND y.community_id IS DISTINCT FROM s.cid"
        )
        cur.execute(
            f"SELECT count(*) FROM {table} x JOIN {tmp} t ON x.source = 'osm' AND x.source_ref = t.source_ref"
            " WHERE x.community_id IS NOT NULL"
        )
        linked[key] = cur.fetchone()[0]
    return linked
