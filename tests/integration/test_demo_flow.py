"""The demo as ``make demo`` runs it — load the district, make the demo logins, plan and publish every
community — leaves a patrol login that stands for a grid worker with a grid, and incidents that know their
grid (publishing gives the incidents with no grid the new grid that covers them), so per-grid KPIs are not
empty. Complexes and buildings in the plan's problems are named, not numbered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gisgrid.synth import generate_district
from layers import grids as lg
from layers.accounts import create_demo_users
from layers.demo import load_district
from layers.kpis import compute

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[Engine]:
    from tests.conftest import truncate_all

    truncate_all(engine)
    load_district(engine, generate_district(seed=5, households=6_000, today=TODAY))
    yield engine
    truncate_all(engine)


def test_make_demo_leaves_a_working_patrol_login_and_incidents_in_grids(demo: Engine) -> None:
    with Session(demo) as session, session.begin():
        before = session.execute(text("SELECT count(*), count(grid_id) FROM incident")).one()
        assert before[0] > 100 and before[1] == 0  # generated before any grid exists
        users = {u["username"]: u for u in create_demo_users(session)}
        reports = lg.plan_communities(session, None, publish=True)
    attached = sum(r.published.incidents_attached for r in reports if r.published is not None)
    with Session(demo) as session:
        counts = session.execute(text(
            "SELECT count(*), count(i.grid_id), count(*) FILTER (WHERE i.grid_code = g.code) "
            "FROM incident i LEFT JOIN grid g ON g.id = i.grid_id")).one()
        # every incident inside a grid got it, with its code; only points outside every grid stay without
        outside = session.execute(text(
            "SELECT count(*) FROM incident i WHERE NOT EXISTS (SELECT 1 FROM grid g WHERE g.valid_to IS NULL "
            "AND ST_Covers(g.geom, i.geom))")).scalar_one()
        assert counts[1] == counts[2] == attached == counts[0] - outside and attached > 0.95 * counts[0]
        patrol = users["demo_patrol"]
        assert patrol["staff_id"] is not None
        grid = session.execute(text(
            "SELECT a.target_ref FROM assignment a JOIN staff s ON s.id = a.staff_id WHERE a.staff_id = :s "
            "AND a.target_kind = 'grid' AND a.valid_to IS NULL AND s.role = 'grid_worker'"),
            {"s": patrol["staff_id"]}).scalar_one()
        assert grid.startswith(patrol["scope_area_code"])
        table, _ = compute(session, by="grid", now=dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
        assert len(table) > 10 and table["received"].sum() > 0.95 * counts[0]
    # the plan's problems name a complex by name and source id
    messages = [p.message for r in reports for p in r.problems if p.rule == "complex split"]
    assert messages and all("(id " in m and "source syn-complex-" in m for m in messages)
    assert all(r.complex_splits["split"] == sum(p.rule == "complex split" for p in r.problems) for r in reports)


def test_a_later_publish_keeps_the_grid_an_incident_was_given(demo: Engine) -> None:
    with Session(demo) as session, session.begin():
        code = session.execute(text(
            "SELECT a.code FROM admin_area a WHERE a.level = 'community' AND EXISTS "
            "(SELECT 1 FROM grid g WHERE g.community_id = a.id) ORDER BY a.code")).scalars().first()
        before = dict(session.execute(text(
            "SELECT i.id, i.grid_id FROM incident i JOIN grid g ON g.id = i.grid_id WHERE g.code LIKE :p"),
            {"p": code + "%"}).all())
        report = lg.plan_community(session, code, publish=True, seed=1)
        assert report.published is not None and report.published.incidents_attached == 0
        after = dict(session.execute(text("SELECT id, grid_id FROM incident WHERE id = ANY(:ids)"),
                                     {"ids": list(before)}).all())
        assert after == before  # the boundary valid when it was reported stays the incident's
