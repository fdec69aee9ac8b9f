"""The incident (事件) lifecycle as an explicit, pure state machine.

A case goes 上报 → 立案 (or 不予立案) → 派遣 → 受理 → 处置 → 处置反馈 → 核查 → 结案 → 评价::

    reported ─register→ registered ─dispatch→ dispatched ─accept→ accepted ─start→ in_progress
       └─reject→ rejected                                                             │
    rated ←rate─ closed ←close─ verified ←verify─ resolved ←──────────resolve──────────┘

plus the side roads of grid governance: ``escalate`` (grid → community → street → district),
``whistle`` (街道吹哨: call one or more departments, each of which must report — ``department_accept``,
部门报到 — within a limit), ``fail_verification`` and ``reopen`` (核查不通过 or a dissatisfied rating
sends the case back), and ``backlog`` (挂账) for overdue cases that cannot be fixed in time.

Everything here is pure functions over the data of :mod:`gisgrid.incidents.states`.
:func:`transition` takes an :class:`~gisgrid.incidents.states.IncidentState`, an
:class:`~gisgrid.incidents.states.Action` and an :class:`~gisgrid.incidents.states.Actor` and returns a
:class:`~gisgrid.incidents.states.Transition`: the new state and the ``incident_event`` row to write;
:func:`report` makes a case's first state and event. Nothing is read from a clock, a database or the
environment; the caller passes ``at`` and, where the action needs one, the new ``deadline_at``
(computed with :func:`gisgrid.incidents.deadlines.deadline_for`).

Checks, in this order (the first failure wins):

1. **scope** — the actor's ``scope_code`` must cover the case's area (:func:`gisgrid.codes.in_scope`);
   otherwise :class:`~gisgrid.errors.PermissionDeniedError` (``rule='scope'``). Checked first so that
   a caller outside the area learns nothing about the case.
2. **legality** — the action must be legal from the case's status and pass the state's guards
   (``TRANSITIONS``, :func:`legal_actions`); otherwise :class:`~gisgrid.errors.ConflictError`
   with ``rule='illegal transition'`` and ``details={'status', 'action', 'allowed', 'legal', 'reason'}``
   where ``allowed`` lists what *this actor* may do now and ``legal`` what any role could.
3. **role** — the actor's role must be in ``ROLE_TABLE`` for the action, in
   ``HANDLER_ROLES`` for the case's level (accept/start/resolve), and patrol and department
   handlers must be the assignee; otherwise :class:`~gisgrid.errors.PermissionDeniedError` naming
   the rule (``'role table'``, ``'handler level'``, ``'assignee only'``, ``'whistled department only'``).
4. **parameters** — e.g. ``satisfaction`` for ``rate``, ``deadline_at`` for ``dispatch``;
   otherwise :class:`~gisgrid.errors.InvalidInputError` naming the field.

Decisions worth knowing:

* A resident's rating is recorded by a **dispatcher** from the callback (回访), as the 12345 hotlines
  do; residents have no account role. Add a role to ``ROLE_TABLE`` if residents rate in an app.
* ``fail_verification`` keeps the case ``resolved`` with ``verification_failed=True`` (the vocabulary
  has no separate status); from there only ``reopen`` (and whistles) can follow.
* ``reopen`` and ``escalate`` of a case in hand go to ``dispatched`` with a new deadline; escalation
  clears the assignee unless a new one is named (the higher level picks its handler).
* ``whistle`` and ``department_accept`` do not change the status: the departments come to help the
  case's handler. Their state lives in ``IncidentState.whistles``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from gisgrid import vocab
from gisgrid.codes import in_scope
from gisgrid.errors import ConflictError, InvalidInputError, PermissionDeniedError
from gisgrid.incidents.states import (
    DEFAULT_POLICY,
    HANDLER_ACTIONS,
    HANDLER_ROLES,
    LEVEL_UP,
    NOTE_REQUIRED,
    PARAMS,
    ROLE_TABLE,
    TRANSITIONS,
    WHISTLE_KINDS,
    Action,
    Actor,
    IncidentState,
    Policy,
    Transition,
    Whistle,
    aware,
    iso,
    may_report,
)

__all__ = [
    "allowed_actions",
    "legal_actions",
    "overdue_whistles",
    "replay",
    "report",
    "transition",
]


def overdue_whistles(state: IncidentState, now: dt.datetime) -> tuple[Whistle, ...]:
    """Whistles still waiting for their department after their due time."""
    aware(now, "now")
    return tuple(w for w in state.whistles if w.overdue(now))


def _is_overdue(state: IncidentState, at: dt.datetime) -> bool:
    return state.deadline_at is not None and at > state.deadline_at


# -------------------------------------------------------------------------------------------------
# Legality


def _guard(state: IncidentState, action: Action, at: dt.datetime | None, policy: Policy) -> str | None:
    """Why ``action`` is not possible from ``state`` although its status has the move, or None."""
    if action is Action.ESCALATE and state.level not in LEVEL_UP:
        return "the case is already at district level"
    if action in (Action.VERIFY, Action.FAIL_VERIFICATION) and state.verification_failed:
        return "the verification failed; reopen the case"
    if action is Action.REOPEN:
        if state.status == "resolved" and not state.verification_failed:
            return "reopen after a failed verification"
        if state.status == "rated" and (state.satisfaction or 5) > policy.reopen_max_satisfaction:
            return f"reopen only after a rating of {policy.reopen_max_satisfaction} or less"
    if action is Action.DEPARTMENT_ACCEPT and not state.pending_whistles:
        return "no department is waiting to report"
    if at is not None:
        if action is Action.BACKLOG and not _is_overdue(state, at):
            return "backlog only when the case is overdue"
        if action is Action.FLAG_WHISTLE_OVERDUE and not any(
            w.overdue(at) and w.flagged_at is None for w in state.whistles
        ):
            return "no unflagged overdue whistle"
    return None


def legal_actions(
    state: IncidentState, *, at: dt.datetime | None = None, policy: Policy = DEFAULT_POLICY
) -> list[Action]:
    """Actions the state allows, whoever acts, in :class:`~gisgrid.incidents.states.Action` order.

    Time guards (backlog, overdue whistles) need ``at``; without it they are taken as met.
    """
    moves = TRANSITIONS[state.status]
    return [a for a in Action if a in moves and _guard(state, a, at, policy) is None]


def _permission_problem(state: IncidentState, action: Action, actor: Actor) -> tuple[str, str] | None:
    """(rule, message) if the actor's role may not take ``action`` on this case, else None."""
    if actor.role not in ROLE_TABLE[action]:
        roles = ", ".join(sorted(ROLE_TABLE[action]))
        return "role table", f"role {actor.role!r} may not {action.value}; allowed roles: {roles}"
    if action in HANDLER_ACTIONS:
        if actor.role not in HANDLER_ROLES[state.level]:
            roles = ", ".join(sorted(HANDLER_ROLES[state.level]))
            return "handler level", f"a {state.level}-level case is handled by {roles}, not {actor.role!r}"
        if actor.role == "patrol" and state.assignee_staff_id not in (None, actor.staff_id):
            return "assignee only", "only the assigned grid worker may handle this case"
        if actor.role == "department" and (
            state.assignee_department_id is None or state.assignee_department_id != actor.department_id
        ):
            return "assignee only", "only the assigned department may handle this case"
    if (
        action is Action.DEPARTMENT_ACCEPT
        and actor.role == "department"
        and actor.department_id not in {w.department_id for w in state.pending_whistles}
    ):
        return (
            "whistled department only",
            "this department was not whistled for the case (or already reported)",
        )
    return None


def allowed_actions(
    state: IncidentState,
    actor: Actor,
    *,
    at: dt.datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> list[Action]:
    """The actions ``actor`` may take on ``state`` now (empty if the case is outside their scope).

    Parameters are not checked (an action listed here can still fail for a missing ``deadline_at``).
    Time guards need ``at``; without it they are taken as met.
    """
    if not in_scope(actor.scope_code, state.area_code):
        return []
    return [
        a for a in legal_actions(state, at=at, policy=policy) if _permission_problem(state, a, actor) is None
    ]


# -------------------------------------------------------------------------------------------------
# Transition


def _require(params: Mapping[str, Any], name: str, action: Action) -> Any:
    if params.get(name) is None:
        raise InvalidInputError(
            f"{action.value} needs {name}", field=name, rule=f"{name} required for {action.value}"
        )
    return params[name]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            f"{name} must be a positive integer id", field=name, feature=value, rule="id > 0"
        )
    return value


def _deadline(params: Mapping[str, Any], action: Action, at: dt.datetime) -> dt.datetime:
    deadline = aware(_require(params, "deadline_at", action), "deadline_at")
    if deadline <= at:
        raise InvalidInputError(
            "deadline_at must be after the action's time", field="deadline_at", rule="deadline_at > at"
        )
    return deadline


def transition(
    state: IncidentState,
    action: Action | str,
    actor: Actor,
    *,
    at: dt.datetime,
    note: str = "",
    policy: Policy = DEFAULT_POLICY,
    **params: Any,
) -> Transition:
    """Apply ``action`` by ``actor`` at ``at`` to ``state``; pure.

    Parameters
    ----------
    state, action, actor
        The case, what is done, who does it.
    at
        When (timezone-aware). Time guards (``backlog`` only when overdue, overdue whistles) use it.
    note
        Free text for the event; required for ``reject``, ``fail_verification``, ``reopen`` and
        ``backlog`` (the reason).
    policy
        The configurable numbers (:class:`~gisgrid.incidents.states.Policy`).
    **params
        What the action takes (anything else is an error):

        ``register``: ``deadline_at`` (to dispatch by), ``level``, ``category_code`` (corrections);
        ``dispatch``: ``deadline_at`` (required), ``staff_id`` and/or ``department_id`` (one required);
        ``rate``: ``satisfaction`` 1–5; ``reopen``, ``escalate``: ``deadline_at`` (required) and
        optionally a new ``staff_id`` / ``department_id``; ``whistle``: ``departments`` (ids),
        ``kind`` (routine/hard_case/emergency, default routine), ``minutes`` (default from policy);
        ``department_accept``: ``department_id`` (required unless the actor is that department).

    Returns
    -------
    Transition

    Raises
    ------
    PermissionDeniedError
        The case is outside the actor's scope, or the role may not take the action here.
    ConflictError
        The action is not legal from the state (``rule='illegal transition'``, allowed ones listed),
        or a whistle repeats a department still pending.
    InvalidInputError
        A parameter is missing, unknown or out of range, or ``at`` is naive.
    """
    at = aware(at, "at")
    try:
        action = Action(action)
    except ValueError:
        raise InvalidInputError(
            f"unknown action {action!r}", field="action", feature=action, rule="action in Action"
        ) from None
    if not in_scope(actor.scope_code, state.area_code):
        raise PermissionDeniedError(
            f"case {state.id} at {state.area_code} is outside the actor's scope {actor.scope_code}",
            field="scope_code",
            feature=state.id,
            rule="scope",
            details={"scope_code": actor.scope_code, "area_code": state.area_code},
        )
    target = TRANSITIONS[state.status].get(action)
    reason = "no such move from this status" if target is None else _guard(state, action, at, policy)
    if target is None or reason is not None:
        raise ConflictError(
            f"cannot {action.value} a case that is {state.status}: {reason}",
            field="action",
            feature=state.id,
            rule="illegal transition",
            details={
                "status": state.status,
                "action": action.value,
                "reason": reason,
                "allowed": [a.value for a in allowed_actions(state, actor, at=at, policy=policy)],
                "legal": [a.value for a in legal_actions(state, at=at, policy=policy)],
            },
        )
    problem = _permission_problem(state, action, actor)
    if problem is not None:
        raise PermissionDeniedError(
            problem[1],
            field="role",
            feature=state.id,
            rule=problem[0],
            details={"role": actor.role, "action": action.value, "level": state.level},
        )
    extra = set(params) - PARAMS.get(action, frozenset())
    if extra:
        name = sorted(extra)[0]
        raise InvalidInputError(
            f"{action.value} does not take {', '.join(sorted(extra))}",
            field=name,
            rule=f"parameters of {action.value}: {', '.join(sorted(PARAMS.get(action, ()))) or 'none'}",
        )
    if action in NOTE_REQUIRED and not note.strip():
        raise InvalidInputError(
            f"{action.value} needs a note giving the reason", field="note", rule="reason required"
        )

    after, data = _apply(state, action, actor, target, at, policy, params)
    data = {"actor_role": actor.role, **data}
    event = {
        "incident_id": state.id,
        "action": action.value,
        "from_status": state.status,
        "to_status": after.status,
        "actor_user_id": actor.user_id,
        "actor_staff_id": actor.staff_id,
        "at": at,
        "note": note,
        "data": data,
    }
    return Transition(before=state, after=after, event=event)


def _assignee(
    params: Mapping[str, Any], *, required: bool, action: Action
) -> tuple[int | None, int | None, bool]:
    staff, dept = params.get("staff_id"), params.get("department_id")
    if staff is not None:
        _positive_int(staff, "staff_id")
    if dept is not None:
        _positive_int(dept, "department_id")
    if required and staff is None and dept is None:
        raise InvalidInputError(
            f"{action.value} needs staff_id or department_id",
            field="staff_id",
            rule="an assignee is required",
        )
    return staff, dept, staff is not None or dept is not None


def _apply(
    state: IncidentState,
    action: Action,
    actor: Actor,
    target: str,
    at: dt.datetime,
    policy: Policy,
    params: Mapping[str, Any],
) -> tuple[IncidentState, dict[str, Any]]:
    data: dict[str, Any] = {}
    changes: dict[str, Any] = {"status": target}

    if action is Action.REGISTER:
        if params.get("level") is not None:
            if params["level"] not in vocab.INCIDENT_LEVELS:
                raise InvalidInputError(
                    f"level must be one of {', '.join(vocab.INCIDENT_LEVELS)}",
                    field="level",
                    rule="level in vocab",
                )
            changes["level"] = data["level"] = params["level"]
        if params.get("category_code") is not None:
            if not re.fullmatch(r"[0-9]{5}", str(params["category_code"])):
                raise InvalidInputError(
                    "category_code must be 5 digits", field="category_code", rule="5-digit code"
                )
            changes["category_code"] = data["category_code"] = str(params["category_code"])
        if params.get("deadline_at") is not None:
            changes["deadline_at"] = _deadline(params, action, at)
    elif action is Action.DISPATCH:
        changes["deadline_at"] = _deadline(params, action, at)
        staff, dept, _ = _assignee(params, required=True, action=action)
        changes.update(assignee_staff_id=staff, assignee_department_id=dept)
    elif action is Action.ESCALATE:
        changes["deadline_at"] = _deadline(params, action, at)
        staff, dept, named = _assignee(params, required=False, action=action)
        changes.update(
            level=LEVEL_UP[state.level],
            escalations=state.escalations + 1,
            assignee_staff_id=staff if named else None,
            assignee_department_id=dept if named else None,
        )
        data.update(from_level=state.level, level=changes["level"])
    elif action is Action.REOPEN:
        changes["deadline_at"] = _deadline(params, action, at)
        staff, dept, named = _assignee(params, required=False, action=action)
        if named:
            changes.update(assignee_staff_id=staff, assignee_department_id=dept)
        changes.update(
            verification_failed=False, reopens=state.reopens + 1, closed_at=None, satisfaction=None
        )
        data["previous_satisfaction"] = state.satisfaction
    elif action is Action.FAIL_VERIFICATION:
        changes["verification_failed"] = True
    elif action is Action.CLOSE:
        changes["closed_at"] = at
    elif action is Action.RATE:
        sat = _require(params, "satisfaction", action)
        if isinstance(sat, bool) or not isinstance(sat, int) or not 1 <= sat <= 5:
            raise InvalidInputError(
                "satisfaction must be an integer 1–5",
                field="satisfaction",
                feature=sat,
                rule="1 <= satisfaction <= 5",
            )
        changes["satisfaction"] = data["satisfaction"] = sat
    elif action is Action.WHISTLE:
        changes["whistles"] = _whistle(state, at, policy, params)
        data["departments"] = [w.department_id for w in changes["whistles"][len(state.whistles) :]]
        data["kind"] = params.get("kind") or "routine"
    elif action is Action.DEPARTMENT_ACCEPT:
        dept = (
            actor.department_id if actor.role == "department" else _require(params, "department_id", action)
        )
        dept = _positive_int(dept, "department_id")
        if actor.role == "department" and params.get("department_id") not in (None, dept):
            raise InvalidInputError(
                "a department reports for itself", field="department_id", rule="department_id = actor's"
            )
        whistles = list(state.whistles)
        idx = next((i for i, w in enumerate(whistles) if w.pending and w.department_id == dept), None)
        if idx is None:
            raise ConflictError(
                f"department {dept} has no pending whistle on this case",
                field="department_id",
                feature=state.id,
                rule="whistled department only",
                details={"pending": [w.department_id for w in state.pending_whistles]},
            )
        w = whistles[idx]
        whistles[idx] = replace(w, accepted_at=at)
        changes["whistles"] = tuple(whistles)
        data.update(
            department_id=dept,
            whistled_at=iso(w.whistled_at),
            arrival_minutes=round((at - w.whistled_at).total_seconds() / 60.0, 1),
            on_time=at <= w.due_at,
        )
    elif action is Action.FLAG_WHISTLE_OVERDUE:
        due = [w.overdue(at) and w.flagged_at is None for w in state.whistles]
        flagged = [w.department_id for w, d in zip(state.whistles, due, strict=True) if d]
        changes["whistles"] = tuple(
            replace(w, flagged_at=at) if d else w for w, d in zip(state.whistles, due, strict=True)
        )
        data["departments"] = flagged

    after = replace(state, **changes)
    for name in ("deadline_at", "assignee_staff_id", "assignee_department_id", "closed_at"):
        if getattr(after, name) != getattr(state, name):
            value = getattr(after, name)
            data[name] = iso(value) if isinstance(value, dt.datetime) else value
    if action in (Action.WHISTLE, Action.DEPARTMENT_ACCEPT, Action.FLAG_WHISTLE_OVERDUE):
        data["whistles"] = [w.to_dict() for w in after.whistles]
    return after, data


def _whistle(
    state: IncidentState, at: dt.datetime, policy: Policy, params: Mapping[str, Any]
) -> tuple[Whistle, ...]:
    departments = params.get("departments")
    if isinstance(departments, int | str) or not isinstance(departments, Sequence | set | frozenset):
        raise InvalidInputError(
            "departments must be a list of department ids", field="departments", rule="non-empty list of ids"
        )
    ids = [_positive_int(d, "departments") for d in departments]
    if not ids or len(set(ids)) != len(ids):
        raise InvalidInputError(
            "departments must be a non-empty list without repeats",
            field="departments",
            rule="non-empty, unique",
        )
    kind = params.get("kind") or "routine"
    if kind not in WHISTLE_KINDS:
        raise InvalidInputError(
            f"kind must be one of {', '.join(WHISTLE_KINDS)}", field="kind", feature=kind, rule="whistle kind"
        )
    minutes = params.get("minutes")
    if minutes is None:
        minutes = policy.whistle_minutes[kind]
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0:
        raise InvalidInputError(
            "minutes must be positive", field="minutes", feature=minutes, rule="minutes > 0"
        )
    pending = {w.department_id for w in state.pending_whistles}
    if again := sorted(set(ids) & pending):
        raise ConflictError(
            f"departments {again} were whistled already and have not reported",
            field="departments",
            feature=state.id,
            rule="department already whistled",
            details={"pending": sorted(pending)},
        )
    due = at + dt.timedelta(minutes=minutes)
    return state.whistles + tuple(Whistle(d, kind, at, due) for d in ids)


def report(
    *,
    actor: Actor | None,
    at: dt.datetime,
    category_code: str,
    level: str = "grid",
    incident_id: int | None = None,
    reported_at: dt.datetime | None = None,
    grid_code: str | None = None,
    community_code: str | None = None,
    street_code: str | None = None,
    deadline_at: dt.datetime | None = None,
    note: str = "",
    data: Mapping[str, Any] | None = None,
) -> Transition:
    """Create a case (上报): the first state, ``reported``, and its ``report`` event (``from_status=None``).

    ``deadline_at`` is when it must be registered (1 working hour by default practice; see
    :func:`gisgrid.incidents.deadlines.deadline_for` with ``stage='dispatch'``). Scope is not checked:
    anyone may report anywhere; the role must be in ``ROLE_TABLE[Action.REPORT]``
    (:func:`~gisgrid.incidents.states.may_report`). ``data`` adds to the event's ``data`` (intake
    records the route and the boundary flag there).

    ``actor=None`` is a reporter not known yet: the API's intake loads the account in the very
    statement that writes the case (:mod:`layers.incidents.intake`). The event's ``actor_user_id``,
    ``actor_staff_id`` and ``data['actor_role']`` are then left for that writer, which must check
    :func:`~gisgrid.incidents.states.may_report` itself.
    """
    at = aware(at, "at")
    if actor is not None and not may_report(actor.role):
        raise PermissionDeniedError(
            f"role {actor.role!r} may not report a case",
            field="role",
            rule="role table",
            details={"role": actor.role, "action": Action.REPORT.value},
        )
    state = IncidentState(
        id=incident_id,
        status="reported",
        level=level,
        category_code=category_code,
        reported_at=reported_at or at,
        grid_code=grid_code,
        community_code=community_code,
        street_code=street_code,
        deadline_at=deadline_at,
    )
    who = {} if actor is None else {"actor_role": actor.role}
    event = {
        "incident_id": incident_id,
        "action": Action.REPORT.value,
        "from_status": None,
        "to_status": state.status,
        "actor_user_id": None if actor is None else actor.user_id,
        "actor_staff_id": None if actor is None else actor.staff_id,
        "at": at,
        "note": note,
        "data": {**who, "level": level, "deadline_at": iso(deadline_at), **(data or {})},
    }
    return Transition(before=None, after=state, event=event)


def replay(
    state: IncidentState, steps: Iterable[tuple[Action | str, Actor, dt.datetime, dict[str, Any]]]
) -> list[Transition]:
    """Apply several ``(action, actor, at, params)`` steps in order; the transitions made.

    ``params`` may hold ``note``; the rest go to :func:`transition`. Handy for tests and demo data.
    """
    out: list[Transition] = []
    for action, actor, at, params in steps:
        kw = dict(params)
        note = kw.pop("note", "")
        step = transition(state, action, actor, at=at, note=note, **kw)
        out.append(step)
        state = step.after
    return out
