"""The reference data intake keeps in memory (layers/placement.py, gisgrid/incidents/reference.py): it
answers what PostGIS would, and a change to the reference data reaches the very next report — never a
change that was rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from layers.incidents.intake import intake
from layers.models import Assignment, Grid, Staff
from layers.placement import ReferenceCache, default_cache
from tests.integration.test_incident_intake import (
    AFTER,
    BEFORE,
    G1,
    LAT,
    M_PER_DEG_LON,
    PATROL,
    World,
    box,
    build_world,
    report,
)

# What INTAKE_SQL used to ask PostGIS, for one point at one time.
POSTGIS_SQL = text("""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
gr AS (SELECT g.id, g.community_id FROM grid g, p WHERE ST_Covers(g.geom, p.g) AND g.status <> 'draft'
         AND g.valid_from <= :at AND (g.valid_to IS NULL OR g.valid_to > :at) ORDER BY g.id LIMIT 1),
comm AS (SELECT a.id, a.parent_id FROM admin_area a WHERE a.id = COALESCE((SELECT community_id FROM gr),
           (SELECT a2.id FROM admin_area a2, p WHERE a2.level = 'community' AND ST_Covers(a2.geom, p.g)
            ORDER BY a2.id LIMIT 1)))
SELECT (SELECT id FROM gr) AS grid_id, (SELECT id FROM comm) AS community_id,
       (SELECT a.id FROM admin_area a WHERE a.level IN ('street', 'town') AND a.id = COALESCE(
            (SELECT parent_id FROM comm), (SELECT a2.id FROM admin_area a2, p WHERE a2.level IN ('street', 'town')
             AND ST_Covers(a2.geom, p.g) ORDER BY a2.id LIMIT 1))) AS street_id,
       (SELECT min(ST_Distance(ST_Boundary(g.geom)::geography, p.g::geography)) FROM grid g, p
        WHERE g.geom && ST_Expand(p.g, :deg) AND g.status <> 'draft'
          AND g.valid_from <= :at AND (g.valid_to IS NULL OR g.valid_to > :at)) AS edge_m
""")


@pytest.fixture
def world(clean_db: Engine) -> Iterator[World]:
    with Session(clean_db, expire_on_commit=False) as s:
        yield build_world(s)


@pytest.mark.parametrize("at", [BEFORE, AFTER])
def test_the_cache_answers_what_postgis_would(world: World, clean_db: Engine, at: dt.datetime) -> None:
    rng = np.random.default_rng(5)
    # random points over the district and beyond it, and points on and beside the grid boundaries
    xs = np.concatenate([rng.uniform(116.29, 116.41, 150), [116.325, 116.33, 116.35, 116.33 - 1e-5, 116.30]])
    ys = np.concatenate([rng.uniform(39.89, 39.97, 150), [LAT, LAT, LAT, LAT, 39.90]])
    deg = 5e-4
    with Session(clean_db) as s:
        ref = ReferenceCache().get(s)
        for lon, lat in zip(xs.tolist(), ys.tolist(), strict=True):
            want = s.execute(POSTGIS_SQL, {"lon": lon, "lat": lat, "at": at, "deg": deg}).mappings().one()
            got = ref.place(lon, lat, at, at.date(), boundary_deg=deg, need_worker=False, need_complex=False,
                            need_police=False, dept_code=None, dept_any=False, category="06010")
            assert (got.grid_id, got.community_id, got.street_id) == (
                want["grid_id"], want["community_id"], want["street_id"]), (lon, lat)
            if want["edge_m"] is None:
                assert got.edge_m is None, (lon, lat)
            else:  # PostGIS measures to great-circle edges, the cache to edges straight in lon/lat (as
                # ST_Covers sees them): on these 2–2.6 km edges they part by up to 11 cm mid-edge
                assert got.edge_m == pytest.approx(want["edge_m"], abs=0.15), (lon, lat)


def test_a_reference_change_reaches_the_next_report(world: World, clean_db: Engine) -> None:
    cache = default_cache()
    first = report(clean_db, lon=116.31).to_dict()["assignment"]
    assert first["assignee_staff_id"] == world.worker.id
    loads = cache.loads
    assert report(clean_db, lon=116.311).to_dict()["assignment"]["grid_code"] == G1
    assert cache.loads == loads  # nothing changed: no reload
    with Session(clean_db) as s, s.begin():  # another grid worker takes over G1 …
        other = Staff(name="网格员乙", role="grid_worker", community_id=world.a.id)
        s.add(other)
        s.flush()
        s.execute(text("DELETE FROM assignment WHERE target_ref = :g"), {"g": G1})
        s.add(Assignment(staff_id=other.id, target_kind="grid", target_ref=G1, valid_from=date(2024, 1, 1)))
        other_id = other.id
    # … and G1's current version shrinks to end 100 m west of 116.31
    with Session(clean_db) as s, s.begin():
        s.execute(text("UPDATE grid SET geom = ST_GeomFromText(:g, 4326) WHERE code = :c AND version = 2"),
                  {"g": box(116.30, 39.90, 116.31 - 100 / M_PER_DEG_LON, 39.96).data, "c": G1})
    assert report(clean_db, lon=116.305).to_dict()["assignment"]["assignee_staff_id"] == other_id
    assert cache.loads > loads
    moved = report(clean_db, lon=116.31).to_dict()["assignment"]
    assert moved["located_in"] == "community" and moved["grid_code"] is None


def test_a_rolled_back_change_never_reaches_a_report(world: World, clean_db: Engine) -> None:
    lon = 116.37  # community B has no grid
    with Session(clean_db) as s:
        s.add(Grid(code=world.b.code + "001", version=1, community_id=world.b.id, status="active",
                   valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), geom=box(116.35, 39.90, 116.40, 39.96)))
        s.flush()
        # in the same transaction the new grid is there (and the cache is filled with it) …
        seen = intake(s, {"lon": lon, "lat": LAT, "category_code": "06010", "source": "patrol",
                          "reported_at": AFTER.isoformat()}, actor=PATROL, now=AFTER + dt.timedelta(hours=1))
        assert seen.answer["assignment"]["located_in"] == "grid"
        s.rollback()
    # … and after the rollback it never was
    after = report(clean_db, lon=lon).to_dict()["assignment"]
    assert after["located_in"] == "community" and after["grid_code"] is None


def test_the_generation_row_comes_back_after_a_truncate(world: World, clean_db: Engine) -> None:
    report(clean_db, lon=116.31)
    with clean_db.begin() as conn:
        conn.execute(text("TRUNCATE reference_generation"))
    assert report(clean_db, lon=116.312).to_dict()["assignment"]["grid_code"] == G1
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM reference_generation")).scalar_one() == 1
