"""Where a report lies and who would handle it there, from reference data held in memory.

Intake (:mod:`layers.incidents`) asks, for every report, which grid *version* valid at the report
time covers the point, its community and street office, how far the point is from a grid boundary,
the grid worker on duty, the complex and its property company, the community police room and
officer, and the department for the category. All of that is reference data — it changes when a
planner publishes grids or an administrator edits staff, not per report — so each process keeps it
in memory (:class:`Reference`, the polygons bucketed by a lattice of cells) instead of asking PostGIS a dozen
questions per report. Asked in SQL, those lookups and the plan that holds them were two thirds of the
database's work per report (docs/benchmarks.md, "Intake under load").

It is never stale when it matters: migration 0003 keeps a ``reference_generation`` row — an instance
id and a counter that statement triggers on ``grid``, ``admin_area``, ``assignment``, ``staff``,
``complex``, ``station`` and ``department`` bump in the writer's transaction. The intake statement
writes nothing unless the row still holds the generation the decision was made with; otherwise intake
reloads (:meth:`ReferenceCache.get`) and decides again. The instance id makes a cache filled from one
database useless against another.

Semantics are those of the SQL it replaces: ``ST_Covers`` (shapely ``covered_by``), the lowest id
wins, grid versions valid at the report time (``valid_from <= t < valid_to``, drafts never), a
community's street is its parent when that is a street or town. Distances to a grid boundary are
measured on a local tangent plane (meridian and prime-vertical radii of WGS84) to the edges as
``ST_Covers`` sees them, straight in longitude/latitude. PostGIS's ``ST_Distance(geography)`` measures
to great-circle edges instead, which bulge away from those by ~7 cm in the middle of a 2 km edge
(growing with the square of its length);
otherwise the two agree to the millimetre (tests/integration/test_placement.py compares them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["GENERATION_SQL", "Place", "Reference", "ReferenceCache", "default_cache"]

# The row comes back if a TRUNCATE of every table took it (a new instance id: no cache matches it).
GENERATION_SQL: Final = """
WITH made AS (INSERT INTO reference_generation (id, generation) VALUES (1, nextval('reference_generation_seq'))
              ON CONFLICT (id) DO NOTHING RETURNING instance::text AS instance, generation)
SELECT instance, generation FROM made
UNION ALL SELECT instance::text, generation FROM reference_generation WHERE id = 1
LIMIT 1"""

# Read the generation first: a change that commits while the rest is read bumps it past the value
# kept, so the next intake finds the cache stale and reloads — never the other way round.
QUERIES: Final[dict[str, str]] = {
    "grids": """SELECT id, code, version, community_id, valid_from, valid_to, ST_AsBinary(geom) AS wkb
                FROM grid WHERE status <> 'draft' ORDER BY id""",
    "areas": """SELECT id, code, level, parent_id, ST_AsBinary(geom) AS wkb FROM admin_area ORDER BY id""",
    "workers": """SELECT a.target_kind, a.target_ref, a.valid_from, a.valid_to, s.id AS staff_id, s.role
                  FROM assignment a JOIN staff s ON s.id = a.staff_id
                  WHERE s.active AND s.role IN ('grid_worker', 'grid_chief')
                    AND a.target_kind IN ('grid', 'community')""",
    "complexes": """SELECT id, property_company_id, ST_AsBinary(geom) AS wkb FROM complex ORDER BY id""",
    "rooms": """SELECT community_id, min(id) AS id FROM station
                WHERE kind = 'police_room' AND status = 'open' AND community_id IS NOT NULL GROUP BY community_id""",
    "officers": """SELECT community_id, min(id) AS id FROM staff
                   WHERE active AND role = 'police' AND community_id IS NOT NULL GROUP BY community_id""",
    "departments": """SELECT id, code, categories FROM department ORDER BY id""",
}

_A = 6_378_137.0  # WGS84
_E2 = 6.694_379_990_14e-3


@dataclass(frozen=True)
class Place:
    """The answer of :meth:`Reference.place` — the columns the SQL lookup used to return."""

    grid_id: int | None = None
    grid_code: str | None = None
    grid_version: int | None = None
    community_id: int | None = None
    community_code: str | None = None
    street_id: int | None = None
    street_code: str | None = None
    edge_m: float | None = None
    worker_id: int | None = None
    company_id: int | None = None
    station_id: int | None = None
    officer_id: int | None = None
    department_id: int | None = None

    @property
    def located_in(self) -> str | None:
        if self.grid_id is not None:
            return "grid"
        if self.community_id is not None:
            return "community"
        return "street" if self.street_id is not None else None


def _metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at ``lat`` on the WGS84 ellipsoid."""
    phi = math.radians(lat)
    w = math.sqrt(1 - _E2 * math.sin(phi) ** 2)
    return math.radians(1) * _A / w * math.cos(phi), math.radians(1) * _A * (1 - _E2) / w**3


def _geoms(wkbs: Sequence[Any]) -> np.ndarray:
    return shapely.from_wkb([bytes(w) for w in wkbs]) if wkbs else np.array([], dtype=object)


class _Cells:
    """Polygons bucketed by a regular lattice of cells: the candidates for a point in one dict lookup.

    STRtree answers the same, but through numpy for every single point, which cost more than the
    test itself; the lattice (``size`` degrees, ~200 m) holds a few polygons per cell.
    """

    def __init__(self, geoms: Any, size: float = 0.002) -> None:
        self.size = size
        self.geoms = list(geoms)
        self.bounds = [tuple(b) for b in shapely.bounds(np.asarray(self.geoms, dtype=object)).tolist()] \
            if self.geoms else []
        self.cells: dict[tuple[int, int], list[int]] = {}
        for i, (x0, y0, x1, y1) in enumerate(self.bounds):
            shapely.prepare(self.geoms[i])
            for cx in range(math.floor(x0 / size), math.floor(x1 / size) + 1):
                for cy in range(math.floor(y0 / size), math.floor(y1 / size) + 1):
                    self.cells.setdefault((cx, cy), []).append(i)

    def near(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """Polygons whose bounding box meets the box (``&&``), in index order."""
        size, found = self.size, set[int]()
        for cx in range(math.floor(x0 / size), math.floor(x1 / size) + 1):
            for cy in range(math.floor(y0 / size), math.floor(y1 / size) + 1):
                found.update(self.cells.get((cx, cy), ()))
        b = self.bounds
        return sorted(i for i in found if b[i][0] <= x1 and b[i][2] >= x0 and b[i][1] <= y1 and b[i][3] >= y0)

    def covering(self, x: float, y: float) -> list[int]:
        """Polygons that cover the point (``ST_Covers``: for a point, the same as intersecting it)."""
        b = self.bounds
        return [i for i in self.cells.get((math.floor(x / self.size), math.floor(y / self.size)), ())
                if b[i][0] <= x <= b[i][2] and b[i][1] <= y <= b[i][3]
                and shapely.intersects_xy(self.geoms[i], x, y)]


def _epoch(value: dt.datetime | None, open_end: float) -> float:
    return open_end if value is None else value.timestamp()


class Reference:
    """One consistent copy of the reference data intake needs, and the generation it was read at.

    Per-point lookups work on plain lists and scalars: numpy's per-call overhead on arrays of one or
    two elements was most of their cost.
    """

    def __init__(self, generation: Any, rows: Mapping[str, Sequence[Any]]) -> None:
        """From the rows of :data:`GENERATION_SQL` and :data:`QUERIES` (any driver's mappings)."""
        self.instance, self.generation = str(generation["instance"]), int(generation["generation"])
        grids = rows["grids"]
        self.grid_ids = [int(r["id"]) for r in grids]
        self.grid_codes = [r["code"] for r in grids]
        self.grid_versions = [int(r["version"]) for r in grids]
        self.grid_communities = [r["community_id"] for r in grids]
        self._from = [_epoch(r["valid_from"], -math.inf) for r in grids]
        self._to = [_epoch(r["valid_to"], math.inf) for r in grids]
        grid_geoms = _geoms([r["wkb"] for r in grids])
        self._grids = _Cells(grid_geoms)
        # each grid's boundary on its own tangent plane (metres; x = lon·kx, y = lat·ky at its centre),
        # where the nearest boundary point to a report is found (edge_m)
        self._scale = [_metres_per_degree(shapely.get_y(shapely.centroid(g))) for g in grid_geoms]
        self._edges = [shapely.transform(shapely.boundary(g), lambda xy, k=k: xy * k)
                       for g, k in zip(grid_geoms, self._scale, strict=True)]

        self.areas: dict[int, tuple[str, str, int | None]] = {  # id → (code, level, parent_id)
            int(r["id"]): (r["code"], r["level"], r["parent_id"]) for r in rows["areas"]}
        comm = [r for r in rows["areas"] if r["level"] == "community"]
        streets = [r for r in rows["areas"] if r["level"] in ("street", "town")]
        self._community_ids = [int(r["id"]) for r in comm]
        self._communities = _Cells(_geoms([r["wkb"] for r in comm]))
        self._street_ids = [int(r["id"]) for r in streets]
        self._streets = _Cells(_geoms([r["wkb"] for r in streets]))

        self.workers: dict[tuple[str, str], list[tuple[dt.date, dt.date | None, int, str]]] = {}
        for r in rows["workers"]:
            self.workers.setdefault((r["target_kind"], r["target_ref"]), []).append(
                (r["valid_from"], r["valid_to"], int(r["staff_id"]), r["role"]))
        for found in self.workers.values():  # the SQL's ORDER BY: grid worker before chief, then staff id
            found.sort(key=lambda w: (w[3] != "grid_worker", w[2]))
        cx = rows["complexes"]
        self._complex_ids = [int(r["id"]) for r in cx]
        self.complex_companies = [r["property_company_id"] for r in cx]
        self._complexes = _Cells(_geoms([r["wkb"] for r in cx]))
        self.rooms = {int(r["community_id"]): int(r["id"]) for r in rows["rooms"]}
        self.officers = {int(r["community_id"]): int(r["id"]) for r in rows["officers"]}
        self.dept_by_code = {r["code"]: int(r["id"]) for r in rows["departments"]}
        self.dept_by_category: dict[str, int] = {}
        for r in rows["departments"]:  # ordered by id: the first department listing a category wins
            for cat in r["categories"] or ():
                self.dept_by_category.setdefault(cat, int(r["id"]))

    # ------------------------------------------------------------------------------------ lookups
    def _valid(self, hits: list[int], at: float) -> list[int]:
        return [i for i in hits if self._from[i] <= at < self._to[i]]

    @staticmethod
    def _first_covering(cells: _Cells, ids: list[int], x: float, y: float) -> int | None:
        hit = cells.covering(x, y)
        return min(ids[i] for i in hit) if hit else None

    def edge_m(self, lon: float, lat: float, at: float, margin_deg: float) -> float | None:
        """Metres from the point to the nearest boundary of a grid valid at ``at`` (epoch seconds) whose
        bounding box comes within ``margin_deg`` of it (as ``geom && ST_Expand(point, margin)``)."""
        near = self._valid(self._grids.near(lon - margin_deg, lat - margin_deg, lon + margin_deg,
                                            lat + margin_deg), at)
        best: float | None = None
        for i in near:
            # the nearest boundary point, found on the grid's own tangent plane …
            kx, ky = self._scale[i]
            line = shapely.shortest_line(self._edges[i], shapely.Point(lon * kx, lat * ky))
            (x0, y0), _ = line.coords
            # … and its distance on the point's: a tangent plane at the midpoint is within 1e-6 of the
            # geodesic for the hundreds of metres involved
            bx, by = x0 / kx, y0 / ky
            mx, my = _metres_per_degree((lat + by) / 2)
            d = math.hypot((lon - bx) * mx, (lat - by) * my)
            best = d if best is None or d < best else best
        return best

    def place(
        self, lon: float, lat: float, at: dt.datetime, day: dt.date, *, boundary_deg: float,
        need_worker: bool, need_complex: bool, need_police: bool, dept_code: str | None, dept_any: bool,
        category: str,
    ) -> Place:
        """The lookup :data:`layers.incidents.INTAKE_SQL` used to do, for one point at one time."""
        t = at.timestamp()
        values: dict[str, Any] = {}
        valid = self._valid(self._grids.covering(lon, lat), t)
        comm_id: int | None = None
        if valid:
            grid = min(valid, key=self.grid_ids.__getitem__)
            values.update(grid_id=self.grid_ids[grid], grid_code=self.grid_codes[grid],
                          grid_version=self.grid_versions[grid])
            comm_id = self.grid_communities[grid]
        if comm_id is None:
            comm_id = self._first_covering(self._communities, self._community_ids, lon, lat)
        comm = self.areas.get(comm_id) if comm_id is not None else None
        if comm is not None:
            values.update(community_id=comm_id, community_code=comm[0])
        street_id = comm[2] if comm is not None and comm[2] is not None else \
            self._first_covering(self._streets, self._street_ids, lon, lat)
        street = self.areas.get(street_id) if street_id is not None else None
        if street is not None and street[1] in ("street", "town"):
            values.update(street_id=street_id, street_code=street[0])
        values["edge_m"] = self.edge_m(lon, lat, t, boundary_deg)
        if need_worker:
            values["worker_id"] = self._worker(values.get("grid_code"), values.get("community_code"), day)
        if need_complex:
            hit = self._complexes.covering(lon, lat)
            if hit:
                first = min(hit, key=self._complex_ids.__getitem__)
                values["company_id"] = self.complex_companies[first]
        if need_police and "community_id" in values:
            values.update(station_id=self.rooms.get(values["community_id"]),
                          officer_id=self.officers.get(values["community_id"]))
        if dept_code is not None:
            values["department_id"] = self.dept_by_code.get(dept_code)
        elif dept_any:
            values["department_id"] = self.dept_by_category.get(category)
        return Place(**values)

    def _worker(self, grid_code: str | None, community_code: str | None, day: dt.date) -> int | None:
        for kind, ref in (("grid", grid_code), ("community", community_code)):
            if ref is None:
                continue
            for valid_from, valid_to, staff_id, _role in self.workers.get((kind, ref), ()):
                if valid_from <= day and (valid_to is None or valid_to >= day):
                    return staff_id
        return None


class ReferenceCache:
    """The process's current :class:`Reference`, reloaded when intake finds it stale.

    Safe to share between threads (sync callers) and between the tasks of one event loop: one load
    at a time, and a caller that waited for someone else's load uses it.
    """

    def __init__(self) -> None:
        self.current: Reference | None = None
        self._lock = threading.Lock()
        self._alocks: dict[int, asyncio.Lock] = {}
        self.loads = 0

    def _usable(self, stale: Reference | None) -> Reference | None:
        ref = self.current
        return ref if ref is not None and ref is not stale else None

    def get(self, session: Session, *, stale: Reference | None = None) -> Reference:
        """The current reference data, (re)loaded through ``session`` when missing or ``stale``."""
        if (ref := self._usable(stale)) is not None:
            return ref
        with self._lock:
            if (ref := self._usable(stale)) is not None:
                return ref
            gen = session.execute(text(GENERATION_SQL)).mappings().first()
            rows = {name: session.execute(text(sql)).mappings().all() for name, sql in QUERIES.items()}
            ref = Reference(gen, rows)
            self.current, self.loads = ref, self.loads + 1
            return ref

    async def get_async(self, conn: Any, *, stale: Reference | None = None) -> Reference:
        """:meth:`get` on an asyncpg connection."""
        if (ref := self._usable(stale)) is not None:
            return ref
        loop = asyncio.get_running_loop()
        lock = self._alocks.get(id(loop))
        if lock is None:
            lock = self._alocks[id(loop)] = asyncio.Lock()
        async with lock:
            if (ref := self._usable(stale)) is not None:
                return ref
            gen = await conn.fetchrow(GENERATION_SQL)
            rows = {name: await conn.fetch(sql) for name, sql in QUERIES.items()}
            ref = Reference(gen, rows)
            self.current, self.loads = ref, self.loads + 1
            return ref


_DEFAULT = ReferenceCache()


def default_cache() -> ReferenceCache:
    """The process-wide cache (the API and the CLI share it; the instance id keeps databases apart)."""
    return _DEFAULT
