"""The database keeps the data honest even when a caller does not: each rule is a constraint."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

SQUARE = "SRID=4326;MULTIPOLYGON(((117.25 34.79,117.26 34.79,117.26 34.80,117.25 34.80,117.25 34.79)))"
BOWTIE = "SRID=4326;MULTIPOLYGON(((117.25 34.79,117.26 34.80,117.26 34.79,117.25 34.80,117.25 34.79)))"
POINT = "SRID=4326;POINT(117.255 34.795)"


def _community(db: Session, code: str = "370403001001") -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO admin_area (code, level, name, geom) VALUES (:c, 'community', '测试社区', :g) RETURNING id"
            ),
            {"c": code, "g": SQUARE},
        ).scalar_one()
    )


def _violates(db: Session, constraint: str, sql: str, **params: object) -> None:
    with pytest.raises(IntegrityError) as info, db.begin_nested():
        db.execute(text(sql), params)
    assert constraint in str(info.value)


def test_admin_area_code_must_have_12_digits(db: Session) -> None:
    _violates(
        db,
        "ck_admin_area_code_12_digits",
        "INSERT INTO admin_area (code, level, name, geom) VALUES ('3704030010', 'community', 'x', :g)",
        g=SQUARE,
    )


def test_invalid_geometry_is_refused(db: Session) -> None:
    _violates(
        db,
        "ck_admin_area_geom_valid",
        "INSERT INTO admin_area (code, level, name, geom) VALUES ('370403001009', 'community', 'x', :g)",
        g=BOWTIE,
    )


def test_level_must_be_known(db: Session) -> None:
    _violates(
        db,
        "ck_admin_area_level_allowed",
        "INSERT INTO admin_area (code, level, name, geom) VALUES ('370403001009', 'province', 'x', :g)",
        g=SQUARE,
    )


def test_grid_codes_unique_per_version_and_one_current(db: Session) -> None:
    cid = _community(db)
    insert = (
        "INSERT INTO grid (code, version, community_id, households, valid_from, valid_to, geom) "
        "VALUES ('370403001001001', :v, :c, 400, :f, :t, :g)"
    )
    db.execute(text(insert), {"v": 1, "c": cid, "f": "2025-01-01", "t": "2025-06-01", "g": SQUARE})
    db.execute(text(insert), {"v": 2, "c": cid, "f": "2025-06-01", "t": None, "g": SQUARE})
    _violates(db, "uq_grid_code_version", insert, v=2, c=cid, f="2025-07-01", t="2025-08-01", g=SQUARE)
    _violates(db, "uq_grid_code_current", insert, v=3, c=cid, f="2025-07-01", t=None, g=SQUARE)


def test_grid_households_non_negative_and_period_ordered(db: Session) -> None:
    cid = _community(db)
    _violates(
        db,
        "ck_grid_households_non_negative",
        "INSERT INTO grid (code, community_id, households, geom) VALUES ('370403001001001', :c, -1, :g)",
        c=cid,
        g=SQUARE,
    )
    _violates(
        db,
        "ck_grid_valid_period",
        "INSERT INTO grid (code, community_id, valid_from, valid_to, geom) "
        "VALUES ('370403001001001', :c, '2025-02-01', '2025-01-01', :g)",
        c=cid,
        g=SQUARE,
    )


def test_building_households_and_estimate_flag(db: Session) -> None:
    sql = (
        "INSERT INTO building (households, households_estimated, households_method, geom, entrance) "
        "VALUES (:h, :e, :m, :g, :p)"
    )
    _violates(db, "ck_building_households_non_negative", sql, h=-3, e=False, m="supplied", g=SQUARE, p=POINT)
    _violates(
        db, "ck_building_estimate_flag_matches_method", sql, h=30, e=False, m="levels", g=SQUARE, p=POINT
    )
    db.execute(text(sql), {"h": 30, "e": True, "m": "levels", "g": SQUARE, "p": POINT})


def test_station_status_needs_its_date_and_dates_in_order(db: Session) -> None:
    sql = (
        "INSERT INTO station (name, kind, status, planned_on, building_since, opened_on, geom) "
        "VALUES ('驿站', 'red_heart_station', :s, :p, :b, :o, :g)"
    )
    _violates(
        db, "ck_station_status_has_date", sql, s="open", p="2025-01-01", b="2025-02-01", o=None, g=POINT
    )
    _violates(
        db,
        "ck_station_dates_in_order",
        sql,
        s="open",
        p="2025-01-01",
        b="2025-03-01",
        o="2025-02-01",
        g=POINT,
    )
    _violates(
        db,
        "ck_station_kind_allowed",
        "INSERT INTO station (name, kind, geom) VALUES ('x', 'kiosk', :g)",
        g=POINT,
    )


def test_unmanaged_complex_has_no_company(db: Session) -> None:
    company = db.execute(
        text("INSERT INTO property_company (name) VALUES ('某物业') RETURNING id")
    ).scalar_one()
    _violates(
        db,
        "ck_complex_unmanaged_has_no_company",
        "INSERT INTO complex (name, management, property_company_id, geom) VALUES ('x', 'none', :c, :g)",
        c=company,
        g=SQUARE,
    )
    _violates(
        db,
        "ck_complex_professional_needs_company",
        "INSERT INTO complex (name, management, geom) VALUES ('x', 'professional', :g)",
        g=SQUARE,
    )


def test_incident_satisfaction_and_category(db: Session) -> None:
    sql = "INSERT INTO incident (category_code, source, satisfaction, geom) VALUES (:c, 'resident', :s, :g)"
    _violates(db, "ck_incident_satisfaction_range", sql, c="06010", s=6, g=POINT)
    _violates(db, "ck_incident_category_5_digits", sql, c="6010", s=5, g=POINT)
    _violates(
        db,
        "uq_incident_idempotency_key",
        "INSERT INTO incident (category_code, source, idempotency_key, geom) VALUES "
        "('06010', 'app', 'k1', :g), ('06010', 'app', 'k1', :g)",
        g=POINT,
    )
