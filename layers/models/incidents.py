"""Reported incidents (事件) and their full event history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from gisgrid import vocab
from layers.models.base import Base, geometry, one_of


class Incident(Base):
    """A problem reported at a point, tied to the grid *version* valid at report time."""

    __tablename__ = "incident"
    __table_args__ = (
        one_of("source", vocab.INCIDENT_SOURCES),
        one_of("level", vocab.INCIDENT_LEVELS),
        one_of("status", vocab.INCIDENT_STATUSES),
        CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        CheckConstraint("category_code ~ '^[0-9]{5}$'", name="category_5_digits"),
        CheckConstraint("closed_at IS NULL OR closed_at >= reported_at", name="closed_after_reported"),
        CheckConstraint("escalations >= 0 AND reopens >= 0", name="counters_non_negative"),
        # the possible-duplicates search in one scan (btree_gist; migration 0003)
        Index("idx_incident_geom_category", "geom", "category_code", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    category_code: Mapped[str] = mapped_column(String(5))
    source: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, server_default="")
    photos: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    reporter_contact: Mapped[str | None] = mapped_column(String(100))
    reported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), index=True
    )
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="RESTRICT"), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="SET NULL"), index=True
    )
    street_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="SET NULL"), index=True
    )
    level: Mapped[str] = mapped_column(String(16), server_default="grid")
    assignee_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    assignee_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), server_default="reported", index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    # routing targets that are not staff or departments (layers/incidents.py, routing.csv)
    assignee_property_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("property_company.id", ondelete="SET NULL"), index=True
    )
    assignee_station_id: Mapped[int | None] = mapped_column(
        ForeignKey("station.id", ondelete="SET NULL"), index=True
    )
    boundary_flag: Mapped[bool] = mapped_column(
        Boolean,
        server_default="false",
        comment="within a few metres of a grid boundary: confirm the grid",
    )
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL"), index=True
    )
    # the parts of gisgrid.incidents.IncidentState that are not plain columns above
    whistles: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    verification_failed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    escalations: Mapped[int] = mapped_column(Integer, server_default="0")
    reopens: Mapped[int] = mapped_column(Integer, server_default="0")
    intake: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default="{}", comment="the answer given at intake, returned again on a retry"
    )
    geom = mapped_column(geometry("POINT", spatial_index=False), nullable=False)


class IncidentEvent(Base):
    """One transition of an incident: who did what, when, from which status to which, and why."""

    __tablename__ = "incident_event"
    __table_args__ = (one_of("to_status", vocab.INCIDENT_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    actor_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    note: Mapped[str] = mapped_column(Text, server_default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


class ReferenceGeneration(Base):
    """One row that moves on every change to the reference data intake keeps in memory.

    Statement triggers on ``grid``, ``admin_area``, ``assignment``, ``staff``, ``complex``, ``station``
    and ``department`` set ``generation`` to the next value of ``reference_generation_seq``
    (migration 0003); :mod:`layers.placement` explains how intake uses it.
    """

    __tablename__ = "reference_generation"
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        {"comment": "moves on every change to the reference data intake keeps in memory (layers/placement.py)"},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    instance: Mapped[str] = mapped_column(UUID(as_uuid=False), server_default=text("gen_random_uuid()"))
    generation: Mapped[int] = mapped_column(BigInteger)
