"""The stored coverage — ``coverage_result``, "now" — computed in full, updated when one station changes,
and recomputed whenever it turns out stale.

Every writer holds one transaction-level advisory lock, so two station changes (or a change and a
refresh) never interleave their reads and writes of the table. ``coverage_state`` records, per kind,
the thresholds and the fingerprints of the network, the buildings and the open stations the rows were
computed from; rows whose fingerprints no longer match (a street import, new buildings, a station
written by an import or the demo loader) are recomputed in full before they are read
(:func:`ensure_current`). A station change made through :mod:`layers.stations` updates them
incrementally (:func:`station_changed`) when they were current before the change.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid import vocab
from gisgrid.coverage import KindCoverage, Places, Thresholds, Update
from gisgrid.coverage.compute import closer, cover_kinds, reach, reassign
from layers.copying import copy_csv, raw_cursor
from layers.coverage.inputs import Network, network, places_of, read_frame, station_places, stations_version

__all__ = ["COVERAGE_LOCK", "Change", "StationState", "current_kinds", "ensure_current", "lock", "recompute",
           "station_changed", "stored_frame"]

COVERAGE_LOCK = 4242_0004  # pg_advisory_xact_lock key of the coverage writers
KINDS = vocab.STATION_KINDS


@dataclass(frozen=True)
class StationState:
    """What coverage needs to know of a station before or after a change."""

    id: int
    kind: str
    is_open: bool
    lon: float
    lat: float


@dataclass(frozen=True)
class Change:
    """How the rows of one kind were brought up to date."""

    kind: str
    mode: str  # full | incremental
    buildings_changed: int
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def lock(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": COVERAGE_LOCK})


def current_kinds(session: Session, thresholds: Thresholds, net: Network, kinds: Iterable[str] = KINDS) -> set[str]:
    """The kinds whose stored rows match the thresholds, network, buildings and open stations now."""
    rows = {r.kind: r for r in session.execute(text("SELECT * FROM coverage_state"))}
    out = set()
    for kind in kinds:
        row = rows.get(kind)
        if (row is not None and row.threshold_m == thresholds.threshold(kind) and row.cap_m == thresholds.cap(kind)
                and row.network_version == net.version and row.buildings_version == net.buildings_version
                and row.stations_version == stations_version(session, kind)):
            out.add(kind)
    return out


def _save_state(session: Session, kind: str, thresholds: Thresholds, net: Network, *, full: bool) -> None:
    session.execute(text("""
        INSERT INTO coverage_state AS s (kind, threshold_m, cap_m, network_version, buildings_version,
                                         stations_version, buildings, computed_at, updated_at)
        VALUES (:kind, :threshold, :cap, :network, :buildings_version, :stations, :buildings, now(), now())
        ON CONFLICT (kind) DO UPDATE SET threshold_m = EXCLUDED.threshold_m, cap_m = EXCLUDED.cap_m,
            network_version = EXCLUDED.network_version, buildings_version = EXCLUDED.buildings_version,
            stations_version = EXCLUDED.stations_version, buildings = EXCLUDED.buildings,
            computed_at = CASE WHEN :full THEN now() ELSE s.computed_at END, updated_at = now()"""), {
        "kind": kind, "threshold": thresholds.threshold(kind), "cap": thresholds.cap(kind), "network": net.version,
        "buildings_version": net.buildings_version, "stations": stations_version(session, kind),
        "buildings": len(net.buildings), "full": full,
    })


_COLUMNS = ["building_id", "kind", "distance_m", "station_id", "island"]


def _write_kinds(session: Session, buildings: Places, results: dict[str, KindCoverage]) -> Counter[str]:
    """Make the stored rows of these kinds equal ``results``; how many rows changed, by kind.

    The new rows go into a temporary table first, and only rows that differ are updated, inserted or
    deleted: a full pass after (say) one imported station changes a few hundred of 70,000 rows, and
    rewriting them all — every row checking its two foreign keys — took seconds.
    """
    parts = []
    for kind, result in results.items():
        reached = np.isfinite(result.distance)
        # an empty CSV field is NULL: no station within the cap
        parts.append(pd.DataFrame({
            "building_id": buildings.ids, "kind": kind,
            "distance_m": np.where(reached, result.distance.astype(str), ""),
            "station_id": np.where(reached, result.station.astype(str), ""),
            "island": buildings.island,
        }))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_COLUMNS)
    kinds = list(results)
    with raw_cursor(session.connection()) as cur:
        cur.execute("DROP TABLE IF EXISTS _coverage; CREATE TEMP TABLE _coverage (building_id integer, kind text,"
                    " distance_m double precision, station_id integer, island boolean,"
                    " PRIMARY KEY (building_id, kind)) ON COMMIT DROP")
        copy_csv(cur, "_coverage", frame, _COLUMNS)
        cur.execute("ANALYZE _coverage")
        changed: Counter[str] = Counter()
        for sql in (
            "DELETE FROM coverage_result c WHERE c.kind = ANY(%(kinds)s) AND NOT EXISTS"
            " (SELECT 1 FROM _coverage n WHERE n.building_id = c.building_id AND n.kind = c.kind) RETURNING c.kind",
            "UPDATE coverage_result c SET distance_m = n.distance_m, station_id = n.station_id,"
            " island = n.island, computed_at = now() FROM _coverage n"
            " WHERE c.building_id = n.building_id AND c.kind = n.kind AND (c.distance_m, c.station_id, c.island)"
            " IS DISTINCT FROM (n.distance_m, n.station_id, n.island) RETURNING c.kind",
            "INSERT INTO coverage_result (building_id, kind, distance_m, station_id, island)"
            " SELECT n.building_id, n.kind, n.distance_m, n.station_id, n.island FROM _coverage n"
            " WHERE NOT EXISTS (SELECT 1 FROM coverage_result c WHERE c.building_id = n.building_id"
            " AND c.kind = n.kind) RETURNING kind",
        ):
            cur.execute(sql, {"kinds": kinds})
            changed.update(row[0] for row in cur.fetchall())
        cur.execute("DROP TABLE _coverage")
    return changed


def recompute(session: Session, thresholds: Thresholds, kinds: Iterable[str] = KINDS) -> list[Change]:
    """Compute the given kinds in full for every building and store them (caller holds :func:`lock`)."""
    net = network(session)
    kinds = list(kinds)
    started = time.perf_counter()
    stations = {k: station_places(session, net.net, kind=k) for k in kinds}
    results = cover_kinds(net.net, net.buildings, stations, {k: thresholds.cap(k) for k in kinds})
    changed = _write_kinds(session, net.buildings, results)
    for kind in kinds:
        _save_state(session, kind, thresholds, net, full=True)
    seconds = round(time.perf_counter() - started, 4)
    return [Change(kind, "full", changed[kind], seconds) for kind in kinds]


def ensure_current(session: Session, thresholds: Thresholds) -> list[Change]:
    """Recompute the kinds whose stored rows are stale; nothing when all are current."""
    lock(session)
    net = network(session)
    stale = [k for k in KINDS if k not in current_kinds(session, thresholds, net)]
    return recompute(session, thresholds, stale) if stale else []


def _write_update(session: Session, kind: str, net: Network, update: Update) -> None:
    if not len(update):
        return
    reached = np.isfinite(update.distance)
    session.execute(text("""
        UPDATE coverage_result c SET distance_m = v.d, station_id = v.s, computed_at = now()
        FROM unnest(CAST(:b AS integer[]), CAST(:d AS double precision[]), CAST(:s AS integer[])) AS v(b, d, s)
        WHERE c.building_id = v.b AND c.kind = :kind"""), {
        "kind": kind, "b": net.buildings.ids[update.index].tolist(),
        "d": [float(d) if ok else None for d, ok in zip(update.distance, reached, strict=True)],
        "s": [int(s) if ok else None for s, ok in zip(update.station, reached, strict=True)],
    })


def _opened(session: Session, kind: str, net: Network, station: StationState, cap: float) -> Update:
    """One single-source search from the new station; the buildings it brings closer change."""
    found = reach(net.net, net.buildings, places_of(net.net, [station.id], [station.lon], [station.lat]), cap)
    ids = net.buildings.ids[found.index]
    stored: dict[int, float | None] = dict(session.execute(text(
        "SELECT building_id, distance_m FROM coverage_result WHERE kind = :kind AND building_id = ANY(:ids)"),
        {"kind": kind, "ids": ids.tolist()}).all())
    before = np.array([np.nan if (v := stored.get(int(b))) is None else v for b in ids], dtype=float)
    return closer(found, before)


def _closed(session: Session, kind: str, net: Network, station: StationState, cap: float) -> Update:
    """Only the buildings the closed station served are searched again, from the stations near it."""
    served = np.array(session.execute(text(
        "SELECT building_id FROM coverage_result WHERE kind = :kind AND station_id = :id"),
        {"kind": kind, "id": station.id}).scalars().all(), dtype=np.int64)
    # reassign keeps the stations within 2 × cap of the closed one (straight line, metric CRS); the geodesic
    # prefilter here lets a little more through
    remaining = station_places(session, net.net, kind=kind, near=(station.lon, station.lat, 2.04 * cap + 5.0))
    remaining = remaining.take(np.flatnonzero(remaining.ids != station.id))
    gone = places_of(net.net, [station.id], [station.lon], [station.lat])
    return reassign(net.net, net.buildings, net.positions(served), remaining, cap, around=gone)


def station_changed(
    session: Session, thresholds: Thresholds, before: StationState | None, after: StationState | None,
    current: set[str], net: Network | None = None,
) -> list[Change]:
    """Bring the stored coverage up to date after one station changed from ``before`` to ``after``.

    ``current``: the kinds whose rows were current *before* the change (:func:`current_kinds`, taken
    under :func:`lock`); those are updated incrementally, the others recomputed in full. ``net``: the
    network :func:`current_kinds` was given (the station change moved no street nor building).
    """
    net = net or network(session)
    steps: dict[str, list[tuple[str, StationState]]] = {}
    moved = before is not None and after is not None and (before.kind, before.lon, before.lat) != (
        after.kind, after.lon, after.lat)
    if before is not None and before.is_open and (after is None or not after.is_open or moved):
        steps.setdefault(before.kind, []).append(("close", before))
    if after is not None and after.is_open and (before is None or not before.is_open or moved):
        steps.setdefault(after.kind, []).append(("open", after))
    out = []
    for kind, todo in steps.items():
        if kind not in current:
            out.extend(recompute(session, thresholds, [kind]))
            continue
        started = time.perf_counter()
        changed = 0
        for action, state in todo:
            update = (_closed if action == "close" else _opened)(session, kind, net, state, thresholds.cap(kind))
            _write_update(session, kind, net, update)
            changed += len(update)
        _save_state(session, kind, thresholds, net, full=False)
        out.append(Change(kind, "incremental", changed, round(time.perf_counter() - started, 4)))
    return out


def stored_frame(session: Session, building_ids: list[int] | None = None) -> pd.DataFrame:
    """The stored rows as one row per building (all, or these): ``id, island``, ``distance_<kind>``
    (inf = none) and ``station_<kind>`` (-1 = none), pivoted in SQL."""
    picks = ", ".join(f"max(distance_m) FILTER (WHERE kind = '{k}'), max(station_id) FILTER (WHERE kind = '{k}')"
                      for k in KINDS)
    where = "" if building_ids is None else "WHERE building_id = ANY(:ids)"
    frame = read_frame(session, f"SELECT building_id, bool_or(island), {picks} FROM coverage_result {where}"
                       " GROUP BY building_id ORDER BY building_id",
                       ["id", "island", *(f"{c}_{k}" for k in KINDS for c in ("distance", "station"))],
                       {"ids": building_ids})
    for kind in KINDS:
        frame[f"distance_{kind}"] = frame[f"distance_{kind}"].astype(float).fillna(np.inf)
        frame[f"station_{kind}"] = frame[f"station_{kind}"].astype(float).fillna(-1).astype(np.int64)
    frame["island"] = frame["island"].astype(bool)
    return frame
