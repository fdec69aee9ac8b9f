"""How far is a short walk to each kind of station: the thresholds, and the search cap derived from them.

Defaults follow the life-circle tiers of GB 50180-2018 (城市居住区规划设计标准): a 15-minute circle
reaches 800–1,000 m on foot, a 10-minute circle 500 m, a 5-minute circle 300 m; and the red heart
station's own promise, "打通最后100米" — the last 100 metres.

=====================  ========  =================================================================
kind                   metres    why
=====================  ========  =================================================================
red_heart_station      100       the last 100 metres: inside or at the gate of the complex
service_post           300       a post (驿站) serves the blocks around it: the 5-minute circle
service_station        500       one per community (社区): the 10-minute circle
police_room            500       one per community beside its station: the same 10-minute circle
service_centre         1,000     one per street (街道): the 15-minute circle
=====================  ========  =================================================================

Distances are walked over the street network. Beyond ``cap_factor`` × the threshold (2× by
default) a distance is not searched for and is stored as "beyond" — a map only needs to tell "a little
too far" from "far", and the bound keeps every search local.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gisgrid import vocab
from gisgrid.errors import InvalidInputError

__all__ = ["DEFAULT_CAP_FACTOR", "DEFAULT_THRESHOLDS_M", "KINDS", "MAX_THRESHOLD_M", "Thresholds"]

KINDS = vocab.STATION_KINDS
DEFAULT_THRESHOLDS_M: Mapping[str, float] = MappingProxyType({
    "red_heart_station": 100.0,
    "service_post": 300.0,
    "service_station": 500.0,
    "police_room": 500.0,
    "service_centre": 1000.0,
})
DEFAULT_CAP_FACTOR = 2.0
MAX_THRESHOLD_M = 10_000.0  # a "walk" of more than 10 km is a configuration mistake


@dataclass(frozen=True)
class Thresholds:
    """Walking metres per station kind within which a household counts as covered."""

    metres: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS_M))
    cap_factor: float = DEFAULT_CAP_FACTOR

    def __post_init__(self) -> None:
        missing = [k for k in KINDS if k not in self.metres]
        unknown = [k for k in self.metres if k not in KINDS]
        if missing or unknown:
            raise InvalidInputError(
                f"thresholds need exactly the station kinds {', '.join(KINDS)}; missing {missing}, unknown {unknown}",
                field="thresholds", rule="one threshold per station kind",
            )
        for kind, metres in self.metres.items():
            if not 0 < float(metres) <= MAX_THRESHOLD_M:
                raise InvalidInputError(
                    f"the {kind} threshold must be above 0 and at most {MAX_THRESHOLD_M:g} m; got {metres}",
                    field=f"GISGRID_COVERAGE_{kind.upper()}_M", rule=f"0 < metres ≤ {MAX_THRESHOLD_M:g}",
                )
        if not 1.0 <= float(self.cap_factor) <= 10.0:
            raise InvalidInputError(
                f"the cap factor must be 1–10; got {self.cap_factor}", field="GISGRID_COVERAGE_CAP_FACTOR",
                rule="1 ≤ cap factor ≤ 10 (the search reaches at least the threshold)",
            )
        object.__setattr__(self, "metres", MappingProxyType({k: float(self.metres[k]) for k in KINDS}))

    def threshold(self, kind: str) -> float:
        return self.metres[kind]

    def cap(self, kind: str) -> float:
        """How far the search for ``kind`` reaches; farther is stored as "beyond"."""
        return self.metres[kind] * self.cap_factor

    @property
    def largest(self) -> float:
        return max(self.metres.values())

    def to_dict(self) -> dict[str, object]:
        return {"thresholds_m": dict(self.metres), "cap_factor": self.cap_factor,
                "caps_m": {k: self.cap(k) for k in KINDS}}
