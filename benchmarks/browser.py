"""Headless Chromium for the benchmarks: Debian's ``chromium`` driven by Playwright (never ``playwright install``),
with the same flags as the browser tests, and uvicorn serving an app in a thread on a free loopback port.

The one launcher and loopback server of the repository: ``tests/browser/chromium.py`` wraps these for the browser
tests (turning a missing browser or a server that does not start into a failed test). Here a missing browser
raises with the fix.
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

import uvicorn

CHROMIUM_PATH = Path(os.environ.get("GISGRID_CHROMIUM", "/usr/bin/chromium"))
# headless, no sandbox (containers), no GPU, and none of the background traffic (component updates, sync,
# first-run pages) a fresh profile makes
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """A headless Chromium ``Browser`` from Playwright's sync API, with the project's flags."""
    if not CHROMIUM_PATH.exists():
        raise RuntimeError(
            f"Chromium is not installed at {CHROMIUM_PATH}: install it with `apt-get install -y chromium` "
            "(do not run `playwright install`), or set GISGRID_CHROMIUM to another Chromium binary."
        )
    args = [*CHROMIUM_ARGS, *kwargs.pop("args", [])]
    return playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), headless=True, args=args, **kwargs)


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
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
