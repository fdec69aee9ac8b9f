"""Check-ins: validating a batch from a phone, converting its coordinates, judging the track, matching
positions to buildings.

A phone uploads a day's check-ins at once when it leaves a dead zone, so a batch is judged as a track:

* **rules of the input** (a bad one refuses the whole batch, naming ``checkins[i].field`` and the rule):
  a client-generated id (8–64 characters of ``[A-Za-z0-9_-]``, unique in the batch), a time with a
  time zone, longitude/latitude in range, ``crs`` WGS84 or GCJ-02 (converted to WGS84 with
  :func:`gisgrid.crs.wgs84_from_gcj02`), an accuracy of 0 m or more;
* **plausibility** (the check-in is kept but flagged, and is never a visit): a time in the future
  (beyond ``future_s`` of clock skew), faster than ``max_speed_kmh`` from the previous plausible point,
  farther than ``outside_m`` from the grid, or less accurate than ``max_accuracy_m``;
* **matching**: a plausible check-in within ``match_m`` of a footprint visits that building (the nearest).

The speed rule compares each point with the *last plausible* one, so a single wild fix is flagged alone
instead of flagging the good point after it too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gisgrid.crs import wgs84_from_gcj02
from gisgrid.errors import InvalidInputError
from gisgrid.patrol.rules import PatrolRules

__all__ = ["CHECKIN_CRS", "FLAGS", "Checkin", "assess_track", "match_buildings", "parse_checkins"]

CHECKIN_CRS = ("wgs84", "gcj02")
FLAGS = ("future", "too_fast", "far_outside", "inaccurate")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_BATCH = 5_000


@dataclass(frozen=True)
class Checkin:
    """One check-in, its position already in WGS84."""

    client_id: str
    at: dt.datetime
    lon: float
    lat: float
    accuracy_m: float
    crs: str


def _bad(i: int, name: str, message: str, rule: str, value: Any = None) -> InvalidInputError:
    return InvalidInputError(f"check-in {i}: {message}", field=f"checkins[{i}].{name}", rule=rule,
                             feature=value if isinstance(value, str | int | float) else None)


def _number(i: int, raw: Mapping[str, Any], name: str) -> float:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise _bad(i, name, f"{name} must be a finite number", "a finite number", value)
    return float(value)


def _time(i: int, value: Any) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise _bad(i, "at", "the time is not ISO 8601", "ISO 8601 date-time with a time zone", value) from exc
    if not isinstance(value, dt.datetime):
        raise _bad(i, "at", "the time is missing", "ISO 8601 date-time with a time zone")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _bad(i, "at", "the time has no time zone", "ISO 8601 date-time with a time zone", value.isoformat())
    return value


def parse_checkins(raw: Sequence[Mapping[str, Any]]) -> list[Checkin]:
    """Check a batch against the input rules (the first break raises, naming the field) and convert
    GCJ-02 positions to WGS84."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InvalidInputError("checkins must be a list", field="checkins", rule="a list of check-ins")
    if not 1 <= len(raw) <= MAX_BATCH:
        raise InvalidInputError(f"a batch holds 1 to {MAX_BATCH} check-ins, not {len(raw)}", field="checkins",
                                rule=f"1 ≤ len(checkins) ≤ {MAX_BATCH}")
    seen: set[str] = set()
    out: list[Checkin] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise _bad(i, "", "each check-in is an object", "an object")
        cid = item.get("id")
        if not isinstance(cid, str) or not CLIENT_ID.match(cid):
            raise _bad(i, "id", "the client id is malformed", "8–64 characters of [A-Za-z0-9_-]", cid)
        if cid in seen:
            raise _bad(i, "id", "the client id repeats in the batch", "unique ids within a batch", cid)
        seen.add(cid)
        at = _time(i, item.get("at"))
        lon, lat = _number(i, item, "lon"), _number(i, item, "lat")
        if not -180 <= lon <= 180:
            raise _bad(i, "lon", "longitude out of range", "-180 ≤ lon ≤ 180", lon)
        if not -90 <= lat <= 90:
            raise _bad(i, "lat", "latitude out of range", "-90 ≤ lat ≤ 90", lat)
        accuracy = _number(i, item, "accuracy_m") if item.get("accuracy_m") is not None else 0.0
        if accuracy < 0:
            raise _bad(i, "accuracy_m", "accuracy cannot be negative", "accuracy_m ≥ 0", accuracy)
        crs = str(item.get("crs") or "wgs84").lower()
        if crs not in CHECKIN_CRS:
            raise _bad(i, "crs", f"unknown coordinate system {crs!r}", "crs is wgs84 or gcj02", crs)
        if crs == "gcj02":
            x, y = wgs84_from_gcj02(np.array([lon]), np.array([lat]))
            lon, lat = float(np.asarray(x)[0]), float(np.asarray(y)[0])
        out.append(Checkin(cid, at, lon, lat, accuracy, crs))
    return out


def assess_track(
    xy: np.ndarray, times: Sequence[dt.datetime], accuracy: np.ndarray, area: shapely.Geometry | None,
    now: dt.datetime, rules: PatrolRules,
) -> list[list[str]]:
    """The plausibility flags of each point of a track (metric ``xy``; ``area`` the grid, same CRS).

    Points are judged in time order; an empty list means plausible.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    flags: list[list[str]] = [[] for _ in range(len(xy))]
    if not len(xy):
        return flags
    limit = now + dt.timedelta(seconds=rules.future_s)
    outside = (shapely.distance(area, shapely.points(xy)) if area is not None else np.zeros(len(xy)))
    order = sorted(range(len(xy)), key=lambda k: times[k])
    last: int | None = None
    max_ms = rules.max_speed_kmh / 3.6
    for k in order:
        if times[k] > limit:
            flags[k].append("future")
        if outside[k] > rules.outside_m:
            flags[k].append("far_outside")
        if accuracy[k] > rules.max_accuracy_m:
            flags[k].append("inaccurate")
        if last is not None and "future" not in flags[k]:
            seconds = (times[k] - times[last]).total_seconds()
            metres = float(np.hypot(*(xy[k] - xy[last])))
            # two fixes in the same second: only a jump beyond the slack of one fix is implausible
            if (seconds <= 0 and metres > rules.match_m) or (seconds > 0 and metres / seconds > max_ms):
                flags[k].append("too_fast")
        if not flags[k]:
            last = k
    return flags


def match_buildings(
    points: np.ndarray, footprints: np.ndarray, building_ids: np.ndarray, match_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest building within ``match_m`` of each point (metric), else -1; and the distance."""
    ids = np.full(len(points), -1, dtype=np.int64)
    dist = np.full(len(points), np.inf)
    if not len(points) or not len(footprints):
        return ids, dist
    tree = shapely.STRtree(footprints)
    pairs, d = tree.query_nearest(points, max_distance=match_m, return_distance=True, all_matches=False)
    ids[pairs[0]] = np.asarray(building_ids, dtype=np.int64)[pairs[1]]
    dist[pairs[0]] = d
    return ids, dist
