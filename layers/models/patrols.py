"""Planned patrol routes (one row per worker, grid and day) and the check-ins phones upload."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.models.base import Base, geometry


class PatrolPlan(Base):
    """One worker's walk through one grid on one day of a week: ordered stops (building ids,
    households, incidents), each leg's metres, the walk as one line per leg, the day's totals.

    Re-planning a week deletes that week's rows and writes new ones in the same transaction.
    """

    __tablename__ = "patrol_plan"
    __table_args__ = (
        CheckConstraint("length_m >= 0", name="length_non_negative"),
        CheckConstraint("minutes >= 0", name="minutes_non_negative"),
        CheckConstraint("street_m >= 0 AND access_m >= 0", name="metres_non_negative"),
        CheckConstraint("day_index >= 0 AND day_index < 7", name="day_in_week"),
        CheckConstraint("plan_date >= week AND plan_date < week + 7", name="date_in_week"),
        CheckConstraint("extract(isodow FROM week) = 1", name="week_starts_monday"),
        UniqueConstraint("staff_id", "grid_code", "plan_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    week: Mapped[date] = mapped_column(Date, index=True, comment="the Monday of the week")
    day_index: Mapped[int] = mapped_column(SmallInteger, comment="0 = the week's first patrol day")
    plan_date: Mapped[date] = mapped_column(Date)
    stops: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    building_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    legs_m: Mapped[list[float]] = mapped_column(ARRAY(Float), server_default="{}")
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    street_m: Mapped[float] = mapped_column(Float, server_default="0")
    access_m: Mapped[float] = mapped_column(Float, server_default="0", comment="street to doors and back")
    length_m: Mapped[float] = mapped_column(Float, server_default="0")
    minutes: Mapped[float] = mapped_column(Float, server_default="0")
    over_shift: Mapped[bool] = mapped_column(Boolean, server_default="false")
    base_station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    route = mapped_column(geometry("MULTILINESTRING"), nullable=True, comment="one line per leg, in order")


class PatrolCheckin(Base):
    """Where a worker was at a moment; a visit when plausible and near a building.

    ``client_id`` is made by the phone, so a batch uploaded twice stores each check-in once.
    """

    __tablename__ = "patrol_checkin"
    __table_args__ = (
        UniqueConstraint("staff_id", "client_id"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy_non_negative"),
        CheckConstraint("NOT (is_visit AND building_id IS NULL)", name="visit_has_building"),
        CheckConstraint("NOT (is_visit AND cardinality(flags) > 0)", name="flagged_is_no_visit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    patrol_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("patrol_plan.id", ondelete="SET NULL"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    source_crs: Mapped[str] = mapped_column(String(8), server_default="wgs84")
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("building.id", ondelete="SET NULL"), index=True
    )
    distance_m: Mapped[float | None] = mapped_column(Float, comment="to the matched building")
    flags: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    is_visit: Mapped[bool] = mapped_column(Boolean, server_default="false")
    geom = mapped_column(geometry("POINT"), nullable=False)
