"""Coverage figures and the rollout curve as of any day, and the buildings with their walks as GeoJSON.

"Now" (today, China time) is read from the stored table, brought up to date first. Any earlier day is
computed from the status history: the stations open at the end of that day, walked to over today's
street network from today's buildings and station locations (neither is versioned). Those computations
are kept per process by the set of open stations, so a rollout's months that share one cost one.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid import vocab
from gisgrid.codes import CHINA_TZ, area_level, in_scope, scope_prefix
from gisgrid.coverage import (
    KindCoverage,
    Places,
    Thresholds,
    area_figures,
    cover,
    month_ends,
    project,
    statuses_on,
)
from gisgrid.coverage.figures import CONTAINED_KIND, LEVELS, KindTotals
from gisgrid.errors import InvalidInputError
from layers.coverage.inputs import (
    Network,
    buildings_frame,
    complexes_frame,
    history_frame,
    network,
    parts_frame,
    station_places,
    stations_frame,
)
from layers.coverage.store import ensure_current, stored_frame
from layers.geojson import PRECISION, BBox, FeaturePage, check_paging
from layers.kpis import area_names

__all__ = ["Snapshot", "buildings_geojson", "figures", "rollout", "snapshot", "today"]

KINDS = vocab.STATION_KINDS
_CACHE_SIZE = 256


def today() -> dt.date:
    return dt.datetime.now(CHINA_TZ).date()


def check_as_of(as_of: dt.date | None, now: dt.date, *, field: str = "as_of") -> dt.date:
    if as_of is None:
        return now
    if as_of > now:
        raise InvalidInputError(f"{field} {as_of} is after today ({now}): coverage is known up to today",
                                field=field, rule=f"{field} ≤ today")
    return as_of


@dataclass(frozen=True)
class Snapshot:
    """Buildings with their walks, stations with their status, complexes — on ``as_of``."""

    as_of: dt.date
    source: str  # "stored" (today) or "history"
    buildings: pd.DataFrame
    stations: pd.DataFrame
    complexes: pd.DataFrame


class _CoverCache:
    """Full computations by (network, buildings, kind, cap, open stations and where they stand)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[Any, ...], KindCoverage] = OrderedDict()

    def get(self, net: Network, stations: Places, kind: str, cap: float) -> KindCoverage:
        key = (id(net.net), net.version, net.buildings_version, kind, cap, stations.ids.tobytes(),
               stations.xy.round(3).tobytes())
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        result = cover(net.net, net.buildings, stations, cap)
        with self._lock:
            self._items[key] = result
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)
        return result


_COVERS = _CoverCache()


def _distances(net: Network, every: Places, stations: pd.DataFrame, thresholds: Thresholds,
               kinds: tuple[str, ...]) -> pd.DataFrame:
    out = pd.DataFrame({"id": net.buildings.ids, "island": net.buildings.island})
    for kind in KINDS:
        if kind not in kinds:
            out[f"distance_{kind}"], out[f"station_{kind}"] = np.inf, -1
            continue
        ids = stations.loc[(stations["kind"] == kind) & (stations["status"] == "open"), "id"].to_numpy(np.int64)
        chosen = every.take(np.searchsorted(every.ids, np.sort(ids)))
        result = _COVERS.get(net, chosen, kind, thresholds.cap(kind))
        out[f"distance_{kind}"], out[f"station_{kind}"] = result.distance, result.station
    return out


def snapshot(session: Session, thresholds: Thresholds, as_of: dt.date | None = None) -> Snapshot:
    """Everything the figures of ``as_of`` (default today) are made from."""
    now = today()
    day = check_as_of(as_of, now)
    stations = stations_frame(session)
    if day == now:
        ensure_current(session, thresholds)
        dist, source = stored_frame(session), "stored"
    else:
        status = statuses_on(history_frame(session), day)
        stations["status"] = stations["id"].map(status).astype(object).where(stations["id"].isin(status.index), None)
        net = network(session)
        every = station_places(session, net.net, open_only=False)
        dist, source = _distances(net, every, stations, thresholds, KINDS), "history"
    buildings = buildings_frame(session).merge(dist, on="id", how="left")
    buildings["island"] = buildings["island"].fillna(False).astype(bool)
    return Snapshot(day, source, buildings, stations, complexes_frame(session))


def _seed_codes(session: Session, level: str, code: str | None) -> list[str]:
    """The codes at ``level`` inside ``code`` that get a row even when empty."""
    prefix = scope_prefix(code, field="code") if code else ""
    if level == "grid":
        sql = "SELECT DISTINCT code FROM grid WHERE valid_to IS NULL AND code LIKE :p"
    else:
        sql = "SELECT code FROM admin_area WHERE code LIKE :p AND level = ANY(:levels)"
    levels = {"community": ["community"], "street": ["street", "town"], "district": ["district"]}.get(level, [])
    return [r[0] for r in session.execute(text(sql), {"p": prefix + "%", "levels": levels})]


def figures(session: Session, thresholds: Thresholds, *, level: str = "community", code: str | None = None,
            as_of: dt.date | None = None) -> dict[str, Any]:
    """Coverage by ``level`` inside ``code`` on ``as_of``: rows that add up to the totals."""
    if level not in LEVELS:
        raise InvalidInputError(f"level must be one of {', '.join(LEVELS)}; got {level!r}", field="level",
                                rule=f"level in ({', '.join(LEVELS)})")
    if code is not None:
        area_level(code, field="code")
    snap = snapshot(session, thresholds, as_of)
    seeds = _seed_codes(session, level, code)
    fig = area_figures(snap.buildings, snap.complexes, snap.stations, thresholds, level=level, code=code,
                       seed_codes=seeds, names={}, parts=parts_frame(session))
    codes = [r["code"] for r in fig.rows if r["code"]] + ([code] if code else [])
    names = area_names(session, codes)
    for row in [*fig.rows, fig.totals]:
        if row["code"] in names:
            row["name"] = names[row["code"]]
    inside = snap.buildings[[isinstance(c, str) and (code is None or in_scope(code, c))
                             for c in snap.buildings["grid_code"].where(snap.buildings["grid_code"].notna(),
                                                                         snap.buildings["community_code"])]]
    islands = inside[inside["island"]]
    return {
        "as_of": snap.as_of.isoformat(), "source": snap.source, **fig.to_dict(),
        **thresholds.to_dict(),
        "islands": {"buildings": islands["id"].tolist(), "households": int(islands["households"].sum())},
        "definitions": "docs/coverage.md",
    }


def rollout(session: Session, thresholds: Thresholds, *, kind: str = "red_heart_station", code: str | None = None,
            start: dt.date | None = None, as_of: dt.date | None = None, pace_months: int = 6) -> dict[str, Any]:
    """Month by month: stations open, households and complexes covered by ``kind``, and the pace to 100 %."""
    from gisgrid.stations import check_kind

    check_kind(kind)
    now = today()
    day = check_as_of(as_of, now)
    if code is not None:
        area_level(code, field="code")
    history = history_frame(session)
    first = start or (min(history["since"]) if len(history) else day)
    points = month_ends(min(first, day), day)
    stations = stations_frame(session)
    net = network(session)
    every = station_places(session, net.net, open_only=False)
    attrs = buildings_frame(session)
    at = np.searchsorted(net.buildings.ids, attrs["id"].to_numpy())  # both in id order, the same buildings
    island = net.buildings.island[at]
    totals = KindTotals(attrs, complexes_frame(session), kind=kind, threshold=thresholds.threshold(kind), code=code)
    scoped = np.array([isinstance(c, str) and (code is None or in_scope(code, c)) for c in stations["community_code"]],
                      dtype=bool)
    months = []
    for point in points:
        status = stations["id"].map(statuses_on(history, point))
        is_open = (status == "open").to_numpy(dtype=bool)
        opened = stations.loc[is_open & (stations["kind"] == kind).to_numpy(), "id"].to_numpy(np.int64)
        result = _COVERS.get(net, every.take(np.searchsorted(every.ids, np.sort(opened))), kind, thresholds.cap(kind))
        contained = stations.loc[is_open & (stations["kind"] == CONTAINED_KIND).to_numpy()
                                 & stations["complex_id"].notna().to_numpy(), "complex_id"].astype(np.int64)
        counts = stations.loc[is_open & scoped, "kind"].value_counts()
        months.append({
            "month": point.strftime("%Y-%m"), "day": point.isoformat(), "stations_open": int(counts.get(kind, 0)),
            **{f"{k}_open": int(counts.get(k, 0)) for k in KINDS},
            **totals(result.distance[at], island, contained),
        })
    target = dt.date(day.year, 12, 31)
    pace = project([(dt.date.fromisoformat(m["day"]), m["complexes_share"]) for m in months],
                   months=pace_months, target_date=target)
    return {
        "kind": kind, "code": code, "as_of": day.isoformat(), "threshold_m": thresholds.threshold(kind),
        "target": {"date": target.isoformat(), "complexes_share": 1.0,
                   "what": f"every complex covered by a {kind} by the end of {day.year}"},
        "projection": pace.to_dict(), "months": months,
        "columns": list(months[0]) if months else [], "definitions": "docs/coverage.md#rollout",
    }


def buildings_geojson(
    session: Session, thresholds: Thresholds, *, kind: str | None = None, code: str | None = None,
    bbox: BBox | None = None, limit: int = 1000, offset: int = 0, as_of: dt.date | None = None,
) -> FeaturePage:
    """Buildings with, per kind, the walk to the nearest open station (null beyond the search cap or on an
    island), that station's id and ``covered``; paged by id like the other layers."""
    check_paging(limit, offset)
    kinds = KINDS if kind is None else (kind,)
    if kind is not None:
        from gisgrid.stations import check_kind

        check_kind(kind)
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if code is not None:
        if area_level(code, field="code") == "grid":
            # a building split over grids belongs to every grid owning one of its parts
            where.append("(b.grid_code = :code OR EXISTS (SELECT 1 FROM building_part p WHERE p.building_id = b.id "
                         "AND p.valid_to IS NULL AND p.grid_code = :code))")
            params["code"] = code
        else:
            where.append("(a.code LIKE :prefix OR (a.code IS NULL AND b.grid_code LIKE :prefix))")
            params["prefix"] = scope_prefix(code, field="code") + "%"
    if bbox is not None:
        where.append("ST_Intersects(b.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))")
        params.update(minx=bbox.minx, miny=bbox.miny, maxx=bbox.maxx, maxy=bbox.maxy)
    where_sql = ("WHERE " + " AND ".join(where)) if where else ""
    matched, ids = session.execute(text(f"""
        WITH matched AS (SELECT b.id FROM building b LEFT JOIN admin_area a ON a.id = b.community_id {where_sql})
        SELECT (SELECT count(*) FROM matched),
               ARRAY(SELECT id FROM matched ORDER BY id LIMIT :limit OFFSET :offset)"""), params).one()
    if check_as_of(as_of, today()) == today():
        ensure_current(session, thresholds)
        page = stored_frame(session, list(ids)).set_index("id").reindex(list(ids))
    else:
        page = snapshot(session, thresholds, as_of).buildings.set_index("id").loc[list(ids)]
    island = page["island"].fillna(False).to_numpy(dtype=bool)
    per_kind = {}
    for k in kinds:
        d = page[f"distance_{k}"].astype(float).fillna(np.inf).to_numpy()
        st = page[f"station_{k}"].astype(float).fillna(-1).to_numpy()
        reached = np.isfinite(d)
        per_kind[k] = [{"distance_m": round(float(di), 1) if ok else None, "station_id": int(si) if ok else None,
                        "covered": bool(ok and di <= thresholds.threshold(k) and not isl)}
                       for di, si, ok, isl in zip(d, st, reached, island, strict=True)]
    coverage = [json.dumps({k: per_kind[k][i] for k in kinds}) for i in range(len(page))]
    features = session.execute(text(f"""
        SELECT coalesce(json_agg(json_build_object('type', 'Feature', 'id', b.id,
                   'geometry', ST_AsGeoJSON(b.geom, {PRECISION})::json,
                   'properties', json_build_object('households', b.households, 'complex_id', b.complex_id,
                       'community_code', a.code, 'grid_code', b.grid_code, 'island', v.island,
                       'coverage', v.coverage::json)) ORDER BY b.id), '[]'::json)::text
        FROM unnest(CAST(:ids AS integer[]), CAST(:island AS boolean[]), CAST(:coverage AS text[]))
             AS v(id, island, coverage)
        JOIN building b ON b.id = v.id LEFT JOIN admin_area a ON a.id = b.community_id"""), {
        "ids": list(ids), "island": island.tolist(), "coverage": coverage,
    }).scalar_one()
    return FeaturePage(layer="coverage_buildings", features_json=features, number_matched=int(matched),
                       number_returned=len(ids), limit=limit, offset=offset, bbox=bbox)

