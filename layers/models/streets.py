"""The walkable street network: nodes and edges with lengths in metres."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gisgrid import vocab
from layers.models.base import Base, geometry, one_of, valid_geometry


class StreetNode(Base):
    """A node of the street graph (intersection or dead end)."""

    __tablename__ = "street_node"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), unique=True, comment="e.g. OSM node id")
    component: Mapped[int | None] = mapped_column(Integer, comment="connected component (island) number")
    geom = mapped_column(geometry("POINT"), nullable=False)


class StreetEdge(Base):
    """A walkable edge between two nodes; length measured in a metric CRS, never in degrees."""

    __tablename__ = "street_edge"
    __table_args__ = (
        CheckConstraint("length_m >= 0", name="length_non_negative"),
        CheckConstraint("source_node <> target_node", name="no_self_loop"),
        one_of("source", vocab.SOURCES),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_node: Mapped[int] = mapped_column(ForeignKey("street_node.id", ondelete="CASCADE"), index=True)
    target_node: Mapped[int] = mapped_column(ForeignKey("street_node.id", ondelete="CASCADE"), index=True)
    length_m: Mapped[float] = mapped_column(Float)
    name: Mapped[str | None] = mapped_column(String(200))
    highway: Mapped[str | None] = mapped_column(String(32), comment="OSM highway class")
    source: Mapped[str] = mapped_column(String(16), server_default="manual")
    source_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    geom = mapped_column(geometry("LINESTRING"), nullable=False)


class Barrier(Base):
    """Something grid edges follow besides streets and no grid spans without a crossing: a river, a body
    of water, a railway, a wall. Lines or polygons (a river may be mapped as either)."""

    __tablename__ = "barrier"
    __table_args__ = (
        one_of("kind", vocab.BARRIER_KINDS),
        one_of("source", vocab.SOURCES),
        UniqueConstraint("source", "source_ref"),
        valid_geometry(),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), server_default="manual")
    source_ref: Mapped[str | None] = mapped_column(String(64), comment="e.g. OSM way/relation id")
    geom = mapped_column(geometry("GEOMETRY"), nullable=False)
