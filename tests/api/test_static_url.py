"""The three map pages take their asset prefix from one function: the static mount, behind any root path."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

from api.pages import static_url_for

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


def _request(app: FastAPI, root_path: str = "") -> Request:
    return Request({"type": "http", "app": app, "root_path": root_path, "path": "/map", "headers": []})


def test_static_url_follows_the_mount_and_the_root_path() -> None:
    app = FastAPI()
    app.mount("/assets", StaticFiles(directory=STATIC), name="static")
    assert static_url_for(_request(app)) == "/assets"
    assert static_url_for(_request(app, "/gisgrid/")) == "/gisgrid/assets"


def test_static_url_defaults_to_static_when_nothing_is_mounted() -> None:
    assert static_url_for(_request(FastAPI(), "/proxy")) == "/proxy/static"
