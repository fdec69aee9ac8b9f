"""Walking-distance coverage as it stands now: one row per building and station kind, and what it was
computed from (so a stale table is recognised and recomputed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gisgrid import vocab
from layers.models.base import Base, one_of


class CoverageResult(Base):
    """The walk from a building to the nearest open station of a kind.

    ``distance_m`` is NULL beyond the kind's search cap, when no station is reachable, and always for a
    building on an island (a street component other than the largest; ``island``), which is never
    covered.
    """

    __tablename__ = "coverage_result"
    __table_args__ = (
        one_of("kind", vocab.STATION_KINDS),
        CheckConstraint("distance_m IS NULL OR distance_m >= 0", name="distance_non_negative"),
        CheckConstraint("NOT island OR distance_m IS NULL", name="island_never_reached"),
        CheckConstraint("(distance_m IS NULL) = (station_id IS NULL)", name="distance_has_station"),
    )

    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    distance_m: Mapped[float | None] = mapped_column(Float)
    # the closing of a station looks up the buildings it served (and deleting one must not scan); a deleted
    # station takes its rows along, and the changed fingerprint of its kind has the kind recomputed
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id", ondelete="CASCADE"), index=True)
    island: Mapped[bool] = mapped_column(Boolean, server_default="false")
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))


class CoverageState(Base):
    """What the rows of one kind were computed from: thresholds and fingerprints of the street network,
    the buildings and that kind's open stations. A mismatch means the rows are stale."""

    __tablename__ = "coverage_state"
    __table_args__ = (one_of("kind", vocab.STATION_KINDS),)

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    threshold_m: Mapped[float] = mapped_column(Float)
    cap_m: Mapped[float] = mapped_column(Float)
    network_version: Mapped[str] = mapped_column(String(200))
    buildings_version: Mapped[str] = mapped_column(String(200))
    stations_version: Mapped[str] = mapped_column(String(64))
    buildings: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), comment="last full computation")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), comment="last change, full or incremental")


class CoverageGeneration(Base):
    """One row: a counter that statement triggers on ``building`` move whenever buildings are added,
    removed or their footprint or entrance written — the buildings' fingerprint, read in one lookup
    instead of a scan of every building (a scan cost 15–20 ms on 14,000 buildings, each station change)."""

    __tablename__ = "coverage_generation"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    buildings: Mapped[int] = mapped_column(BigInteger)
