"""What an import did: counts by outcome and every problem found, for the terminal and for ``--json``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Problem:
    """One problem with one feature: which feature, which field, which rule, and what was done."""

    feature: Any
    field: str | None
    rule: str
    message: str
    action: str = "rejected"  # rejected | repaired | warned

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "field": self.field, "rule": self.rule, "message": self.message,
                "action": self.action}


@dataclass
class ImportReport:
    """Counts of an import by outcome, estimates by method, and the problems found.

    ``imported`` are new rows, ``updated`` rows that existed (same source id) and were changed,
    ``rejected`` features not written, ``repaired`` geometries fixed with ``--repair``.
    """

    kind: str
    source: str
    imported: int = 0
    updated: int = 0
    rejected: int = 0
    repaired: int = 0
    estimated: Counter[str] = field(default_factory=Counter)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add_problem(self, problem: Problem) -> None:
        self.problems.append(problem)
        if problem.action == "rejected":
            self.rejected += 1
        elif problem.action == "repaired":
            self.repaired += 1

    def rejected_by_reason(self) -> dict[str, int]:
        return dict(Counter(p.rule for p in self.problems if p.action == "rejected"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "imported": self.imported,
            "updated": self.updated,
            "rejected": self.rejected,
            "repaired": self.repaired,
            "estimated": dict(self.estimated),
            "rejected_by_reason": self.rejected_by_reason(),
            "problems": [p.to_dict() for p in self.problems],
            **self.extra,
        }


def problems_summary(problems: list[Problem]) -> str:
    """One line per rule: how many features broke it, with the first example."""
    by_rule: dict[str, list[Problem]] = {}
    for p in problems:
        by_rule.setdefault(p.rule, []).append(p)
    return "; ".join(f"{len(ps)} × {rule} (e.g. {ps[0].message})" for rule, ps in by_rule.items())
