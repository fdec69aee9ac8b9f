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

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM_PATH = Path(os.environ.get("GISGRID_CHROMIUM", "/usr/bin/chromium"))

# measured on this kind of machine: headless, no sandbox (containers), no GPU,
# and none of the background traffic (component updates, sync, first-run pages) a fresh profile makes
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


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
    args = [*CHROMIUM_ARGS, *kwargs.pop("args", [])]
    return playwright.chromium.launch(
        executable_path=str(chromium_path()), headless=True, args=args, **kwargs
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start", pytrace=False)
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
