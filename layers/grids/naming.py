"""Problems that name complexes and buildings as a planner knows them: by name and source id, not by row id.

The core names a complex or a building by the key it was given (the database id: ``complex 30``), which
tells a planner nothing. :func:`name_plan_problems` and :func:`name_grid_problems` rewrite those words as
``complex 阳光花园 (id 30, source syn-complex-00029)`` from the ``complex`` and ``building`` rows; the
``feature`` / ``complex`` / ``building`` keys stay the ids, for scripts.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.grids import GridProblem
from gisgrid.report import Problem

__all__ = ["feature_labels", "name_grid_problems", "name_plan_problems"]

_BUILDING_RULES = frozenset({"indivisible building over maximum"})


def _ids(values: Iterable[Any]) -> list[int]:
    out = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            continue
    return sorted(set(out))


def feature_labels(session: Session, table: str, ids: Iterable[Any]) -> dict[int, str]:
    """``id → "name (id N, source REF)"`` for rows of ``complex`` or ``building``."""
    if table not in ("complex", "building"):
        raise ValueError(f"no labels for {table!r}")
    wanted = _ids(ids)
    if not wanted:
        return {}
    rows = session.execute(
        text(f"SELECT id, name, source_ref FROM {table} WHERE id = ANY(:ids)"), {"ids": wanted}
    ).all()
    labels = {}
    for row in rows:
        where = f"id {row.id}" + (f", source {row.source_ref}" if row.source_ref else "")
        labels[int(row.id)] = f"{row.name} ({where})" if row.name else f"({where})"
    return labels


def _relabel(message: str, word: str, key: Any, label: str | None) -> str:
    if label is None:
        return message
    pattern = re.compile(rf"\b{word} '?{re.escape(str(key))}'?(?![\w.])")
    return pattern.sub(lambda _m: f"{word} {label}", message, count=1)


def _label(labels: dict[int, str], key: Any) -> str | None:
    try:
        return labels.get(int(key))
    except (TypeError, ValueError):
        return None


def name_plan_problems(session: Session, problems: Sequence[Problem]) -> list[Problem]:
    """The partition's problems with complexes and buildings named (new objects; the input is untouched)."""
    complexes = feature_labels(session, "complex", (p.feature for p in problems if p.field == "complex_key"))
    buildings = feature_labels(session, "building", (p.feature for p in problems if p.rule in _BUILDING_RULES))
    out = []
    for p in problems:
        message = p.message
        if p.field == "complex_key":
            message = _relabel(message, "complex", p.feature, _label(complexes, p.feature))
        elif p.rule in _BUILDING_RULES:
            message = _relabel(message, "building", p.feature, _label(buildings, p.feature))
        out.append(dataclasses.replace(p, message=message) if message != p.message else p)
    return out


def name_grid_problems(session: Session, problems: list[GridProblem]) -> list[GridProblem]:
    """Validation problems with their complex and building named (changed in place, and returned); the
    label is also put in ``details`` (``complex_label`` / ``building_label``) for the map's own sentences."""
    complexes = feature_labels(session, "complex", (p.complex for p in problems if p.complex is not None))
    buildings = feature_labels(session, "building", (p.building for p in problems if p.building is not None))
    for p in problems:
        if p.complex is not None and (label := _label(complexes, p.complex)) is not None:
            p.message = _relabel(p.message, "complex", p.complex, label)
            p.details = {**p.details, "complex_label": label}
        if p.building is not None and (label := _label(buildings, p.building)) is not None:
            p.message = _relabel(p.message, "building", p.building, label)
            p.details = {**p.details, "building_label": label}
    return problems
