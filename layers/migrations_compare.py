"""What Alembic compares: our tables, not PostGIS' own; GeoAlchemy2 decides for spatial indexes."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import alembic_helpers


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # PostGIS' own tables (spatial_ref_sys, topology, tiger) are not ours
    if type_ == "table" and reflected and compare_to is None:
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))
