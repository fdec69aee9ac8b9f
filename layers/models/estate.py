"""Property companies, residential complexes (小区) and buildings (楼栋)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gisgrid import vocab
from layers.models.base import Base, geometry, one_of, valid_geometry


class PropertyCompany(Base):
    """物业公司, with its credit rating (red list / normal / black list)."""

    __tablename__ = "property_company"
    __table_args__ = (one_of("credit", vocab.CREDIT_LEVELS), one_of("source", vocab.SOURCES))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    credit: Mapped[str] = mapped_column(String(16), server_default="normal")
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), server_default="manual")


class Complex(Base):
    """A residential complex (物业小区): who manages it, its owners' committee and party organisation."""

    __tablename__ = "complex"
    __table_args__ = (
        one_of("management", vocab.MANAGEMENT_KINDS),
        one_of("party_org", vocab.PARTY_ORG_MODES),
        one_of("source", vocab.SOURCES),
        CheckConstraint(
            "management <> 'professional' OR property_company_id IS NOT NULL",
            name="professional_needs_company",
        ),
        CheckConstraint(
            "management <> 'none' OR property_company_id IS NULL", name="unmanaged_has_no_company"
        ),
        UniqueConstraint("source", "source_ref"),
        valid_geometry(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="SET NULL"), index=True
    )
    property_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("property_company.id", ondelete="SET NULL"), index=True
    )
    management: Mapped[str] = mapped_column(String(16), server_default="unknown")
    owners_committee_since: Mapped[date | None] = mapped_column(Date)
    party_org: Mapped[str] = mapped_column(String(16), server_default="none")
    red_property: Mapped[bool] = mapped_column(Boolean, server_default="false")
    built_year: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), server_default="manual")
    source_ref: Mapped[str | None] = mapped_column(
        String(64), comment="id in the source, e.g. OSM way/relation id"
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb"), comment="columns of the source file gisgrid has no field for"
    )
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)


class Building(Base):
    """A building (楼栋): footprint, entrance, floors, units and households (supplied or estimated)."""

    __tablename__ = "building"
    __table_args__ = (
        one_of("building_type", vocab.BUILDING_TYPES),
        one_of("households_method", vocab.HOUSEHOLD_METHODS),
        one_of("source", vocab.SOURCES),
        CheckConstraint("households >= 0", name="households_non_negative"),
        CheckConstraint("levels IS NULL OR levels BETWEEN 1 AND 200", name="levels_range"),
        CheckConstraint("height_m IS NULL OR (height_m > 0 AND height_m <= 1000)", name="height_range"),
        CheckConstraint("units IS NULL OR units >= 1", name="units_positive"),
        CheckConstraint(
            "households_estimated = (households_method <> 'supplied')", name="estimate_flag_matches_method"
        ),
        UniqueConstraint("source", "source_ref"),
        valid_geometry(),
        valid_geometry("entrance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    building_type: Mapped[str] = mapped_column(String(32), server_default="other")
    levels: Mapped[int | None] = mapped_column(Integer)
    height_m: Mapped[float | None] = mapped_column(Float, comment="height in metres, as supplied")
    units: Mapped[int | None] = mapped_column(Integer, comment="entrances (单元)")
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    households_estimated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    households_method: Mapped[str] = mapped_column(String(16), server_default="supplied")
    complex_id: Mapped[int | None] = mapped_column(ForeignKey("complex.id", ondelete="SET NULL"), index=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="SET NULL"), index=True
    )
    grid_code: Mapped[str | None] = mapped_column(
        String(15), index=True, comment="current grid (code is stable across versions)"
    )
    source: Mapped[str] = mapped_column(String(16), server_default="manual")
    source_ref: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb"), comment="columns of the source file gisgrid has no field for"
    )
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
    entrance = mapped_column(geometry("POINT"), nullable=False)


class BuildingPart(Base):
    """A part of a building too big for one grid: a run of entrances (单元) or a floor range (楼层段).

    A building over the grid maximum is split into parts that each fit; each part belongs to a grid and
    is counted there (by validation, coverage and patrol plans). A building without parts counts whole in
    the grid that covers it. Like grids, parts are versioned: a plan or an edit closes the rows it
    changes (``valid_to``) and inserts new ones, so the parts of any date can be restored.
    """

    __tablename__ = "building_part"
    __table_args__ = (
        one_of("kind", vocab.BUILDING_PART_KINDS),
        CheckConstraint("households >= 0", name="households_non_negative"),
        CheckConstraint(
            "(kind = 'entrance' AND entrance_from >= 1 AND entrance_to >= entrance_from)"
            " OR (kind = 'floors' AND floor_from >= 1 AND floor_to >= floor_from)",
            name="range_matches_kind",
        ),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
        # the current parts of a building are numbered once; closed rows keep the history
        Index("uq_building_part_current", "building_id", "part_no", unique=True,
              postgresql_where=text("valid_to IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"), index=True)
    part_no: Mapped[int] = mapped_column(Integer, comment="1, 2, … within the building")
    kind: Mapped[str] = mapped_column(String(16))
    entrance_from: Mapped[int | None] = mapped_column(Integer)
    entrance_to: Mapped[int | None] = mapped_column(Integer)
    floor_from: Mapped[int | None] = mapped_column(Integer)
    floor_to: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True, comment="the grid that owns this part")
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), comment="closed by a later plan or edit")
