"""SQLAlchemy 2 / GeoAlchemy2 models, one module per table family.

Importing this package registers every table on :data:`Base.metadata`, which Alembic compares
against the migrations.
"""

from layers.models.accounts import AuditLog, User
from layers.models.areas import AdminArea, Grid
from layers.models.base import Base
from layers.models.coverage import CoverageGeneration, CoverageResult, CoverageState
from layers.models.estate import Building, BuildingPart, Complex, PropertyCompany
from layers.models.incidents import Incident, IncidentEvent, ReferenceGeneration
from layers.models.patrols import PatrolCheckin, PatrolPlan
from layers.models.people import Assignment, Department, Staff
from layers.models.stations import Station, StationStatus
from layers.models.streets import Barrier, StreetEdge, StreetNode

__all__ = [
    "AdminArea",
    "Assignment",
    "AuditLog",
    "Barrier",
    "Base",
    "Building",
    "BuildingPart",
    "Complex",
    "CoverageGeneration",
    "CoverageResult",
    "CoverageState",
    "Department",
    "Grid",
    "Incident",
    "IncidentEvent",
    "PatrolCheckin",
    "PatrolPlan",
    "PropertyCompany",
    "ReferenceGeneration",
    "Staff",
    "Station",
    "StationStatus",
    "StreetEdge",
    "StreetNode",
    "User",
]
