"""Intake decisions: what a report says, where it goes, at which level, to whom and by when — no I/O.

The database layer (:mod:`layers.incidents.intake`) reads the report's reference data and writes the
case; everything it decides in between is here:

* :func:`parse_input` — check a report (every problem at once) and convert its point to WGS84
  (GCJ-02 / BD-09 with the iterative inverses of :mod:`gisgrid.crs`, CGCS2000 taken as is);
* :func:`route_for` — the routing rule of the category (``gisgrid/data/routing.csv``, editable:
  grid worker, property company, police room, or a department);
* :func:`place_for` — where the point lies and who could handle it there, asked of a
  :class:`~gisgrid.incidents.reference.Reference`, only what the route needs;
* :func:`decide` — the case itself: its level, assignee, deadline and note, as the state machine's
  first state and event (:func:`gisgrid.incidents.machine.report`).

**Level** of a new case: the highest of the location's level (grid / community / street), the
category's ``default_level`` (:func:`gisgrid.catalog.categories`) and the routing target's level
(property company and police room: community; department: district). A grid worker is kept as
assignee only where a patrol may handle the case (grid and community level); otherwise the
dispatcher picks the handler. **Deadline**: the ``dispatch`` stage of
:func:`gisgrid.incidents.deadlines.deadline_for` for that level, from the report time.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.resources
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

import orjson

from gisgrid import crs as gcrs
from gisgrid import vocab
from gisgrid.catalog import categories
from gisgrid.errors import ConfigurationError, InvalidInputError
from gisgrid.incidents.deadlines import deadline_for
from gisgrid.incidents.machine import report
from gisgrid.incidents.reference import Place, Reference
from gisgrid.incidents.states import IN_HAND, Actor, Transition
from gisgrid.incidents.workcal import WorkCalendar, default_calendar

__all__ = [
    "DEFAULT_OPTIONS",
    "DUPLICATE_STATUSES",
    "INPUT_CRS",
    "MAX_DESCRIPTION",
    "MAX_PHOTOS",
    "ROUTING_CSV",
    "TARGETS",
    "Decision",
    "IncidentInput",
    "IntakeOptions",
    "Route",
    "aware_time",
    "decide",
    "default_routes",
    "load_routes",
    "margin_deg",
    "outside_district",
    "parse_input",
    "place_for",
    "route_for",
]

INPUT_CRS: Final = ("wgs84", "cgcs2000", "gcj02", "bd09")
TARGETS: Final = ("grid_worker", "property_company", "police_room", "department")
_TARGET_LEVEL: Final = {"grid_worker": "grid", "property_company": "community", "police_room": "community",
                        "department": "district"}
_RANK: Final = {lvl: i for i, lvl in enumerate(vocab.INCIDENT_LEVELS)}
DUPLICATE_STATUSES: Final = ("reported", "registered", *IN_HAND, "backlog")
"""Statuses of the open cases a new report may duplicate."""
MAX_PHOTOS: Final = 20
MAX_DESCRIPTION: Final = 4000
ROUTING_CSV: Traversable = importlib.resources.files("gisgrid") / "data" / "routing.csv"
_METRES_PER_DEGREE: Final = 111_320.0


@dataclass(frozen=True)
class IntakeOptions:
    """The numbers of intake (``GISGRID_INCIDENTS_*``, read by ``layers.settings``)."""

    boundary_m: float = 5.0  # flag reports this close to a grid boundary
    duplicate_m: float = 100.0  # radius for possible duplicates
    duplicate_hours: float = 72.0  # time window for possible duplicates


DEFAULT_OPTIONS: Final = IntakeOptions()


def margin_deg(metres: float, lat: float) -> float:
    """A bbox margin in degrees that covers ``metres`` in both axes at latitude ``lat``."""
    return metres / _METRES_PER_DEGREE / max(math.cos(math.radians(lat)), 0.01) * 1.05 + 1e-9


# ------------------------------------------------------------------------------------------- routing
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


def load_routes(path: str | Traversable = ROUTING_CSV) -> tuple[Route, ...]:
    """Read and check a routing table (``category,target[,note]``)."""
    routes: list[Route] = []
    with (Path(path) if isinstance(path, str) else path).open("r", encoding="utf-8") as fh:
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
    """The bundled routing table, read once."""
    return load_routes(ROUTING_CSV)


def route_for(category_code: str, routes: Sequence[Route] | None = None) -> Route:
    """The most specific routing rule for a category."""
    return _bundled_route(category_code) if routes is None else _most_specific(category_code, routes)


@lru_cache(maxsize=4096)
def _bundled_route(category_code: str) -> Route:
    # asked for every report: scanning the table each time was ~4 µs
    return _most_specific(category_code, default_routes())


def _most_specific(category_code: str, routes: Sequence[Route]) -> Route:
    return max((r for r in routes if r.matches(category_code)), key=lambda r: r.specificity)


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


def aware_time(value: Any, name: str) -> dt.datetime:
    """An aware datetime, or ISO 8601 text with an offset; otherwise :class:`InvalidInputError` naming ``name``."""
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
            reported_at = aware_time(data["reported_at"], "reported_at")
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
    else:  # CGCS2000 lon/lat is within centimetres of WGS84 (docs/coordinates.md)
        wlon, wlat = lon, lat
    given = {k: data.get(k) for k in ("lon", "lat", "crs", "category_code", "source", "description",
                                     "photos", "reporter_contact", "reported_at")}
    given["crs"], given["photos"] = crs, list(photos)
    given["reported_at"] = reported_at.isoformat() if reported_at else None
    return IncidentInput(float(wlon), float(wlat), crs, code, source, description, tuple(photos),
                         contact, reported_at, given)


def outside_district(inp: IncidentInput) -> InvalidInputError:
    """The error for a point no grid, community or street contains."""
    return InvalidInputError(
        f"the point ({inp.lon:.6f}, {inp.lat:.6f}) is outside the district: no grid, community or street "
        "contains it", field="lon", feature=[inp.lon, inp.lat], rule="outside the district",
    )


# ------------------------------------------------------------------------------------------ deciding
def place_for(ref: Reference, inp: IncidentInput, route: Route, reported_at: dt.datetime,
              options: IntakeOptions = DEFAULT_OPTIONS, calendar: WorkCalendar | None = None) -> Place:
    """Where the report lies at ``reported_at`` and who could take it there — only what ``route`` needs."""
    day = reported_at.astimezone((calendar or default_calendar()).tz).date()
    target = route.target
    return ref.place(
        inp.lon, inp.lat, reported_at, day, boundary_deg=margin_deg(max(options.boundary_m, 0.01), inp.lat),
        need_worker=target in ("grid_worker", "property_company"), need_complex=target == "property_company",
        need_police=target == "police_room", dept_code=route.department_code,
        dept_any=target == "department" and route.department_code is None, category=inp.category_code,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """What intake decided for one report: the case as the machine opens it, and how it was assigned.

    ``opened`` is :func:`~gisgrid.incidents.machine.report`'s transition: ``opened.after`` the state
    to write to ``incident`` (status, level, deadline, area codes), ``opened.event`` its first event.
    """

    inp: IncidentInput
    route: Route
    place: Place
    target: str  # the route's target, or grid_worker where no property company manages the place
    staff_id: int | None
    department_id: int | None
    company_id: int | None
    station_id: int | None
    boundary_flag: bool
    note: str  # why the assignee is missing or not the route's, for the dispatcher
    opened: Transition

    def incident(self) -> dict[str, Any]:
        """The answer's ``incident`` (all but its id)."""
        state, inp = self.opened.after, self.inp
        return {
            "status": state.status, "level": state.level, "category_code": state.category_code,
            "source": inp.source, "reported_at": state.reported_at.isoformat(),
            "deadline_at": self.opened.event["data"]["deadline_at"],  # its ISO text, made once by report()
            "lon": round(inp.lon, 8), "lat": round(inp.lat, 8), "input_crs": inp.crs,
        }

    def assignment(self) -> dict[str, Any]:
        """The answer's ``assignment``: where the point lies, the route, the assignee, the boundary flag."""
        place, edge = self.place, self.place.edge_m
        return {
            "located_in": place.located_in, "grid_id": place.grid_id, "grid_code": place.grid_code,
            "grid_version": place.grid_version, "community_code": place.community_code,
            "street_code": place.street_code, "route": self.route.label, "target": self.target,
            "assignee_staff_id": self.staff_id, "assignee_department_id": self.department_id,
            "assignee_property_company_id": self.company_id, "assignee_station_id": self.station_id,
            "boundary_flag": self.boundary_flag, "boundary_distance_m": None if edge is None else round(edge, 2),
            "note": self.note,
        }


def decide(
    inp: IncidentInput,
    route: Route,
    place: Place,
    *,
    at: dt.datetime,
    actor: Actor | None,
    options: IntakeOptions = DEFAULT_OPTIONS,
    calendar: WorkCalendar | None = None,
) -> Decision | None:
    """The case a report opens, from the report, its route and where it lies; pure.

    ``at`` is when intake takes the report (the event's time); the report time is
    ``inp.reported_at`` or ``at``. ``actor`` is the reporter, or None when the writer loads it (see
    :func:`~gisgrid.incidents.machine.report`). None when the point lies outside the district — raise
    :func:`outside_district` once the place is known to be current.
    """
    where = place.located_in
    if where is None:
        return None
    target, note = route.target, ""
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
    boundary_flag = place.edge_m is not None and place.edge_m <= options.boundary_m
    reported_at = inp.reported_at or at
    deadline = deadline_for(inp.category_code, level, reported_at, calendar or default_calendar(), stage="dispatch")
    opened = report(
        actor=actor, at=at, category_code=inp.category_code, level=level, reported_at=reported_at,
        grid_code=place.grid_code, community_code=place.community_code, street_code=place.street_code,
        deadline_at=deadline, note=inp.description[:200],
        data={"route": route.label, "boundary_flag": boundary_flag},
    )
    return Decision(inp, route, place, target, staff_id, department_id, company_id, station_id, boundary_flag,
                    note, opened)
