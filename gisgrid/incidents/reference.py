"""Where a report lies and who would handle it there, from one copy of the reference data.

For every report intake asks which grid *version* valid at the report time covers the point, its
community and street office, how far the point is from a grid boundary, the grid worker on duty, the
complex and its property company, the community police room and officer, and the department for the
category. All of that is reference data — it changes when a planner publishes grids or an
administrator edits staff, not per report — so the database layer keeps a :class:`Reference` in
memory (:mod:`layers.placement`: loading, and reloading when the data changed) instead of asking
PostGIS a dozen questions per report. Asked in SQL, those lookups and the plan that holds them were
two thirds of the database's work per report (docs/benchmarks.md, "Intake under load").

Semantics are those of the SQL it replaced: ``ST_Covers``, the lowest id wins, grid versions valid
at the report time (:class:`gisgrid.grids.locate.GridLocator`, the rule bulk assignment uses too), a
community's street is its parent when that is a street or town.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gisgrid.grids.locate import GridLocator, Lattice

__all__ = ["Place", "Reference"]


@dataclass(frozen=True, slots=True)
class Place:
    """The answer of :meth:`Reference.place`: where a point lies and who could handle a case there."""

    grid_id: int | None = None
    grid_code: str | None = None
    grid_version: int | None = None
    community_id: int | None = None
    community_code: str | None = None
    street_id: int | None = None
    street_code: str | None = None
    edge_m: float | None = None  # metres to the nearest boundary of a grid valid then
    worker_id: int | None = None
    company_id: int | None = None
    station_id: int | None = None
    officer_id: int | None = None
    department_id: int | None = None

    @property
    def located_in(self) -> str | None:
        """The finest area that holds the point — ``grid``, ``community``, ``street`` — or None (outside)."""
        if self.grid_id is not None:
            return "grid"
        if self.community_id is not None:
            return "community"
        return "street" if self.street_id is not None else None


def _geoms(wkbs: Sequence[Any]) -> np.ndarray:
    return shapely.from_wkb([bytes(w) for w in wkbs]) if wkbs else np.array([], dtype=object)


class Reference:
    """One consistent copy of the reference data intake needs.

    ``rows`` maps each table to its rows (mappings of any driver), with the columns:

    * ``grids``: ``id, code, version, community_id, valid_from, valid_to, wkb`` (drafts left out);
    * ``areas``: ``id, code, level, parent_id, wkb`` (the ``admin_area`` rows);
    * ``workers``: ``target_kind`` (grid / community), ``target_ref`` (its code), ``valid_from``,
      ``valid_to`` (dates), ``staff_id``, ``role`` (grid_worker / grid_chief) — active staff only;
    * ``complexes``: ``id, property_company_id, wkb``;
    * ``rooms`` / ``officers``: ``community_id, id`` — the open police room / the police officer of
      each community (the lowest id);
    * ``departments``: ``id, code, categories`` in id order.

    ``instance`` and ``generation`` are the stamp of the data as read (the caller's: intake writes only
    while the database still holds it). Per-point lookups work on plain lists and scalars: numpy's
    per-call overhead on arrays of one or two elements was most of their cost.
    """

    def __init__(self, rows: Mapping[str, Sequence[Any]], *, instance: str = "", generation: int = 0) -> None:
        self.instance, self.generation = instance, generation
        grids = rows["grids"]
        self.grids = GridLocator([int(r["id"]) for r in grids], [r["code"] for r in grids],
                                 [r["valid_from"] for r in grids], [r["valid_to"] for r in grids],
                                 _geoms([r["wkb"] for r in grids]))
        self.grid_ids = [int(r["id"]) for r in grids]
        self.grid_codes = [r["code"] for r in grids]
        self.grid_versions = [int(r["version"]) for r in grids]
        self.grid_communities = [r["community_id"] for r in grids]

        self.areas: dict[int, tuple[str, str, int | None]] = {  # id → (code, level, parent_id)
            int(r["id"]): (r["code"], r["level"], r["parent_id"]) for r in rows["areas"]}
        comm = [r for r in rows["areas"] if r["level"] == "community"]
        streets = [r for r in rows["areas"] if r["level"] in ("street", "town")]
        self._community_ids = [int(r["id"]) for r in comm]
        self._communities = Lattice(_geoms([r["wkb"] for r in comm]))
        self._street_ids = [int(r["id"]) for r in streets]
        self._streets = Lattice(_geoms([r["wkb"] for r in streets]))

        self.workers: dict[tuple[str, str], list[tuple[dt.date, dt.date | None, int, str]]] = {}
        for r in rows["workers"]:
            self.workers.setdefault((r["target_kind"], r["target_ref"]), []).append(
                (r["valid_from"], r["valid_to"], int(r["staff_id"]), r["role"]))
        for found in self.workers.values():  # the SQL's ORDER BY: grid worker before chief, then staff id
            found.sort(key=lambda w: (w[3] != "grid_worker", w[2]))
        cx = rows["complexes"]
        self._complex_ids = [int(r["id"]) for r in cx]
        self.complex_companies = {int(r["id"]): r["property_company_id"] for r in cx}
        self._complexes = Lattice(_geoms([r["wkb"] for r in cx]))
        self.rooms = {int(r["community_id"]): int(r["id"]) for r in rows["rooms"]}
        self.officers = {int(r["community_id"]): int(r["id"]) for r in rows["officers"]}
        self.dept_by_code = {r["code"]: int(r["id"]) for r in rows["departments"]}
        self.dept_by_category: dict[str, int] = {}
        for r in rows["departments"]:  # ordered by id: the first department listing a category wins
            for cat in r["categories"] or ():
                self.dept_by_category.setdefault(cat, int(r["id"]))

    def place(
        self, lon: float, lat: float, at: dt.datetime, day: dt.date, *, boundary_deg: float,
        need_worker: bool, need_complex: bool, need_police: bool, dept_code: str | None, dept_any: bool,
        category: str,
    ) -> Place:
        """Where the point lies at ``at`` and, as asked, who could handle a case there on ``day``.

        ``boundary_deg``: how far (degrees) to look for grid boundaries; ``need_*``: look up the grid
        worker, the complex's property company, the police room and officer; ``dept_code``: that
        department, or with ``dept_any`` the first one listing ``category``.
        """
        values: dict[str, Any] = {}
        grid = self.grids.locate(lon, lat, at)
        comm_id: int | None = None
        if grid is not None:
            values.update(grid_id=self.grid_ids[grid], grid_code=self.grid_codes[grid],
                          grid_version=self.grid_versions[grid])
            comm_id = self.grid_communities[grid]
        if comm_id is None:
            comm_id = self._communities.first(self._community_ids, lon, lat)
        comm = self.areas.get(comm_id) if comm_id is not None else None
        if comm is not None:
            values.update(community_id=comm_id, community_code=comm[0])
        street_id = comm[2] if comm is not None and comm[2] is not None else \
            self._streets.first(self._street_ids, lon, lat)
        street = self.areas.get(street_id) if street_id is not None else None
        if street is not None and street[1] in ("street", "town"):
            values.update(street_id=street_id, street_code=street[0])
        values["edge_m"] = self.grids.edge_m(lon, lat, at, boundary_deg)
        if need_worker:
            values["worker_id"] = self._worker(values.get("grid_code"), values.get("community_code"), day)
        if need_complex:
            first = self._complexes.first(self._complex_ids, lon, lat)
            if first is not None:
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
