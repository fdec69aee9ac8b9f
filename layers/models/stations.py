"""Service posts: party–masses centres, stations and posts, red heart stations and police rooms."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, String, UniqueConstraint, text
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
