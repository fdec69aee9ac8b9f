"""Incident intake, assignment by location, routing, the lifecycle in the database, merge and the tick.

This joins the pure core (:mod:`gisgrid.incidents`, :mod:`gisgrid.deadlines`) to PostGIS:

* :func:`intake` — validate, convert the point to WGS84 (GCJ-02 / BD-09 are converted, CGCS2000 taken
  as is), find the grid *version* valid at the report time that covers the point (else the community,
  else the street; outside all of them: ``InvalidInputError`` "outside the district"), flag points
  within ``boundary_m`` metres of a grid boundary, route by ``gisgrid/data/routing.csv``, set the
  dispatch deadline, list open incidents of the same category nearby as possible duplicates, and
  write the incident and its first ``incident_event`` in the caller's transaction.
  Where the point lies and who handles it are decided from reference data held in memory
  (:mod:`layers.placement`); one statement, :data:`INTAKE_SQL`, then checks that data is still
  current, loads the reporter, finds the duplicates and writes. An idempotency key makes a retry
  return the first answer: ``INSERT … ON CONFLICT DO NOTHING`` waits for a concurrent insert of the
  same key and then reads it — never a duplicate row. :func:`intake_async` is the same flow on
  asyncpg, for the API's hot path, where an :class:`IntakeBatcher` writes the reports arriving
  together in one statement.
* :func:`apply_action` — lock the row, load it into :class:`~gisgrid.incidents.IncidentState`, call
  :func:`~gisgrid.incidents.transition`, write the row and the event.
* :func:`merge` — a dispatcher folds duplicates into one case.
* :func:`tick` — the scheduled job: :func:`gisgrid.deadlines.tick` over the overdue cases.
* :func:`assign_bulk` — grid ids for many historical points at once (STRtree, versions respected).

Level of a new case: the highest of the location's level (grid / community / street), the category's
``default_level`` (``categories.csv``) and the routing target's level (property company and police
room: community; department: district). A grid worker is kept as assignee only where a patrol may
handle the case (grid and community level); otherwise the dispatcher picks the handler.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gisgrid import crs as gcrs
from gisgrid import vocab
from gisgrid.catalog import categories
from gisgrid.deadlines import OPEN_STATUSES, deadline_for
from gisgrid.deadlines import tick as decide_tick
from gisgrid.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from gisgrid.incidents import (
    IN_HAND,
    LEVEL_UP,
    ROLE_TABLE,
    SYSTEM,
    TRANSITIONS,
    Action,
    Actor,
    IncidentState,
    Transition,
    Whistle,
    in_scope,
    transition,
)
from gisgrid.workcal import WorkCalendar
from layers.geojson import department_condition  # the map layer's and Open311's rule: one copy
from layers.placement import Place, Reference, ReferenceCache, default_cache

__all__ = [
    "INPUT_CRS",
    "IncidentSettings",
    "IntakeBatcher",
    "IntakeOptions",
    "IntakeResult",
    "Route",
    "apply_action",
    "assign_bulk",
    "get_incident",
    "intake",
    "intake_async",
    "load_routes",
    "merge",
    "possible_duplicates",
    "route_for",
    "tick",
]

DATA = Path(__file__).resolve().parents[1] / "gisgrid" / "data"
ROUTING_CSV = DATA / "routing.csv"
INPUT_CRS: Final = ("wgs84", "cgcs2000", "gcj02", "bd09")
TARGETS: Final = ("grid_worker", "property_company", "police_room", "department")
_TARGET_LEVEL: Final = {"grid_worker": "grid", "property_company": "community", "police_room": "community",
                        "department": "district"}
DUPLICATE_STATUSES: Final = ("reported", "registered", *IN_HAND, "backlog")
_RANK = {lvl: i for i, lvl in enumerate(vocab.INCIDENT_LEVELS)}
_METRES_PER_DEGREE = 111_320.0
MAX_PHOTOS = 20
MAX_DESCRIPTION = 4000


# ---------------------------------------------------------------------------------------- settings
class IncidentSettings(BaseSettings):
    """``GISGRID_INCIDENTS_*`` — the numbers of intake and the scheduled job (local practice)."""

    model_config = SettingsConfigDict(env_prefix="GISGRID_INCIDENTS_", extra="ignore")

    boundary_m: float = Field(5.0, ge=0, le=100, description="flag reports this close to a grid boundary")
    duplicate_m: float = Field(100.0, gt=0, le=5000, description="radius for possible duplicates")
    duplicate_hours: float = Field(72.0, gt=0, le=24 * 90, description="time window for possible duplicates")
    tick_seconds: float = Field(60.0, ge=0, description="API background tick interval; 0 disables it")
    intake_batch: int = Field(32, ge=1, le=500, description="most reports the API writes in one statement")
    intake_streams: int = Field(2, ge=1, le=64, description="intake statements the API runs at once (≤ pool size)")

    def options(self) -> IntakeOptions:
        return IntakeOptions(self.boundary_m, self.duplicate_m, self.duplicate_hours)


@dataclass(frozen=True)
class IntakeOptions:
    boundary_m: float = 5.0
    duplicate_m: float = 100.0
    duplicate_hours: float = 72.0


DEFAULT_OPTIONS: Final = IntakeOptions()


# ----------------------------------------------------------------------------------------- data files
@dataclass(frozen=True)
class Route:
    """One row of ``routing.csv``: category (code, ``NN*`` prefix or ``*``) → target."""

    category: str
    target: str  # grid_worker | property_company | police_room | department
    department_code: str | None = None

    @property
    def specificity(self) -> int:
        return 6 if not self.category.endswith("*") else len(self.category) - 1

    def matches(self, code: str) -> bool:
        return code.startswith(self.category[:-1]) if self.category.endswith("*") else code == self.category

    @property
    def label(self) -> str:
        return f"department:{self.department_code}" if self.department_code else self.target


def load_routes(path: str | Path = ROUTING_CSV) -> tuple[Route, ...]:
    """Read and check a routing table (``category,target[,note]``)."""
    routes: list[Route] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for lineno, rec in enumerate(csv.DictReader(fh), start=2):
            cat, target = (rec.get("category") or "").strip(), (rec.get("target") or "").strip()
            body = cat[:-1] if cat.endswith("*") else cat
            if not (re.fullmatch(r"[0-9]{5}", cat) or (cat.endswith("*") and re.fullmatch(r"[0-9]{0,4}", body))):
                raise ConfigurationError(
                    f"{path}:{lineno}: category {cat!r} is not a 5-digit code, a prefix* or *",
                    field="category", feature=lineno, rule="routing table row",
                )
            kind, _, dept = target.partition(":")
            if kind not in TARGETS or (dept and kind != "department"):
                raise ConfigurationError(
                    f"{path}:{lineno}: target {target!r} is not one of {', '.join(TARGETS)} or department:<code>",
                    field="target", feature=lineno, rule="routing table row",
                )
            routes.append(Route(cat, kind, dept or None))
    cats = [r.category for r in routes]
    if dupes := sorted({c for c in cats if cats.count(c) > 1}):
        raise ConfigurationError(f"{path}: categories repeated: {dupes}", field="category", rule="unique key")
    if "*" not in cats:
        raise ConfigurationError(f"{path}: no '*' row", field="category", rule="every category has a route")
    return tuple(routes)


@lru_cache(maxsize=1)
def default_routes() -> tuple[Route, ...]:
    return load_routes(ROUTING_CSV)


def route_for(category_code: str, routes: Sequence[Route] | None = None) -> Route:
    """The most specific routing rule for a category."""
    found = [r for r in (default_routes() if routes is None else routes) if r.matches(category_code)]
    return max(found, key=lambda r: r.specificity)


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    return WorkCalendar.china()


# --------------------------------------------------------------------------------------------- input
@dataclass(frozen=True)
class IncidentInput:
    """A validated report: the point already in WGS84."""

    lon: float
    lat: float
    crs: str
    category_code: str
    source: str
    description: str
    photos: tuple[str, ...]
    reporter_contact: str | None
    reported_at: dt.datetime | None
    given: dict[str, Any]  # the request as sent (for the idempotency fingerprint)

    @cached_property
    def fingerprint(self) -> str:
        blob = orjson.dumps(self.given, option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.sha256(blob).hexdigest()[:32]

    def legacy_fingerprint(self) -> str:
        """The fingerprint as answers stored before 0003 carry it (``json.dumps``: slower, same role)."""
        blob = json.dumps(self.given, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _aware(value: Any, name: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(f"{name} is not an ISO 8601 time", field=name, feature=value,
                                    rule="ISO 8601 with offset") from None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidInputError(f"{name} must be a time with a UTC offset", field=name, feature=str(value),
                                rule="timezone-aware time")
    return value


def parse_input(data: Mapping[str, Any], *, now: dt.datetime) -> IncidentInput:
    """Check a report and convert its point to WGS84; every problem at once."""
    problems: list[tuple[str, str]] = []

    def num(name: str, lo: float, hi: float) -> float:
        v = data.get(name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
            problems.append((name, f"{name} must be a number in [{lo}, {hi}]"))
            return 0.0
        return float(v)

    lon, lat = num("lon", -180, 180), num("lat", -90, 90)
    crs = str(data.get("crs") or "wgs84").lower()
    if crs not in INPUT_CRS:
        problems.append(("crs", f"crs must be one of {', '.join(INPUT_CRS)}"))
    code = str(data.get("category_code") or "")
    if code not in categories():
        problems.append(("category_code", f"category_code {code!r} is not in the category list"))
    source = str(data.get("source") or "")
    if source not in vocab.INCIDENT_SOURCES:
        problems.append(("source", f"source must be one of {', '.join(vocab.INCIDENT_SOURCES)}"))
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        problems.append(("description", f"description must be text of at most {MAX_DESCRIPTION} characters"))
    photos = data.get("photos") or []
    if not isinstance(photos, list | tuple) or len(photos) > MAX_PHOTOS or not all(
        isinstance(p, str) and re.match(r"^https?://\S+$", p) and len(p) <= 2000 for p in photos
    ):
        problems.append(("photos", f"photos must be at most {MAX_PHOTOS} http(s) URLs"))
    contact = data.get("reporter_contact")
    if contact is not None and (not isinstance(contact, str) or len(contact) > 100):
        problems.append(("reporter_contact", "reporter_contact must be text of at most 100 characters"))
    reported_at = None
    if data.get("reported_at") is not None:
        try:
            reported_at = _aware(data["reported_at"], "reported_at")
            if reported_at > now + dt.timedelta(minutes=5):
                problems.append(("reported_at", "reported_at is in the future"))
        except InvalidInputError as exc:
            problems.append(("reported_at", exc.message))
    if problems:
        raise InvalidInputError(
            "; ".join(m for _, m in problems), field=problems[0][0], rule="incident report",
            details=[{"field": f, "message": m} for f, m in problems] if len(problems) > 1 else None,
        )
    if crs == "gcj02":
        wlon, wlat = gcrs.wgs84_from_gcj02(lon, lat)
    elif crs == "bd09":
        wlon, wlat = gcrs.wgs84_from_bd09(lon, lat)
    else:  # CGCS2000 lon/lat is within centimetres of WGS84 (ARCHITECTURE.md)
        wlon, wlat = lon, lat
    given = {k: data.get(k) for k in ("lon", "lat", "crs", "category_code", "source", "description",
                                     "photos", "reporter_contact", "reported_at")}
    given["crs"], given["photos"] = crs, list(photos)
    given["reported_at"] = reported_at.isoformat() if reported_at else None
    return IncidentInput(float(wlon), float(wlat), crs, code, source, description, tuple(photos),
                         contact, reported_at, given)


# ----------------------------------------------------------------------------------------------- SQL
_OPEN_LIST = ", ".join(f"'{st}'" for st in DUPLICATE_STATUSES)
_REPORT_LIST = ", ".join(f"'{r}'" for r in sorted(ROLE_TABLE[Action.REPORT]))
# One statement takes any number of reports (one for :func:`intake`, a batch for the API's
# :class:`IntakeBatcher`), so one round trip and one commit serve them all. Python has decided
# everything that needs no live data (route, level, deadline, assignee: from the reference data in
# memory, layers/placement.py); each row of ``:rows`` (JSON) carries that decision. Per row the
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
# The API runs this as a generic plan (api/background.py), planned once per connection — possibly on
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
        actor_user_id integer, actor_staff_id integer, actor_role text, route text, source text,
        description text, photos jsonb, contact text, reported_at timestamptz, placed boolean,
        grid_id integer, grid_code text, community_id integer, street_id integer, level text,
        staff_id integer, department_id integer, company_id integer, station_id integer,
        deadline_at timestamptz, deadline_iso text, boundary_flag boolean, answer_head text, note text)),
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
        rq.company_id, rq.station_id, 'reported', rq.deadline_at, rq.boundary_flag,
        CAST(rq.answer_head || dj.list || '}}' AS jsonb), rq.g
    FROM rq JOIN who w ON w.ord = rq.ord JOIN dj ON dj.ord = rq.ord
    WHERE w.ok AND w.fresh AND rq.placed AND NOT EXISTS (SELECT 1 FROM existing e WHERE e.ord = rq.ord)
    ORDER BY rq.ord
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), ev AS (
    INSERT INTO incident_event (incident_id, action, from_status, to_status, actor_user_id, actor_staff_id,
                                at, note, data)
    SELECT n.id, 'report', NULL, 'reported', w.user_id, w.staff_id, rq.at, rq.note,
           CAST(json_build_object('actor_role', w.role, 'level', rq.level, 'deadline_at', rq.deadline_iso,
                                  'route', rq.route, 'boundary_flag', rq.boundary_flag,
                                  'possible_duplicates', dj.ids) AS jsonb)
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


_ASYNC = {name: to_asyncpg(sql) for name, sql in (("intake", INTAKE_SQL), ("existing", EXISTING_SQL))}
_RELOADS: Final = 3  # a reference change between deciding and writing: decide again, at most this often


# ------------------------------------------------------------------------------------------- intake
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
class _Plan:
    inp: IncidentInput
    key: str | None
    at: dt.datetime
    reported_at: dt.datetime
    route: Route
    options: IntakeOptions
    row: dict[str, Any] = field(default_factory=dict)


def _degrees(metres: float, lat: float) -> float:
    """A bbox margin in degrees that covers ``metres`` in both axes at latitude ``lat``."""
    return metres / _METRES_PER_DEGREE / max(math.cos(math.radians(lat)), 0.01) * 1.05 + 1e-9


def _plan(data: Mapping[str, Any], key: str | None, now: dt.datetime | None, options: IntakeOptions,
          routes: Sequence[Route] | None, actor: Actor | None, username: str | None) -> _Plan:
    """Check the report; the parts of its row of :data:`INTAKE_SQL` that do not depend on where it lies."""
    at = _aware(now, "now") if now is not None else dt.datetime.now(dt.UTC)
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 128):
        raise InvalidInputError("the idempotency key must be 1–128 characters", field="Idempotency-Key",
                                rule="1 <= len(key) <= 128")
    inp = parse_input(data, now=at)
    reported_at = inp.reported_at or at
    route = route_for(inp.category_code, routes)
    window = dt.timedelta(hours=options.duplicate_hours)
    row = {
        "lon": inp.lon, "lat": inp.lat, "key": key, "at": at, "category": inp.category_code,
        "dup_from": reported_at - window, "dup_to": reported_at + window,
        "ddeg": _degrees(options.duplicate_m, inp.lat), "dup_m": options.duplicate_m, "username": username,
        "actor_user_id": actor.user_id if actor else None, "actor_staff_id": actor.staff_id if actor else None,
        "actor_role": actor.role if actor else None, "route": route.label, "source": inp.source,
        "description": inp.description, "photos": list(inp.photos), "contact": inp.reporter_contact,
        "reported_at": reported_at, "note": inp.description[:200],
    }
    return _Plan(inp, key, at, reported_at, route, options, row)


def _place(plan: _Plan, ref: Reference) -> Place:
    inp, route = plan.inp, plan.route
    return ref.place(
        inp.lon, inp.lat, plan.reported_at, plan.reported_at.astimezone(default_calendar().tz).date(),
        boundary_deg=_degrees(max(plan.options.boundary_m, 0.01), inp.lat),
        need_worker=route.target in ("grid_worker", "property_company"),
        need_complex=route.target == "property_company", need_police=route.target == "police_room",
        dept_code=route.department_code, dept_any=route.target == "department" and route.department_code is None,
        category=inp.category_code,
    )


_UNPLACED: Final = dict.fromkeys(
    ("grid_id", "grid_code", "community_id", "street_id", "level", "staff_id", "department_id", "company_id",
     "station_id", "deadline_at", "deadline_iso", "boundary_flag", "answer_head"))


def _decide(plan: _Plan, ref: Reference, place: Place) -> tuple[dict[str, Any], tuple[str, str]]:
    """The report's row of :data:`INTAKE_SQL` (level, assignee, deadline, note, the answer but for its
    duplicates) and the answer's ``incident`` and ``assignment`` as JSON text."""
    inp = plan.inp
    where = place.located_in
    row = {**plan.row, "instance": ref.instance, "generation": ref.generation, "placed": where is not None}
    if where is None:  # outside the district: the statement only checks freshness and the reporter
        return {**row, **_UNPLACED}, ("", "")
    target, note = plan.route.target, ""
    staff_id = department_id = company_id = station_id = None
    if target == "property_company":
        if place.company_id is not None:
            company_id = place.company_id
        else:
            target = "grid_worker"
            note = "no property company manages this place (三无小区 or outside a complex): the grid worker"
    if target == "police_room":
        station_id, staff_id = place.station_id, place.officer_id
        if station_id is None and staff_id is None:
            note = "no police room or officer for this community: the dispatcher assigns"
    if target == "department":
        department_id = place.department_id
        if department_id is None:
            note = f"no department handles {inp.category_code}: the dispatcher assigns"
    category_level = categories()[inp.category_code].default_level
    level = max((where, category_level, _TARGET_LEVEL[target]), key=lambda lv: _RANK.get(lv, 0))
    if target == "grid_worker":
        if level in ("grid", "community"):
            staff_id = place.worker_id
            if staff_id is None:
                note = "no grid worker is assigned here: the dispatcher assigns"
        else:
            note = f"a {level}-level case: the dispatcher picks the handler"
    edge = place.edge_m
    boundary_flag = edge is not None and edge <= plan.options.boundary_m
    deadline = deadline_for(inp.category_code, level, plan.reported_at, default_calendar(), stage="dispatch")
    deadline_iso = deadline.isoformat()
    incident = {
        "status": "reported", "level": level, "category_code": inp.category_code, "source": inp.source,
        "reported_at": plan.reported_at.isoformat(), "deadline_at": deadline_iso,
        "lon": round(inp.lon, 8), "lat": round(inp.lat, 8), "input_crs": inp.crs,
    }
    assignment = {
        "located_in": where, "grid_id": place.grid_id, "grid_code": place.grid_code,
        "grid_version": place.grid_version, "community_code": place.community_code,
        "street_code": place.street_code, "route": plan.route.label, "target": target,
        "assignee_staff_id": staff_id, "assignee_department_id": department_id,
        "assignee_property_company_id": company_id, "assignee_station_id": station_id,
        "boundary_flag": boundary_flag, "boundary_distance_m": None if edge is None else round(edge, 2),
        "note": note,
    }
    incident_json = orjson.dumps(incident).decode()
    assignment_json = orjson.dumps(assignment).decode()
    return {
        **row, "grid_id": place.grid_id, "grid_code": place.grid_code, "community_id": place.community_id,
        "street_id": place.street_id, "level": level, "staff_id": staff_id, "department_id": department_id,
        "company_id": company_id, "station_id": station_id, "deadline_at": deadline,
        "deadline_iso": deadline_iso, "boundary_flag": boundary_flag,
        # the stored answer, but for its duplicates, which the statement appends (and closes the object)
        "answer_head": (f'{{"fingerprint":"{inp.fingerprint}","incident":{incident_json},'
                        f'"assignment":{assignment_json},"possible_duplicates":'),
    }, (incident_json, assignment_json)


def rows_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """The ``:rows`` parameter of :data:`INTAKE_SQL`: the reports' rows, numbered in order."""
    return orjson.dumps([{**r, "ord": i} for i, r in enumerate(rows)]).decode()


def _reporter(row: Mapping[Any, Any]) -> Actor:
    """The reporter loaded by :data:`INTAKE_SQL` (``username``); 401 when gone or disabled, 403 by role."""
    if row["user_id"] is None or not row["user_active"]:
        raise AuthenticationError("The account of this token no longer exists or is disabled.",
                                  field="Authorization", rule="active user")
    actor = Actor(role=row["user_role"], user_id=row["user_id"], staff_id=row["user_staff_id"],
                  department_id=row["user_department_id"], scope_code=row["user_scope_code"])
    if actor.role not in ROLE_TABLE[Action.REPORT]:
        raise PermissionDeniedError(f"role {actor.role!r} may not report a case", field="role", rule="role table")
    return actor


def _outside(plan: _Plan) -> InvalidInputError:
    inp = plan.inp
    return InvalidInputError(
        f"the point ({inp.lon:.6f}, {inp.lat:.6f}) is outside the district: no grid, community or street "
        "contains it", field="lon", feature=[inp.lon, inp.lat], rule="outside the district",
    )


def _created(row: Mapping[Any, Any], parts: tuple[str, str]) -> IntakeResult:
    new_id = int(row["new_id"])
    incident, assignment = parts
    body = (f'{{"incident":{{"id":{new_id},{incident[1:]},"assignment":{assignment},'
            f'"possible_duplicates":{row["dups_json"]}}}')
    return IntakeResult(new_id, True, body)


def _replay(plan: _Plan, incident_id: int, stored: str | dict[str, Any]) -> IntakeResult:
    answer = json.loads(stored) if isinstance(stored, str) else stored
    if answer.get("fingerprint") not in (plan.inp.fingerprint, plan.inp.legacy_fingerprint()):
        raise ConflictError(
            "this Idempotency-Key was used for a different report; send a new key for a new report",
            field="Idempotency-Key", feature=plan.key, rule="one key, one report",
            details={"incident_id": incident_id},
        )
    body = {"incident": {"id": incident_id, **answer["incident"]}, "assignment": answer["assignment"],
            "possible_duplicates": answer["possible_duplicates"]}
    return IntakeResult(incident_id, False, json.dumps(body, ensure_ascii=False))


def _stale() -> ConfigurationError:
    return ConfigurationError(
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
    if actor.role not in ROLE_TABLE[Action.REPORT]:
        raise PermissionDeniedError(f"role {actor.role!r} may not report a case", field="role", rule="role table")
    cache = cache or default_cache()
    plan = _plan(data, idempotency_key, now, options, routes, actor, None)
    ref = cache.get(session)
    for _ in range(_RELOADS):
        decided, parts = _decide(plan, ref, _place(plan, ref))
        row = session.execute(text(INTAKE_SQL), {"rows": rows_json([decided])}).mappings().one()
        if row["existing_id"] is not None:
            return _replay(plan, row["existing_id"], row["existing_intake"])
        if not row["fresh"]:
            ref = cache.get(session, stale=ref)
            continue
        if not decided["placed"]:
            raise _outside(plan)
        if row["new_id"] is None:  # a concurrent request with the same key committed first
            found = session.execute(text(EXISTING_SQL), {"key": plan.key}).mappings().one()
            return _replay(plan, found["id"], found["intake"])
        return _created(row, parts)
    raise _stale()


async def run_intake_rows(conn: Any, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """:data:`INTAKE_SQL` for these rows on an asyncpg connection: one answer row per report, in order."""
    sql, _ = _ASYNC["intake"]
    return list(await conn.fetch(sql, rows_json(rows)))


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
    if actor is not None and actor.role not in ROLE_TABLE[Action.REPORT]:
        raise PermissionDeniedError(f"role {actor.role!r} may not report a case", field="role", rule="role table")
    cache = cache or default_cache()
    plan = _plan(data, idempotency_key, now, options, routes, actor, username)
    writer = batcher if batcher is not None else _OnConnection(conn)
    ref = await writer.reference(cache)
    for _ in range(_RELOADS):
        decided, parts = _decide(plan, ref, _place(plan, ref))
        row = await writer.submit(decided)
        if actor is None:
            _reporter(row)
        if row["existing_id"] is not None:
            return _replay(plan, row["existing_id"], row["existing_intake"])
        if not row["fresh"]:
            ref = await writer.reference(cache, stale=ref)
            continue
        if not decided["placed"]:
            raise _outside(plan)
        if row["new_id"] is None:  # a concurrent request with the same key committed first
            found = await writer.existing(plan.key)
            return _replay(plan, found["id"], found["intake"])
        return _created(row, parts)
    raise _stale()


class _OnConnection:
    """:func:`intake_async`'s writer on one asyncpg connection (no batching): the batcher's interface."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def reference(self, cache: ReferenceCache, *, stale: Reference | None = None) -> Reference:
        return await cache.get_async(self.conn, stale=stale)

    async def submit(self, row: dict[str, Any]) -> Any:
        return (await run_intake_rows(self.conn, [row]))[0]

    async def existing(self, key: str | None) -> Any:
        return await self.conn.fetchrow(_ASYNC["existing"][0], key)


class IntakeBatcher:
    """Reports arriving together written together: one :data:`INTAKE_SQL` statement — one round trip,
    one plan, one commit — for all the reports that queued while the previous statements ran.

    At most ``streams`` statements run at once, each with at most ``max_batch`` reports; a report
    arriving while fewer run starts a statement at once, so a lone report waits for nothing. When a
    statement fails, its reports are written one by one, so one report's error (say a grid deleted
    since it was decided) reaches only its own request.
    """

    def __init__(self, pool: Any, *, max_batch: int = 32, streams: int = 2) -> None:
        if max_batch < 1 or streams < 1:
            raise ValueError("max_batch and streams must be at least 1")
        self.pool, self.max_batch, self.streams = pool, max_batch, streams
        self._queue: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self._running = 0
        self.statements = 0  # how many statements ran (the batch sizes' denominator)
        self.reports = 0

    async def reference(self, cache: ReferenceCache, *, stale: Reference | None = None) -> Reference:
        """The cache's reference data, loaded on a connection of the pool when needed."""
        if cache.current is not None and cache.current is not stale:
            return cache.current
        async with self.pool.acquire() as conn:
            return await cache.get_async(conn, stale=stale)

    async def existing(self, key: str | None) -> Any:
        """The incident already holding this idempotency key (its id and stored answer)."""
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(_ASYNC["existing"][0], key)

    async def submit(self, row: dict[str, Any]) -> Any:
        """Queue one report's row; its answer row once written."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((row, fut))
        if self._running < self.streams:
            self._running += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
                try:
                    async with self.pool.acquire() as conn:
                        await self._write(conn, batch)
                except Exception as exc:  # no connection: every report of the batch gets the error
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
        finally:
            self._running -= 1

    async def _write(self, conn: Any, batch: list[tuple[dict[str, Any], asyncio.Future[Any]]]) -> None:
        self.statements += 1
        self.reports += len(batch)
        import asyncpg

        try:
            rows = await run_intake_rows(conn, [r for r, _ in batch])
        except Exception as exc:
            # a statement error (not a lost connection): nothing was written, so retry report by report
            retry = isinstance(exc, asyncpg.PostgresError) and not isinstance(exc, asyncpg.PostgresConnectionError)
            if len(batch) == 1 or not retry:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            for item in batch:  # one by one: each report gets its own answer or its own error
                await self._write(conn, [item])
            return
        for (_, fut), row in zip(batch, rows, strict=True):
            if not fut.done():
                fut.set_result(row)


def possible_duplicates(
    session: Session, *, lon: float, lat: float, category_code: str, at: dt.datetime,
    options: IntakeOptions = DEFAULT_OPTIONS, exclude_id: int | None = None,
) -> list[dict[str, Any]]:
    """Open incidents of ``category_code`` within ``options.duplicate_m`` of the point and the time window."""
    window = dt.timedelta(hours=options.duplicate_hours)
    rows = session.execute(
        text("""SELECT i.id, i.status, i.reported_at,
                       round(ST_Distance(i.geom::geography, p.g::geography)::numeric, 1) AS distance_m
                FROM incident i, (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g) p
                WHERE i.category_code = :cat AND i.status = ANY(:open) AND i.merged_into_id IS NULL
                  AND i.id IS DISTINCT FROM :exclude AND i.reported_at BETWEEN :t0 AND :t1
                  AND i.geom && ST_Expand(p.g, :deg)
                  AND ST_DWithin(i.geom::geography, p.g::geography, :m)
                ORDER BY distance_m, i.id"""),
        {"lon": lon, "lat": lat, "cat": category_code, "open": list(DUPLICATE_STATUSES), "exclude": exclude_id,
         "t0": at - window, "t1": at + window, "deg": _degrees(options.duplicate_m, lat),
         "m": options.duplicate_m},
    ).mappings()
    return [{**r, "distance_m": float(r["distance_m"]), "reported_at": r["reported_at"].isoformat()} for r in rows]


# ---------------------------------------------------------------------------------------- lifecycle
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
        As :func:`gisgrid.incidents.transition` does; 409's ``details['allowed']`` lists the actions
        the actor may take.
    """
    at = _aware(now, "now") if now is not None else dt.datetime.now(dt.UTC)
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
        kw["deadline_at"] = _aware(kw["deadline_at"], "deadline_at")
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
    at = _aware(now, "now") if now is not None else dt.datetime.now(dt.UTC)
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
    at = _aware(now, "now") if now is not None else dt.datetime.now(dt.UTC)
    rows = session.execute(
        text(_ROW_SQL + """ WHERE (i.status = ANY(:in_hand) AND i.deadline_at < :now)
               OR (i.status = ANY(:whistle_statuses) AND i.whistles <> '[]'::jsonb AND EXISTS (
                   SELECT 1 FROM jsonb_array_elements(i.whistles) w
                   WHERE w->>'accepted_at' IS NULL AND w->>'flagged_at' IS NULL
                     AND (w->>'due_at')::timestamptz < :now))
             ORDER BY i.id LIMIT :limit FOR UPDATE OF i SKIP LOCKED"""),
        {"in_hand": list(IN_HAND), "now": at, "limit": limit,
         "whistle_statuses": ["registered", *IN_HAND, "backlog"]},
    ).mappings().all()
    steps = decide_tick([_state(r) for r in rows], at, calendar or default_calendar(), actor=SYSTEM)
    counts = {"escalate": 0, "backlog": 0, "flag_whistle_overdue": 0}
    for step in steps:
        _write(session, step)
        counts[step.action.value] = counts.get(step.action.value, 0) + 1
    return {"at": at.isoformat(), "checked": len(rows), "escalated": counts["escalate"],
            "backlogged": counts["backlog"], "whistles_flagged": counts["flag_whistle_overdue"],
            "incident_ids": sorted({s.after.id for s in steps if s.after.id is not None})}


def overdue_count(session: Session, now: dt.datetime) -> int:
    return int(session.execute(
        text("SELECT count(*) FROM incident WHERE status = ANY(:s) AND deadline_at < :now"),
        {"s": list(OPEN_STATUSES), "now": now},
    ).scalar_one())


# -------------------------------------------------------------------------------------- bulk assign
@dataclass
class GridIndex:
    """Every non-draft grid version, with an STRtree over their polygons."""

    ids: np.ndarray
    codes: np.ndarray
    valid_from: np.ndarray  # datetime64[us] UTC
    valid_to: np.ndarray  # datetime64[us] UTC, NaT = open
    tree: Any

    @classmethod
    def load(cls, bind: Engine | Session) -> GridIndex:
        import shapely

        sql = text("""SELECT id, code, valid_from, valid_to, ST_AsBinary(geom) AS wkb FROM grid
                      WHERE status <> 'draft' ORDER BY id""")
        if isinstance(bind, Session):
            rows = bind.execute(sql).all()
        else:
            with bind.connect() as conn:
                rows = conn.execute(sql).all()
        geoms = shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else np.array([], dtype=object)

        def utc(values: list[dt.datetime | None]) -> np.ndarray:
            return np.array([np.datetime64("NaT", "us") if v is None else
                             np.datetime64(v.astimezone(dt.UTC).replace(tzinfo=None), "us") for v in values],
                            dtype="datetime64[us]")

        return cls(np.array([r.id for r in rows], dtype=np.int64), np.array([r.code for r in rows], dtype=object),
                   utc([r.valid_from for r in rows]), utc([r.valid_to for r in rows]), shapely.STRtree(geoms))


def assign_bulk(bind: Engine | Session | GridIndex, points: Any, *, at: Any = None,
                at_column: str = "reported_at") -> np.ndarray:
    """The ``grid.id`` valid at each point's report time that covers it (``-1`` where none does).

    ``points`` is a GeoDataFrame (or GeoSeries / array of points) in EPSG:4326; the times come from
    ``at`` (one time for all, or an array) or else its ``at_column``. One STRtree query
    (``predicate='covered_by'``, as ``ST_Covers``) pairs points with every grid *version* covering
    them; pairs whose version was not valid at the report time are dropped; the lowest grid id wins
    (as in the SQL of :func:`intake`).
    """
    import geopandas as gpd

    index = bind if isinstance(bind, GridIndex) else GridIndex.load(bind)
    if isinstance(points, gpd.GeoDataFrame):
        if points.crs is not None and points.crs.to_epsg() != 4326:
            raise InvalidInputError("points must be in EPSG:4326", field="crs", rule="WGS84 points")
        geoms = points.geometry.values
        if at is None and at_column in points:
            at = points[at_column].to_numpy()
    else:
        geoms = np.asarray(getattr(points, "values", points))
    n = len(geoms)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(index.ids) == 0:
        return out
    pi, gi = index.tree.query(geoms, predicate="covered_by")
    if at is not None:
        t = np.asarray(at)
        if t.dtype == object:
            t = np.array([np.datetime64(v.astimezone(dt.UTC).replace(tzinfo=None), "us") for v in t.ravel()])
        t = t.astype("datetime64[us]")
        tt = np.broadcast_to(t, (n,))[pi] if t.ndim == 0 or t.size == 1 else t[pi]
        vt = index.valid_to[gi]
        ok = (index.valid_from[gi] <= tt) & (np.isnat(vt) | (vt > tt))
        pi, gi = pi[ok], gi[ok]
    else:
        ok = np.isnat(index.valid_to[gi])
        pi, gi = pi[ok], gi[ok]
    if pi.size == 0:
        return out
    # the pairs come grouped by point (STRtree answers in input order; sorted here if ever not): the
    # lowest grid id of each group, without sorting a million pairs
    if not np.all(pi[1:] >= pi[:-1]):
        order = np.argsort(pi, kind="stable")
        pi, gi = pi[order], gi[order]
    starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
    out[pi[starts]] = np.minimum.reduceat(index.ids[gi], starts)
    return out
