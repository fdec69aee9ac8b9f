"""Administrative areas (district / street / community) and versioned unit grids."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gisgrid import vocab
from layers.models.base import Base, geometry, one_of, valid_geometry


class AdminArea(Base):
    """A district (区), street office / town (街道/镇) or community (社区)."""

    __tablename__ = "admin_area"
    __table_args__ = (
        one_of("level", vocab.AREA_LEVELS),
        one_of("source", vocab.SOURCES),
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_12_digits"),
        valid_geometry(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True, comment="12-digit statistical division code")
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    source: Mapped[str] = mapped_column(String(16), server_default="manual")
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)


class Grid(Base):
    """One *version* of one unit grid boundary (网格).

    An edit never overwrites: it closes this row's ``valid_to`` and opens a new row with the same
    ``code`` and ``version + 1``, so an incident stays tied to the boundary valid when it was reported.
    """

    __tablename__ = "grid"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        one_of("status", vocab.GRID_STATUSES),
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_15_digits"),
        CheckConstraint("households >= 0", name="households_non_negative"),
        CheckConstraint("population >= 0", name="population_non_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
        valid_geometry(),
        # at most one current version of each code
        Index("uq_grid_code_current", "code", unique=True, postgresql_where=text("valid_to IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(15), index=True, comment="community code + 3-digit sequence")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    name: Mapped[str | None] = mapped_column(String(200))
    community_id: Mapped[int] = mapped_column(ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True)
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
