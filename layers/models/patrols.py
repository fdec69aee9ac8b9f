"""Planned patrol routes and where staff actually checked in."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, DateTime, Float, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.models.base import Base, geometry


class PatrolPlan(Base):
    """A route for one worker on one day: the line, the ordered stops, its length and minutes."""

    __tablename__ = "patrol_plan"
    __table_args__ = (
        CheckConstraint("length_m >= 0", name="length_non_negative"),
        CheckConstraint("minutes >= 0", name="minutes_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    plan_date: Mapped[date] = mapped_column(Date)
    stops: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    length_m: Mapped[float] = mapped_column(Float, server_default="0")
    minutes: Mapped[float] = mapped_column(Float, server_default="0")
    route = mapped_column(geometry("LINESTRING"), nullable=True)


class PatrolCheckin(Base):
    """Where a worker was at a moment, and the building it matched."""

    __tablename__ = "patrol_checkin"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    patrol_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("patrol_plan.id", ondelete="SET NULL"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("building.id", ondelete="SET NULL"), index=True
    )
    geom = mapped_column(geometry("POINT"), nullable=False)
