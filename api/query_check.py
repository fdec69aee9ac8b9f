"""Unknown query parameters are refused (422 naming the parameter) on every ``GET /api/v1/…`` route.

A misspelt or invented filter (``/api/v1/buildings?community=…``) used to be ignored, so the answer was
*everything in scope* — which looks like a correct answer. :func:`reject_unknown_query` compares the
request's query parameters with those the matched route declares (its own and its dependencies',
models expanded) and raises :class:`~gisgrid.errors.InvalidInputError` with ``field`` = the first unknown
one. It is an ``async`` dependency (no thread hop), added to every router by ``api.main.create_app``;
the intake route (``POST``) does not carry it. Open311 (``/open311/v2``) keeps its own documented
parameters and is not checked.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

from gisgrid.errors import InvalidInputError

__all__ = ["CHECKED_PREFIX", "QueryCheck", "declared_query_params", "reject_unknown_query"]

CHECKED_PREFIX = "/api/v1/"
_DECLARED: dict[int, frozenset[str]] = {}


def _names(field: Any) -> list[str]:
    annotation = getattr(field.field_info, "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [info.alias or name for name, info in annotation.model_fields.items()]
    return [str(field.alias)]


def declared_query_params(dependant: Dependant) -> frozenset[str]:
    """Every query parameter a route's dependant declares, through its dependencies."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        for field in current.query_params:
            names.update(_names(field))
        stack.extend(current.dependencies)
    return frozenset(names)


async def reject_unknown_query(request: Request) -> None:
    """422 when a ``GET /api/v1/…`` request carries a query parameter its route does not declare."""
    if not request.scope.get("query_string") or request.method not in ("GET", "HEAD"):
        return
    if not request.url.path.startswith(CHECKED_PREFIX):
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    declared = _DECLARED.get(id(route))
    if declared is None:
        declared = _DECLARED[id(route)] = declared_query_params(dependant)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in declared]
    if unknown:
        takes = ", ".join(sorted(declared)) or "no query parameters"
        raise InvalidInputError(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"{request.url.path} takes: {takes}",
            field=unknown[0],
            rule="a query parameter the endpoint declares",
            details={"unknown": unknown, "allowed": sorted(declared)},
        )


QueryCheck = Depends(reject_unknown_query)
