"""The incident's vocabulary as data: actions, roles, the transition tables, and the values the machine works on.

Everything here is data plus immutable values — :class:`Action`, the tables :data:`TRANSITIONS`,
:data:`ROLE_TABLE` and :data:`HANDLER_ROLES`, :class:`Policy`, :class:`Actor`, :class:`Whistle`,
:class:`IncidentState` and :class:`Transition`. What happens to a case — the checks and the moves —
is :mod:`gisgrid.incidents.machine`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from gisgrid import vocab
from gisgrid.codes import area_level
from gisgrid.errors import InvalidInputError

__all__ = [
    "ACTOR_ROLES",
    "DEFAULT_POLICY",
    "HANDLER_ACTIONS",
    "HANDLER_ROLES",
    "IN_HAND",
    "LEVEL_UP",
    "NOTE_REQUIRED",
    "PARAMS",
    "ROLE_TABLE",
    "SYSTEM",
    "TRANSITIONS",
    "WHISTLE_KINDS",
    "WHISTLE_STATUSES",
    "Action",
    "Actor",
    "IncidentState",
    "Policy",
    "Transition",
    "Whistle",
    "aware",
    "iso",
    "may_report",
]

class Action(enum.StrEnum):
    """Everything that can happen to a case; the value is what ``incident_event.action`` stores."""

    REPORT = "report"  # 上报 — creates the case (see :func:`gisgrid.incidents.machine.report`), never a transition
    REGISTER = "register"  # 立案
    REJECT = "reject"  # 不予立案
    DISPATCH = "dispatch"  # 派遣
    ACCEPT = "accept"  # 受理
    START = "start"  # 处置
    RESOLVE = "resolve"  # 处置反馈
    VERIFY = "verify"  # 核查通过
    FAIL_VERIFICATION = "fail_verification"  # 核查不通过
    CLOSE = "close"  # 结案
    RATE = "rate"  # 评价
    REOPEN = "reopen"  # 重新派遣 after a failed check or a dissatisfied rating
    ESCALATE = "escalate"  # 上报上级 one level up
    WHISTLE = "whistle"  # 吹哨
    DEPARTMENT_ACCEPT = "department_accept"  # 报到
    BACKLOG = "backlog"  # 挂账
    FLAG_WHISTLE_OVERDUE = "flag_whistle_overdue"  # the scheduled job notes a department that did not come


# -------------------------------------------------------------------------------------------------
# Tables (data, not code)

IN_HAND: Final = ("dispatched", "accepted", "in_progress")
"""Statuses in which a handler holds the case; ``backlog`` is reachable only from these."""
WHISTLE_STATUSES: Final = ("registered", "dispatched", "accepted", "in_progress", "backlog")
"""Statuses in which departments can be whistled, report, and be flagged as overdue."""

_MOVES: Final[Mapping[str, Mapping[Action, str]]] = {
    "reported": {Action.REGISTER: "registered", Action.REJECT: "rejected"},
    "registered": {Action.DISPATCH: "dispatched", Action.ESCALATE: "registered"},
    "rejected": {},
    "dispatched": {Action.ACCEPT: "accepted", Action.ESCALATE: "dispatched", Action.BACKLOG: "backlog"},
    "accepted": {Action.START: "in_progress", Action.ESCALATE: "dispatched", Action.BACKLOG: "backlog"},
    "in_progress": {Action.RESOLVE: "resolved", Action.ESCALATE: "dispatched", Action.BACKLOG: "backlog"},
    "resolved": {
        Action.VERIFY: "verified",
        Action.FAIL_VERIFICATION: "resolved",
        Action.REOPEN: "dispatched",
    },
    "verified": {Action.CLOSE: "closed"},
    "closed": {Action.RATE: "rated"},
    "rated": {Action.REOPEN: "dispatched"},
    "backlog": {Action.START: "in_progress", Action.RESOLVE: "resolved"},
}
_WHISTLE_LOOPS: Final = (Action.WHISTLE, Action.DEPARTMENT_ACCEPT, Action.FLAG_WHISTLE_OVERDUE)
TRANSITIONS: Final[Mapping[str, Mapping[Action, str]]] = {
    status: {
        **moves,
        **({a: status for a in _WHISTLE_LOOPS} if status in WHISTLE_STATUSES else {}),
    }
    for status, moves in _MOVES.items()
}
"""status → action → target status, before guards. In the statuses of :data:`WHISTLE_STATUSES` the
whistle actions are self-loops (the status does not change)."""

ACTOR_ROLES: Final = (*vocab.USER_ROLES, "system")
"""Who can act: the account roles plus ``system`` for the scheduled job."""

ROLE_TABLE: Final[Mapping[Action, frozenset[str]]] = {
    Action.REPORT: frozenset({"admin", "leader", "dispatcher", "patrol", "department", "system"}),
    Action.REGISTER: frozenset({"admin", "dispatcher"}),
    Action.REJECT: frozenset({"admin", "dispatcher"}),
    Action.DISPATCH: frozenset({"admin", "dispatcher"}),
    Action.ACCEPT: frozenset({"admin", "dispatcher", "patrol", "department"}),
    Action.START: frozenset({"admin", "dispatcher", "patrol", "department"}),
    Action.RESOLVE: frozenset({"admin", "dispatcher", "patrol", "department"}),
    Action.VERIFY: frozenset({"admin", "dispatcher", "patrol"}),
    Action.FAIL_VERIFICATION: frozenset({"admin", "dispatcher", "patrol"}),
    Action.CLOSE: frozenset({"admin", "dispatcher"}),
    Action.RATE: frozenset({"admin", "dispatcher"}),
    Action.REOPEN: frozenset({"admin", "dispatcher"}),
    Action.ESCALATE: frozenset({"admin", "dispatcher", "leader", "system"}),
    Action.WHISTLE: frozenset({"admin", "dispatcher", "leader"}),
    Action.DEPARTMENT_ACCEPT: frozenset({"admin", "dispatcher", "department"}),
    Action.BACKLOG: frozenset({"admin", "dispatcher", "leader", "system"}),
    Action.FLAG_WHISTLE_OVERDUE: frozenset({"admin", "system"}),
}
"""action → roles that may take it (before the level, assignee and scope rules).

* dispatcher (community/street command centre): registers, rejects, dispatches, verifies, closes,
  records ratings, reopens, escalates, whistles, backlogs; may handle community and street cases;
* patrol (grid chief / worker): handles (accepts, starts, resolves) grid and community cases
  assigned to them; verifies on site (核查);
* department: handles district cases assigned to its department; reports when whistled;
* leader: escalates, whistles (街道吹哨), backlogs;
* planner: draws grids — no case actions;
* admin: everything;
* system (scheduled job): escalates or backlogs overdue cases, flags overdue whistles.
"""

HANDLER_ROLES: Final[Mapping[str, frozenset[str]]] = {
    "grid": frozenset({"admin", "patrol"}),
    "community": frozenset({"admin", "patrol", "dispatcher"}),
    "street": frozenset({"admin", "dispatcher"}),
    "district": frozenset({"admin", "department"}),
}
"""level → roles that may accept, start and resolve a case at that level."""
HANDLER_ACTIONS: Final = frozenset({Action.ACCEPT, Action.START, Action.RESOLVE})

LEVEL_UP: Final[Mapping[str, str]] = {"grid": "community", "community": "street", "street": "district"}
WHISTLE_KINDS: Final = ("routine", "hard_case", "emergency")  # 日常哨 / 攻坚哨 / 应急哨

NOTE_REQUIRED: Final = frozenset({Action.REJECT, Action.FAIL_VERIFICATION, Action.REOPEN, Action.BACKLOG})
PARAMS: Final[Mapping[Action, frozenset[str]]] = {
    Action.REGISTER: frozenset({"deadline_at", "level", "category_code"}),
    Action.DISPATCH: frozenset({"deadline_at", "staff_id", "department_id"}),
    Action.RATE: frozenset({"satisfaction"}),
    Action.REOPEN: frozenset({"deadline_at", "staff_id", "department_id"}),
    Action.ESCALATE: frozenset({"deadline_at", "staff_id", "department_id"}),
    Action.WHISTLE: frozenset({"departments", "kind", "minutes"}),
    Action.DEPARTMENT_ACCEPT: frozenset({"department_id"}),
}
"""action → the keyword parameters it takes; passing any other is an InvalidInputError."""


@dataclass(frozen=True)
class Policy:
    """The configurable numbers of the machine (local practice, docs/glossary.md "Case flow").

    Parameters
    ----------
    reopen_max_satisfaction
        A rating at or below this (default 2 of 5) allows ``reopen``.
    whistle_minutes
        Minutes a whistled department has to report, by whistle kind (one pilot: 30 for all).
    max_auto_escalations
        The scheduled job backlogs instead of escalating once a case has been escalated this many
        times (``None``: escalate up to district level, then backlog).
    """

    reopen_max_satisfaction: int = 2
    whistle_minutes: Mapping[str, int] = field(
        default_factory=lambda: {"routine": 30, "hard_case": 30, "emergency": 30}
    )
    max_auto_escalations: int | None = None


DEFAULT_POLICY: Final = Policy()


# -------------------------------------------------------------------------------------------------
# Values


def aware(value: Any, name: str) -> dt.datetime:
    """``value`` if it is a timezone-aware datetime, else :class:`InvalidInputError` naming ``name``."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            f"{name} must be a timezone-aware datetime", field=name, feature=value, rule="aware datetime"
        )
    return value


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 text of a time (None stays None): how times go into events' JSON ``data``."""
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Actor:
    """Who acts: an account's role and ids, or the scheduled job (``role='system'``).

    ``scope_code`` is the 12-digit area the account answers for (15 digits for a grid), ``None`` for
    everywhere (admin, system, district departments).
    """

    role: str
    user_id: int | None = None
    staff_id: int | None = None
    department_id: int | None = None
    scope_code: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ACTOR_ROLES:
            raise InvalidInputError(
                f"role {self.role!r} is not one of {', '.join(ACTOR_ROLES)}",
                field="role",
                feature=self.role,
                rule="role in USER_ROLES or 'system'",
            )
        if self.scope_code is not None:
            area_level(self.scope_code)


SYSTEM: Final = Actor(role="system")
"""The scheduled job (:func:`gisgrid.incidents.deadlines.tick`)."""


def may_report(role: str) -> bool:
    """Whether an actor of ``role`` may report a case (``ROLE_TABLE[Action.REPORT]``)."""
    return role in ROLE_TABLE[Action.REPORT]


@dataclass(frozen=True)
class Whistle:
    """One department called to a case: when, of what kind, by when it must report, and whether it did."""

    department_id: int
    kind: str
    whistled_at: dt.datetime
    due_at: dt.datetime
    accepted_at: dt.datetime | None = None
    flagged_at: dt.datetime | None = None  # when the scheduled job recorded it as overdue

    @property
    def pending(self) -> bool:
        return self.accepted_at is None

    def overdue(self, now: dt.datetime) -> bool:
        """Pending and past its due time."""
        return self.accepted_at is None and now > self.due_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "department_id": self.department_id,
            "kind": self.kind,
            "whistled_at": iso(self.whistled_at),
            "due_at": iso(self.due_at),
            "accepted_at": iso(self.accepted_at),
            "flagged_at": iso(self.flagged_at),
        }


_CATEGORY_CODE: Final = re.compile(r"[0-9]{5}")


@dataclass(frozen=True)
class IncidentState:
    """What the machine needs of an ``incident`` row (plus whistles and counters from its events).

    The first fields mirror ``incident`` columns; ``community_code`` and ``street_code`` are the
    12-digit codes of the row's ``community_id`` / ``street_id``. ``whistles``,
    ``verification_failed``, ``escalations`` and ``reopens`` are not columns: they follow from the
    case's ``incident_event`` rows (each event's ``data`` carries them).
    """

    id: int | None
    status: str
    level: str
    category_code: str
    reported_at: dt.datetime
    grid_code: str | None = None
    community_code: str | None = None
    street_code: str | None = None
    assignee_staff_id: int | None = None
    assignee_department_id: int | None = None
    deadline_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    satisfaction: int | None = None
    whistles: tuple[Whistle, ...] = ()
    verification_failed: bool = False
    escalations: int = 0
    reopens: int = 0

    def __post_init__(self) -> None:
        # every intake builds one (machine.report): these checks cost ~2.5 µs, against 0.6–1 ms of server
        # CPU per report (docs/benchmarks.md)
        for name, allowed in (("status", vocab.INCIDENT_STATUSES), ("level", vocab.INCIDENT_LEVELS)):
            if getattr(self, name) not in allowed:
                raise InvalidInputError(
                    f"{name} {getattr(self, name)!r} is not one of {', '.join(allowed)}",
                    field=name,
                    feature=self.id,
                    rule=f"{name} in vocab",
                )
        if not _CATEGORY_CODE.fullmatch(str(self.category_code)):
            raise InvalidInputError(
                "category_code must be 5 digits", field="category_code", feature=self.id, rule="5-digit code"
            )
        aware(self.reported_at, "reported_at")
        if self.deadline_at is not None:
            aware(self.deadline_at, "deadline_at")
        if self.closed_at is not None:
            aware(self.closed_at, "closed_at")
        if self.satisfaction is not None and not 1 <= self.satisfaction <= 5:
            raise InvalidInputError(
                "satisfaction must be 1–5",
                field="satisfaction",
                feature=self.id,
                rule="1 <= satisfaction <= 5",
            )
        for code in (self.grid_code, self.community_code, self.street_code):
            if code is not None:
                area_level(code)

    @property
    def area_code(self) -> str | None:
        """The most specific area code known: grid, else community, else street."""
        return self.grid_code or self.community_code or self.street_code

    @property
    def pending_whistles(self) -> tuple[Whistle, ...]:
        return tuple(w for w in self.whistles if w.pending)

    def as_row(self) -> dict[str, Any]:
        """The ``incident`` columns this state sets (for the database layer's UPDATE)."""
        return {
            "status": self.status,
            "level": self.level,
            "category_code": self.category_code,
            "assignee_staff_id": self.assignee_staff_id,
            "assignee_department_id": self.assignee_department_id,
            "deadline_at": self.deadline_at,
            "closed_at": self.closed_at,
            "satisfaction": self.satisfaction,
        }


@dataclass(frozen=True)
class Transition:
    """The outcome of :func:`~gisgrid.incidents.machine.transition` (or ``report``): the state before and
    after, and the event row to insert.

    ``event`` has the ``incident_event`` columns: ``incident_id, action, from_status, to_status,
    actor_user_id, actor_staff_id, at, note, data``; ``data`` is JSON-ready (ISO datetimes) and holds
    ``actor_role`` (but for ``report(actor=None)``, whose writer adds it), plus what the action changed
    (``level``, ``deadline_at``, ``assignee_*``, ``satisfaction``, ``whistles``, ``arrival_minutes``, …).
    """

    before: IncidentState | None
    after: IncidentState
    event: dict[str, Any]

    @property
    def action(self) -> Action:
        return Action(self.event["action"])


