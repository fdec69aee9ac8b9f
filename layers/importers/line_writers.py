"""Writers of ``gisgrid import layer streets|barriers``: street lines cut into the walkable network, and
barriers (rivers, water, railways, walls) that grid boundaries follow.

Streets: the lines are cut where they meet (:func:`gisgrid.readers.streets.street_network`); nodes are
upserted by ``source_ref`` (``xy/…``), edges by ``(source, source_ref)`` = (``import``, ``<id>/<k>``) —
updated in place, inserted when new, and the edges of a feature the new file has fewer of are deleted,
as the OSM import does for a shortened way. Barriers are upserted by ``(source, source_ref)``.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection

from gisgrid.readers import split_source_id
from gisgrid.readers.streets import street_network
from gisgrid.report import ImportReport
from layers.copying import copy_csv, ewkb, raw_cursor
from layers.importers.upsert import copy_temp, geom_changed, sources, upsert

__all__ = ["write_barriers", "write_streets"]


def write_streets(
    conn: Connection, gdf: gpd.GeoDataFrame, report: ImportReport, skip: bool, progress: bool
) -> None:
    nodes, edges = street_network(gdf)
    pairs = [split_source_id(str(f)) for f in edges["feature"]]
    frame = pd.DataFrame(
        {
            "source": [p[0] for p in pairs],
            "source_ref": [
                f"{p[1]}/{ref.rsplit('/', 1)[1]}" for p, ref in zip(pairs, edges["source_ref"], strict=True)
            ],
            "feature_ref": [p[1] for p in pairs],
            "source_node_ref": edges["source_node_ref"].to_numpy(),
            "target_node_ref": edges["target_node_ref"].to_numpy(),
            "length_m": edges["length_m"].to_numpy(),
            "name": edges["name"].to_numpy(),
            "highway": edges["highway"].to_numpy(),
            "geom": ewkb(edges.geometry.values),
        }
    )
    node_frame = pd.DataFrame(
        {
            "pos": range(len(nodes)),
            "source_ref": nodes["source_ref"],
            "component": nodes["component"],
            "geom": ewkb(nodes.geometry.values),
        }
    )
    with raw_cursor(conn) as cur:
        cur.execute(
            "DROP TABLE IF EXISTS _import_node; CREATE TEMP TABLE _import_node (pos integer,"
            " source_ref text, component integer, geom geometry(Point, 4326)) ON COMMIT DROP"
        )
        copy_csv(cur, "_import_node", node_frame, list(node_frame.columns))
        cur.execute(
            "INSERT INTO street_node AS n (source_ref, component, geom)"
            " SELECT source_ref, component, geom FROM _import_node ORDER BY pos"
            " ON CONFLICT (source_ref) DO UPDATE SET component = EXCLUDED.component, geom = EXCLUDED.geom"
            " WHERE n.component IS DISTINCT FROM EXCLUDED.component OR NOT ST_Equals(n.geom, EXCLUDED.geom)"
            " RETURNING (xmax = 0)"
        )
        flags = [r[0] for r in cur.fetchall()]
        report.extra["street_nodes"] = {
            "imported": sum(flags),
            "updated": len(flags) - sum(flags),
            "total": len(nodes),
        }
        copy_temp(
            cur,
            "streets",
            frame,
            {
                "source": "text",
                "source_ref": "text",
                "feature_ref": "text",
                "source_node_ref": "text",
                "target_node_ref": "text",
                "length_m": "double precision",
                "name": "text",
                "highway": "text",
                "geom": "geometry(LineString, 4326)",
            },
            progress,
        )
        cur.execute(
            "UPDATE street_edge e SET source_node = su.id, target_node = sv.id, length_m = t.length_m,"
            "  name = t.name, highway = t.highway, geom = t.geom"
            " FROM _import t JOIN street_node su ON su.source_ref = t.source_node_ref"
            "  JOIN street_node sv ON sv.source_ref = t.target_node_ref"
            " WHERE e.source = t.source AND e.source_ref = t.source_ref"
            "  AND ((e.source_node, e.target_node, e.name, e.highway) IS DISTINCT FROM"
            "       (su.id, sv.id, t.name, t.highway) OR " + geom_changed("e.geom", "t.geom") + ")"
        )
        report.updated = cur.rowcount
        cur.execute(
            "INSERT INTO street_edge (source_node, target_node, length_m, name, highway, source, source_ref, geom)"
            " SELECT su.id, sv.id, t.length_m, t.name, t.highway, t.source, t.source_ref, t.geom FROM _import t"
            "  JOIN street_node su ON su.source_ref = t.source_node_ref"
            "  JOIN street_node sv ON sv.source_ref = t.target_node_ref"
            " WHERE NOT EXISTS (SELECT 1 FROM street_edge e WHERE e.source = t.source AND e.source_ref = t.source_ref)"
            " ORDER BY t.pos"
        )
        report.imported = cur.rowcount
        report.extra["unchanged"] = len(frame) - report.imported - report.updated
        # edges of these features that the new file no longer has (the line was shortened or re-cut)
        cur.execute(
            "DELETE FROM street_edge e USING (SELECT DISTINCT source, feature_ref FROM _import) f"
            " WHERE e.source = f.source AND left(e.source_ref, length(f.feature_ref) + 1) = f.feature_ref || '/'"
            "  AND substr(e.source_ref, length(f.feature_ref) + 2) ~ '^[0-9]+$'"
            "  AND NOT EXISTS (SELECT 1 FROM _import t WHERE t.source = e.source AND t.source_ref = e.source_ref)"
        )
        report.extra["removed_street_edges"] = cur.rowcount
        report.extra["street_edges"] = len(frame)
        sizes = nodes["component"].value_counts().sort_index().tolist() if len(nodes) else []
        report.extra["street_components"] = {"count": len(sizes), "sizes": [int(v) for v in sizes]}


def write_barriers(
    conn: Connection, gdf: gpd.GeoDataFrame, report: ImportReport, skip: bool, progress: bool
) -> None:
    source, ref = sources(gdf["id"])
    frame = pd.DataFrame(
        {
            "source": source,
            "source_ref": ref,
            "kind": gdf["kind"].where(gdf["kind"].notna(), "other").to_numpy(),
            "name": gdf["name"].to_numpy(),
            "geom": ewkb(gdf.geometry.values),
        }
    )
    with raw_cursor(conn) as cur:
        copy_temp(
            cur,
            "barriers",
            frame,
            {
                "source": "text",
                "source_ref": "text",
                "kind": "text",
                "name": "text",
                "geom": "geometry(Geometry, 4326)",
            },
            progress,
        )
        upsert(
            cur,
            report,
            len(frame),
            table="barrier",
            columns=["kind", "name", "geom", "source", "source_ref"],
            select="SELECT kind, name, geom, source, source_ref FROM _import ORDER BY pos",
            key="source, source_ref",
            update=["kind", "name", "geom"],
        )
        report.extra["barrier_kinds"] = {str(k): int(v) for k, v in frame["kind"].value_counts().items()}
