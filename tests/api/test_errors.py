"""The status table covers the whole exception tree of gisgrid.errors."""

from __future__ import annotations

import inspect

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import DEFAULT_STATUS_CODES, add_exception_handlers, status_for
from gisgrid import errors

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.GisgridError) and cls.__module__ == errors.__name__
]


def test_there_are_error_classes():
    assert len(ERROR_CLASSES) >= 10


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_class_has_a_status(cls):
    assert cls in DEFAULT_STATUS_CODES, f"{cls.__name__} has no row in api.errors.DEFAULT_STATUS_CODES"


def test_codes_are_unique():
    codes = [cls.code for cls in ERROR_CLASSES]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.InvalidInputError, 422),
        (errors.GeometryError, 422),
        (errors.CRSError, 422),
        (errors.NotFoundError, 404),
        (errors.ConflictError, 409),
        (errors.AuthenticationError, 401),
        (errors.PermissionDeniedError, 403),
        (errors.DatabaseUnavailableError, 503),
        (errors.ConfigurationError, 500),
    ],
)
def test_statuses(cls, status):
    assert status_for(cls("x")) == status


def test_subclass_without_a_row_takes_its_parents_status():
    class OddGeometry(errors.GeometryError):
        code = "odd_geometry"

    assert status_for(OddGeometry("x")) == 422


def test_handler_body_and_headers():
    app = FastAPI()
    add_exception_handlers(app)

    @app.get("/geometry")
    def bad_geometry() -> None:
        raise errors.GeometryError("Ring not closed.", field="geometry", feature=7, rule="closed rings")

    @app.get("/auth")
    def no_auth() -> None:
        raise errors.AuthenticationError("Log in.")

    client = TestClient(app)
    res = client.get("/geometry")
    assert res.status_code == 422
    assert res.json() == {
        "error": {
            "code": "invalid_geometry",
            "message": "Ring not closed.",
            "field": "geometry",
            "feature": 7,
            "rule": "closed rings",
        }
    }
    res = client.get("/auth")
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == "Bearer"
