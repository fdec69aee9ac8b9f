"""Incident intake in PostGIS: the decisions of :mod:`gisgrid.incidents.intake`, read and written in one statement.

:func:`intake` validates a report (:func:`~gisgrid.incidents.intake.parse_input`), finds where it lies
and who would handle it there in the reference data held in memory (:mod:`layers.placement`), lets
the core decide the case (:func:`~gisgrid.incidents.intake.decide`: level, assignee, deadline — the
state machine's first state and event), and writes it with one statement, :data:`INTAKE_SQL`, in the
caller's transaction. That statement checks the reference data is still current (otherwise intake
reloads it and decides again), loads the reporter, lists open incidents of the same category nearby
as possible duplicates, and writes the incident and its first ``incident_event``. An idempotency key
makes a retry return the first answer: ``INSERT … ON CONFLICT DO NOTHING`` waits for a concurrent
insert of the same key and then reads it — never a duplicate row.

:func:`intake_async` is the same flow on asyncpg, for the API's hot path, where an
:class:`~layers.incidents.batcher.IntakeBatcher` writes the reports arriving together in one
statement. Both drive one decide–write–retry loop, :func:`_flow`, which leaves its reads and writes to
them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
)
from gisgrid.incidents.intake import (
    DEFAULT_OPTIONS,
    DUPLICATE_STATUSES,
    Decision,
    IncidentInput,
    IntakeOptions,
    Route,
    aware_time,
    decide,
    margin_deg,
    outside_district,
    parse_input,
    place_for,
    route_for,
)
from gisgrid.incidents.reference import Reference
from gisgrid.incidents.states import ROLE_TABLE, Action, Actor, may_report
from layers.placement import ReferenceCache, default_cache

if TYPE_CHECKING:
    from layers.incidents.batcher import IntakeBatcher

__all__ = [
    "EXISTING_SQL",
    "INTAKE_SQL",
    "Decided",
    "IntakeResult",
    "Plan",
    "decided",
    "intake",
    "intake_async",
    "plan",
    "rows_json",
    "run_intake_rows",
]


# ----------------------------------------------------------------------------------------------- SQL
_OPEN_LIST = ", ".join(f"'{st}'" for st in DUPLICATE_STATUSES)
_REPORT_LIST = ", ".join(f"'{r}'" for r in sorted(ROLE_TABLE[Action.REPORT]))  # may_report, in SQL
# One statement takes any number of reports (one for :func:`intake`, a batch for the API's
# :class:`~layers.incidents.batcher.IntakeBatcher`), so one round trip and one commit serve them all.
# The core has decided everything that needs no live data (gisgrid.incidents.intake.decide: route,
# level, deadline, assignee, from the reference data in memory, layers/placement.py); each row of
# ``:rows`` (JSON) carries that decision — the incident's state and its first event as
# gisgrid.incidents.machine.report makes them, which the statement writes as they are. Per row the
# statement checks the reference data is still current, loads the reporter, finds the possible
# duplicates, writes the incident and its first event, and answers. It writes a row only when the
# reference generation is the one decided with (else intake reloads and decides again), the reporter
# may report, the idempotency key is new (else the first answer is returned) and the point lies in
# the district (``placed``).
#
# Ids are drawn from the sequence up front so the events and the answers find their rows; a row not
# written leaves a gap in the ids, as a rolled-back insert would. Reports in one batch do not see each
# other as duplicates — as concurrent statements would not either. Constants are literals, not
# parameters.
#
# The API runs this as a generic plan (layers/incidents/batcher.py), planned once per connection — possibly on
# an empty or freshly truncated table, whose statistics would make a scan of every incident look
# cheap. So the plan's shape does not hang on them: the idempotency key is looked up per report
# (LATERAL … OFFSET 0: the unique index), and the duplicates search is one scan of
# ``idx_incident_geom_category`` (GiST over geom and category_code; migration 0003), the time window
# written as a range so that no btree on ``reported_at`` can lure the planner into reading every
# incident of the last days.
INTAKE_SQL: Final = f"""
WITH rq AS MATERIALIZED (
    SELECT r.*, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) AS g, nextval('incident_id_seq') AS new_id
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        ord integer, instance uuid, generation bigint, lon float8, lat float8, key text, at timestamptz,
        category text, dup_from timestamptz, dup_to timestamptz, ddeg float8, dup_m float8, username text,
        actor_user_id integer, actor_staff_id integer, actor_role text, source text, description text,
        photos jsonb, contact text, reported_at timestamptz, placed boolean, grid_id integer, grid_code text,
        community_id integer, street_id integer, status text, level text, staff_id integer,
        department_id integer, company_id integer, station_id integer, deadline_at timestamptz,
        boundary_flag boolean, answer_head text, action text, from_status text, to_status text, note text,
        event_data jsonb)),
gen AS (SELECT r.instance, r.generation FROM reference_generation r WHERE r.id = 1),
existing AS (SELECT rq.ord, e.id, e.intake FROM rq, LATERAL (
                 SELECT i.id, i.intake::text AS intake FROM incident i WHERE i.idempotency_key = rq.key OFFSET 0) e),
who AS (SELECT rq.ord, COALESCE(u.id, rq.actor_user_id) AS user_id, COALESCE(u.staff_id, rq.actor_staff_id) AS staff_id,
               COALESCE(u.role, rq.actor_role) AS role,
               CASE WHEN rq.username IS NULL THEN rq.actor_role IN ({_REPORT_LIST})
                    ELSE COALESCE(u.active AND u.role IN ({_REPORT_LIST}), false) END AS ok,
               COALESCE((SELECT rq.instance = gen.instance AND rq.generation = gen.generation FROM gen), false)
                   AS fresh,
               u.id AS u_id, u.role AS u_role, u.active AS u_active, u.staff_id AS u_staff_id,
               u.department_id AS u_department_id, a.code AS u_scope_code
        FROM rq LEFT JOIN app_user u ON u.username = rq.username
        LEFT JOIN admin_area a ON a.id = u.scope_area_id),
dj AS (SELECT rq.ord, d.list, d.ids FROM rq, LATERAL (
           SELECT COALESCE(json_agg(json_build_object('id', x.id, 'status', x.status, 'reported_at', x.reported_at,
                                                      'distance_m', round(x.dist::numeric, 1)) ORDER BY x.dist, x.id),
                           '[]'::json)::text AS list,
                  COALESCE(json_agg(x.id ORDER BY x.dist, x.id), '[]'::json) AS ids
           FROM (SELECT i.id, i.status, i.reported_at, ST_Distance(i.geom::geography, rq.g::geography) AS dist
                 FROM incident i
                 WHERE i.geom && ST_Expand(rq.g, rq.ddeg) AND i.category_code = rq.category
                   AND tstzrange(rq.dup_from, rq.dup_to, '[]') @> i.reported_at AND i.status IN ({_OPEN_LIST})
                   AND ST_DWithin(i.geom::geography, rq.g::geography, rq.dup_m)
                 ORDER BY dist, i.id LIMIT 10) x) d),
ins AS (
    INSERT INTO incident (id, idempotency_key, category_code, source, description, photos, reporter_contact,
        reported_at, grid_id, grid_code, community_id, street_id, level, assignee_staff_id,
        assignee_department_id, assignee_property_company_id, assignee_station_id, status, deadline_at,
        boundary_flag, intake, geom)
    SELECT rq.new_id, rq.key, rq.category, rq.source, rq.description, rq.photos, rq.contact, rq.reported_at,
        rq.grid_id, rq.grid_code, rq.community_id, rq.street_id, rq.level, rq.staff_id, rq.department_id,
        rq.company_id, rq.station_id, rq.status, rq.deadline_at, rq.boundary_flag,
        CAST(rq.answer_head || dj.list || '}}' AS jsonb), rq.g
    FROM rq JOIN who w ON w.ord = rq.ord JOIN dj ON dj.ord = rq.ord
    WHERE w.ok AND w.fresh AND rq.placed AND NOT EXISTS (SELECT 1 FROM existing e WHERE e.ord = rq.ord)
    ORDER BY rq.ord
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), ev AS (
    INSERT INTO incident_event (incident_id, action, from_status, to_status, actor_user_id, actor_staff_id,
                                at, note, data)
    SELECT n.id, rq.action, rq.from_status, rq.to_status, w.user_id, w.staff_id, rq.at, rq.note,
           rq.event_data || jsonb_build_object('actor_role', w.role, 'possible_duplicates', dj.ids)
    FROM ins n JOIN rq ON rq.new_id = n.id JOIN who w ON w.ord = rq.ord JOIN dj ON dj.ord = rq.ord
)
SELECT rq.ord, w.fresh, e.id AS existing_id, e.intake AS existing_intake, n.id AS new_id,
       w.u_id AS user_id, w.u_role AS user_role, w.u_active AS user_active, w.u_staff_id AS user_staff_id,
       w.u_department_id AS user_department_id, w.u_scope_code AS user_scope_code, dj.list AS dups_json
FROM rq JOIN who w ON w.ord = rq.ord JOIN dj ON dj.ord = rq.ord
LEFT JOIN existing e ON e.ord = rq.ord LEFT JOIN ins n ON n.id = rq.new_id
ORDER BY rq.ord
"""

EXISTING_SQL: Final = "SELECT id, intake::text AS intake FROM incident WHERE idempotency_key = CAST(:key AS text)"

_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def to_asyncpg(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` parameters → ``$n`` (asyncpg), and the names in order."""
    names: list[str] = []

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return _NAMED.sub(sub, sql), tuple(names)


ASYNC_SQL: Final = {name: to_asyncpg(sql)[0] for name, sql in (("intake", INTAKE_SQL), ("existing", EXISTING_SQL))}
_RELOADS: Final = 3  # a reference change between deciding and writing: decide again, at most this often


def rows_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """The ``:rows`` parameter of :data:`INTAKE_SQL`: the reports' rows, numbered in order."""
    return orjson.dumps([{**r, "ord": i} for i, r in enumerate(rows)]).decode()


async def run_intake_rows(conn: Any, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """:data:`INTAKE_SQL` for these rows on an asyncpg connection: one answer row per report, in order."""
    return list(await conn.fetch(ASYNC_SQL["intake"], rows_json(rows)))


# ------------------------------------------------------------------------------------------- answers
@dataclass
class IntakeResult:
    """The answer to a report: the incident, how it was assigned, possible duplicates, and whether it is new.

    ``body`` is the answer as JSON text, as the API sends it (``{incident, assignment,
    possible_duplicates}``); :attr:`answer` is the same parsed.
    """

    incident_id: int
    created: bool
    body: str

    @property
    def answer(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def to_dict(self) -> dict[str, Any]:
        return self.answer


@dataclass
class Plan:
    """A checked report and what of its row of :data:`INTAKE_SQL` does not depend on where it lies."""

    inp: IncidentInput
    key: str | None
    at: dt.datetime
    route: Route
    options: IntakeOptions
    actor: Actor | None
    row: dict[str, Any]


@dataclass
class Decided:
    """A report decided on one copy of the reference data: its row of :data:`INTAKE_SQL`, and the
    answer's ``incident`` and ``assignment`` as JSON text (``None``: outside the district)."""

    row: dict[str, Any]
    parts: tuple[str, str] | None


def plan(data: Mapping[str, Any], key: str | None, now: dt.datetime | None, options: IntakeOptions,
         routes: Sequence[Route] | None, actor: Actor | None, username: str | None) -> Plan:
    """Check the report and the key; the parts of its row that do not depend on where it lies."""
    at = aware_time(now, "now") if now is not None else dt.datetime.now(dt.UTC)
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 128):
        raise InvalidInputError("the idempotency key must be 1–128 characters", field="Idempotency-Key",
                                rule="1 <= len(key) <= 128")
    inp = parse_input(data, now=at)
    reported_at = inp.reported_at or at
    route = route_for(inp.category_code, routes)
    window = dt.timedelta(hours=options.duplicate_hours)
    row = {
        "lon": inp.lon, "lat": inp.lat, "key": key, "category": inp.category_code,
        "dup_from": reported_at - window, "dup_to": reported_at + window,
        "ddeg": margin_deg(options.duplicate_m, inp.lat), "dup_m": options.duplicate_m, "username": username,
        "actor_user_id": actor.user_id if actor else None, "actor_staff_id": actor.staff_id if actor else None,
        "actor_role": actor.role if actor else None, "source": inp.source, "description": inp.description,
        "photos": list(inp.photos), "contact": inp.reporter_contact, "reported_at": reported_at,
    }
    return Plan(inp, key, at, route, options, actor, row)


_UNPLACED: Final = dict.fromkeys(
    ("grid_id", "grid_code", "community_id", "street_id", "status", "level", "staff_id", "department_id",
     "company_id", "station_id", "deadline_at", "boundary_flag", "answer_head", "action", "from_status",
     "to_status", "at", "note", "event_data"))


def decided(p: Plan, ref: Reference) -> Decided:
    """The core's decision for the report on ``ref``, as its row of :data:`INTAKE_SQL` and answer parts."""
    place = place_for(ref, p.inp, p.route, p.row["reported_at"], p.options)
    decision = decide(p.inp, p.route, place, at=p.at, actor=p.actor, options=p.options)
    row = {**p.row, "instance": ref.instance, "generation": ref.generation, "placed": decision is not None}
    if decision is None:  # outside the district: the statement only checks freshness and the reporter
        return Decided({**row, **_UNPLACED}, None)
    return _row(row, decision)


def _row(row: dict[str, Any], decision: Decision) -> Decided:
    state, event = decision.opened.after, decision.opened.event
    incident_json = orjson.dumps(decision.incident()).decode()
    assignment_json = orjson.dumps(decision.assignment()).decode()
    place = decision.place
    return Decided({
        **row, "category": state.category_code, "reported_at": state.reported_at, "grid_id": place.grid_id,
        "grid_code": state.grid_code, "community_id": place.community_id, "street_id": place.street_id,
        "status": state.status, "level": state.level, "staff_id": decision.staff_id,
        "department_id": decision.department_id, "company_id": decision.company_id,
        "station_id": decision.station_id, "deadline_at": state.deadline_at,
        "boundary_flag": decision.boundary_flag,
        # the stored answer, but for its duplicates, which the statement appends (and closes the object)
        "answer_head": (f'{{"fingerprint":"{decision.inp.fingerprint}","incident":{incident_json},'
                        f'"assignment":{assignment_json},"possible_duplicates":'),
        # the event as the core made it; the statement adds the reporter's role and the duplicates
        "action": event["action"], "from_status": event["from_status"], "to_status": event["to_status"],
        "at": event["at"], "note": event["note"], "event_data": event["data"],
    }, (incident_json, assignment_json))


def _may_not_report(role: str) -> PermissionDeniedError:
    return PermissionDeniedError(f"role {role!r} may not report a case", field="role", rule="role table")


def _reporter(row: Mapping[Any, Any]) -> Actor:
    """The reporter loaded by :data:`INTAKE_SQL` (``username``); 401 when gone or disabled, 403 by role."""
    if row["user_id"] is None or not row["user_active"]:
        raise AuthenticationError("The account of this token no longer exists or is disabled.",
                                  field="Authorization", rule="active user")
    actor = Actor(role=row["user_role"], user_id=row["user_id"], staff_id=row["user_staff_id"],
                  department_id=row["user_department_id"], scope_code=row["user_scope_code"])
    if not may_report(actor.role):
        raise _may_not_report(actor.role)
    return actor


def _created(row: Mapping[Any, Any], parts: tuple[str, str]) -> IntakeResult:
    new_id = int(row["new_id"])
    incident, assignment = parts
    body = (f'{{"incident":{{"id":{new_id},{incident[1:]},"assignment":{assignment},'
            f'"possible_duplicates":{row["dups_json"]}}}')
    return IntakeResult(new_id, True, body)


def _replay(p: Plan, incident_id: int, stored: str | dict[str, Any]) -> IntakeResult:
    answer = json.loads(stored) if isinstance(stored, str) else stored
    if answer.get("fingerprint") not in (p.inp.fingerprint, p.inp.legacy_fingerprint()):
        raise ConflictError(
            "this Idempotency-Key was used for a different report; send a new key for a new report",
            field="Idempotency-Key", feature=p.key, rule="one key, one report",
            details={"incident_id": incident_id},
        )
    body = {"incident": {"id": incident_id, **answer["incident"]}, "assignment": answer["assignment"],
            "possible_duplicates": answer["possible_duplicates"]}
    return IntakeResult(incident_id, False, json.dumps(body, ensure_ascii=False))


# ------------------------------------------------------------------------------------------- the loop
@dataclass(frozen=True)
class Load:
    """Ask for the reference data: the cache's, reloaded if it is ``stale``."""

    stale: Reference | None


@dataclass(frozen=True)
class Write:
    """Ask for one report's row of :data:`INTAKE_SQL` to be run; the answer row comes back."""

    row: dict[str, Any]


@dataclass(frozen=True)
class Existing:
    """Ask for the incident holding this idempotency key (its ``id`` and stored ``intake``)."""

    key: str | None


Request = Load | Write | Existing


def _flow(p: Plan, *, check_reporter: bool) -> Generator[Request, Any, IntakeResult]:
    """Intake's decide–write–retry loop, shared by :func:`intake` and :func:`intake_async`: it yields
    what it needs read or written (:class:`Load`, :class:`Write`, :class:`Existing`) and is sent the
    answer, so the sync and the async driver differ only in how they do that."""
    ref = yield Load(None)
    for _ in range(_RELOADS):
        d = decided(p, ref)
        row = yield Write(d.row)
        if check_reporter:
            _reporter(row)
        if row["existing_id"] is not None:
            return _replay(p, row["existing_id"], row["existing_intake"])
        if not row["fresh"]:  # the reference data changed since it was read: nothing was written
            ref = yield Load(ref)
            continue
        if d.parts is None:
            raise outside_district(p.inp)
        if row["new_id"] is None:  # a concurrent request with the same key committed first
            found = yield Existing(p.key)
            return _replay(p, found["id"], found["intake"])
        return _created(row, d.parts)
    raise ConfigurationError(
        f"the reference data changed {_RELOADS} times while this report was being decided; try again",
        field="reference_generation", rule="decide on current reference data",
    )


def intake(
    session: Session,
    data: Mapping[str, Any],
    *,
    actor: Actor,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
    options: IntakeOptions = DEFAULT_OPTIONS,
    routes: Sequence[Route] | None = None,
    cache: ReferenceCache | None = None,
) -> IntakeResult:
    """Take a report into the caller's transaction (see the module docstring).

    ``data`` holds ``lon, lat, crs, category_code, source, description, photos, reporter_contact,
    reported_at``. A repeated ``idempotency_key`` returns the first answer (``created=False``); the
    same key with a different report is a :class:`ConflictError`.

    Raises
    ------
    InvalidInputError
        A malformed field (all problems listed), or a point outside the district.
    PermissionDeniedError
        The actor's role may not report.
    """
    if not may_report(actor.role):
        raise _may_not_report(actor.role)
    cache = cache or default_cache()
    flow = _flow(plan(data, idempotency_key, now, options, routes, actor, None), check_reporter=False)
    try:
        request = next(flow)
        while True:
            match request:
                case Load(stale):
                    answer: Any = cache.get(session, stale=stale)
                case Write(row):
                    answer = session.execute(text(INTAKE_SQL), {"rows": rows_json([row])}).mappings().one()
                case Existing(key):
                    answer = session.execute(text(EXISTING_SQL), {"key": key}).mappings().one()
            request = flow.send(answer)
    except StopIteration as done:
        result: IntakeResult = done.value
        return result


async def intake_async(
    conn: Any,
    data: Mapping[str, Any],
    *,
    actor: Actor | None = None,
    username: str | None = None,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
    options: IntakeOptions = DEFAULT_OPTIONS,
    routes: Sequence[Route] | None = None,
    cache: ReferenceCache | None = None,
    batcher: IntakeBatcher | None = None,
) -> IntakeResult:
    """:func:`intake` on asyncpg: on ``conn`` (in its transaction or in autocommit), or through
    ``batcher``, which writes this report in one statement with the others waiting then.

    One statement, :data:`INTAKE_SQL` (freshness check, reporter, duplicates, incident and event
    together), so autocommit is safe; the idempotency key's unique index settles concurrent retries
    either way.

    Give ``actor``, or ``username`` (the API's hot path): the reporter is then loaded by the same
    statement, which writes nothing unless the account is active and its role may report; a missing
    or disabled account is an :class:`AuthenticationError`, a role that may not report a
    :class:`PermissionDeniedError`.
    """
    if (actor is None) == (username is None):
        raise TypeError("intake_async needs exactly one of actor and username")
    if actor is not None and not may_report(actor.role):
        raise _may_not_report(actor.role)
    cache = cache or default_cache()
    writer = batcher if batcher is not None else _OnConnection(conn)
    flow = _flow(plan(data, idempotency_key, now, options, routes, actor, username),
                 check_reporter=actor is None)
    try:
        request = next(flow)
        while True:
            match request:
                case Load(stale):
                    answer: Any = await writer.reference(cache, stale=stale)
                case Write(row):
                    answer = await writer.submit(row)
                case Existing(key):
                    answer = await writer.existing(key)
            request = flow.send(answer)
    except StopIteration as done:
        result: IntakeResult = done.value
        return result


class _OnConnection:
    """:func:`intake_async`'s writer on one asyncpg connection (no batching): the batcher's interface."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def reference(self, cache: ReferenceCache, *, stale: Reference | None = None) -> Reference:
        return await cache.get_async(self.conn, stale=stale)

    async def submit(self, row: dict[str, Any]) -> Any:
        return (await run_intake_rows(self.conn, [row]))[0]

    async def existing(self, key: str | None) -> Any:
        return await self.conn.fetchrow(ASYNC_SQL["existing"], key)
