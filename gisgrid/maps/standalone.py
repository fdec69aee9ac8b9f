"""A map page that works when opened from disk: every vendored asset inlined.

A page served by the API links its assets under ``/static/vendor/…``; saved to a file and opened with
``file://``, those links point at the root of the disk and the map is blank. :func:`embed_assets`
replaces each ``<script src>`` and stylesheet ``<link>`` under the static prefix by the file's content,
and each ``url(…)`` inside a stylesheet (fonts, images) by a ``data:`` URI — so the file needs nothing
but itself, and still nothing from a CDN.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

from gisgrid.errors import ConfigurationError

__all__ = ["embed_assets"]

_MIME = {
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".gif": "image/gif",
    ".eot": "application/vnd.ms-fontobject",
}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")


def _asset(static_dir: Path, static_url: str, url: str) -> Path:
    relative = url[len(static_url) :].lstrip("/").split("?")[0].split("#")[0]
    path = (static_dir / relative).resolve()
    if static_dir.resolve() not in path.parents or not path.is_file():
        raise ConfigurationError(
            f"the page links {url}, which is not a file under {static_dir}",
            field="static_dir",
            feature=url,
            rule="every linked asset is vendored",
        )
    return path


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(path: Path) -> str:
    """The stylesheet with its relative ``url()``s as data URIs; a file the vendoring left out (a
    ``.ttf`` fallback behind a ``woff2``) becomes an empty URI, never a request."""

    def replace(match: re.Match[str]) -> str:
        target = match.group(2).strip()
        if target.startswith(("data:", "#")):
            return match.group(0)
        if "://" in target or target.startswith("//"):
            raise ConfigurationError(
                f"{path.name} refers to a remote file {target}",
                field="static_dir",
                feature=target,
                rule="no remote assets",
            )
        file = (path.parent / target.split("?")[0].split("#")[0]).resolve()
        return f"url({_data_uri(file)})" if file.is_file() else "url(data:,)"

    return _CSS_URL.sub(replace, path.read_text(encoding="utf-8"))


def embed_assets(page: str, static_dir: Path | str, static_url: str = "/static") -> str:
    """``page`` with every asset it links under ``static_url`` inlined from ``static_dir``."""
    static_dir = Path(static_dir)
    prefix = static_url.rstrip("/")
    quoted = re.escape(prefix)
    scripts = re.compile(rf'<script src="({quoted}/[^"]+)"></script>')
    sheets = re.compile(rf'<link rel="stylesheet" href="({quoted}/[^"]+)"\s*/?>')

    def script(match: re.Match[str]) -> str:
        body = _asset(static_dir, prefix, match.group(1)).read_text(encoding="utf-8")
        return "<script>" + body.replace("</script", "<\\/script") + "\n</script>"

    def sheet(match: re.Match[str]) -> str:
        body = _inline_css(_asset(static_dir, prefix, match.group(1)))
        return "<style>" + body.replace("</style", "<\\/style") + "\n</style>"

    out = sheets.sub(sheet, scripts.sub(script, page))
    left = re.findall(rf'(?:src|href)="({quoted}/[^"]+)"', out)
    if left:
        raise ConfigurationError(
            f"{len(left)} links under {prefix} could not be inlined, e.g. {left[0]}",
            field="page",
            feature=left[0],
            rule="a standalone page links nothing",
        )
    return out
