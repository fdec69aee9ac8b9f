"""Declarative base, naming convention and the small column helpers every layer shares."""

from __future__ import annotations

from collections.abc import Sequence

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, MetaData
from sqlalchemy.orm import DeclarativeBase

SRID = 4326  # everything is stored in WGS84; lengths and areas are measured in a metric CRS (docs/architecture.md)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def geometry(kind: str, *, spatial_index: bool = True) -> Geometry:
    """A WGS84 geometry column type; GeoAlchemy2 adds the GiST index unless the table declares its own."""
    return Geometry(geometry_type=kind, srid=SRID, spatial_index=spatial_index)


def one_of(column: str, values: Sequence[str], name: str | None = None) -> CheckConstraint:
    """A CHECK that keeps a text column inside a closed vocabulary (a portable 'enum')."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_allowed")


def valid_geometry(column: str = "geom") -> CheckConstraint:
    """A CHECK that refuses invalid or empty geometries (OGC validity, as ST_IsValid judges it)."""
    return CheckConstraint(f"ST_IsValid({column}) AND NOT ST_IsEmpty({column})", name=f"{column}_valid")
