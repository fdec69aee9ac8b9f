"""The incident state machine: every status × action × role against a table written out here."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from gisgrid import vocab
from gisgrid.codes import area_level, in_scope
from gisgrid.errors import ConfigurationError, ConflictError, InvalidInputError, PermissionDeniedError
from gisgrid.incidents.deadlines import deadline_for, is_overdue, load_rules, rule_for, tick
from gisgrid.incidents.machine import allowed_actions, overdue_whistles, replay, report, transition
from gisgrid.incidents.states import (
    ROLE_TABLE,
    TRANSITIONS,
    Action,
    Actor,
    IncidentState,
    Policy,
    Whistle,
)
from gisgrid.incidents.workcal import WorkCalendar

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=TZ)  # a Monday
AT = T0 + dt.timedelta(days=2)
CAL = WorkCalendar.china()
COMMUNITY = "370403002001"
STREET = "370403002000"
GRID = "370403002001004"
STAFF, DEPT = 11, 7

# ---- the expected table, written out independently of gisgrid.incidents.states

W = {"whistle": None, "department_accept": None, "flag_whistle_overdue": None}  # self-loops


def loops(status: str) -> dict[str, str]:
    return {a: status for a in W}


MOVES: dict[str, dict[str, str]] = {
    "reported": {"register": "registered", "reject": "rejected"},
    "registered": {"dispatch": "dispatched", "escalate": "registered", **loops("registered")},
    "rejected": {},
    "dispatched": {
        "accept": "accepted",
        "escalate": "dispatched",
        "backlog": "backlog",
        **loops("dispatched"),
    },
    "accepted": {"start": "in_progress", "escalate": "dispatched", "backlog": "backlog", **loops("accepted")},
    "in_progress": {
        "resolve": "resolved",
        "escalate": "dispatched",
        "backlog": "backlog",
        **loops("in_progress"),
    },
    "resolved": {"verify": "verified", "fail_verification": "resolved", "reopen": "dispatched"},
    "verified": {"close": "closed"},
    "closed": {"rate": "rated"},
    "rated": {"reopen": "dispatched"},
    "backlog": {"start": "in_progress", "resolve": "resolved", **loops("backlog")},
}

ROLES: dict[str, set[str]] = {
    "report": {"admin", "leader", "dispatcher", "patrol", "department", "system"},
    "register": {"admin", "dispatcher"},
    "reject": {"admin", "dispatcher"},
    "dispatch": {"admin", "dispatcher"},
    "accept": {"admin", "dispatcher", "patrol", "department"},
    "start": {"admin", "dispatcher", "patrol", "department"},
    "resolve": {"admin", "dispatcher", "patrol", "department"},
    "verify": {"admin", "dispatcher", "patrol"},
    "fail_verification": {"admin", "dispatcher", "patrol"},
    "close": {"admin", "dispatcher"},
    "rate": {"admin", "dispatcher"},
    "reopen": {"admin", "dispatcher"},
    "escalate": {"admin", "dispatcher", "leader", "system"},
    "whistle": {"admin", "dispatcher", "leader"},
    "department_accept": {"admin", "dispatcher", "department"},
    "backlog": {"admin", "dispatcher", "leader", "system"},
    "flag_whistle_overdue": {"admin", "system"},
}
HANDLERS = {
    "grid": {"admin", "patrol"},
    "community": {"admin", "patrol", "dispatcher"},
    "street": {"admin", "dispatcher"},
    "district": {"admin", "department"},
}
ALL_ROLES = (*vocab.USER_ROLES, "system")


def test_the_tables_in_the_module_are_the_tables_here() -> None:
    assert {s: {a.value: t for a, t in m.items()} for s, m in TRANSITIONS.items()} == MOVES
    assert {a.value: set(r) for a, r in ROLE_TABLE.items()} == ROLES
    assert set(MOVES) == set(vocab.INCIDENT_STATUSES)
    assert {t for m in MOVES.values() for t in m.values()} <= set(vocab.INCIDENT_STATUSES)
    assert set(ROLES) == {a.value for a in Action}


def actor(role: str, **kw: Any) -> Actor:
    ids: dict[str, Any] = {"user_id": 1, "staff_id": STAFF, "department_id": DEPT}
    if role == "system":
        ids = {}
    return Actor(role=role, **{**ids, **kw})


def state(status: str, level: str = "grid", **kw: Any) -> IncidentState:
    base: dict[str, Any] = dict(
        id=42,
        status=status,
        level=level,
        category_code="06010",
        reported_at=T0,
        grid_code=GRID,
        community_code=COMMUNITY,
        street_code=STREET,
        assignee_staff_id=STAFF,
        assignee_department_id=DEPT,
        deadline_at=T0 + dt.timedelta(days=1),
    )
    if status in ("closed", "rated"):
        base["closed_at"] = T0 + dt.timedelta(hours=30)
    return IncidentState(**{**base, **kw})


def params_for(action: str, role: str) -> dict[str, Any]:
    deadline: dict[str, Any] = {"deadline_at": AT + dt.timedelta(days=3)}
    table: dict[str, dict[str, Any]] = {
        "dispatch": {**deadline, "staff_id": STAFF},
        "escalate": deadline,
        "reopen": deadline,
        "rate": {"satisfaction": 3},
        "whistle": {"departments": [8, 9]},
        "department_accept": {} if role == "department" else {"department_id": DEPT},
    }
    return table.get(action, {})


def expected(s: IncidentState, action: str, role: str) -> str | type[Exception]:
    """The target status, or the error class, that the table above prescribes."""
    target = MOVES[s.status].get(action)
    if target is None:
        return ConflictError
    pending = any(w.accepted_at is None for w in s.whistles)
    overdue = s.deadline_at is not None and s.deadline_at < AT
    blocked = (
        (action == "escalate" and s.level == "district")
        or (action in ("verify", "fail_verification") and s.verification_failed)
        or (action == "reopen" and s.status == "resolved" and not s.verification_failed)
        or (action == "reopen" and s.status == "rated" and (s.satisfaction or 5) > 2)
        or (action == "department_accept" and not pending)
        or (action == "flag_whistle_overdue" and not pending)  # the test's whistles are all overdue at AT
        or (action == "backlog" and not overdue)
    )
    if blocked:
        return ConflictError
    if role not in ROLES[action]:
        return PermissionDeniedError
    if action in ("accept", "start", "resolve") and role not in HANDLERS[s.level]:
        return PermissionDeniedError
    return target


def scenarios() -> list[tuple[str, IncidentState]]:
    out = []
    for status in vocab.INCIDENT_STATUSES:
        for level in vocab.INCIDENT_LEVELS:
            for whistled in (False, True):
                for overdue in (False, True):
                    kw: dict[str, Any] = {}
                    if whistled:
                        kw["whistles"] = (Whistle(DEPT, "routine", T0, T0 + dt.timedelta(minutes=30)),)
                    kw["deadline_at"] = AT - dt.timedelta(hours=1) if overdue else AT + dt.timedelta(hours=1)
                    variants: list[dict[str, Any]] = [{}]
                    if status == "resolved":
                        variants = [{}, {"verification_failed": True}]
                    if status == "rated":
                        variants = [{"satisfaction": 2}, {"satisfaction": 4}]
                    for v in variants:
                        name = f"{status}-{level}-w{int(whistled)}-o{int(overdue)}-{v}"
                        out.append((name, state(status, level, **kw, **v)))
    return out


SCENARIOS = scenarios()


@pytest.mark.parametrize("name,s", SCENARIOS, ids=[n for n, _ in SCENARIOS])
def test_every_action_by_every_role(name: str, s: IncidentState) -> None:
    for role in ALL_ROLES:
        who = actor(role)
        succeeded = []
        for action in Action:
            want = expected(s, action.value, role)
            try:
                got = transition(s, action, who, at=AT, note="检查", **params_for(action.value, role))
            except (ConflictError, PermissionDeniedError) as exc:
                assert want is type(exc), (name, role, action.value, want, exc.rule, exc.message)
                if isinstance(exc, ConflictError):
                    assert exc.rule == "illegal transition"
                    assert exc.details["status"] == s.status
                    assert exc.details["action"] == action.value
                    assert exc.details["allowed"] == [a.value for a in allowed_actions(s, who, at=AT)]
                else:
                    assert exc.rule in {"role table", "handler level"}
                continue
            assert want == got.after.status, (name, role, action.value, want)
            assert got.after.status in vocab.INCIDENT_STATUSES
            assert got.event["from_status"] == s.status
            assert got.event["to_status"] == got.after.status
            assert got.event["action"] == action.value
            assert got.event["at"] == AT
            assert got.event["incident_id"] == 42
            assert got.event["actor_staff_id"] == who.staff_id
            assert got.event["actor_user_id"] == who.user_id
            assert got.event["data"]["actor_role"] == role
            assert got.before is s
            succeeded.append(action)
        assert allowed_actions(s, who, at=AT) == succeeded, (name, role)


# ---- scope


def test_area_levels_and_scope() -> None:
    assert area_level("370403000000") == "district"
    assert area_level("370403002000") == "street"
    assert area_level("370403002001") == "community"
    assert area_level(GRID) == "grid"
    assert in_scope(None, GRID)
    assert in_scope("370403000000", GRID)
    assert in_scope(STREET, COMMUNITY)
    assert in_scope(COMMUNITY, GRID)
    assert in_scope(GRID, GRID)
    assert not in_scope("370403003000", COMMUNITY)  # another street
    assert not in_scope("370404000000", GRID)  # another district
    assert not in_scope(COMMUNITY, STREET)  # coarser than the scope
    assert not in_scope("370403002001005", GRID)  # another grid
    assert not in_scope(COMMUNITY, None)
    for bad in ("3704", "37040300200x", "", "3704030020010"):
        with pytest.raises(InvalidInputError) as err:
            area_level(bad)
        assert err.value.field == "scope_code"


def test_an_actor_outside_the_scope_is_denied_before_anything_is_revealed() -> None:
    s = state("reported")
    outsider = actor("dispatcher", scope_code="370403003000")
    with pytest.raises(PermissionDeniedError) as err:
        transition(s, Action.CLOSE, outsider, at=AT)  # illegal too, but scope comes first
    assert err.value.rule == "scope"
    assert allowed_actions(s, outsider) == []
    insider = actor("dispatcher", scope_code=STREET)
    assert allowed_actions(s, insider) == [Action.REGISTER, Action.REJECT]
    assert transition(s, "register", insider, at=AT).after.status == "registered"
    grid_worker = actor("patrol", scope_code=GRID)
    assert allowed_actions(state("dispatched"), grid_worker) == [Action.ACCEPT]


def test_patrol_and_department_handle_only_their_own_cases() -> None:
    s = state("dispatched")
    with pytest.raises(PermissionDeniedError) as err:
        transition(s, Action.ACCEPT, actor("patrol", staff_id=99), at=AT)
    assert err.value.rule == "assignee only"
    d = state("dispatched", "district")
    with pytest.raises(PermissionDeniedError) as err:
        transition(d, Action.ACCEPT, actor("department", department_id=3), at=AT)
    assert err.value.rule == "assignee only"
    with pytest.raises(PermissionDeniedError) as err:
        transition(s, Action.ACCEPT, actor("department"), at=AT)
    assert err.value.rule == "handler level"
    unassigned = replace(s, assignee_staff_id=None)
    assert (
        transition(unassigned, Action.ACCEPT, actor("patrol", staff_id=99), at=AT).after.status == "accepted"
    )


def test_the_conflict_names_the_allowed_actions() -> None:
    with pytest.raises(ConflictError) as err:
        transition(state("reported"), Action.CLOSE, actor("dispatcher"), at=AT)
    assert err.value.code == "conflict"
    assert err.value.details["allowed"] == ["register", "reject"]
    assert err.value.details["legal"] == ["register", "reject"]
    with pytest.raises(ConflictError) as err:
        transition(state("reported"), Action.CLOSE, actor("patrol"), at=AT)
    assert err.value.details["allowed"] == []
    assert err.value.to_dict()["rule"] == "illegal transition"


# ---- parameters


def test_parameters_are_checked() -> None:
    d = actor("dispatcher")
    with pytest.raises(InvalidInputError) as err:
        transition(state("registered"), Action.DISPATCH, d, at=AT, staff_id=STAFF)
    assert err.value.field == "deadline_at"
    with pytest.raises(InvalidInputError) as err:
        transition(state("registered"), Action.DISPATCH, d, at=AT, deadline_at=AT + dt.timedelta(hours=1))
    assert err.value.field == "staff_id"
    with pytest.raises(InvalidInputError) as err:
        transition(
            state("registered"), Action.DISPATCH, d, at=AT, deadline_at=AT - dt.timedelta(hours=1), staff_id=1
        )
    assert err.value.rule == "deadline_at > at"
    with pytest.raises(InvalidInputError) as err:
        transition(state("dispatched"), Action.ACCEPT, actor("patrol"), at=AT, satisfaction=5)
    assert err.value.field == "satisfaction"
    for bad in (0, 6, 4.5, True, None):
        with pytest.raises(InvalidInputError) as err:
            transition(state("closed"), Action.RATE, d, at=AT, satisfaction=bad)
        assert err.value.field == "satisfaction"
    with pytest.raises(InvalidInputError) as err:
        transition(state("reported"), Action.REJECT, d, at=AT)
    assert err.value.field == "note"
    with pytest.raises(InvalidInputError) as err:
        transition(state("reported"), Action.REGISTER, d, at=AT.replace(tzinfo=None))
    assert err.value.field == "at"
    with pytest.raises(InvalidInputError) as err:
        transition(state("reported"), "teleport", d, at=AT)
    assert err.value.field == "action"
    with pytest.raises(InvalidInputError):
        transition(state("dispatched"), Action.WHISTLE, d, at=AT, departments=[])
    with pytest.raises(InvalidInputError):
        transition(state("dispatched"), Action.WHISTLE, d, at=AT, departments=[3], kind="urgent")
    with pytest.raises(InvalidInputError) as err:
        Actor(role="resident")
    assert err.value.field == "role"
    with pytest.raises(InvalidInputError) as err:
        state("reported", satisfaction=9)
    with pytest.raises(InvalidInputError):
        state("lost")


def test_register_may_correct_level_and_category() -> None:
    t = transition(
        state("reported"), Action.REGISTER, actor("dispatcher"), at=AT, level="street", category_code="09006"
    )
    assert (t.after.level, t.after.category_code) == ("street", "09006")
    assert t.event["data"]["level"] == "street"


# ---- paths


def test_the_happy_path_from_report_to_rating() -> None:
    reporter = actor("patrol", scope_code=GRID)
    first = report(
        actor=reporter,
        at=T0,
        category_code="06010",
        grid_code=GRID,
        community_code=COMMUNITY,
        street_code=STREET,
        incident_id=42,
        deadline_at=deadline_for("06010", "grid", T0, CAL, stage="dispatch"),
    )
    assert first.event["from_status"] is None and first.event["to_status"] == "reported"
    assert first.after.deadline_at == dt.datetime(2025, 3, 3, 10, 0, tzinfo=TZ)
    disp, worker = actor("dispatcher", scope_code=COMMUNITY), actor("patrol", scope_code=GRID)
    h = dt.timedelta(hours=1)
    steps = replay(
        first.after,
        [
            ("register", disp, T0 + 0.5 * h, {}),
            (
                "dispatch",
                disp,
                T0 + h,
                {"staff_id": STAFF, "deadline_at": deadline_for("06010", "grid", T0 + h, CAL)},
            ),
            ("accept", worker, T0 + 2 * h, {}),
            ("start", worker, T0 + 3 * h, {}),
            ("resolve", worker, T0 + 5 * h, {"note": "已清理"}),
            ("verify", disp, T0 + 6 * h, {}),
            ("close", disp, T0 + 7 * h, {}),
            ("rate", disp, T0 + 30 * h, {"satisfaction": 5, "note": "回访：满意"}),
        ],
    )
    chain = [first.event["to_status"]] + [t.event["to_status"] for t in steps]
    assert chain == [
        "reported",
        "registered",
        "dispatched",
        "accepted",
        "in_progress",
        "resolved",
        "verified",
        "closed",
        "rated",
    ]
    for a, b in zip([first, *steps], steps, strict=False):
        assert b.event["from_status"] == a.event["to_status"]
    end = steps[-1].after
    assert end.satisfaction == 5 and end.closed_at == T0 + 7 * h
    assert end.deadline_at == dt.datetime(2025, 3, 4, 17, 30, tzinfo=TZ)
    assert steps[1].event["data"]["assignee_staff_id"] == STAFF
    assert steps[1].event["data"]["deadline_at"] == "2025-03-04T17:30:00+08:00"
    assert steps[-1].event["note"] == "回访：满意"
    assert allowed_actions(end, disp) == []  # satisfied: nothing more to do


def test_reopen_after_a_failed_verification_and_after_a_bad_rating() -> None:
    disp = actor("dispatcher")
    failed = transition(state("resolved"), Action.FAIL_VERIFICATION, disp, at=AT, note="现场仍有垃圾").after
    assert failed.status == "resolved" and failed.verification_failed
    assert allowed_actions(failed, disp) == [Action.REOPEN]
    new_deadline = AT + dt.timedelta(days=1)
    again = transition(failed, Action.REOPEN, disp, at=AT, note="重新处置", deadline_at=new_deadline).after
    assert (again.status, again.verification_failed, again.reopens, again.deadline_at) == (
        "dispatched",
        False,
        1,
        new_deadline,
    )
    assert again.assignee_staff_id == STAFF  # same handler unless a new one is named

    unhappy = state("rated", satisfaction=2)
    t = transition(
        unhappy, Action.REOPEN, disp, at=AT, note="群众不满意", deadline_at=new_deadline, staff_id=12
    )
    assert (t.after.status, t.after.satisfaction, t.after.closed_at, t.after.assignee_staff_id) == (
        "dispatched",
        None,
        None,
        12,
    )
    assert t.event["data"]["previous_satisfaction"] == 2
    with pytest.raises(ConflictError) as err:
        transition(
            state("rated", satisfaction=3), Action.REOPEN, disp, at=AT, note="x", deadline_at=new_deadline
        )
    assert "2 or less" in err.value.details["reason"]
    lenient = Policy(reopen_max_satisfaction=3)
    assert (
        transition(
            state("rated", satisfaction=3),
            Action.REOPEN,
            disp,
            at=AT,
            note="x",
            deadline_at=new_deadline,
            policy=lenient,
        ).after.status
        == "dispatched"
    )


def test_escalate_to_district_by_the_scheduled_job_then_backlog() -> None:
    s = state("in_progress", deadline_at=dt.datetime(2025, 3, 3, 17, 30, tzinfo=TZ))
    now = dt.datetime(2025, 3, 4, 9, 0, tzinfo=TZ)
    levels = []
    for _ in range(3):
        assert is_overdue(s, now)
        (t,) = tick([s], now, CAL)
        assert t.event["action"] == "escalate" and t.event["actor_user_id"] is None
        assert t.event["data"]["actor_role"] == "system"
        assert t.after.status == "dispatched" and t.after.assignee_staff_id is None
        assert t.after.deadline_at == deadline_for("06010", t.after.level, now, CAL)
        assert not is_overdue(t.after, now)
        levels.append(t.after.level)
        s = t.after
        assert s.deadline_at is not None
        now = s.deadline_at + dt.timedelta(minutes=1)  # and it runs late again
    assert levels == ["community", "street", "district"]
    assert s.escalations == 3
    (t,) = tick([s], now, CAL)
    assert t.event["action"] == "backlog" and t.after.status == "backlog"
    assert not is_overdue(t.after, now)
    assert tick([t.after], now, CAL) == []
    with pytest.raises(ConflictError) as err:
        transition(s, Action.ESCALATE, actor("leader"), at=now, deadline_at=now + dt.timedelta(days=1))
    assert err.value.details["reason"] == "the case is already at district level"


def test_tick_leaves_on_time_cases_alone_and_honours_the_escalation_cap() -> None:
    now = dt.datetime(2025, 3, 4, 9, 0, tzinfo=TZ)
    fine = state("accepted", deadline_at=now + dt.timedelta(hours=2))
    late = state("accepted", deadline_at=now - dt.timedelta(hours=2), escalations=1)
    done = state("resolved", deadline_at=now - dt.timedelta(hours=2))
    out = tick([fine, late, done], now, CAL, policy=Policy(max_auto_escalations=1))
    assert [(t.before, t.after.status) for t in out] == [(late, "backlog")]


def test_whistle_department_acceptance_and_overdue_whistle() -> None:
    leader = actor("leader", scope_code=STREET)
    s = state("in_progress", "street", deadline_at=AT + dt.timedelta(days=5))
    t = transition(s, Action.WHISTLE, leader, at=AT, note="街道吹哨", departments=[8, 9], kind="hard_case")
    s = t.after
    assert s.status == "in_progress"
    assert [(w.department_id, w.kind, w.due_at) for w in s.whistles] == [
        (8, "hard_case", AT + dt.timedelta(minutes=30)),
        (9, "hard_case", AT + dt.timedelta(minutes=30)),
    ]
    assert t.event["data"]["departments"] == [8, 9]
    with pytest.raises(ConflictError) as err:
        transition(s, Action.WHISTLE, leader, at=AT, departments=[9])
    assert err.value.rule == "department already whistled"
    with pytest.raises(PermissionDeniedError) as denied:
        transition(s, Action.DEPARTMENT_ACCEPT, actor("department", department_id=3), at=AT)
    assert denied.value.rule == "whistled department only"

    arrive = transition(
        s, Action.DEPARTMENT_ACCEPT, actor("department", department_id=8), at=AT + dt.timedelta(minutes=20)
    )
    s = arrive.after
    assert arrive.event["data"]["arrival_minutes"] == 20.0 and arrive.event["data"]["on_time"] is True
    assert [w.department_id for w in s.pending_whistles] == [9]
    later = AT + dt.timedelta(minutes=45)
    assert [w.department_id for w in overdue_whistles(s, later)] == [9]
    assert overdue_whistles(s, AT + dt.timedelta(minutes=10)) == ()

    (flag,) = tick([s], later, CAL)
    assert flag.event["action"] == "flag_whistle_overdue" and flag.event["data"]["departments"] == [9]
    assert flag.after.status == "in_progress"
    assert tick([flag.after], later + dt.timedelta(hours=1), CAL) == []  # flagged once
    late = transition(flag.after, Action.DEPARTMENT_ACCEPT, actor("dispatcher"), at=later, department_id=9)
    assert late.event["data"]["on_time"] is False and late.event["data"]["arrival_minutes"] == 45.0
    assert late.after.pending_whistles == ()
    custom = transition(
        state("registered"), Action.WHISTLE, leader, at=AT, departments=[5], kind="emergency", minutes=15
    )
    assert custom.after.whistles[0].due_at == AT + dt.timedelta(minutes=15)


# ---- deadlines


def test_deadline_rules_pick_the_most_specific_row() -> None:
    assert rule_for("08001", "grid").unit == "hours"  # class 08 突发事件
    assert rule_for("01005", "street").limit == 24  # water, exact code
    assert rule_for("06010", "community").limit == 3
    assert rule_for("06010", "grid", stage="dispatch").unit == "working_hours"
    monday = dt.datetime(2025, 3, 3, 11, 30, tzinfo=TZ)
    assert deadline_for("06010", "grid", monday, CAL, stage="dispatch") == dt.datetime(
        2025, 3, 3, 14, 0, tzinfo=TZ
    )
    assert deadline_for("01005", "grid", monday, CAL) == monday + dt.timedelta(hours=24)
    assert deadline_for("06010", "district", monday, CAL) == dt.datetime(2025, 3, 24, 17, 30, tzinfo=TZ)
    with pytest.raises(InvalidInputError):
        rule_for("06010", "province")
    with pytest.raises(InvalidInputError):
        deadline_for("06010", "grid", monday.replace(tzinfo=None), CAL)


def test_a_bad_deadline_table_is_a_configuration_error(tmp_path: Any) -> None:
    bad = tmp_path / "deadlines.csv"
    bad.write_text("stage,category,level,limit,unit\nresolve,6010,grid,1.5,working_days\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as err:
        load_rules(bad)
    assert {d["field"] for d in err.value.details} == {"category", "limit"}
    dup = tmp_path / "dup.csv"
    dup.write_text(
        "stage,category,level,limit,unit\nresolve,*,*,1,days\nresolve,*,*,2,days\n", encoding="utf-8"
    )
    with pytest.raises(ConfigurationError):
        load_rules(dup)
    only = tmp_path / "only.csv"
    only.write_text("stage,category,level,limit,unit\nresolve,06*,grid,1,days\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as err:
        rule_for("09006", "grid", rules=load_rules(only))
    assert err.value.rule == "every case has a deadline"
