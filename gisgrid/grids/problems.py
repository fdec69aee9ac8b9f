"""Validation problems: one :class:`GridProblem` per finding, as GeoJSON for the map or as text.

Every problem names its rule (:data:`RULES`, in the order they are reported), the grid code(s) involved,
a sentence a planner can act on, and *the geometry of the problem* (the overlap, the gap, the stray part,
the building …) so a map can point at it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping

__all__ = ["RULES", "GridProblem", "format_problems", "problems_to_geojson"]

RULES: tuple[str, ...] = (
    "invalid_geometry",
    "duplicate_code",
    "households_out_of_range",
    "non_contiguous",
    "overlap",
    "gap",
    "outside_community",
    "building_unassigned",
    "building_in_several",
    "building_outside_grid",
    "building_parts_mismatch",
    "complex_split",
    "sliver",
)


@dataclass
class GridProblem:
    """One finding: which rule, which grid(s), what is wrong, and where (EPSG:4326 geometry).

    ``severity`` is ``"error"`` (the plan breaks a rule) or ``"warning"`` (worth a look, may be fine).
    ``building`` / ``complex`` name the feature when the problem is about one.
    """

    rule: str
    grid_codes: tuple[str, ...]
    message: str
    geometry: shapely.Geometry | None
    severity: str = "error"
    building: Any = None
    complex: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def grid_code(self) -> str | None:
        """The first grid involved (None when the problem belongs to no grid)."""
        return self.grid_codes[0] if self.grid_codes else None

    def to_dict(self, *, geometry: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "grid_code": self.grid_code,
            "grid_codes": list(self.grid_codes),
            "message": self.message,
        }
        if self.building is not None:
            out["building"] = _plain(self.building)
        if self.complex is not None:
            out["complex"] = _plain(self.complex)
        if self.details:
            out["details"] = {k: _plain(v) for k, v in self.details.items()}
        if geometry:
            out["geometry"] = mapping(self.geometry) if _present(self.geometry) else None
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _present(geom: Any) -> bool:
    return geom is not None and not (isinstance(geom, float) and math.isnan(geom)) and not geom.is_empty


def problems_to_geojson(problems: Sequence[GridProblem]) -> dict[str, Any]:
    """The problems as a GeoJSON FeatureCollection (EPSG:4326), one Feature per problem, for the map.

    Properties: ``rule``, ``severity``, ``grid_code``, ``grid_codes``, ``message`` and ``building`` /
    ``complex`` when set. Problems without a location have ``"geometry": null``.
    """
    features = []
    for n, p in enumerate(problems):
        props = p.to_dict(geometry=False)
        props.pop("details", None)
        features.append(
            {
                "type": "Feature",
                "id": n,
                "properties": props,
                "geometry": mapping(p.geometry) if _present(p.geometry) else None,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def format_problems(problems: Sequence[GridProblem]) -> str:
    """The problems as text, one line each, with a count per rule at the end.

    >>> print(format_problems([]))
    no problems
    """
    if not problems:
        return "no problems"
    lines = []
    for p in problems:
        where = ", ".join(p.grid_codes) if p.grid_codes else "-"
        lines.append(f"{p.severity:7} {p.rule:24} {where:33} {p.message}")
    counts = Counter(p.rule for p in problems)
    summary = ", ".join(f"{rule} {counts[rule]}" for rule in RULES if counts[rule])
    errors = sum(1 for p in problems if p.severity == "error")
    lines.append(f"{len(problems)} problem(s), {errors} error(s): {summary}")
    return "\n".join(lines)
