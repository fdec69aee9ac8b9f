"""Stations created, edited and moved through their statuses: one flow each, for the CLI and the API.

Each flow checks everything before it writes (kind, name, radius, the point: WGS84 longitude first —
latitude first is recognised — inside a community of the district, and inside the caller's area by
code), then writes the station row, its status history (``station_status``), one ``audit_log`` row, and
brings the stored coverage up to date (:func:`layers.coverage.station_changed`): incrementally when it was
current, in full otherwise. A station inside a complex is linked to it (the lowest id where complexes
overlap). Run inside the caller's transaction: an error leaves nothing written.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid import stations as rules
from gisgrid.codes import in_scope
from gisgrid.coverage import Thresholds
from gisgrid.errors import GeometryError, NotFoundError, PermissionDeniedError
from gisgrid.stations import StatusEvent
from layers.coverage import StationState, current_kinds, lock, station_changed, today
from layers.coverage.inputs import Network, network

__all__ = ["Actor", "change_status", "create", "edit", "get", "history", "list_stations"]

_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"


@dataclass(frozen=True)
class Actor:
    """Who acts: their user id (None from the command line), a name for the history, and their area."""

    name: str
    user_id: int | None = None
    scope_code: str | None = None  # None: everywhere


@dataclass(frozen=True)
class Place:
    lon: float
    lat: float
    community_id: int
    community_code: str
    complex_id: int | None


def locate(session: Session, lon: float, lat: float) -> Place:
    """The community (and complex) a WGS84 point lies in; a point in none is refused, naming a swap."""
    params = {"lon": lon, "lat": lat}
    row = session.execute(text(
        f"SELECT id, code FROM admin_area WHERE level = 'community' AND ST_Covers(geom, {_POINT})"
        " ORDER BY code LIMIT 1"), params).first()
    if row is None:
        swapped = session.execute(text(
            "SELECT 1 FROM admin_area WHERE level = 'community' AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lat,"
            " :lon), 4326)) LIMIT 1"), params).first()
        hint = "; swapped, it would be inside — give longitude first" if swapped else ""
        raise GeometryError(
            f"the point lon={lon}, lat={lat} is not inside any community of the district{hint}",
            field="lon" if swapped else "location", rule="a station stands inside a community of the district",
        )
    complex_id = session.execute(text(
        f"SELECT id FROM complex WHERE geom && {_POINT} AND ST_Covers(geom, {_POINT}) ORDER BY id LIMIT 1"),
        params).scalar()
    return Place(lon, lat, int(row[0]), str(row[1]), complex_id)


def _check_scope(actor: Actor, code: str | None, what: str) -> None:
    if actor.scope_code is not None and not (code and in_scope(actor.scope_code, code)):
        raise PermissionDeniedError(
            f"{what} is outside your area ({actor.scope_code})", field="location", feature=code,
            rule="stations inside the user's area (by code)",
        )


def _row(session: Session, station_id: int, *, for_update: bool = False) -> Any:
    row = session.execute(text(
        "SELECT s.*, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, a.code AS community_code FROM station s"
        " LEFT JOIN admin_area a ON a.id = s.community_id WHERE s.id = :id"
        + (" FOR UPDATE OF s" if for_update else "")), {"id": station_id}).first()
    if row is None:
        raise NotFoundError(f"there is no station {station_id}", field="id", feature=station_id, rule="a station id")
    return row


def _events(session: Session, station_id: int) -> list[dict[str, Any]]:
    rows = session.execute(text(
        "SELECT h.status, h.since, h.recorded_at, h.recorded_by, h.note FROM station_status h"
        " WHERE h.station_id = :id ORDER BY h.since, h.id"), {"id": station_id}).all()
    return [{"status": r.status, "since": r.since.isoformat(), "recorded_at": r.recorded_at.isoformat(),
             "recorded_by": r.recorded_by, "note": r.note} for r in rows]


def _as_dict(session: Session, station_id: int) -> dict[str, Any]:
    r = _row(session, station_id)
    return {
        "id": r.id, "name": r.name, "kind": r.kind, "status": r.status,
        **{f: (getattr(r, f).isoformat() if getattr(r, f) else None) for f in rules.DATE_FIELDS.values()},
        "service_radius_m": r.service_radius_m, "lon": round(r.lon, 7), "lat": round(r.lat, 7),
        "community_code": r.community_code, "complex_id": r.complex_id, "source": r.source,
        "history": _events(session, station_id),
    }


def _state(row: Any) -> StationState:
    return StationState(int(row.id), row.kind, row.status == "open", float(row.lon), float(row.lat))


def _audit(session: Session, actor: Actor, action: str, station_id: int, before: Any, after: Any) -> None:
    session.execute(text(
        "INSERT INTO audit_log (user_id, action, entity, entity_id, before, after)"
        " VALUES (:user, :action, 'station', :id, CAST(:before AS jsonb), CAST(:after AS jsonb))"),
        {"user": actor.user_id, "action": action, "id": str(station_id),
         "before": json.dumps(before, default=str, ensure_ascii=False) if before is not None else None,
         "after": json.dumps(after, default=str, ensure_ascii=False)})


def _record(session: Session, actor: Actor, station_id: int, events: list[StatusEvent], note: str | None) -> None:
    for event in events:
        session.execute(text(
            "INSERT INTO station_status (station_id, status, since, user_id, recorded_by, note)"
            " VALUES (:id, :status, :since, :user, :by, :note)"),
            {"id": station_id, "status": event.status, "since": event.since, "user": actor.user_id,
             "by": actor.name[:100], "note": note})


def _coverage_before(session: Session, thresholds: Thresholds, kinds: set[str]) -> tuple[set[str], Network]:
    lock(session)
    net = network(session)
    return current_kinds(session, thresholds, net, kinds), net


def create(
    session: Session, thresholds: Thresholds, actor: Actor, *, name: str, kind: str, lon: float, lat: float,
    crs: str = "wgs84", status: str | None = None, dates: dict[str, dt.date | None] | None = None,
    service_radius_m: float | None = None, note: str | None = None,
) -> dict[str, Any]:
    """A new station with the history its status and dates state (planned today when none is given)."""
    name = rules.check_name(name)
    kind = rules.check_kind(kind)
    radius = rules.check_radius(service_radius_m if service_radius_m is not None else thresholds.threshold(kind))
    x, y = rules.to_wgs84_point(lon, lat, crs)
    events = rules.timeline(status, dates or {}, today=today())
    place = locate(session, x, y)
    _check_scope(actor, place.community_code, f"the point lon={x}, lat={y} (community {place.community_code})")
    current, net = _coverage_before(session, thresholds, {kind})
    row = rules.row_dates(events)
    station_id = session.execute(text(
        f"INSERT INTO station (name, kind, status, planned_on, building_since, opened_on, closed_on,"
        f" service_radius_m, community_id, complex_id, source, geom) VALUES (:name, :kind, :status, :planned_on,"
        f" :building_since, :opened_on, :closed_on, :radius, :community, :complex, 'manual', {_POINT}) RETURNING id"),
        {**row, "name": name, "kind": kind, "radius": radius, "community": place.community_id,
         "complex": place.complex_id, "lon": x, "lat": y}).scalar_one()
    _record(session, actor, station_id, events, note)
    out = _as_dict(session, station_id)
    _audit(session, actor, "station_create", station_id, None, _without_history(out))
    changes = station_changed(session, thresholds, None, _state(_row(session, station_id)), current, net)
    return {**out, "coverage": [c.to_dict() for c in changes]}


def edit(
    session: Session, thresholds: Thresholds, actor: Actor, station_id: int, *, name: str | None = None,
    kind: str | None = None, lon: float | None = None, lat: float | None = None, crs: str = "wgs84",
    service_radius_m: float | None = None,
) -> dict[str, Any]:
    """Rename, re-kind, move or re-radius a station; its status changes go through :func:`change_status`."""
    before = _row(session, station_id, for_update=True)
    _check_scope(actor, before.community_code, f"station {station_id}")
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = rules.check_name(name)
    if kind is not None:
        values["kind"] = rules.check_kind(kind)
    if service_radius_m is not None:
        values["service_radius_m"] = rules.check_radius(service_radius_m)
    place = None
    if (lon is None) != (lat is None):
        raise GeometryError("a move gives both lon and lat", field="lon" if lon is None else "lat",
                            rule="lon and lat together")
    if lon is not None and lat is not None:
        x, y = rules.to_wgs84_point(lon, lat, crs)
        place = locate(session, x, y)
        _check_scope(actor, place.community_code, f"the point lon={x}, lat={y} (community {place.community_code})")
    current, net = _coverage_before(session, thresholds, {before.kind, values.get("kind", before.kind)})
    sets = [f"{c} = :{c}" for c in values]
    if place is not None:
        sets += [f"geom = {_POINT}", "community_id = :community", "complex_id = :complex"]
        values.update(lon=place.lon, lat=place.lat, community=place.community_id, complex=place.complex_id)
    if sets:
        session.execute(text(f"UPDATE station SET {', '.join(sets)} WHERE id = :id"), {**values, "id": station_id})
    out = _as_dict(session, station_id)
    _audit(session, actor, "station_edit", station_id, _plain(before), _without_history(out))
    changes = station_changed(session, thresholds, _state(before), _state(_row(session, station_id)), current, net)
    return {**out, "coverage": [c.to_dict() for c in changes]}


def change_status(
    session: Session, thresholds: Thresholds, actor: Actor, station_id: int, *, status: str,
    since: dt.date | None = None, note: str | None = None,
) -> dict[str, Any]:
    """A dated status change, kept as history; the row's status and dates follow it."""
    before = _row(session, station_id, for_update=True)
    _check_scope(actor, before.community_code, f"station {station_id}")
    recorded = [StatusEvent(r.since, r.status) for r in session.execute(text(
        "SELECT status, since FROM station_status WHERE station_id = :id ORDER BY since, id"), {"id": station_id})]
    now = today()
    event = rules.check_change(recorded[-1] if recorded else None, status, since or now, today=now)
    current, net = _coverage_before(session, thresholds, {before.kind})
    _record(session, actor, station_id, [event], note)
    row = rules.row_dates([*recorded, event])
    session.execute(text(
        "UPDATE station SET status = :status, planned_on = :planned_on, building_since = :building_since,"
        " opened_on = :opened_on, closed_on = :closed_on WHERE id = :id"), {**row, "id": station_id})
    out = _as_dict(session, station_id)
    _audit(session, actor, "station_status", station_id, _plain(before), _without_history(out))
    after = StationState(station_id, before.kind, row["status"] == "open", float(before.lon), float(before.lat))
    changes = station_changed(session, thresholds, _state(before), after, current, net)
    return {**out, "coverage": [c.to_dict() for c in changes]}


def _without_history(station: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in station.items() if k != "history"}


def _plain(row: Any) -> dict[str, Any]:
    keep = ("name", "kind", "status", *rules.DATE_FIELDS.values(), "service_radius_m", "lon", "lat",
            "community_code", "complex_id")
    return {k: getattr(row, k) for k in keep}


def get(session: Session, actor: Actor, station_id: int) -> dict[str, Any]:
    out = _as_dict(session, station_id)
    _check_scope(actor, out["community_code"], f"station {station_id}")
    return out


def history(session: Session, actor: Actor, station_id: int) -> list[dict[str, Any]]:
    return list(get(session, actor, station_id)["history"])


def list_stations(session: Session, actor: Actor, *, kind: str | None = None, status: str | None = None,
                  code: str | None = None) -> list[dict[str, Any]]:
    """Stations (without their history) filtered by kind, status and area code, inside the actor's area."""
    if kind is not None:
        rules.check_kind(kind)
    if status is not None:
        rules.check_status(status)
    rows = session.execute(text(
        "SELECT s.id, s.name, s.kind, s.status, s.opened_on, s.closed_on, a.code AS community_code, s.complex_id,"
        " ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat FROM station s LEFT JOIN admin_area a ON a.id = s.community_id"
        " WHERE (CAST(:kind AS text) IS NULL OR s.kind = :kind)"
        " AND (CAST(:status AS text) IS NULL OR s.status = :status)"
        " ORDER BY s.id"), {"kind": kind, "status": status}).all()
    out = []
    for r in rows:
        if not all(c is None or (r.community_code and in_scope(c, r.community_code)) for c in (actor.scope_code, code)):
            continue
        out.append({"id": r.id, "name": r.name, "kind": r.kind, "status": r.status,
                    "opened_on": r.opened_on.isoformat() if r.opened_on else None,
                    "closed_on": r.closed_on.isoformat() if r.closed_on else None,
                    "community_code": r.community_code, "complex_id": r.complex_id,
                    "lon": round(r.lon, 7), "lat": round(r.lat, 7)})
    return out
