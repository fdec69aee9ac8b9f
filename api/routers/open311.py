"""Open311 GeoReport v2 over the incident model, so existing Open311 clients can report and follow cases.

Endpoints (JSON only — the ``.xml`` forms of the spec are **not** served; they answer 400 with an
error list saying so):

=========================================== =======================================================
``GET  /open311/v2/services.json``          the category list (``gisgrid/data/categories.csv``) as
                                            services; public
``GET  /open311/v2/services/{code}.json``   a service definition (no extra attributes: every
                                            service has ``metadata: false``)
``GET  /open311/v2/requests.json``          requests, filtered by ``service_request_id`` (comma
                                            list; the other filters are then ignored, as the spec
                                            says), ``service_code`` (comma list), ``start_date``,
                                            ``end_date`` (ISO 8601; default the last 90 days) and
                                            ``status`` (``open`` / ``closed``); at most 1000, newest
                                            first
``GET  /open311/v2/requests/{id}.json``     one request, as a one-element list
``POST /open311/v2/requests.json``          report: form fields (``application/x-www-form-urlencoded``
                                            or multipart) or a JSON object with the same names
=========================================== =======================================================

Mapping onto the model
----------------------
* ``service_code`` = 5-digit category code, ``service_name`` = its name, ``group`` = its class.
  Every service is ``type: realtime`` (the id comes back at once) with ``metadata: false``; any
  ``attribute[...]`` fields sent are ignored.
* ``status``: ``closed`` = ``closed``, ``rated`` (结案, 评价) and ``rejected`` (不予立案, which is also
  how a merged duplicate ends); every other status (reported … in_progress, resolved, verified,
  backlog) is ``open`` — a case is closed for the resident only once a supervisor has checked it
  (核查结案). ``status_notes`` gives our status in Chinese and English, and for a closed case the
  note of its last step (e.g. why it was rejected, or ``合并至 #12``).
* ``agency_responsible``: the assigned department, else the community, else the street.
  ``expected_datetime`` = the current deadline. ``address`` = street + community name (we store no
  postal address; ``address_id`` and ``zipcode`` are null). ``media_url`` = the first photo.
  ``lat`` / ``long`` are WGS84, as stored. Times carry their offset (``+08:00``).
* POST: ``lat`` and ``long`` are required (there is no geocoder for ``address_string``; it is kept in
  the description). They are WGS84 per the spec; the extension field ``crs`` (``gcj02``, ``bd09``,
  ``cgcs2000``) accepts what Chinese map SDKs and WeChat mini-programs return. ``media_url`` becomes
  the photo, ``first_name``/``last_name``/``phone``/``email`` the reporter contact (at most 100
  characters), the source is ``app``. Intake — grid assignment, routing, deadline — is
  :func:`layers.incidents.intake.intake`, the same flow as the incident API.

API keys
--------
Open311 has no authentication beyond ``api_key``. Each key stands for an account of this system,
configured as ``GISGRID_OPEN311_KEYS="key1:username1,key2:username2"`` (read from
``app.state.settings.open311_keys``: a string of that form or a mapping; no setting = no keys). The
account's role and area decide what the key may do: reading requests needs an incident reader role
(not ``planner``) and shows only the account's area — and, for a ``department`` account, only the
cases assigned or whistled to its department, the rule of the incidents map layer
(:func:`layers.geojson.department_condition`); reporting needs a role that may report (a
dedicated account with role ``dispatcher`` or ``patrol`` scoped to the district is the usual choice).
``services.json`` is public; **reading requests needs a key** (descriptions may hold personal data).

Idempotency: an ``Idempotency-Key`` header makes a retry return the first answer (same id, HTTP 200
instead of 201). Without it, a request carrying ``device_id`` or ``account_id`` gets a key derived
from the account, those ids, the service, the point, the description and the media URL, so a client
that resends the same form does not file the case twice.

Errors follow the spec: a JSON list ``[{"code": <HTTP status>, "description": "..."}]`` with 400
(bad or missing parameter, unknown service), 403 (missing or invalid ``api_key``, role not allowed),
404 (no such request), 409 (an ``Idempotency-Key`` reused for a different report).

Wiring (``api/main.py``): ``app.include_router(open311.router)``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.deps import INCIDENT_READERS, CurrentUser, SessionDep, actor_of, load_current_user, scope_of
from api.errors import status_for
from gisgrid import vocab
from gisgrid.catalog import Category, categories
from gisgrid.codes import CHINA_TZ
from gisgrid.errors import (
    AuthenticationError,
    GisgridError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from gisgrid.incidents.intake import INPUT_CRS
from layers.geojson import department_condition
from layers.incidents.intake import intake
from layers.kpis import AREA_JOINS, scope_condition

router = APIRouter(prefix="/open311/v2", tags=["open311"])

TZ: Final = CHINA_TZ
CLOSED_STATUSES: Final = ("closed", "rated", "rejected")
OPEN_STATUSES: Final = tuple(s for s in vocab.INCIDENT_STATUSES if s not in CLOSED_STATUSES)
MAX_RESULTS: Final = 1000
DEFAULT_DAYS: Final = 90
MAX_CONTACT: Final = 100
SOURCE: Final = "app"

_STATUS_EN: Final = {s: s.replace("_", " ") for s in vocab.INCIDENT_STATUSES}
_STATUS_ZH: Final = {**vocab.ZH, "closed": "结案"}


# ------------------------------------------------------------------------------------------ errors
def open311_error(status: int, description: str) -> JSONResponse:
    """The spec's error body: a list of ``{code, description}``."""
    return JSONResponse([{"code": status, "description": description}], status_code=status)


def _status_of(exc: GisgridError) -> int:
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return 403  # the spec's answer to a bad or missing api_key
    if isinstance(exc, InvalidInputError):
        return 400
    return status_for(exc)


def _from_exc(exc: GisgridError) -> JSONResponse:
    message = exc.message
    if exc.field and exc.field not in message:
        message = f"{exc.field}: {message}"
    return open311_error(_status_of(exc), message)


# ------------------------------------------------------------------------------------------ api keys
def parse_keys(value: Any) -> dict[str, str]:
    """``"k1:user1,k2:user2"`` (or a mapping) → ``{key: username}``; empty entries are skipped."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items() if k and v}
    keys: dict[str, str] = {}
    for part in str(value).split(","):
        key, sep, username = part.strip().rpartition(":")
        if sep and key.strip() and username.strip():
            keys[key.strip()] = username.strip()
    return keys


def configured_keys(request: Request) -> dict[str, str]:
    settings = getattr(request.app.state, "settings", None)
    return parse_keys(getattr(settings, "open311_keys", None))


def _account(request: Request, session: Session, api_key: str | None) -> CurrentUser:
    if not api_key:
        raise AuthenticationError("api_key is required", field="api_key", rule="api_key required")
    username = None
    for key, user in configured_keys(request).items():  # compare every key: no early exit on a match
        if hmac.compare_digest(key.encode(), api_key.encode()):
            username = user
    if username is None:
        raise AuthenticationError("invalid api_key", field="api_key", rule="a configured key")
    try:
        return load_current_user(session, username)
    except AuthenticationError:
        raise AuthenticationError(
            "the account of this api_key does not exist or is disabled", field="api_key", rule="active account"
        ) from None


def _department(user: CurrentUser) -> int | None:
    """The department whose cases a ``department`` account may read (-1, i.e. none, if it has none)."""
    if user.role != "department":
        return None
    return user.department_id if user.department_id is not None else -1


# ------------------------------------------------------------------------------------------ services
def _services() -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": name,
            "description": f"{cls} · {name}",
            "metadata": False,
            "type": "realtime",
            "keywords": f"{cls}, {name}",
            "group": cls,
        }
        for code, (cls, name) in sorted((c.code, (c.class_name, c.name)) for c in categories().values())
    ]


@router.get("/services.json", summary="Open311: the service list (incident categories)")
def services() -> JSONResponse:
    return JSONResponse(_services())


@router.get("/services/{service_code}.json", summary="Open311: a service definition")
def service_definition(service_code: str) -> JSONResponse:
    if service_code not in categories():
        return open311_error(404, f"service_code {service_code} not found")
    return JSONResponse({"service_code": service_code, "attributes": []})


# ------------------------------------------------------------------------------------------ reading
_REQUESTS_SQL = f"""
    SELECT i.id, i.status, i.category_code, i.description, i.photos, i.reported_at, i.deadline_at,
           ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
           dep.name AS department_name, c.name AS community_name, s.name AS street_name,
           last.at AS updated_at, last.note AS last_note
    FROM incident i {AREA_JOINS}
    LEFT JOIN department dep ON dep.id = i.assignee_department_id
    LEFT JOIN LATERAL (
        SELECT e.at, e.note FROM incident_event e WHERE e.incident_id = i.id ORDER BY e.at DESC, e.id DESC LIMIT 1
    ) last ON TRUE
    WHERE {{where}}
    ORDER BY i.reported_at DESC, i.id DESC
    LIMIT {MAX_RESULTS}
"""


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(TZ).isoformat(timespec="seconds") if value is not None else None


def _status_notes(status: str, note: str | None) -> str:
    text_ = f"{_STATUS_ZH.get(status, status)} ({_STATUS_EN.get(status, status)})"
    if status in CLOSED_STATUSES and note:
        text_ += f": {note}"
    return text_


def request_record(row: Mapping[str, Any], names: Mapping[str, Category]) -> dict[str, Any]:
    """One GeoReport v2 service request, with the spec's field names."""
    photos = row["photos"] or []
    if isinstance(photos, str):
        photos = json.loads(photos)
    address = " ".join(n for n in (row["street_name"], row["community_name"]) if n)
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["status"] in CLOSED_STATUSES else "open",
        "status_notes": _status_notes(row["status"], row["last_note"]),
        "service_name": names[code].name if (code := row["category_code"]) in names else code,
        "service_code": row["category_code"],
        "description": row["description"] or "",
        "agency_responsible": row["department_name"] or row["community_name"] or row["street_name"] or "",
        "service_notice": "",
        "requested_datetime": _iso(row["reported_at"]),
        "updated_datetime": _iso(row["updated_at"] or row["reported_at"]),
        "expected_datetime": _iso(row["deadline_at"]),
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": round(float(row["lat"]), 7),
        "long": round(float(row["lon"]), 7),
        "media_url": photos[0] if photos else "",
    }


def _parse_time(value: str, name: str) -> dt.datetime:
    raw = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"{name} must be an ISO 8601 date or time, e.g. 2025-03-01T00:00:00+08:00",
            field=name, feature=value, rule="ISO 8601",
        ) from None
    return parsed.replace(tzinfo=TZ) if parsed.tzinfo is None else parsed  # no offset: China time


def _ids(value: str) -> list[int]:
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 18:
            raise InvalidInputError(
                f"service_request_id {part!r} is not a request id", field="service_request_id", feature=part,
                rule="comma-separated ids",
            )
        out.append(int(part))
    return out


def _fetch(session: Session, user: CurrentUser, conditions: list[str], params: dict[str, Any]) -> list[Any]:
    """The requests the account may read (its area; a department's own cases) that meet ``conditions``."""
    where, scope_params = scope_condition(scope_of(user))
    wheres, params = [where, *conditions], {**params, **scope_params}
    department_id = _department(user)
    if department_id is not None:
        department_where, department_params = department_condition(department_id, alias="i")
        wheres.append(department_where)
        params.update(department_params)
    sql = _REQUESTS_SQL.format(where=" AND ".join(wheres))
    return list(session.execute(text(sql), params).mappings().all())


def _reader(request: Request, session: Session, api_key: str | None) -> CurrentUser:
    user = _account(request, session, api_key)
    if user.role not in INCIDENT_READERS:
        raise PermissionDeniedError(
            f"the account of this api_key ({user.role}) may not read requests", field="api_key",
            rule="an incident reader role",
        )
    return user


@router.get("/requests.json", summary="Open311: service requests")
def list_requests(
    request: Request,
    session: SessionDep,
    api_key: str | None = None,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    jurisdiction_id: str | None = None,  # accepted and ignored: one jurisdiction per server
) -> JSONResponse:
    try:
        user = _reader(request, session, api_key)
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if service_request_id:
            params["ids"] = _ids(service_request_id)
            conditions.append("i.id = ANY(:ids)")
        else:
            if service_code:
                codes = [c.strip() for c in service_code.split(",") if c.strip()]
                unknown = [c for c in codes if c not in categories()]
                if unknown:
                    raise InvalidInputError(
                        f"unknown service_code {', '.join(unknown)}", field="service_code", rule="a listed service"
                    )
                params["codes"] = codes
                conditions.append("i.category_code = ANY(:codes)")
            end = _parse_time(end_date, "end_date") if end_date else None
            start = _parse_time(start_date, "start_date") if start_date else None
            if start is None and end is None:
                start = dt.datetime.now(TZ) - dt.timedelta(days=DEFAULT_DAYS)
            if start is not None and end is not None and end < start:
                raise InvalidInputError("end_date is before start_date", field="end_date", rule="start <= end")
            if start is not None:
                params["start"] = start
                conditions.append("i.reported_at >= :start")
            if end is not None:
                params["end"] = end
                conditions.append("i.reported_at <= :end")
            if status:
                wanted = {s.strip().lower() for s in status.split(",") if s.strip()}
                if not wanted <= {"open", "closed"}:
                    raise InvalidInputError("status must be open or closed", field="status", rule="open|closed")
                params["statuses"] = [
                    *(OPEN_STATUSES if "open" in wanted else ()),
                    *(CLOSED_STATUSES if "closed" in wanted else ()),
                ]
                conditions.append("i.status = ANY(:statuses)")
        rows = _fetch(session, user, conditions, params)
    except GisgridError as exc:
        return _from_exc(exc)
    names = categories()
    return JSONResponse([request_record(r, names) for r in rows])


@router.get("/requests/{service_request_id}.json", summary="Open311: one service request")
def get_request(
    request: Request,
    session: SessionDep,
    service_request_id: str,
    api_key: str | None = None,
    jurisdiction_id: str | None = None,
) -> JSONResponse:
    try:
        user = _reader(request, session, api_key)
        if not service_request_id.isdigit() or len(service_request_id) > 18:
            raise NotFoundError(f"service_request_id {service_request_id} not found")
        rows = _fetch(session, user, ["i.id = :id"], {"id": int(service_request_id)})
        if not rows:  # outside the key's area (or not its department's case) is "not found" too
            raise NotFoundError(f"service_request_id {service_request_id} not found")
    except GisgridError as exc:
        return _from_exc(exc)
    return JSONResponse([request_record(rows[0], categories())])


# ------------------------------------------------------------------------------------------ reporting
async def request_fields(request: Request) -> dict[str, Any]:
    """The POSTed fields: a form (urlencoded or multipart) or a JSON object; query parameters fill gaps."""
    fields: dict[str, Any] = {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            body = None
        fields["__invalid__"] = not isinstance(body, dict)
        if isinstance(body, dict):
            fields.update(body)
    else:
        form = await request.form()
        fields.update({k: v for k, v in form.items() if isinstance(v, str)})
    for k, v in request.query_params.items():
        fields.setdefault(k, v)
    return fields


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    return "" if value is None else str(value).strip()


def _coordinate(fields: Mapping[str, Any], name: str, lo: float, hi: float) -> float:
    raw = _text(fields, name)
    if not raw:
        raise InvalidInputError(
            f"{name} is required: this server locates a request by lat and long (WGS84) and does not "
            "geocode address_string or address_id",
            field=name, rule="lat and long required",
        )
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be a number", field=name, feature=raw, rule="number") from None
    if not lo <= value <= hi:
        raise InvalidInputError(f"{name} must be in [{lo}, {hi}]", field=name, feature=raw, rule="range")
    return value


def _contact(fields: Mapping[str, Any]) -> str | None:
    name = " ".join(p for p in (_text(fields, "last_name"), _text(fields, "first_name")) if p)
    parts = [p for p in (name, _text(fields, "phone"), _text(fields, "email")) if p]
    return " / ".join(parts)[:MAX_CONTACT] if parts else None


def _idempotency_key(user: CurrentUser, fields: Mapping[str, Any], header: str | None) -> str | None:
    if header:
        return f"open311:{user.id}:{header.strip()[:100]}"
    device, account = _text(fields, "device_id"), _text(fields, "account_id")
    if not (device or account):
        return None
    blob = json.dumps(
        [device, account, *(_text(fields, k) for k in ("service_code", "lat", "long", "description", "media_url"))],
        ensure_ascii=False,
    )
    return f"open311:{user.id}:" + hashlib.sha256(blob.encode()).hexdigest()[:40]


def intake_data(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The Open311 form as the ``data`` of :func:`layers.incidents.intake.intake`."""
    code = _text(fields, "service_code")
    if not code:
        raise InvalidInputError("service_code is required", field="service_code", rule="required")
    if code not in categories():
        raise InvalidInputError(
            f"service_code {code} is not offered; see services.json", field="service_code", feature=code,
            rule="a listed service",
        )
    lat = _coordinate(fields, "lat", -90, 90)
    lon = _coordinate(fields, "long", -180, 180)
    crs = (_text(fields, "crs") or "wgs84").lower()
    if crs not in INPUT_CRS:
        raise InvalidInputError(f"crs must be one of {', '.join(INPUT_CRS)}", field="crs", feature=crs, rule="one of")
    description = _text(fields, "description")
    address = _text(fields, "address_string")
    if address:
        description = f"{description}\n地址 address: {address}" if description else f"地址 address: {address}"
    media = _text(fields, "media_url")
    if media and not media.lower().startswith(("http://", "https://")):
        raise InvalidInputError("media_url must be an http(s) URL", field="media_url", feature=media, rule="URL")
    return {
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "category_code": code,
        "source": SOURCE,
        "description": description,
        "photos": [media] if media else [],
        "reporter_contact": _contact(fields),
    }


def _notice(answer: Mapping[str, Any]) -> str:
    incident = answer.get("incident", {})
    deadline = incident.get("deadline_at")
    if not deadline:
        return "已受理 received"
    when = dt.datetime.fromisoformat(deadline).astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    return f"已受理，将于{when}前派遣 (received; to be dispatched by {when} China time)"


FieldsDep = Annotated[dict[str, Any], Depends(request_fields)]


@router.post("/requests.json", summary="Open311: report a problem (creates an incident)", status_code=201)
def create_request(
    request: Request,
    session: SessionDep,
    fields: FieldsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    try:
        if fields.get("__invalid__"):
            raise InvalidInputError("the JSON body must be an object", field="body", rule="JSON object")
        user = _account(request, session, _text(fields, "api_key") or None)
        data = intake_data(fields)
        result = intake(
            session, data, actor=actor_of(user), idempotency_key=_idempotency_key(user, fields, idempotency_key)
        )
    except GisgridError as exc:  # raised before anything is written
        return _from_exc(exc)
    account_id = _text(fields, "account_id") or None
    body = [
        {
            "service_request_id": str(result.incident_id),
            "service_notice": _notice(result.answer),
            "account_id": account_id,
        }
    ]
    return JSONResponse(body, status_code=201 if result.created else 200)


# ------------------------------------------------------------------------------------------ the rest
@router.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)
def not_served(path: str) -> JSONResponse:
    if path.endswith(".xml"):
        return open311_error(400, "only the JSON format is served: use .json instead of .xml")
    return open311_error(404, f"/open311/v2/{path} is not an Open311 GeoReport v2 resource of this server")


__all__ = ["CLOSED_STATUSES", "OPEN_STATUSES", "intake_data", "parse_keys", "request_record", "router"]
