"""Load a :class:`gisgrid.synth.DemoDistrict` into PostGIS — in one transaction, with COPY.

What "replace" removes
----------------------
``load_district(..., replace=True)`` does **not** truncate tables: it deletes only the rows an
earlier demo load wrote, recognised by these markers, so imported or hand-made data survives:

* ``source = 'synthetic'`` — property_company, complex, building, station, street_edge;
* ``street_node.source_ref LIKE 'synthetic:%'``;
* ``incident.idempotency_key LIKE 'synthetic:%'`` (their incident_event rows cascade; when the
  table holds nothing else, ``incident`` and ``incident_event`` are truncated instead);
* ``staff.phone LIKE 'SYN-%'`` (their assignments, patrol plans and check-ins cascade).

Admin areas and departments are *upserted* by code (``ON CONFLICT (code) DO UPDATE``), so their ids
stay stable across reloads and users or grids scoped to them keep working; synthetic admin areas that
the new district no longer has are deleted unless a user or a grid still refers to them.

Local keys of the frames (``community_code``, ``complex_key``, ``company_name``, ``staff_key``,
``incident_key``, node keys) are resolved to ids reserved from each table's sequence before the
COPY, so every row goes in with its final id and foreign keys in a single pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from psycopg2.extras import execute_values
from sqlalchemy import Connection, Engine

from gisgrid.readers import SCHEMAS
from gisgrid.synth import DemoDistrict
from layers.copying import copy_csv, ewkb, in_transaction, raw_cursor
from layers.station_history import backfill

__all__ = ["load_district"]

SYNTHETIC = "synthetic"


def load_district(
    bind: Engine | Connection, district: DemoDistrict, *, replace: bool = True
) -> dict[str, int]:
    """Write a generated district into PostGIS in one transaction.

    Parameters
    ----------
    bind
        An engine (a transaction is opened and committed here) or a connection (its current
        transaction is used and left for the caller to commit; one is begun and committed if none
        is open).
    district
        The frames from :func:`gisgrid.synth.generate_district`.
    replace
        First delete the rows of an earlier demo load (see the module docstring for the markers).
        With ``replace=False`` loading a second time fails on unique keys.

    Returns
    -------
    dict
        Rows written per table.
    """
    with in_transaction(bind) as conn:
        return _load(conn, district, replace=replace)


# ------------------------------------------------------------------------------------- helpers
def _reserve(cur: Any, table: str, n: int) -> np.ndarray:
    """``n`` fresh ids from the table's own sequence (safe next to concurrent inserts)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cur.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", (n,))
    return np.fromiter((r[0] for r in cur.fetchall()), dtype=np.int64, count=n)


def _ids(keys: Iterable[Any], mapping: dict[Any, int]) -> pd.Series:
    """Map local keys to ids; missing or null keys become NULL (nullable Int64)."""
    return pd.Series(
        [mapping.get(k) if k is not None and not pd.isna(k) else None for k in keys], dtype="Int64"
    )


def _rows(frame: pd.DataFrame, *geometries: str) -> pd.DataFrame:
    """A copy numbered 0..n-1 with the ``geometries`` columns as hex EWKB, ready for :func:`copy_csv`."""
    out = pd.DataFrame(frame.drop(columns=list(geometries))).reset_index(drop=True)
    for column in geometries:
        out[column] = ewkb(frame[column].values)
    return out


def _numbered(cur: Any, table: str, rows: pd.DataFrame, key: str) -> dict[Any, int]:
    """Give each row an ``id`` from the table's sequence; the ids by the rows' local ``key``."""
    rows["id"] = _reserve(cur, table, len(rows))
    return dict(zip(rows[key].tolist(), rows["id"].tolist(), strict=True))


def _int(values: Any) -> pd.Series:
    return pd.Series(values).astype("Int64").reset_index(drop=True)


# ------------------------------------------------------------------------------------- loading
def _delete_previous(cur: Any) -> None:
    # When every incident is a demo one, TRUNCATE them: a DELETE leaves ~10 dead event rows per
    # incident that each staff row's FK check on the unindexed incident_event.actor_staff_id would
    # then scan (minutes at 1M households). Otherwise delete just the demo incidents.
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM incident WHERE idempotency_key IS NULL"
        " OR idempotency_key NOT LIKE 'synthetic:%')"
        " OR EXISTS (SELECT 1 FROM incident_event e LEFT JOIN incident i ON i.id = e.incident_id"
        " WHERE i.id IS NULL)"
    )
    if cur.fetchone()[0]:
        cur.execute("DELETE FROM incident WHERE idempotency_key LIKE 'synthetic:%'")
    else:
        cur.execute("TRUNCATE incident_event, incident")
    cur.execute("DELETE FROM staff WHERE phone LIKE 'SYN-%'")
    for table in ("station", "building", "complex", "property_company", "street_edge"):
        cur.execute(f"DELETE FROM {table} WHERE source = %s", (SYNTHETIC,))
    cur.execute("DELETE FROM street_node WHERE source_ref LIKE 'synthetic:%'")


def _upsert_areas(cur: Any, areas: pd.DataFrame, replace: bool) -> dict[str, int]:
    ids: dict[str, int] = {}
    wkb = ewkb(areas.geometry.values)
    for level in ("district", "street", "community"):
        sel = np.flatnonzero((areas["level"] == level).to_numpy())
        rows = [
            (
                areas["code"].iat[k],
                level,
                areas["name"].iat[k],
                ids.get(areas["parent_code"].iat[k])
                if isinstance(areas["parent_code"].iat[k], str)
                else None,
                areas["source"].iat[k],
                wkb[k],
            )
            for k in sel
        ]
        got = execute_values(
            cur,
            "INSERT INTO admin_area (code, level, name, parent_id, source, geom) VALUES %s "
            "ON CONFLICT (code) DO UPDATE SET level = EXCLUDED.level, name = EXCLUDED.name, "
            "parent_id = EXCLUDED.parent_id, source = EXCLUDED.source, geom = EXCLUDED.geom "
            "RETURNING code, id",
            rows,
            template="(%s, %s, %s, %s, %s, ST_GeomFromEWKB(decode(%s, 'hex')))",
            page_size=1000,
            fetch=True,
        )
        ids.update(dict(got))
    if replace:  # synthetic areas the new district no longer has, children first
        for level in ("community", "street", "district"):
            cur.execute(
                "DELETE FROM admin_area a WHERE a.source = %s AND a.level = %s AND NOT (a.code = ANY(%s))"
                " AND NOT EXISTS (SELECT 1 FROM app_user u WHERE u.scope_area_id = a.id)"
                " AND NOT EXISTS (SELECT 1 FROM grid g WHERE g.community_id = a.id)"
                " AND NOT EXISTS (SELECT 1 FROM admin_area c WHERE c.parent_id = a.id)",
                (SYNTHETIC, level, list(ids)),
            )
    return ids


def _upsert_departments(cur: Any, departments: pd.DataFrame) -> dict[str, int]:
    rows = [(r.code, r.name, list(r.categories), r.contact_phone) for r in departments.itertuples()]
    got = execute_values(
        cur,
        "INSERT INTO department (code, name, categories, contact_phone) VALUES %s "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, categories = EXCLUDED.categories "
        "RETURNING code, id",
        rows,
        template="(%s, %s, %s::varchar[], %s)",
        fetch=True,
    )
    return dict(got)


def _load(conn: Connection, d: DemoDistrict, *, replace: bool) -> dict[str, int]:
    with raw_cursor(conn) as cur:
        if replace:
            _delete_previous(cur)
        counts: dict[str, int] = {}
        area_id = _upsert_areas(cur, d.admin_areas, replace)
        counts["admin_area"] = len(d.admin_areas)
        dept_id = _upsert_departments(cur, d.departments)
        counts["department"] = len(d.departments)

        # property companies
        pc = _rows(d.property_companies)
        company_id = _numbered(cur, "property_company", pc, "name")
        counts["property_company"] = copy_csv(
            cur, "property_company", pc, ["id", "name", "credit", "contact_name", "contact_phone", "source"]
        )

        # complexes
        cx = _rows(d.complexes, "geom")
        complex_id = _numbered(cur, "complex", cx, "complex_key")
        cx["community_id"] = _ids(cx["community_code"], area_id)
        cx["property_company_id"] = _ids(cx["company_name"], company_id)
        cx["built_year"] = _int(cx["built_year"])
        counts["complex"] = copy_csv(
            cur,
            "complex",
            cx,
            [
                "id",
                "name",
                "community_id",
                "property_company_id",
                "management",
                "owners_committee_since",
                "party_org",
                "red_property",
                "built_year",
                "source",
                "source_ref",
                "geom",
            ],
        )

        # buildings
        b = _rows(d.buildings, "geom", "entrance")
        building_id = _numbered(cur, "building", b, "building_key")
        b["complex_id"] = _ids(b["complex_key"], complex_id)
        b["community_id"] = _ids(b["community_code"], area_id)
        for col in ("levels", "units", "households"):
            b[col] = _int(b[col])
        counts["building"] = copy_csv(
            cur,
            "building",
            b,
            [
                "id",
                "name",
                "building_type",
                "levels",
                "units",
                "households",
                "households_estimated",
                "households_method",
                "complex_id",
                "community_id",
                "grid_code",
                "source",
                "source_ref",
                "geom",
                "entrance",
            ],
        )

        # street network
        nodes = _rows(d.street_nodes, "geom")
        node_id = _numbered(cur, "street_node", nodes, "node_key")
        nodes["component"] = _int(nodes["component"])
        counts["street_node"] = copy_csv(cur, "street_node", nodes, ["id", "source_ref", "component", "geom"])
        edges = _rows(d.street_edges, "geom")
        edges["source_node"] = _ids(edges["source_node_key"].tolist(), node_id)
        edges["target_node"] = _ids(edges["target_node_key"].tolist(), node_id)
        counts["street_edge"] = copy_csv(
            cur,
            "street_edge",
            edges,
            ["source_node", "target_node", "length_m", "name", "highway", "source", "source_ref", "geom"],
        )

        # stations
        st = _rows(d.stations, "geom")
        st["community_id"] = _ids(st["community_code"], area_id)
        st["complex_id"] = _ids(st["complex_key"], complex_id)
        counts["station"] = copy_csv(
            cur,
            "station",
            st,
            [*SCHEMAS["stations"].attributes, "community_id", "complex_id", "source", "source_ref", "geom"],
        )
        counts["station_status"] = backfill(cur, "demo")

        # staff and assignments
        sf = _rows(d.staff)
        staff_id = _numbered(cur, "staff", sf, "staff_key")
        sf["department_id"] = _ids(sf["department_code"], dept_id)
        sf["community_id"] = _ids(sf["community_code"], area_id)
        counts["staff"] = copy_csv(
            cur, "staff", sf, ["id", "name", "role", "phone", "department_id", "community_id", "active"]
        )
        a = _rows(d.assignments)
        a["staff_id"] = _ids(a["staff_key"].tolist(), staff_id)
        ref = a["target_ref"].to_numpy(dtype=object, copy=True)
        for kind, mapping in (("building", building_id), ("complex", complex_id)):
            sel = (a["target_kind"] == kind).to_numpy()
            ref[sel] = [str(mapping[k]) for k in ref[sel]]
        a["target_ref"] = ref
        counts["assignment"] = copy_csv(
            cur, "assignment", a, ["staff_id", "target_kind", "target_ref", "valid_from", "valid_to"]
        )

        # incidents and their history
        inc = _rows(d.incidents, "geom")
        inc["id"] = _reserve(cur, "incident", len(inc))
        inc_ids = inc["id"].to_numpy()
        inc["community_id"] = _ids(inc["community_code"], area_id)
        inc["street_id"] = _ids(inc["street_code"], area_id)
        inc["assignee_staff_id"] = _ids(inc["assignee_staff_key"].tolist(), staff_id)
        inc["assignee_department_id"] = _ids(inc["assignee_department_code"], dept_id)
        inc["satisfaction"] = _int(inc["satisfaction"])
        counts["incident"] = copy_csv(
            cur,
            "incident",
            inc,
            [
                "id",
                "idempotency_key",
                "category_code",
                "source",
                "description",
                "reporter_contact",
                "reported_at",
                "grid_code",
                "community_id",
                "street_id",
                "level",
                "assignee_staff_id",
                "assignee_department_id",
                "status",
                "deadline_at",
                "closed_at",
                "satisfaction",
                "geom",
            ],
        )
        ev = _rows(d.incident_events)
        pos = pd.Index(inc["incident_key"]).get_indexer(ev["incident_key"])
        if (pos < 0).any():
            raise ValueError("incident_events refer to an incident_key that is not in incidents")
        ev["incident_id"] = inc_ids[pos]
        actor = ev["actor_staff_key"]
        spos = pd.Index(sf["staff_key"]).get_indexer(actor.fillna(-1).to_numpy(dtype=np.int64))
        ev["actor_staff_id"] = pd.array(np.where(spos >= 0, sf["id"].to_numpy()[spos], 0), dtype="Int64")
        ev.loc[spos < 0, "actor_staff_id"] = pd.NA
        counts["incident_event"] = copy_csv(
            cur,
            "incident_event",
            ev,
            ["incident_id", "action", "from_status", "to_status", "actor_staff_id", "at", "note"],
        )
    return counts
