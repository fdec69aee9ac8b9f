"""Siting suggestions for the CLI and the API: where new stations of a kind would reach the most
uncovered households (maximal covering), or the fewest that reach them all (set covering).

The flow reads the area's demand and the stations (:mod:`layers.coverage_inputs`), builds the
candidates (complex entrances and building doors of the area, or the points a planner gives), measures
candidate × building reach over the street network and hands it to :mod:`gisgrid.coverage.siting`.
Nothing is written: a suggestion is advice until a planner creates the station.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy.orm import Session

from gisgrid.coverage.reach import reach
from gisgrid.coverage.sites import Candidates, candidate_sites
from gisgrid.coverage.siting import SitingResult, maximal_covering, set_covering
from gisgrid.errors import InvalidInputError
from layers.coverage_inputs import CoverageInputs, area_name, coverage_inputs, read_complexes

__all__ = ["MAX_COUNT", "MAX_GIVEN", "SitePoint", "suggest", "suggestions_payload"]

MAX_COUNT = 500  # more new stations than this in one ask is a typo, not a plan
MAX_GIVEN = 5_000
UNREACHABLE_LISTED = 100  # the JSON lists this many unreachable buildings (the count is always given)
SitePoint = tuple[float, float, str]  # lon, lat (WGS84), name


def _given_frame(given: Sequence[SitePoint]) -> gpd.GeoDataFrame:
    if len(given) > MAX_GIVEN:
        raise InvalidInputError(f"at most {MAX_GIVEN} candidate points", field="candidates", rule="size")
    lon = np.array([float(g[0]) for g in given])
    lat = np.array([float(g[1]) for g in given])
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"candidate {k} is not a WGS84 longitude/latitude: ({lon[k]}, {lat[k]})",
            field=f"candidates[{k}]",
            feature=k,
            rule="-180 <= lon <= 180, -90 <= lat <= 90",
        )
    names = [str(g[2]) if len(g) > 2 and g[2] else f"#{k + 1}" for k, g in enumerate(given)]
    return gpd.GeoDataFrame({"name": names}, geometry=shapely.points(lon, lat), crs=4326)


def _candidates(session: Session, inputs: CoverageInputs, given: Sequence[SitePoint] | None) -> Candidates:
    if given:
        return candidate_sites(inputs.net, given=_given_frame(given))
    complexes = read_complexes(session, inputs.area_code)
    buildings = inputs.buildings.copy()
    label = buildings["name"].fillna("").astype(str)
    numbered = "#" + buildings["id"].astype(str)
    buildings["name"] = (
        buildings["complex_name"].fillna("").astype(str) + " " + label.where(label != "", numbered)
    )
    return candidate_sites(inputs.net, complexes=complexes, buildings=buildings)


def suggest(
    session: Session,
    *,
    kind: str,
    method: str = "mclp",
    count: int | None = None,
    as_of: dt.date | None = None,
    threshold_m: float | None = None,
    area_code: str | None = None,
    scope_code: str | None = None,
    include_planned: bool = False,
    given: Sequence[SitePoint] | None = None,
    time_limit: float = 60.0,
) -> tuple[CoverageInputs, Candidates, SitingResult]:
    """Run maximal covering (``method="mclp"``, ``count`` new sites) or set covering (``"lscp"``)."""
    if method not in ("mclp", "lscp"):
        raise InvalidInputError(
            f"unknown method {method!r}; use mclp or lscp", field="method", rule="mclp|lscp"
        )
    if method == "mclp" and (count is None or not 1 <= int(count) <= MAX_COUNT):
        raise InvalidInputError(
            f"maximal covering needs a count of new stations from 1 to {MAX_COUNT}",
            field="count",
            feature=count,
            rule=f"1 <= count <= {MAX_COUNT}",
        )
    inputs = coverage_inputs(
        session,
        kind=kind,
        as_of=as_of,
        threshold_m=threshold_m,
        area_code=area_code,
        scope_code=scope_code,
        include_planned=include_planned,
    )
    candidates = _candidates(session, inputs, given)
    cover = reach(inputs.net, candidates.snap, inputs.demand.snap, inputs.threshold_m)
    weight = inputs.demand.weight
    if method == "mclp":
        result = maximal_covering(
            cover, weight, int(count or 0), covered=inputs.covered, time_limit=time_limit
        )
    else:
        result = set_covering(cover, weight, covered=inputs.covered, time_limit=time_limit)
    return inputs, candidates, result


def _lonlat(inputs: CoverageInputs, points: np.ndarray) -> np.ndarray:
    if not len(points):
        return np.zeros((0, 2))
    wgs = gpd.GeoSeries(points, crs=inputs.net.crs).to_crs(4326)
    return np.column_stack([wgs.x.to_numpy(), wgs.y.to_numpy()])


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def suggestions_payload(
    session: Session, inputs: CoverageInputs, candidates: Candidates, result: SitingResult
) -> dict[str, Any]:
    """The JSON answer: the figures before and after, each suggestion with what it adds, the solver."""
    chosen = candidates.take(result.chosen)
    lonlat = _lonlat(inputs, chosen.site)
    total = result.demand_total or 1.0
    suggestions = [
        {
            "rank": k + 1,
            "site": str(chosen.kind[k]),
            "ref": _plain(chosen.ref[k]),
            "name": str(chosen.name[k]).strip(),
            "lon": round(float(lonlat[k, 0]), 7),
            "lat": round(float(lonlat[k, 1]), 7),
            "adds_households": round(s.adds),
            "cumulative_households": round(s.cumulative),
            "share_after": round((result.covered_before + s.cumulative) / total, 4),
        }
        for k, s in enumerate(result.suggestions)
    ]
    unreachable = result.unreachable_demand
    figures = result.summary()
    notes = []
    if result.requested and len(suggestions) < result.requested:
        notes.append(
            f"only {len(suggestions)} of the {result.requested} sites asked for add households; "
            "the others would add none"
        )
    if result.status != "optimal":
        notes.append(
            f"the solver stopped ({result.status}) with a gap of {result.mip_gap:.2%}: not proven optimal"
        )
    return {
        "kind": inputs.kind,
        "method": result.method,
        "threshold_m": inputs.threshold_m,
        "as_of": inputs.as_of.isoformat(),
        "area": {"code": inputs.area_code, "name": area_name(session, inputs.area_code)},
        "stations_existing": len(inputs.existing),
        "candidates": {k: int(np.sum(candidates.kind == k)) for k in sorted(set(candidates.kind.tolist()))},
        "households": {
            "total": round(result.demand_total),
            "covered_before": round(result.covered_before),
            "covered_after": round(result.covered_after),
            "added": round(result.added),
            "share_before": figures["share_before"],
            "share_after": figures["share_after"],
            "unreachable": round(result.unreachable),
        },
        "requested": result.requested,
        "suggestions": suggestions,
        "unreachable_buildings": {
            "count": len(unreachable),
            "listed": [
                {"id": _plain(inputs.demand.ref[i]), "households": int(inputs.demand.weight[i])}
                for i in unreachable[:UNREACHABLE_LISTED]
            ],
        },
        "solver": {
            "name": "HiGHS",
            "status": result.status,
            "mip_gap": result.mip_gap,
            "seconds": result.seconds,
            "model": result.model,
        },
        "synthetic": inputs.synthetic,
        "notes": notes,
    }
