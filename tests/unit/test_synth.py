"""The synthetic demo district: deterministic, consistent and inside the real 薛城区 boundary."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import shapely

from gisgrid import vocab
from gisgrid.errors import InvalidInputError
from gisgrid.synth import DemoDistrict, district_boundary, generate_district, load_categories

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def district() -> DemoDistrict:
    return generate_district(seed=7, households=20_000, today=TODAY)


def _frames_equal(a: DemoDistrict, b: DemoDistrict) -> bool:
    for name, fa in a.frames().items():
        fb = b.frames()[name]
        if list(fa.columns) != list(fb.columns) or len(fa) != len(fb):
            return False
        for col in fa.columns:
            va, vb = fa[col], fb[col]
            if hasattr(va, "geom_type"):
                if not np.array_equal(shapely.to_wkb(va.values), shapely.to_wkb(vb.values)):
                    return False
            elif not va.astype(str).equals(vb.astype(str)):
                return False
    return True


def test_same_seed_same_frames(district: DemoDistrict) -> None:
    again = generate_district(seed=7, households=20_000, today=TODAY)
    assert _frames_equal(district, again)


def test_different_seeds_differ(district: DemoDistrict) -> None:
    other = generate_district(seed=8, households=20_000, today=TODAY)
    assert not _frames_equal(district, other)
    assert not np.array_equal(
        shapely.to_wkb(district.buildings.geometry.values[:50]),
        shapely.to_wkb(other.buildings.geometry.values[:50]),
    )


@pytest.mark.parametrize("households", [1, 3_999, 8_000, 60_001])
def test_households_add_up_exactly(households: int) -> None:
    d = generate_district(seed=2, households=households, today=TODAY)
    b = d.buildings
    assert int(b["households"].sum()) == households
    product = b["levels"] * b["units"] * b["per_floor"]
    assert (b["households"] <= product).all() and (b["households"] >= 1).all()
    assert (b["households"] != product).sum() <= 1  # only the last building may be trimmed


def test_buildings_are_realistic(district: DemoDistrict) -> None:
    b = district.buildings
    slab, tower = b[b["building_type"] == "residential_slab"], b[b["building_type"] == "residential_tower"]
    assert len(slab) and len(tower)
    assert slab["levels"].between(6, 7).all() and slab["units"].between(2, 4).all()
    assert (slab["per_floor"] == 2).all()
    assert tower["levels"].between(11, 33).all() and tower["units"].between(1, 2).all()
    assert tower["per_floor"].between(2, 4).all()
    assert (b["households_method"] == "supplied").all() and not b["households_estimated"].any()
    assert b["grid_code"].isna().all()


def test_default_district_shape() -> None:
    s = generate_district(today=TODAY).summary()
    assert 3 <= s["streets"] <= 5
    assert 13 <= s["communities"] <= 17
    assert s["households"] == 60_000
    assert 5_500 <= s["incidents"] <= 6_500
    assert set(s["stations_by_status"]) == set(vocab.STATION_STATUSES)
    assert all(isinstance(v, int | dict) for v in s.values())


def test_everything_inside_the_boundary(district: DemoDistrict) -> None:
    boundary = district_boundary()
    assert boundary.contains(shapely.Point(117.26, 34.80))
    shapely.prepare(boundary)
    for name, frame in district.frames().items():
        if hasattr(frame, "geometry") and name != "admin_areas":
            assert shapely.covers(boundary, frame.geometry.values).all(), name
    areas = district.admin_areas
    assert shapely.covers(boundary, areas.geometry.values).all()
    assert shapely.covers(boundary, district.buildings["entrance"].values).all()
    assert district.admin_areas.crs.to_epsg() == 4326


def test_codes_well_formed_and_unique(district: DemoDistrict) -> None:
    a = district.admin_areas
    assert a["code"].is_unique and a["code"].str.fullmatch(r"\d{12}").all()
    assert (a.loc[a["level"] == "district", "code"] == "370403000000").all()
    assert "（合成）" in a.loc[a["level"] == "district", "name"].iat[0]
    streets = a[a["level"] == "street"]
    comms = a[a["level"] == "community"]
    for code in streets["code"]:
        assert re.fullmatch(r"370403(0\d\d)000", code) and code[6:9] != "000"
    for code, parent in zip(comms["code"], comms["parent_code"], strict=True):
        assert code[:9] == parent[:9] and code[9:] != "000"
    assert district.complexes["complex_key"].is_unique
    assert district.buildings["source_ref"].is_unique and district.stations["source_ref"].is_unique
    assert district.property_companies["name"].is_unique
    assert district.incidents["idempotency_key"].is_unique
    assert district.incidents["category_code"].str.fullmatch(r"\d{5}").all()
    assert set(district.incidents["category_code"]) <= set(load_categories()["code"])
    for frame in district.frames().values():
        if "source" in frame and frame is not district.incidents:
            assert (frame["source"] == "synthetic").all()


def test_vocabularies(district: DemoDistrict) -> None:
    d = district
    assert set(d.admin_areas["level"]) <= set(vocab.AREA_LEVELS)
    assert set(d.complexes["management"]) <= set(vocab.MANAGEMENT_KINDS)
    assert set(d.complexes["party_org"]) <= set(vocab.PARTY_ORG_MODES)
    assert set(d.property_companies["credit"]) <= set(vocab.CREDIT_LEVELS)
    assert set(d.stations["kind"]) == set(vocab.STATION_KINDS)
    assert set(d.staff["role"]) <= set(vocab.STAFF_ROLES)
    assert set(d.assignments["target_kind"]) <= set(vocab.ASSIGNMENT_TARGETS)
    assert set(d.incidents["source"]) <= set(vocab.INCIDENT_SOURCES)
    assert set(d.incidents["level"]) <= set(vocab.INCIDENT_LEVELS)
    assert set(d.incident_events["to_status"]) <= set(vocab.INCIDENT_STATUSES)
    cx = d.complexes
    assert cx.loc[cx["management"] == "professional", "company_name"].notna().all()
    assert cx.loc[cx["management"] == "none", "company_name"].isna().all()
    assert (cx["management"] == "none").any()
    assert set(cx["company_name"].dropna()) <= set(d.property_companies["name"])


def test_geometries_valid(district: DemoDistrict) -> None:
    for name, frame in district.frames().items():
        if hasattr(frame, "geometry"):
            assert shapely.is_valid(frame.geometry.values).all(), name
            assert not shapely.is_empty(frame.geometry.values).any(), name
    assert (district.admin_areas.geom_type == "MultiPolygon").all()
    assert (district.buildings.geom_type == "MultiPolygon").all()
    assert (district.complexes.geom_type == "MultiPolygon").all()


def test_footprints_do_not_overlap_and_entrances_on_edge(district: DemoDistrict) -> None:
    geoms = district.buildings.geometry.values
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    assert (left == right).all()
    metric = district.buildings.to_crs(32650)
    area = metric.area
    slab = district.buildings["building_type"] == "residential_slab"
    assert area[slab].between(40 * 12 * 0.95, 80 * 12 * 1.05).all()
    assert area[~slab].between(19**2, 36**2).all()
    ent = district.buildings["entrance"].to_crs(32650)
    assert (shapely.distance(shapely.boundary(metric.geometry.values), ent.values) < 0.01).all()


def test_tiling(district: DemoDistrict) -> None:
    a = district.admin_areas
    comms, streets = a[a["level"] == "community"], a[a["level"] == "street"]
    for code, geom in zip(streets["code"], streets.geometry, strict=True):
        parts = comms[comms["parent_code"] == code].geometry
        union = shapely.union_all(parts.values)
        assert abs(union.area - geom.area) < 1e-9 * max(geom.area, 1)
        assert shapely.covers(geom.buffer(1e-9), parts.values).all()
    # communities do not overlap
    m = comms.to_crs(32650).geometry.values
    assert shapely.union_all(m).area == pytest.approx(shapely.area(m).sum(), rel=1e-6)
    # each building inside its community and complex
    b = district.buildings
    cg = dict(zip(comms["code"], comms.geometry, strict=True))
    xg = dict(zip(district.complexes["complex_key"], district.complexes.geometry, strict=True))
    assert all(cg[c].contains(g) for c, g in zip(b["community_code"], b.geometry, strict=True))
    assert all(xg[c].contains(g) for c, g in zip(b["complex_key"], b.geometry, strict=True))


def test_station_dates_consistent(district: DemoDistrict) -> None:
    s = district.stations
    assert set(s.loc[s["kind"] == "red_heart_station", "status"]) == set(vocab.STATION_STATUSES)
    assert s.loc[s["kind"] == "red_heart_station", "complex_key"].notna().all()
    two_years_ago = TODAY - dt.timedelta(days=731)
    for row in s.itertuples():
        dates = [row.planned_on, row.building_since, row.opened_on, row.closed_on]
        present = [x for x in dates if x is not None and not pd.isna(x)]
        assert present == sorted(present) and all(x <= TODAY for x in present)
        if row.kind == "red_heart_station":
            assert row.planned_on >= two_years_ago
        need = {"building": row.building_since, "open": row.opened_on, "closed": row.closed_on}
        if row.status in need:
            assert need[row.status] is not None and not pd.isna(need[row.status])
    assert (s["service_radius_m"] > 0).all() and (s["service_radius_m"] <= 20_000).all()


def test_incidents_history(district: DemoDistrict) -> None:
    inc, ev = district.incidents, district.incident_events
    assert len(inc) == 2_000
    start = pd.Timestamp(dt.datetime.combine(TODAY, dt.time(0), tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert (inc["reported_at"] < start).all() and (inc["reported_at"] >= start - pd.Timedelta(days=366)).all()
    assert ((inc["closed_at"].isna()) | (inc["closed_at"] >= inc["reported_at"])).all()
    rated = inc["status"] == "rated"
    assert inc.loc[rated, "satisfaction"].between(1, 5).all() and inc.loc[~rated, "satisfaction"].isna().all()
    assert rated.mean() > 0.5 and (~inc["status"].isin(["closed", "rated", "rejected", "backlog"])).any()
    last = ev.groupby("incident_key").tail(1).set_index("incident_key")["to_status"]
    assert (last.reindex(inc["incident_key"]).to_numpy() == inc["status"].to_numpy()).all()
    assert ev.groupby("incident_key")["at"].apply(lambda t: t.is_monotonic_increasing).all()
    assert (ev.groupby("incident_key").head(1)["to_status"] == "reported").all()
    assert inc["grid_code"].isna().all()


def test_invalid_households() -> None:
    with pytest.raises(InvalidInputError):
        generate_district(households=0, today=TODAY)
    with pytest.raises(InvalidInputError):
        generate_district(households=50_000_000, today=TODAY)


def test_import_does_not_pull_in_sqlalchemy() -> None:
    code = (
        "import sys, gisgrid.synth; "
        "print([m for m in ('sqlalchemy', 'fastapi', 'layers', 'api') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
