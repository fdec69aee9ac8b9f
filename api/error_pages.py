"""Errors on the map pages (``/map``, ``/map/...``) answered as a small HTML page, not as JSON.

A person who opens ``/map/grids?community=110108999999`` (an unknown code) in a browser must read
*which* parameter is wrong and why — in Chinese and in English — instead of an empty map or a JSON
body. The status is the same as the API's (404 unknown code, 422 malformed value); the page names the
parameter (``field``), the rule and links back to the overview. The JSON API is unchanged.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.session import is_page

PAGE_STATUSES = frozenset({400, 404, 422})
"""The statuses answered with an HTML page on a map page (401/403 keep their API answer)."""

HEADINGS: dict[int, tuple[str, str]] = {
    400: ("请求有误", "Bad request"),
    404: ("找不到", "Not found"),
    422: ("参数不正确", "Invalid parameter"),
}


def wants_page(request: Request, status_code: int) -> bool:
    return status_code in PAGE_STATUSES and is_page(request)


def error_page(request: Request, status_code: int, error: dict[str, Any]) -> HTMLResponse:
    """The bilingual error page for ``error`` (the ``{"code", "message", "field", "rule", ...}`` dict)."""
    zh, en = HEADINGS.get(status_code, ("出错了", "Error"))
    english_first = request.query_params.get("lang") == "en"
    field = error.get("field")
    rows = []
    if field:
        rows.append(("参数", "parameter", f"<code>{html.escape(str(field))}</code>"))
    value = error.get("feature")
    if value is None and field:
        value = request.query_params.get(str(field))
    if value not in (None, ""):
        rows.append(("取值", "value", f"<code>{html.escape(str(value))}</code>"))
    if error.get("rule"):
        rows.append(("规则", "rule", html.escape(str(error["rule"]))))
    table = "".join(
        f"<tr><th>{b if english_first else a} / {a if english_first else b}</th><td>{v}</td></tr>"
        for a, b, v in rows
    )
    title = f"{en} / {zh}" if english_first else f"{zh} / {en}"
    if field and status_code == 404:
        name = html.escape(str(field))
        parts = (f"No such {name}: nothing to draw.", f"参数 {name} 指向的对象不存在，无法绘制地图。")
    else:
        parts = ("Check the parameters in the link.", "请检查链接中的参数。")
    lead = " / ".join(parts if english_first else parts[::-1])
    root = str(request.scope.get("root_path", "") or "").rstrip("/")
    page = f"""<!DOCTYPE html>
<html lang="{'en' if english_first else 'zh-CN'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)} ({status_code})</title>
<style>
  body {{ margin: 0; padding: 16px; font: 15px/1.5 system-ui, "PingFang SC", "Microsoft YaHei",
         "Noto Sans CJK SC", sans-serif; color: #212121; background: #f5f5f5; }}
  main {{ max-width: 640px; margin: 0 auto; background: #fff; padding: 16px; border-radius: 6px;
         box-shadow: 0 1px 4px rgba(0,0,0,.2); overflow-wrap: anywhere; }}
  h1 {{ font-size: 20px; margin: 0 0 8px; color: #b71c1c; }}
  table {{ border-collapse: collapse; margin: 8px 0; width: 100%; }}
  th, td {{ text-align: left; padding: 4px 6px; border-top: 1px solid #e0e0e0; vertical-align: top; }}
  th {{ white-space: nowrap; color: #546e7a; font-weight: 600; }}
  .message {{ color: #455a64; }}
</style>
</head>
<body>
<main class="gg-error" data-status="{status_code}" data-field="{html.escape(str(field or ''))}">
<h1>{html.escape(title)} · {status_code}</h1>
<p>{lead}</p>
<table>{table}</table>
<p class="message">{html.escape(str(error.get("message", "")))}</p>
<p><a href="{html.escape(root)}/map">返回总览 / back to the overview</a></p>
</main>
</body>
</html>
"""
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})


__all__ = ["error_page", "wants_page"]
