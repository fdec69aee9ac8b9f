"""Case deadlines as data, overdue detection, and the scheduled job's pure decision (:func:`tick`).

The limits are local practice (docs/glossary.md, "Case flow"), so they live in
``gisgrid/data/deadlines.csv``: one row per ``stage, category, level`` with ``limit`` and ``unit``.

* ``stage`` — ``dispatch`` (register and dispatch after the report) or ``resolve`` (fix it after the
  dispatch; the clock restarts at each escalation and reopening).
* ``category`` — a 5-digit code (``01005``), a class prefix with a star (``08*``), or ``*``.
* ``level`` — ``grid``/``community``/``street``/``district`` or ``*``.
* ``unit`` — ``working_hours`` and ``working_days`` count on a :class:`~gisgrid.incidents.workcal.WorkCalendar`
  (see its ``add_working_days`` for what "N working days" means); ``hours`` and ``days`` run on the
  clock (emergencies do not wait for Monday).

The most specific row wins: an exact code beats a longer prefix, which beats a shorter one and ``*``;
then an exact level beats ``*``. Two rows equally specific for the same key are a configuration error.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.resources
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

from gisgrid import vocab
from gisgrid.errors import ConfigurationError, InvalidInputError
from gisgrid.incidents.machine import transition
from gisgrid.incidents.states import (
    DEFAULT_POLICY,
    IN_HAND,
    LEVEL_UP,
    SYSTEM,
    WHISTLE_STATUSES,
    Action,
    Actor,
    IncidentState,
    Policy,
    Transition,
)
from gisgrid.incidents.workcal import WorkCalendar

DEADLINES_CSV: Traversable = importlib.resources.files("gisgrid") / "data" / "deadlines.csv"
STAGES: Final = ("dispatch", "resolve")
UNITS: Final = ("working_hours", "working_days", "hours", "days")
OPEN_STATUSES: Final = ("reported", "registered", *IN_HAND)
"""Statuses whose ``deadline_at`` is running (``backlog`` has stopped the clock, ``resolved`` has met it)."""


@dataclass(frozen=True)
class DeadlineRule:
    """One row of the deadline table."""

    stage: str
    category: str
    level: str
    limit: float
    unit: str
    note: str = ""

    def matches(self, stage: str, category_code: str, level: str) -> bool:
        if self.stage != stage or self.level not in ("*", level):
            return False
        if self.category.endswith("*"):
            return category_code.startswith(self.category[:-1])
        return self.category == category_code

    @property
    def specificity(self) -> tuple[int, int]:
        cat = 6 if not self.category.endswith("*") else len(self.category) - 1
        return cat, int(self.level != "*")


def load_rules(path: str | Traversable = DEADLINES_CSV) -> tuple[DeadlineRule, ...]:
    """Read and check a deadline table (columns ``stage,category,level,limit,unit[,note]``).

    Raises
    ------
    ConfigurationError
        For an unknown stage, level or unit, a malformed category, a non-positive limit, a
        fractional number of working days, or two rows for the same key.
    """
    rules: list[DeadlineRule] = []
    with (Path(path) if isinstance(path, str) else path).open("r", encoding="utf-8") as fh:
        for lineno, rec in enumerate(csv.DictReader(fh), start=2):
            where = f"{path}:{lineno}"
            stage, category = (rec.get("stage") or "").strip(), (rec.get("category") or "").strip()
            level, unit = (rec.get("level") or "").strip(), (rec.get("unit") or "").strip()
            problems = []
            if stage not in STAGES:
                problems.append(("stage", f"stage {stage!r} not in {STAGES}"))
            if level != "*" and level not in vocab.INCIDENT_LEVELS:
                problems.append(("level", f"level {level!r} not in {vocab.INCIDENT_LEVELS} or '*'"))
            body = category[:-1] if category.endswith("*") else category
            exact_ok = len(category) == 5 and category.isdigit()
            prefix_ok = category.endswith("*") and len(body) < 5 and (body == "" or body.isdigit())
            if not (exact_ok or prefix_ok):
                problems.append(("category", f"category {category!r} is not a 5-digit code, a prefix* or *"))
            if unit not in UNITS:
                problems.append(("unit", f"unit {unit!r} not in {UNITS}"))
            try:
                limit = float(rec.get("limit") or "")
            except ValueError:
                limit = -1.0
            if limit <= 0 or (unit == "working_days" and not limit.is_integer()):
                problems.append(
                    ("limit", f"limit {rec.get('limit')!r} must be positive (whole working days)")
                )
            if problems:
                raise ConfigurationError(
                    f"{where}: " + "; ".join(p[1] for p in problems),
                    field=problems[0][0],
                    feature=lineno,
                    rule="deadline table row",
                    details=[{"field": f, "message": m} for f, m in problems],
                )
            rules.append(DeadlineRule(stage, category, level, limit, unit, (rec.get("note") or "").strip()))
    keys = [(r.stage, r.category, r.level) for r in rules]
    if dupes := sorted({k for k in keys if keys.count(k) > 1}):
        raise ConfigurationError(f"{path}: rows repeated for {dupes}", field="category", rule="unique key")
    return tuple(rules)


@lru_cache(maxsize=1)
def default_rules() -> tuple[DeadlineRule, ...]:
    """The bundled table ``gisgrid/data/deadlines.csv`` (read once)."""
    return load_rules(DEADLINES_CSV)


def rule_for(
    category_code: str, level: str, *, stage: str = "resolve", rules: Sequence[DeadlineRule] | None = None
) -> DeadlineRule:
    """The deadline rule that applies (most specific match).

    Raises
    ------
    InvalidInputError
        For an unknown stage or level.
    ConfigurationError
        If no rule matches, or two equally specific ones do.
    """
    if rules is None:
        return _bundled_rule(category_code, level, stage)
    return _most_specific(category_code, level, stage, rules)


@lru_cache(maxsize=4096)
def _bundled_rule(category_code: str, level: str, stage: str) -> DeadlineRule:
    # intake asks for every report: scanning and sorting the table each time was ~3 µs of ~11
    return _most_specific(category_code, level, stage, default_rules())


def _most_specific(category_code: str, level: str, stage: str, rules: Sequence[DeadlineRule]) -> DeadlineRule:
    if stage not in STAGES:
        raise InvalidInputError(f"stage must be one of {STAGES}", field="stage", feature=stage, rule="stage")
    if level not in vocab.INCIDENT_LEVELS:
        raise InvalidInputError(
            f"level must be one of {vocab.INCIDENT_LEVELS}",
            field="level",
            feature=level,
            rule="level in vocab",
        )
    found = [r for r in rules if r.matches(stage, category_code, level)]
    if not found:
        raise ConfigurationError(
            f"no {stage} deadline for category {category_code} at {level} level; add a row (or a * row)",
            field="category",
            feature=category_code,
            rule="every case has a deadline",
        )
    found.sort(key=lambda r: r.specificity, reverse=True)
    if len(found) > 1 and found[0].specificity == found[1].specificity:
        raise ConfigurationError(
            f"ambiguous deadline rules for {category_code}/{level}: {found[0]} and {found[1]}",
            field="category",
            rule="one most specific rule",
        )
    return found[0]


def deadline_for(
    category_code: str,
    level: str,
    start: dt.datetime,
    calendar: WorkCalendar,
    *,
    stage: str = "resolve",
    rules: Sequence[DeadlineRule] | None = None,
) -> dt.datetime:
    """When a case of ``category_code`` at ``level`` that entered ``stage`` at ``start`` is due.

    >>> import datetime as dt
    >>> from gisgrid.incidents.workcal import WorkCalendar
    >>> cal = WorkCalendar.china()
    >>> t = dt.datetime(2025, 9, 30, 10, 0, tzinfo=cal.tz)  # the day before National Day
    >>> deadline_for("06010", "grid", t, cal).isoformat()  # 1 working day: 1–8 October are off
    '2025-10-09T17:30:00+08:00'
    >>> deadline_for("08001", "district", t, cal).isoformat()  # emergencies: 2 hours on the clock
    '2025-09-30T12:00:00+08:00'
    """
    if start.tzinfo is None:
        raise InvalidInputError("start must be timezone-aware", field="start", rule="aware datetime")
    rule = rule_for(category_code, level, stage=stage, rules=rules)
    if rule.unit == "working_hours":
        return calendar.add_working_hours(start, rule.limit)
    if rule.unit == "working_days":
        return calendar.add_working_days(start, int(rule.limit))
    if rule.unit == "hours":
        return (start + dt.timedelta(hours=rule.limit)).astimezone(calendar.tz)
    return (start + dt.timedelta(days=rule.limit)).astimezone(calendar.tz)


def is_overdue(state: IncidentState, now: dt.datetime) -> bool:
    """Whether the case's running deadline has passed: an open status and ``now > deadline_at``."""
    if now.tzinfo is None:
        raise InvalidInputError("now must be timezone-aware", field="now", rule="aware datetime")
    return state.status in OPEN_STATUSES and state.deadline_at is not None and now > state.deadline_at


def tick(
    states: Iterable[IncidentState],
    now: dt.datetime,
    calendar: WorkCalendar,
    *,
    rules: Sequence[DeadlineRule] | None = None,
    policy: Policy = DEFAULT_POLICY,
    actor: Actor = SYSTEM,
) -> list[Transition]:
    """The scheduled job's decision at ``now``: what to do with each case, as transitions to write.

    For each case in hand (dispatched / accepted / in progress) that is overdue:

    * below district level and under ``policy.max_auto_escalations``: ``escalate`` one level, with the
      new level's ``resolve`` deadline counted from ``now`` and the assignee cleared;
    * otherwise (already at district level, or escalated the maximum number of times): ``backlog``.

    For each case with a whistled department past its due time and not yet flagged:
    ``flag_whistle_overdue`` (status unchanged; flagged once). When a case gets both, the flag
    follows the escalation and applies to its result. Cases registered but not dispatched in time
    are reported by :func:`is_overdue` but left to people (who should handle them is the question).
    """
    if now.tzinfo is None:
        raise InvalidInputError("now must be timezone-aware", field="now", rule="aware datetime")
    out: list[Transition] = []
    for state in states:
        if state.status in IN_HAND and is_overdue(state, now):
            maxed = (
                policy.max_auto_escalations is not None and state.escalations >= policy.max_auto_escalations
            )
            if state.level in LEVEL_UP and not maxed:
                new_level = LEVEL_UP[state.level]
                step = transition(
                    state,
                    Action.ESCALATE,
                    actor,
                    at=now,
                    note=f"超期未办结，自动升级至{vocab.ZH.get(new_level, new_level)}",
                    policy=policy,
                    deadline_at=deadline_for(state.category_code, new_level, now, calendar, rules=rules),
                )
            else:
                step = transition(
                    state, Action.BACKLOG, actor, at=now, note="超期未办结，自动挂账", policy=policy
                )
            out.append(step)
            state = step.after
        if state.status in WHISTLE_STATUSES and any(
            w.overdue(now) and w.flagged_at is None for w in state.whistles
        ):
            out.append(
                transition(
                    state, Action.FLAG_WHISTLE_OVERDUE, actor, at=now, note="部门超时未报到", policy=policy
                )
            )
    return out
