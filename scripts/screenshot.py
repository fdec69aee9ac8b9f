"""Screenshot a page with headless Chromium (Debian's, driven by Playwright; never `playwright install`).

    .venv/bin/python scripts/screenshot.py http://127.0.0.1:8000/map docs/map.png --width 1280 --height 800

Waits for the network to go idle, then for Leaflet to have drawn (if the page uses Leaflet), then
``--wait-ms`` more (tiles, fonts), and writes the PNG. Exits non-zero with the reason if the page
fails to load, or if ``L`` is undefined on a page that was expected to be a map (``--require-leaflet``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

CHROMIUM = Path(os.environ.get("GISGRID_CHROMIUM", "/usr/bin/chromium"))
# the same flags as benchmarks/browser.py, which the browser tests use too (why each is there: see that file)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--wait-ms", type=int, default=1000, help="extra wait after load (tiles, fonts)")
    parser.add_argument("--timeout-ms", type=int, default=30_000)
    parser.add_argument("--full-page", action="store_true")
    parser.add_argument("--require-leaflet", action="store_true", help="fail if window.L is undefined")
    args = parser.parse_args(argv)

    if not CHROMIUM.exists():
        print(
            f"error: Chromium not found at {CHROMIUM}; install it with `apt-get install -y chromium` "
            "(or set GISGRID_CHROMIUM)",
            file=sys.stderr,
        )
        return 2

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            try:
                response = page.goto(args.url, wait_until="networkidle", timeout=args.timeout_ms)
            except PlaywrightError as exc:
                print(f"error: could not load {args.url}: {exc}", file=sys.stderr)
                return 1
            if response is None or not response.ok:
                status = response.status if response is not None else "no response"
                print(f"error: {args.url} answered {status}", file=sys.stderr)
                return 1
            has_leaflet = page.evaluate("typeof L !== 'undefined'")
            if args.require_leaflet and not has_leaflet:
                print("error: Leaflet (window.L) is undefined: the map did not load", file=sys.stderr)
                return 1
            if has_leaflet:
                page.wait_for_function(
                    "document.querySelector('.leaflet-container') !== null", timeout=args.timeout_ms
                )
            page.wait_for_timeout(args.wait_ms)
            page.screenshot(path=str(args.out), full_page=args.full_page)
        finally:
            browser.close()
    print(f"wrote {args.out} ({args.width}x{args.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
