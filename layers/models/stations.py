"""Service posts: party–masses centres, stations and posts, red heart stations and police rooms, and the
dated history of their statuses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gisgrid import vocab
from layers.models.base import Base, geometry, one_of, valid_geometry


class Station(Base):
    """A service post and its rollout: planned → building → open (→ closed), each with its date."""

    __tablename__ = "station"
    __table_args__ = (
        one_of("kind", vocab.STATION_KINDS),
        one_of("status", vocab.STATION_STATUSES),
        one_of("source", vocab.SOURCES),
        CheckConstraint("service_radius_m > 0 AND service_radius_m <= 20000", name="service_radius_range"),
        CheckConstraint(
            "(status <> 'building' OR building_since IS NOT NULL)"
            " AND (status <> 'open' OR opened_on IS NOT NULL)"
            " AND (status <> 'closed' OR closed_on IS NOT NULL)",
            name="status_has_date",
        ),
        CheckConstraint(
            "(building_since IS NULL OR planned_on IS NULL OR building_since >= planned_on)"
            " AND (opened_on IS NULL OR building_since IS NULL OR opened_on >= building_since)"
            " AND (closed_on IS NULL OR opened_on IS NULL OR closed_on >= opened_on)",
            name="dates_in_order",
        ),
        UniqueConstraint("source", "source_ref"),
        valid_geometry(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), server_default="planned")
    planned_on: Mapped[date | None] = mapped_column(Date)
    building_since: Mapped[date | None] = mapped_column(Date)
    opened_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    service_radius_m: Mapped[float] = mapped_column(Float, server_default="300")
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="SET NULL"), index=True
    )
    complex_id: Mapped[int | None] = mapped_column(ForeignKey("complex.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16), server_default="manual")
    source_ref: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb"), comment="columns of the source file gisgrid has no field for"
    )
    geom = mapped_column(geometry("POINT"), nullable=False)


class StationStatus(Base):
    """One dated status change of a station, kept for ever: "what was open on day D" is read from here.

    The station row keeps the current status and one date per status, derived from these rows
    (``gisgrid.stations.row_dates``). ``recorded_by`` names who recorded it: a username, ``cli:…``,
    ``import:<file>``, ``demo`` or ``migration 0006`` (rows made from the dates stations had before).
    """

    __tablename__ = "station_status"
    # not unique per (station, status, day): opened, closed by mistake and reopened the same day is three rows
    __table_args__ = (
        one_of("status", vocab.STATION_STATUSES),
        Index("ix_station_status_station_id_since", "station_id", "since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    recorded_by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
