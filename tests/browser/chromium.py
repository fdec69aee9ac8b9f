"""Launch Debian's Chromium through Playwright — never Playwright's own browser download.

``pip install playwright`` brings the driver only; ``playwright install`` is never run. The browser is
the distribution's package (``apt-get install -y chromium``) at :data:`CHROMIUM_PATH`, or wherever
``GISGRID_CHROMIUM`` points. A missing browser *fails* the test with the fix in the message: browser
tests are never skipped.

Usage::

    from playwright.sync_api import sync_playwright
    from tests.browser.chromium import launch_chromium

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from benchmarks import browser
from benchmarks.browser import CHROMIUM_ARGS, CHROMIUM_PATH

__all__ = ["CHROMIUM_ARGS", "CHROMIUM_PATH", "chromium_path", "launch_chromium", "serve"]


def chromium_path() -> Path:
    """The Chromium binary, or a failed test naming how to install it."""
    if not CHROMIUM_PATH.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM_PATH}: the browser tests drive Debian's chromium. "
            "Install it with `apt-get install -y chromium` (do not run `playwright install`), "
            "or set GISGRID_CHROMIUM to another Chromium binary.",
            pytrace=False,
        )
    return CHROMIUM_PATH


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """A headless Chromium ``Browser`` from Playwright's sync (or async) API, with the project's flags."""
    chromium_path()
    return browser.launch_chromium(playwright, **kwargs)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yields its base URL."""
    try:
        context = browser.serve(app)
        url = context.__enter__()
    except RuntimeError as exc:
        pytest.fail(f"the test server did not start: {exc}", pytrace=False)
    try:
        yield url
    finally:
        context.__exit__(None, None, None)
