"""Loading the synthetic demo district into real PostGIS."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text

from gisgrid.synth import DemoDistrict, generate_district
from layers.demo import load_district

TODAY = dt.date(2026, 11, 23)
HOUSEHOLDS = 8_000


@pytest.fixture(scope="module")
def district() -> DemoDistrict:
    return generate_district(seed=11, households=HOUSEHOLDS, today=TODAY)


# the demo rows of each table (other tests may share the database, so never count foreign rows)
SYNTHETIC_ROWS = {
    "admin_area": "SELECT count(*) FROM admin_area WHERE source = 'synthetic'",
    "property_company": "SELECT count(*) FROM property_company WHERE source = 'synthetic'",
    "complex": "SELECT count(*) FROM complex WHERE source = 'synthetic'",
    "building": "SELECT count(*) FROM building WHERE source = 'synthetic'",
    "street_node": "SELECT count(*) FROM street_node WHERE source_ref LIKE 'synthetic:%'",
    "street_edge": "SELECT count(*) FROM street_edge WHERE source = 'synthetic'",
    "station": "SELECT count(*) FROM station WHERE source = 'synthetic'",
    "department": "SELECT count(*) FROM department WHERE code LIKE '370403-%'",
    "staff": "SELECT count(*) FROM staff WHERE phone LIKE 'SYN-%'",
    "assignment": "SELECT count(*) FROM assignment a JOIN staff s ON s.id = a.staff_id"
    " WHERE s.phone LIKE 'SYN-%'",
    "incident": "SELECT count(*) FROM incident WHERE idempotency_key LIKE 'synthetic:%'",
    "incident_event": "SELECT count(*) FROM incident_event e JOIN incident i ON i.id = e.incident_id"
    " WHERE i.idempotency_key LIKE 'synthetic:%'",
}
HOUSEHOLDS_SQL = "SELECT sum(households) FROM building WHERE source = 'synthetic'"


def scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


AREA_IDS = "SELECT code, id FROM admin_area WHERE source = 'synthetic'"


def counts_of(district: DemoDistrict) -> dict[str, int]:
    return {
        "admin_area": len(district.admin_areas),
        "property_company": len(district.property_companies),
        "complex": len(district.complexes),
        "building": len(district.buildings),
        "street_node": len(district.street_nodes),
        "street_edge": len(district.street_edges),
        "station": len(district.stations),
        "department": len(district.departments),
        "staff": len(district.staff),
        "assignment": len(district.assignments),
        "incident": len(district.incidents),
        "incident_event": len(district.incident_events),
    }


def test_counts_match_frames(clean_db: Engine, district: DemoDistrict) -> None:
    counts = load_district(clean_db, district)
    for table, n in counts_of(district).items():
        assert counts[table] == n, table
        assert scalar(clean_db, SYNTHETIC_ROWS[table]) == n, table
    assert scalar(clean_db, HOUSEHOLDS_SQL) == HOUSEHOLDS


def test_spatial_consistency(clean_db: Engine, district: DemoDistrict) -> None:
    load_district(clean_db, district)
    # every building inside its community and its complex, every station in its community
    assert (
        scalar(clean_db, "SELECT count(*) FROM building WHERE community_id IS NULL OR complex_id IS NULL")
        == 0
    )
    assert (
        scalar(
            clean_db,
            """
        SELECT count(*) FROM building b JOIN admin_area a ON a.id = b.community_id
        WHERE NOT ST_Within(b.geom, a.geom) OR NOT ST_Covers(a.geom, b.entrance)""",
        )
        == 0
    )
    assert (
        scalar(
            clean_db,
            """
        SELECT count(*) FROM building b JOIN complex c ON c.id = b.complex_id
        WHERE NOT ST_Within(b.geom, c.geom) OR c.community_id <> b.community_id""",
        )
        == 0
    )
    assert (
        scalar(
            clean_db,
            """
        SELECT count(*) FROM station s JOIN admin_area a ON a.id = s.community_id
        WHERE NOT ST_Covers(a.geom, s.geom)""",
        )
        == 0
    )
    assert scalar(clean_db, "SELECT count(*) FROM station WHERE community_id IS NULL") == 0
    assert (
        scalar(
            clean_db,
            """
        SELECT count(*) FROM station s JOIN complex c ON c.id = s.complex_id
        WHERE NOT ST_Covers(c.geom, s.geom)""",
        )
        == 0
    )
    assert (
        scalar(
            clean_db, "SELECT count(*) FROM station WHERE kind = 'red_heart_station' AND complex_id IS NULL"
        )
        == 0
    )
    # communities within their street, streets within the district
    assert (
        scalar(
            clean_db,
            """
        SELECT count(*) FROM admin_area c JOIN admin_area p ON p.id = c.parent_id
        WHERE NOT ST_CoveredBy(c.geom, p.geom)""",
        )
        == 0
    )
    assert (
        scalar(
            clean_db,
            """
        SELECT count(*) FROM incident i JOIN admin_area a ON a.id = i.community_id
        WHERE NOT ST_Covers(a.geom, i.geom) OR i.street_id <> a.parent_id""",
        )
        == 0
    )
    # valid geometries everywhere
    for table, col in [
        ("admin_area", "geom"),
        ("complex", "geom"),
        ("building", "geom"),
        ("building", "entrance"),
        ("station", "geom"),
        ("street_edge", "geom"),
        ("street_node", "geom"),
        ("incident", "geom"),
    ]:
        assert scalar(clean_db, f"SELECT count(*) FROM {table} WHERE NOT ST_IsValid({col})") == 0, table
    # every event belongs to an incident whose last event is its status
    assert (
        scalar(
            clean_db,
            """
        SELECT count(*) FROM incident i JOIN LATERAL (
            SELECT to_status FROM incident_event e WHERE e.incident_id = i.id
            ORDER BY at DESC, id DESC LIMIT 1
        ) last ON true WHERE last.to_status <> i.status""",
        )
        == 0
    )
    # street edge lengths agree with PostGIS geography lengths (metric, within 1 %)
    assert (
        scalar(
            clean_db,
            """
        SELECT count(*) FROM street_edge
        WHERE abs(length_m - ST_Length(geom::geography)) > 0.01 * length_m""",
        )
        == 0
    )


def test_reload_replaces(clean_db: Engine, district: DemoDistrict) -> None:
    load_district(clean_db, district)
    with clean_db.connect() as conn:
        area_ids = dict(conn.execute(text(AREA_IDS)).all())
    load_district(clean_db, district)
    for table, sql in SYNTHETIC_ROWS.items():
        if table != "department":
            assert scalar(clean_db, sql) == counts_of(district)[table], table
    assert scalar(clean_db, HOUSEHOLDS_SQL) == HOUSEHOLDS
    with clean_db.connect() as conn:
        assert dict(conn.execute(text(AREA_IDS)).all()) == area_ids  # stable ids

    # a different, smaller district replaces the first one and drops the areas it no longer has
    smaller = generate_district(seed=3, households=4_000, today=TODAY)
    load_district(clean_db, smaller)
    assert scalar(clean_db, SYNTHETIC_ROWS["admin_area"]) == len(smaller.admin_areas)
    assert scalar(clean_db, SYNTHETIC_ROWS["building"]) == len(smaller.buildings)
    assert scalar(clean_db, HOUSEHOLDS_SQL) == 4_000


def test_rows_that_are_not_synthetic_survive(clean_db: Engine, district: DemoDistrict) -> None:
    with clean_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO property_company (name, credit, source) VALUES ('真实物业', 'normal', 'manual')"
            )
        )
        conn.execute(
            text("INSERT INTO staff (name, role, phone) VALUES ('张三', 'grid_worker', '13800000000')")
        )
    load_district(clean_db, district)
    load_district(clean_db, district)
    assert scalar(clean_db, "SELECT count(*) FROM property_company WHERE source = 'manual'") == 1
    assert scalar(clean_db, "SELECT count(*) FROM staff WHERE phone = '13800000000'") == 1


def test_load_is_one_transaction(clean_db: Engine, district: DemoDistrict) -> None:
    load_district(clean_db, district)
    with clean_db.connect() as conn:
        conn.begin()
        load_district(conn, district)  # inside the caller's transaction …
        assert conn.execute(text(SYNTHETIC_ROWS["building"])).scalar_one() == len(district.buildings)
        conn.execute(text("DELETE FROM building WHERE source = 'synthetic'"))
        conn.rollback()  # … which the caller may roll back
    assert scalar(clean_db, SYNTHETIC_ROWS["building"]) == len(district.buildings)
