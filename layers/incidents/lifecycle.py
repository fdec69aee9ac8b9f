"""The incident lifecycle in PostGIS: a row in, the core's transition, the row and its event out.

* :func:`apply_action` — lock the row, load it into :class:`~gisgrid.incidents.states.IncidentState`,
  call :func:`~gisgrid.incidents.machine.transition`, write ``after.as_row()`` and the event.
* :func:`merge` — a dispatcher folds duplicates into one case.
* :func:`get_incident`, :func:`scope_check` — read a case, and decide whether an actor may.
* :func:`tick` — the scheduled job: :func:`gisgrid.incidents.deadlines.tick` over the overdue cases.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.codes import in_scope
from gisgrid.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from gisgrid.incidents.deadlines import deadline_for
from gisgrid.incidents.deadlines import tick as decide_tick
from gisgrid.incidents.intake import aware_time
from gisgrid.incidents.machine import transition
from gisgrid.incidents.states import (
    IN_HAND,
    LEVEL_UP,
    SYSTEM,
    TRANSITIONS,
    WHISTLE_STATUSES,
    Action,
    Actor,
    IncidentState,
    Transition,
    Whistle,
)
from gisgrid.incidents.workcal import WorkCalendar, default_calendar
from layers.geojson import department_condition  # the map layer's and Open311's rule: one copy

__all__ = ["apply_action", "get_incident", "merge", "scope_check", "tick"]

_ROW_SQL = """
SELECT i.id, i.status, i.level, i.category_code, i.reported_at, i.grid_code, c.code AS community_code,
       s.code AS street_code, i.assignee_staff_id, i.assignee_department_id, i.deadline_at, i.closed_at,
       i.satisfaction, i.whistles, i.verification_failed, i.escalations, i.reopens, i.merged_into_id
FROM incident i LEFT JOIN admin_area c ON c.id = i.community_id LEFT JOIN admin_area s ON s.id = i.street_id
"""


def _when(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _state(row: Mapping[Any, Any]) -> IncidentState:
    whistles = tuple(
        Whistle(int(w["department_id"]), w["kind"], _when(w["whistled_at"]), _when(w["due_at"]),  # type: ignore[arg-type]
                _when(w.get("accepted_at")), _when(w.get("flagged_at")))
        for w in (row["whistles"] or [])
    )
    return IncidentState(
        id=row["id"], status=row["status"], level=row["level"], category_code=row["category_code"],
        reported_at=row["reported_at"], grid_code=row["grid_code"], community_code=row["community_code"],
        street_code=row["street_code"], assignee_staff_id=row["assignee_staff_id"],
        assignee_department_id=row["assignee_department_id"], deadline_at=row["deadline_at"],
        closed_at=row["closed_at"], satisfaction=row["satisfaction"], whistles=whistles,
        verification_failed=row["verification_failed"], escalations=row["escalations"], reopens=row["reopens"],
    )


def _lock(session: Session, ids: Sequence[int]) -> dict[int, IncidentState]:
    rows = session.execute(
        text(_ROW_SQL + " WHERE i.id = ANY(:ids) ORDER BY i.id FOR UPDATE OF i"), {"ids": list(ids)}
    ).mappings().all()
    found = {r["id"]: r for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"no incident {missing[0]}", field="incident_id", feature=missing[0], rule="exists")
    return {i: _state(r) for i, r in found.items()}


def _write(session: Session, step: Transition, *, merged_into: int | None = None) -> None:
    after = step.after
    session.execute(
        text("""UPDATE incident SET status = :status, level = :level, category_code = :category_code,
                    assignee_staff_id = :assignee_staff_id, assignee_department_id = :assignee_department_id,
                    deadline_at = :deadline_at, closed_at = :closed_at, satisfaction = :satisfaction,
                    whistles = CAST(:whistles AS jsonb), verification_failed = :vf, escalations = :esc,
                    reopens = :reopens, merged_into_id = COALESCE(:merged, merged_into_id)
                WHERE id = :id"""),
        {**after.as_row(), "whistles": json.dumps([w.to_dict() for w in after.whistles]),
         "vf": after.verification_failed, "esc": after.escalations, "reopens": after.reopens,
         "merged": merged_into, "id": after.id},
    )
    _event(session, step.event)


def _event(session: Session, event: Mapping[str, Any]) -> None:
    session.execute(
        text("""INSERT INTO incident_event (incident_id, action, from_status, to_status, actor_user_id,
                                            actor_staff_id, at, note, data)
                VALUES (:incident_id, :action, :from_status, :to_status, :actor_user_id, :actor_staff_id,
                        :at, :note, CAST(:data AS jsonb))"""),
        {**event, "data": json.dumps(event["data"], ensure_ascii=False, default=str)},
    )


_AUTO_DEADLINE = {Action.DISPATCH, Action.ESCALATE, Action.REOPEN}


def apply_action(
    session: Session,
    incident_id: int,
    action: str,
    actor: Actor,
    note: str = "",
    params: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
    *,
    calendar: WorkCalendar | None = None,
) -> dict[str, Any]:
    """Take ``action`` on an incident (row locked ``FOR UPDATE``); the incident as :func:`get_incident` shows it.

    For ``dispatch``, ``escalate`` and ``reopen`` a missing ``deadline_at`` is computed from the
    deadline table (``resolve`` stage, the level after the action); ``dispatch`` without an assignee
    takes the one proposed at intake. ``deadline_at`` may be an ISO 8601 string.

    Raises
    ------
    NotFoundError, PermissionDeniedError, ConflictError, InvalidInputError
        As :func:`gisgrid.incidents.machine.transition` does; 409's ``details['allowed']`` lists the actions
        the actor may take.
    """
    at = aware_time(now, "now") if now is not None else dt.datetime.now(dt.UTC)
    try:
        act = Action(action)
    except ValueError:
        raise InvalidInputError(f"unknown action {action!r}", field="action", feature=action,
                                rule="one of " + ", ".join(a.value for a in Action if a is not Action.REPORT)
                                ) from None
    if act is Action.REPORT:
        raise InvalidInputError("report through intake", field="action", rule="report creates a case")
    state = _lock(session, [incident_id])[incident_id]
    kw = dict(params or {})
    if kw.get("deadline_at") is not None:
        kw["deadline_at"] = aware_time(kw["deadline_at"], "deadline_at")
    elif act in _AUTO_DEADLINE and act in TRANSITIONS[state.status]:
        level = LEVEL_UP.get(state.level, state.level) if act is Action.ESCALATE else state.level
        kw["deadline_at"] = deadline_for(state.category_code, level, at, calendar or default_calendar())
    if act is Action.DISPATCH and kw.get("staff_id") is None and kw.get("department_id") is None:
        if state.assignee_staff_id is not None:
            kw["staff_id"] = state.assignee_staff_id
        if state.assignee_department_id is not None:
            kw["department_id"] = state.assignee_department_id
    step = transition(state, act, actor, at=at, note=note, **kw)
    _write(session, step)
    return get_incident(session, incident_id)


def get_incident(session: Session, incident_id: int, *, with_events: bool = True) -> dict[str, Any]:
    """The incident row (point as lon/lat, area codes) and, by default, its events in order."""
    row = session.execute(
        text("""SELECT i.id, i.status, i.level, i.category_code, i.source, i.description, i.photos,
                       i.reporter_contact, i.reported_at, i.grid_id, i.grid_code, c.code AS community_code,
                       s.code AS street_code, i.assignee_staff_id, i.assignee_department_id,
                       i.assignee_property_company_id, i.assignee_station_id, i.deadline_at, i.closed_at,
                       i.satisfaction, i.boundary_flag, i.merged_into_id, i.whistles, i.verification_failed,
                       i.escalations, i.reopens, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
                FROM incident i LEFT JOIN admin_area c ON c.id = i.community_id
                LEFT JOIN admin_area s ON s.id = i.street_id WHERE i.id = :id"""),
        {"id": incident_id},
    ).mappings().one_or_none()
    if row is None:
        raise NotFoundError(f"no incident {incident_id}", field="incident_id", feature=incident_id, rule="exists")
    out = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in row.items()}
    if with_events:
        events = session.execute(
            text("""SELECT id, action, from_status, to_status, actor_user_id, actor_staff_id, at, note, data
                    FROM incident_event WHERE incident_id = :id ORDER BY at, id"""),
            {"id": incident_id},
        ).mappings()
        out["events"] = [{**e, "at": e["at"].isoformat()} for e in events]
    return out


def scope_check(session: Session, incident_id: int, actor: Actor) -> None:
    """NotFound unless the incident exists; PermissionDenied if it lies outside the actor's scope.

    The scope is the actor's area and, for a ``department`` account, the incidents assigned or
    whistled to its department (:func:`layers.geojson.department_condition`, the rule of the map
    layer and Open311; an account bound to no department has none). Both answer alike.
    """
    sql, params = _ROW_SQL + " WHERE i.id = :id", {"id": incident_id}
    department = actor.role == "department"
    if department:
        department_id = actor.department_id if actor.department_id is not None else -1
        condition, department_params = department_condition(department_id, alias="r", param="scope_department_id")
        # NULL (no assignee, no whistles) is not the department's case
        sql = f"SELECT r.*, COALESCE({condition}, false) AS department_case FROM ({sql}) r"
        params.update(department_params)
    row = session.execute(text(sql), params).mappings().one_or_none()
    if row is None:
        raise NotFoundError(f"no incident {incident_id}", field="incident_id", feature=incident_id, rule="exists")
    state = _state(row)
    if not in_scope(actor.scope_code, state.area_code) or (department and not row["department_case"]):
        raise PermissionDeniedError(f"incident {incident_id} is outside your scope", field="scope_code",
                                    feature=incident_id, rule="scope")


def merge(
    session: Session, keep_id: int, merge_ids: Sequence[int], actor: Actor, *, note: str = "",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Fold duplicates into ``keep_id``: each is closed as 不予立案 (``rejected``) with ``merged_into_id``.

    Only cases not yet registered can be merged (the reject rule of the state machine; a 409 lists
    what is allowed otherwise); the actor needs the reject role (dispatcher, admin) and scope over all
    of them. Each merged case gets a ``merge`` event (to ``rejected``), the kept one a ``merge`` event
    listing what was folded in (status unchanged).
    """
    at = aware_time(now, "now") if now is not None else dt.datetime.now(dt.UTC)
    ids = sorted({int(i) for i in merge_ids})
    if not ids or keep_id in ids:
        raise InvalidInputError("merge_ids must be non-empty and must not contain the kept incident",
                                field="merge_ids", rule="non-empty, without keep_id")
    states = _lock(session, sorted([keep_id, *ids]))
    keep = states[keep_id]
    if not in_scope(actor.scope_code, keep.area_code):
        raise PermissionDeniedError(f"incident {keep_id} is outside your scope", field="scope_code",
                                    feature=keep_id, rule="scope")
    if keep.status == "rejected":
        raise ConflictError(f"incident {keep_id} is rejected or merged; keep an open case", field="keep_id",
                            feature=keep_id, rule="keep an open case")
    text_note = note or f"合并至 #{keep_id}"
    for i in ids:
        step = transition(states[i], Action.REJECT, actor, at=at, note=text_note)
        event = {**step.event, "action": "merge", "data": {**step.event["data"], "merged_into": keep_id}}
        _write(session, Transition(step.before, step.after, event), merged_into=keep_id)
    _event(session, {"incident_id": keep_id, "action": "merge", "from_status": keep.status,
                     "to_status": keep.status, "actor_user_id": actor.user_id, "actor_staff_id": actor.staff_id,
                     "at": at, "note": note or f"合并 {', '.join(f'#{i}' for i in ids)}",
                     "data": {"actor_role": actor.role, "merged_ids": ids}})
    return get_incident(session, keep_id)


# --------------------------------------------------------------------------------------------- tick
def tick(session: Session, now: dt.datetime | None = None, *, calendar: WorkCalendar | None = None,
         limit: int = 5000) -> dict[str, Any]:
    """The scheduled job: escalate or backlog overdue cases in hand, flag overdue whistles.

    Rows are locked ``FOR UPDATE SKIP LOCKED`` so the API's loop and ``gisgrid incidents tick`` can
    run together without waiting on each other or on a user's transition.
    """
    at = aware_time(now, "now") if now is not None else dt.datetime.now(dt.UTC)
    rows = session.execute(
        text(_ROW_SQL + """ WHERE (i.status = ANY(:in_hand) AND i.deadline_at < :now)
               OR (i.status = ANY(:whistle_statuses) AND i.whistles <> '[]'::jsonb AND EXISTS (
                   SELECT 1 FROM jsonb_array_elements(i.whistles) w
                   WHERE w->>'accepted_at' IS NULL AND w->>'flagged_at' IS NULL
                     AND (w->>'due_at')::timestamptz < :now))
             ORDER BY i.id LIMIT :limit FOR UPDATE OF i SKIP LOCKED"""),
        {"in_hand": list(IN_HAND), "now": at, "limit": limit,
         "whistle_statuses": list(WHISTLE_STATUSES)},
    ).mappings().all()
    steps = decide_tick([_state(r) for r in rows], at, calendar or default_calendar(), actor=SYSTEM)
    counts = {"escalate": 0, "backlog": 0, "flag_whistle_overdue": 0}
    for step in steps:
        _write(session, step)
        counts[step.action.value] = counts.get(step.action.value, 0) + 1
    return {"at": at.isoformat(), "checked": len(rows), "escalated": counts["escalate"],
            "backlogged": counts["backlog"], "whistles_flagged": counts["flag_whistle_overdue"],
            "incident_ids": sorted({s.after.id for s in steps if s.after.id is not None})}
