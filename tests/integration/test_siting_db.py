"""Siting, coverage maps and complex indicators on a synthetic district in PostGIS: suggestions add what
they say, set covering leaves only the unreachable, scope limits the area, the rollout's last month is
today's coverage, indicators add up and the CLI's --json is clean JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gisgrid.coverage.reach import covered_mask
from gisgrid.errors import InvalidInputError, PermissionDeniedError
from gisgrid.synth import generate_district
from layers.coverage.siting import suggest, suggestions_payload
from layers.coverage_maps import coverage_layers, rollout_layers
from layers.demo import load_district
from layers.indicators import indicators, indicators_csv
from tests.conftest import truncate_all

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> Iterator[Engine]:
    truncate_all(engine)
    load_district(engine, generate_district(seed=5, households=12_000, today=TODAY))
    yield engine
    truncate_all(engine)


@pytest.fixture
def session(loaded: Engine) -> Iterator[Session]:
    with Session(loaded) as s:
        yield s
        s.rollback()


def streets_and_communities(session: Session) -> tuple[list[str], list[str]]:
    from sqlalchemy import text

    rows = session.execute(text("SELECT code, level FROM admin_area ORDER BY code")).all()
    return [c for c, lv in rows if lv == "street"], [c for c, lv in rows if lv == "community"]


@pytest.mark.parametrize("kind", ["red_heart_station", "service_station"])
def test_suggestions_add_what_they_say(session: Session, kind: str) -> None:
    inputs, candidates, result = suggest(session, kind=kind, count=4, as_of=TODAY)
    assert 0 < len(result.suggestions) <= 4
    assert all(s.adds > 0 for s in result.suggestions)
    # open the suggested sites: the households the flow then finds covered are what it promised
    chosen = candidates.take(result.chosen)
    from gisgrid.network import Snap

    both = Snap.concat([inputs.existing, chosen.snap])
    now = covered_mask(inputs.net, both, inputs.demand.snap, inputs.threshold_m)
    assert inputs.demand.weight[now].sum() == pytest.approx(result.covered_after)
    assert result.covered_after == pytest.approx(result.covered_before + sum(s.adds for s in result.suggestions))
    payload = suggestions_payload(session, inputs, candidates, result)
    json.dumps(payload)  # plain JSON all the way down
    assert payload["households"]["covered_after"] == round(result.covered_after)
    assert [s["rank"] for s in payload["suggestions"]] == list(range(1, len(result.suggestions) + 1))


def test_set_covering_leaves_only_the_unreachable(session: Session) -> None:
    result = suggest(session, kind="service_station", method="lscp", as_of=TODAY)[2]
    assert result.status == "optimal"
    assert result.covered_after + result.unreachable == pytest.approx(result.demand_total)
    fewer = suggest(session, kind="service_station", count=max(1, len(result.suggestions) - 1), as_of=TODAY)[2]
    assert fewer.covered_after < result.covered_after  # one site fewer cannot reach them all


def test_scope_limits_the_area(session: Session) -> None:
    streets, communities = streets_and_communities(session)
    inside = [c for c in communities if c.startswith(streets[0][:9])]
    inputs = suggest(session, kind="service_station", count=2, as_of=TODAY, scope_code=streets[0])[0]
    assert set(inputs.buildings["community_code"]) <= set(inside)
    assert inputs.area_code == streets[0]
    narrower = suggest(session, kind="service_station", count=2, as_of=TODAY, scope_code=streets[0],
                       area_code=inside[0])[0]
    assert set(narrower.buildings["community_code"]) == {inside[0]}
    with pytest.raises(PermissionDeniedError) as err:
        suggest(session, kind="service_station", count=2, scope_code=inside[0], area_code=streets[-1])
    assert err.value.field == "code"
    with pytest.raises(InvalidInputError) as bad:
        suggest(session, kind="service_station", method="mclp", count=None)
    assert bad.value.field == "count"


def test_the_rollouts_last_month_is_the_coverage_of_its_last_day(session: Session) -> None:
    until = dt.date(2026, 10, 31)
    rollout = rollout_layers(session, kind="red_heart_station", until=until)
    coverage = coverage_layers(session, kind="red_heart_station", as_of=until)
    last = rollout["monthly"].iloc[-1]
    assert last["month"] == dt.date(2026, 10, 1)
    assert last["households_covered"] == pytest.approx(coverage["figures"]["households_covered"])
    assert last["open"] == coverage["figures"]["stations_open"]
    assert len(coverage["service_areas"]) == coverage["figures"]["stations_open"]
    assert rollout["monthly"]["households_covered"].is_monotonic_increasing or (rollout["monthly"]["closed"] > 0).any()
    assert coverage["uncovered"]["households"].sum() == pytest.approx(
        coverage["figures"]["households_total"] - coverage["figures"]["households_covered"])


def test_indicators_add_up_and_export_with_a_bom(session: Session) -> None:
    streets, communities = streets_and_communities(session)
    by_community = indicators(session, level="community", as_of=TODAY)
    by_street = indicators(session, level="street", as_of=TODAY)
    district = indicators(session, level="district", as_of=TODAY)
    assert [r["code"] for r in by_community["rows"]] == communities
    for street in by_street["rows"]:
        parts = [r for r in by_community["rows"] if r["code"].startswith(street["code"][:9])]
        for key in ("complexes", "professional", "unmanaged", "owners_committee", "company_black", "households"):
            assert street[key] == sum(r[key] for r in parts), key
    assert district["totals"]["complexes"] == by_street["totals"]["complexes"] == sum(
        r["complexes"] for r in by_street["rows"])
    assert district["totals"]["unmanaged"] == district["totals"]["unmanaged_community_fallback"]  # grid chiefs
    raw = indicators_csv({k: v for k, v in by_street.items() if k != "_table"})
    assert raw.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["code"] for r in table] == [*streets, "total"]
    with pytest.raises(InvalidInputError) as err:
        indicators(session, level="street", code=communities[0])
    assert err.value.field == "level"


def test_cli_json_is_clean_json(loaded: Engine, db_url: str, tmp_path: Path) -> None:
    """Run as a process: HiGHS prints a banner straight to file descriptor 1, out of pytest's sight."""
    script = ("from layers.cli import app; from layers.cli.coverage_extra import register; register(app); "
              "app(prog_name='gisgrid')")
    env = {**os.environ, "GISGRID_DATABASE_URL": db_url}
    out = subprocess.run(
        [sys.executable, "-c", script, "coverage", "suggest", "--kind", "service_station", "--count", "3",
         "--date", TODAY.isoformat(), "--json"],
        capture_output=True, text=True, env=env, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    payload = json.loads(out.stdout)
    assert len(payload["suggestions"]) == 3 and payload["solver"]["name"] == "HiGHS"
    bad = subprocess.run([sys.executable, "-c", script, "coverage", "suggest", "--json"], capture_output=True,
                         text=True, env=env, check=False)
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"]["field"] == "--count"
    shown = subprocess.run([sys.executable, "-c", script, "complexes", "indicators", "--level", "street", "--json"],
                           capture_output=True, text=True, env=env, check=False)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert json.loads(shown.stdout)["totals"]["complexes"] > 0
    assert np.isfinite(payload["households"]["share_after"])
    for what in ("coverage", "rollout", "complexes"):
        out = tmp_path / f"{what}.html"
        done = subprocess.run([sys.executable, "-c", script, "map", "render", what, str(out), "--lang", "en",
                               "--suggest", "2" if what == "coverage" else "0", "--json"],
                              capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout)["written"] == str(out)
        page = out.read_text(encoding="utf-8")
        assert "/static/" not in page and "<script src=" not in page  # it opens from disk
