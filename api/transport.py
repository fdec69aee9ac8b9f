"""How responses travel: compressed when the client accepts gzip, and static assets with a cache lifetime.

* :class:`GZipReads` — Starlette's ``GZipMiddleware`` (responses of ``MINIMUM_GZIP_BYTES`` or more, when
  the request says ``Accept-Encoding: gzip``) for ``GET``/``HEAD`` only: map pages, GeoJSON layers and
  JSON reads shrink five- to tenfold, while the intake hot path (``POST``, answers of a few hundred
  bytes) does not pass through the compressor's buffering at all.
* :class:`CachedStaticFiles` — ``/static``: the vendored libraries (``/static/vendor/…``, changed only by
  ``scripts/vendor_assets.sh``) may be kept ``VENDOR_MAX_AGE`` seconds; anything else is revalidated
  (``no-cache``; the ETag/Last-Modified answer is then a 304).
"""

from __future__ import annotations

import os

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["MINIMUM_GZIP_BYTES", "VENDOR_MAX_AGE", "CachedStaticFiles", "GZipReads"]

MINIMUM_GZIP_BYTES = 1000  # below this, the gzip header and the CPU cost more than they save
VENDOR_MAX_AGE = 30 * 24 * 3600


class GZipReads:
    """``GZipMiddleware`` around ``app`` for ``GET`` and ``HEAD`` requests; other methods go straight through."""

    def __init__(self, app: ASGIApp, minimum_size: int = MINIMUM_GZIP_BYTES) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class CachedStaticFiles(StaticFiles):
    """``StaticFiles`` whose answers say how long they may be kept (see the module's docstring)."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        vendored = str(scope.get("path", "")).lstrip("/").startswith("vendor/") or "/vendor/" in str(full_path)
        response.headers["Cache-Control"] = f"public, max-age={VENDOR_MAX_AGE}" if vendored else "no-cache"
        return response
