"""api → layers → gisgrid, never the reverse: importing the core pulls in no database or web code."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import importlib, pkgutil, sys
import {package}
for mod in pkgutil.walk_packages({package}.__path__, "{package}."):
    importlib.import_module(mod.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})
print(",".join(bad))
"""


def _imported(package: str, forbidden: set[str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(package=package, forbidden=forbidden)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return [m for m in out.split(",") if m]


def test_core_imports_neither_sqlalchemy_nor_fastapi() -> None:
    assert _imported("gisgrid", {"sqlalchemy", "geoalchemy2", "asyncpg", "fastapi", "starlette", "layers", "api"}) == []


def test_layers_does_not_import_the_web_layer() -> None:
    assert _imported("layers", {"fastapi", "starlette", "api"}) == []
