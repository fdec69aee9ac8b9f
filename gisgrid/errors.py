"""The one exception tree of gisgrid.

Every error names the field, the feature and the rule it broke, so a planner can fix the input and
an API client can act on a stable ``code``. ``api/errors.py`` maps each class to an HTTP status.
"""

from __future__ import annotations

from typing import Any


class GisgridError(Exception):
    """Base of all gisgrid errors.

    Parameters
    ----------
    message
        A sentence a person can act on.
    field
        The input field (column, parameter, setting) that is wrong, if any.
    feature
        The id of the offending feature or row, if any.
    rule
        The rule that was broken, in a few words.
    details
        Anything else machine-readable (e.g. a list of all problems found).
    """

    code = "gisgrid_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        feature: Any = None,
        rule: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.feature = feature
        self.rule = rule
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("field", "feature", "rule", "details"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class InvalidInputError(GisgridError):
    """A value is malformed or out of range."""

    code = "invalid_input"


class GeometryError(InvalidInputError):
    """A geometry is invalid, empty, of the wrong type or outside where it must be."""

    code = "invalid_geometry"


class CRSError(InvalidInputError):
    """A coordinate reference system is missing, unknown or does not match the data."""

    code = "crs_error"


class NotFoundError(GisgridError):
    """The requested object does not exist (or is outside the caller's scope)."""

    code = "not_found"


class ConflictError(GisgridError):
    """The request conflicts with the current state (stale version, illegal transition, duplicate)."""

    code = "conflict"


class AuthenticationError(GisgridError):
    """No valid credentials were given."""

    code = "not_authenticated"


class PermissionDeniedError(GisgridError):
    """The caller is authenticated but their role or area scope does not allow this."""

    code = "permission_denied"


class ConfigurationError(GisgridError):
    """A setting is missing or wrong, or the environment lacks something the project needs."""

    code = "configuration_error"


class DatabaseUnavailableError(GisgridError):
    """The database cannot be reached or lacks PostGIS."""

    code = "database_unavailable"
