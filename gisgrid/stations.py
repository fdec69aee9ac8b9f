"""Service stations: the rules of their input and of their dated status history, with no database.

A station moves planned → building → open → closed. Each change is an *event* (status, since) kept as
history; the station row carries the current status and one date per status, derived from the events.

* A change moves forward (a step may be skipped: a post registered when it opens goes straight to
  ``open``), or reopens a closed station (``closed → open``, after a renovation). Anything else — back
  to an earlier status, or to the same one — is a :class:`ConflictError` (an illegal transition).
* A change's date is never before the previous change's, and never after today (China time): history
  records what happened, not what is announced.
* A location is WGS84 longitude, latitude (GCJ-02 / BD-09 accepted and converted); latitude first is
  recognised and named.

``timeline`` turns the four dates of a row (or of an imported feature) into events; ``row_dates`` goes
back; ``status_on`` reads the status on a day; ``merge_timeline`` decides what a re-import may add.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gisgrid import vocab
from gisgrid.errors import ConflictError, InvalidInputError

__all__ = [
    "DATE_FIELDS",
    "INPUT_CRS",
    "MAX_NAME",
    "RADIUS_RANGE_M",
    "StatusEvent",
    "check_change",
    "check_kind",
    "check_lonlat_point",
    "check_name",
    "check_radius",
    "merge_timeline",
    "row_dates",
    "status_on",
    "timeline",
    "to_wgs84_point",
]

#: the row column holding each status's date
DATE_FIELDS: Mapping[str, str] = {
    "planned": "planned_on",
    "building": "building_since",
    "open": "opened_on",
    "closed": "closed_on",
}
_RANK = {s: i for i, s in enumerate(vocab.STATION_STATUSES)}
MAX_NAME = 200
RADIUS_RANGE_M = (1.0, 20_000.0)  # the station table's CHECK allows (0, 20 km]
INPUT_CRS = ("wgs84", "gcj02", "bd09")


@dataclass(frozen=True, order=True)
class StatusEvent:
    """One dated status change: the station is ``status`` from the day ``since`` on."""

    since: dt.date
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "since": self.since.isoformat()}


# ----------------------------------------------------------------------------------------- values


def check_kind(kind: object, *, field: str = "kind") -> str:
    if kind not in vocab.STATION_KINDS:
        raise InvalidInputError(
            f"{field} must be one of {', '.join(vocab.STATION_KINDS)}; got {kind!r}",
            field=field, feature=kind, rule=f"{field} in ({', '.join(vocab.STATION_KINDS)})",
        )
    return str(kind)


def check_status(status: object, *, field: str = "status") -> str:
    if status not in vocab.STATION_STATUSES:
        raise InvalidInputError(
            f"{field} must be one of {', '.join(vocab.STATION_STATUSES)}; got {status!r}",
            field=field, feature=status, rule=f"{field} in ({', '.join(vocab.STATION_STATUSES)})",
        )
    return str(status)


def check_name(name: object, *, field: str = "name") -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME:
        raise InvalidInputError(
            f"{field} must be 1–{MAX_NAME} characters; got {name!r}", field=field, rule=f"1–{MAX_NAME} characters"
        )
    return text


def check_radius(radius: object, *, field: str = "service_radius_m") -> float:
    lo, hi = RADIUS_RANGE_M
    ok = isinstance(radius, int | float) and not isinstance(radius, bool) and math.isfinite(radius)
    if not ok or not lo <= float(radius) <= hi:  # type: ignore[arg-type]
        raise InvalidInputError(
            f"{field} must be {lo:g}–{hi:g} metres; got {radius!r}", field=field, rule=f"{lo:g} ≤ {field} ≤ {hi:g}"
        )
    return float(radius)  # type: ignore[arg-type]


def check_lonlat_point(lon: object, lat: object) -> tuple[float, float]:
    """Finite numbers with longitude in [-180, 180] and latitude in [-90, 90]; latitude first is named."""
    for name, value in (("lon", lon), ("lat", lat)):
        if not (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)):
            raise InvalidInputError(f"{name} must be a finite number; got {value!r}", field=name,
                                    rule="a finite number of degrees")
    x, y = float(lon), float(lat)  # type: ignore[arg-type]
    if not -90 <= y <= 90:
        hint = " — latitude and longitude look swapped: give lon (east, e.g. 117.26) then lat (north, e.g. 34.80)" \
            if -90 <= x <= 90 and -180 <= y <= 180 else ""
        raise InvalidInputError(f"lat must lie in [-90, 90]; got {y}{hint}", field="lat",
                                rule="lon in [-180, 180], lat in [-90, 90] (longitude first)")
    if not -180 <= x <= 180:
        raise InvalidInputError(f"lon must lie in [-180, 180]; got {x}", field="lon",
                                rule="lon in [-180, 180], lat in [-90, 90] (longitude first)")
    return x, y


def to_wgs84_point(lon: object, lat: object, crs: str = "wgs84") -> tuple[float, float]:
    """A checked point in WGS84 from ``crs`` (``wgs84``, ``gcj02`` as on Amap, ``bd09`` as on Baidu)."""
    from gisgrid.crs import wgs84_from_bd09, wgs84_from_gcj02

    if crs not in INPUT_CRS:
        raise InvalidInputError(f"crs must be one of {', '.join(INPUT_CRS)}; got {crs!r}", field="crs",
                                rule=f"crs in ({', '.join(INPUT_CRS)})")
    x, y = check_lonlat_point(lon, lat)
    if crs == "gcj02":
        x, y = wgs84_from_gcj02(x, y)
    elif crs == "bd09":
        x, y = wgs84_from_bd09(x, y)
    return float(x), float(y)


# ----------------------------------------------------------------------------------------- history


def timeline(
    status: str | None,
    dates: Mapping[str, dt.date | None],
    *,
    today: dt.date,
    feature: Any = None,
) -> list[StatusEvent]:
    """The events a row's (or a feature's) dates state, oldest first.

    ``status`` defaults to the latest dated status (``planned`` without any date). The status must
    have its date; dates must run planned ≤ building ≤ open ≤ closed, none after ``today``. A planned
    station without ``planned_on`` is planned from ``today``. Events for statuses after ``status``
    (a closing date on an open station) are refused: the status would contradict them.
    """
    for name in ("planned_on", "building_since", "opened_on", "closed_on"):
        value = dates.get(name)
        if value is not None and not isinstance(value, dt.date):
            raise InvalidInputError(f"{name} must be a date (YYYY-MM-DD); got {value!r}", field=name,
                                    feature=feature, rule="an ISO date")
        if value is not None and value > today:
            raise InvalidInputError(
                f"{name} {value} is after today ({today}): a status change is recorded when it happens",
                field=name, feature=feature, rule="a status date is not in the future",
            )
    dated = [(s, dates.get(f)) for s, f in DATE_FIELDS.items() if dates.get(f) is not None]
    if status is None:
        status = dated[-1][0] if dated else "planned"
    check_status(status)
    previous: tuple[str, dt.date] | None = None
    for s, day in dated:
        assert day is not None
        if previous is not None and day < previous[1]:
            raise InvalidInputError(
                f"{DATE_FIELDS[s]} {day} is before {DATE_FIELDS[previous[0]]} {previous[1]}: a change's date is "
                "never before the previous one", field=DATE_FIELDS[s], feature=feature,
                rule="dates in order planned ≤ building ≤ open ≤ closed",
            )
        if _RANK[s] > _RANK[status]:
            raise InvalidInputError(
                f"status is {status} but {DATE_FIELDS[s]} is given: a station that is {status} has no {s} date",
                field=DATE_FIELDS[s], feature=feature, rule="no date for a status the station has not reached",
            )
        previous = (s, day)
    if dates.get(DATE_FIELDS[status]) is None and status != "planned":
        raise InvalidInputError(f"status {status} needs {DATE_FIELDS[status]}", field=DATE_FIELDS[status],
                                feature=feature, rule=f"status {status} has its date")
    events = [StatusEvent(day, s) for s, day in dated if day is not None]
    if not events:
        events = [StatusEvent(today, "planned")]
    return events


def row_dates(events: Sequence[StatusEvent]) -> dict[str, Any]:
    """The station row's ``status`` and dates from its history (oldest event first).

    Each date is that status's latest event, except ``planned_on`` (the first plan). A reopened
    station has no ``closed_on`` while it is open: the row's CHECK wants ``closed_on ≥ opened_on``.
    """
    if not events:
        raise InvalidInputError("a station has at least one status", field="status", rule="a history")
    out: dict[str, Any] = {"status": events[-1].status, **dict.fromkeys(DATE_FIELDS.values())}
    for event in events:
        field = DATE_FIELDS[event.status]
        if event.status != "planned" or out[field] is None:
            out[field] = event.since
    if out["status"] != "closed":
        out["closed_on"] = None
    return out


def status_on(events: Sequence[StatusEvent], day: dt.date) -> str | None:
    """The status at the end of ``day`` (events oldest first); ``None`` before the first event."""
    current = None
    for event in events:
        if event.since > day:
            break
        current = event.status
    return current


def check_change(last: StatusEvent | None, status: str, since: dt.date, *, today: dt.date) -> StatusEvent:
    """The event of changing a station whose latest event is ``last`` to ``status`` on ``since``."""
    check_status(status)
    if since > today:
        raise InvalidInputError(
            f"since {since} is after today ({today}): a status change is recorded when it happens",
            field="since", rule="a status date is not in the future",
        )
    if last is not None:
        if since < last.since:
            raise InvalidInputError(
                f"since {since} is before the previous change ({last.status} since {last.since}): a change's "
                "date is never before the previous one", field="since", rule="since ≥ the previous change's date",
            )
        forward = _RANK[status] > _RANK[last.status]
        reopen = last.status == "closed" and status == "open"
        if not (forward or reopen):
            raise ConflictError(
                f"a station that is {last.status} cannot become {status}: statuses move planned → building → "
                "open → closed (a step may be skipped), and a closed station may reopen",
                field="status", rule="forward, or closed → open",
                details={"current_status": last.status, "since": last.since.isoformat()},
            )
    return StatusEvent(since, status)


def merge_timeline(
    history: Sequence[StatusEvent], stated: Sequence[StatusEvent], *, feature: Any = None
) -> list[StatusEvent]:
    """The events a re-imported feature adds to a station's recorded ``history`` (both oldest first).

    History is never rewritten: the file may only add changes dated on or after the last recorded one,
    and must end in the status the history then ends in. A file whose dates disagree with the record is
    refused, naming the date — correct a station with ``gisgrid stations status``, not by re-import.
    """
    if not history:
        return list(stated)
    recorded = set(history)
    new = [e for e in stated if e not in recorded]
    last = history[-1]
    for event in new:
        if event.since < last.since or (event.since == last.since and _RANK[event.status] < _RANK[last.status]):
            raise InvalidInputError(
                f"the file says {event.status} since {event.since}, but the recorded history already has "
                f"{last.status} since {last.since}: an import may add later status changes, not rewrite "
                "recorded ones", field=DATE_FIELDS[event.status], feature=feature,
                rule="a re-import only adds status changes after the recorded ones",
            )
    merged = [*history, *sorted(new)]
    if merged[-1].status != stated[-1].status:
        raise InvalidInputError(
            f"the file says the station is {stated[-1].status}, but its recorded history ends with "
            f"{merged[-1].status} since {merged[-1].since}", field="status", feature=feature,
            rule="a re-import only adds status changes after the recorded ones",
        )
    for a, b in itertools.pairwise(merged):
        try:
            check_change(a, b.status, b.since, today=max(b.since, a.since))
        except ConflictError as exc:
            raise InvalidInputError(f"the file's {b.status} since {b.since} cannot follow {a.status} since {a.since}",
                                    field=DATE_FIELDS[b.status], feature=feature, rule=exc.rule) from exc
    return sorted(new)
