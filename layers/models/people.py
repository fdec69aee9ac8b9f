"""Departments, staff and what each person answers for (assignments with a valid period)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ARRAY, Boolean, CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gisgrid import vocab
from layers.models.base import Base, one_of


class Department(Base):
    """A district functional department (职能部门) that answers a whistle (吹哨) for its categories."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    contact_phone: Mapped[str | None] = mapped_column(String(32))


class Staff(Base):
    """A person who works in the system: grid chief, grid worker, heads, police, community staff."""

    __tablename__ = "staff"
    __table_args__ = (one_of("role", vocab.STAFF_ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL"), index=True
    )
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class Assignment(Base):
    """What a staff member answers for — a grid, building, street, complex, community or department."""

    __tablename__ = "assignment"
    __table_args__ = (
        one_of("target_kind", vocab.ASSIGNMENT_TARGETS),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_ref: Mapped[str] = mapped_column(
        String(64), index=True, comment="grid code, building id, street name, …"
    )
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
