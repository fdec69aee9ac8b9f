"""The login page (``GET``/``POST /login``) and ``POST /logout`` for browsers; see ``api/session.py``.

The form is plain HTML (Chinese by default, ``?lang=en`` for English, the page links to the other),
styled inline: nothing is fetched from elsewhere. The form itself carries a CSRF token (double
submit: a hidden field equal to the ``gisgrid_csrf`` cookie set with the form), so a third-party site
cannot log a browser into an account of its choosing. A bad password shows the form again with a
message and status 401. ``next`` is followed only when it is a path on this site.
"""

from __future__ import annotations

import html
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from api.pages import page_state
from api.security import create_access_token
from api.session import (
    CSRF_COOKIE,
    CSRF_FIELD,
    LOGIN_PATH,
    check_csrf,
    clear_session,
    new_csrf_token,
    safe_next,
    set_session,
)
from gisgrid.errors import AuthenticationError, PermissionDeniedError
from layers.accounts import authenticate
from layers.models import AdminArea

router = APIRouter(tags=["pages"])

Lang = Literal["zh-CN", "en"]
TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "登录 — 网格化管理地图",
        "heading": "网格化管理 · 登录",
        "username": "用户名",
        "password": "密码",
        "submit": "登录",
        "bad": "用户名或密码错误。",
        "expired": "登录已过期，请重新登录。",
        "logged_out": "已退出登录。",
        "csrf": "表单已失效，请重试。",
        "other": "English",
    },
    "en": {
        "title": "Log in — grid management maps",
        "heading": "Grid management · log in",
        "username": "Username",
        "password": "Password",
        "submit": "Log in",
        "bad": "Incorrect username or password.",
        "expired": "Your session has expired; please log in again.",
        "logged_out": "You have logged out.",
        "csrf": "The form had expired; please try again.",
        "other": "中文",
    },
}

PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>{title}</title>
<style>
 body {{ margin:0; min-height:100vh; display:flex; align-items:center; justify-content:center; background:#eef1f4;
        font:15px/1.5 system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif; color:#212121; }}
 form {{ background:#fff; padding:24px 28px; border-radius:6px; box-shadow:0 1px 6px rgba(0,0,0,.2);
        width:min(320px, 90vw); }}
 h1 {{ font-size:19px; margin:0 0 16px; }}
 label {{ display:block; margin:10px 0 4px; }}
 input[type=text], input[type=password] {{ width:100%; box-sizing:border-box; padding:8px; font-size:16px;
        border:1px solid #b0bec5; border-radius:4px; }}
 button {{ margin-top:16px; width:100%; padding:9px; font-size:16px; border:0; border-radius:4px;
        background:#1565c0; color:#fff; cursor:pointer; }}
 .msg {{ padding:8px; border-radius:4px; margin-bottom:8px; }}
 .error {{ background:#fdecea; color:#b71c1c; }} .info {{ background:#e3f2fd; color:#0d47a1; }}
 .lang {{ text-align:right; font-size:13px; margin-top:12px; }}
</style></head>
<body><form method="post" action="{action}" id="login">
<h1>{heading}</h1>{message}
<label for="username">{username}</label>
<input type="text" id="username" name="username" autocomplete="username" required value="{user_value}">
<label for="password">{password}</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{next}"><input type="hidden" name="lang" value="{lang}">
<input type="hidden" name="{csrf_field}" value="{csrf}">
<button type="submit">{submit}</button>
<div class="lang"><a href="{other_href}">{other}</a></div>
</form></body></html>
"""


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def login_page(request: Request, *, lang: str, next_path: str, csrf: str, message: str | None = None,
               kind: str = "error", username: str = "", status_code: int = 200) -> HTMLResponse:
    text = TEXT.get(lang, TEXT["zh-CN"])
    other = "en" if lang == "zh-CN" else "zh-CN"
    root = _root(request)
    page = PAGE.format(
        lang=lang,
        title=html.escape(text["title"]),
        heading=html.escape(text["heading"]),
        message=f'<div class="msg {kind}" role="alert">{html.escape(message)}</div>' if message else "",
        username=html.escape(text["username"]),
        password=html.escape(text["password"]),
        submit=html.escape(text["submit"]),
        user_value=html.escape(username),
        next=html.escape(next_path),
        csrf_field=CSRF_FIELD,
        csrf=html.escape(csrf),
        action=html.escape(root + LOGIN_PATH),
        other_href=html.escape(f"{root}{LOGIN_PATH}?{urlencode({'lang': other, 'next': next_path})}"),
        other=html.escape(text["other"]),
    )
    response = HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})
    # the form's CSRF token (double submit); replaced by the session's own at login
    response.set_cookie(CSRF_COOKIE, csrf, path=root + "/", httponly=False, samesite="strict",
                        secure=page_state(request)[0].environment == "production")
    return response


@router.get("/login", response_class=HTMLResponse, summary="Login page (form)", include_in_schema=True)
def login_form(
    request: Request,
    next: Annotated[str | None, Query(description="the page to go to after logging in (a path here)")] = None,
    lang: Annotated[Lang | None, Query(description="UI language")] = None,
    expired: Annotated[bool, Query(description="the session had expired")] = False,
    logged_out: Annotated[bool, Query(description="just logged out")] = False,
) -> HTMLResponse:
    settings, _ = page_state(request)
    language = lang or settings.language
    text = TEXT[language]
    message, kind = (text["expired"], "error") if expired else (
        (text["logged_out"], "info") if logged_out else (None, "error"))
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    return login_page(request, lang=language, next_path=safe_next(next), csrf=csrf, message=message, kind=kind)


@router.post("/login", response_class=HTMLResponse, summary="Log in with the form: sets the session cookie")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str | None, Form()] = None,
    lang: Annotated[Lang | None, Form()] = None,
) -> Response:
    settings, factory = page_state(request)
    language = lang or settings.language
    target = safe_next(next)
    try:
        check_csrf(csrf_token, request.cookies.get(CSRF_COOKIE))
    except PermissionDeniedError:
        return login_page(request, lang=language, next_path=target, csrf=new_csrf_token(),
                          message=TEXT[language]["csrf"], username=username, status_code=403)
    try:
        with factory() as session:
            user = authenticate(session, username, password)
            scope = (
                session.scalar(select(AdminArea.code).where(AdminArea.id == user.scope_area_id))
                if user.scope_area_id is not None
                else None
            )
            name, role = user.username, user.role
            session.rollback()  # read only
    except AuthenticationError:
        return login_page(request, lang=language, next_path=target, csrf=csrf_token,
                          message=TEXT[language]["bad"], username=username, status_code=401)
    csrf = new_csrf_token()  # a fresh token for the session (not the form's)
    token = create_access_token(username=name, role=role, scope=scope, settings=settings, csrf=csrf)
    response = RedirectResponse(target, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    set_session(response, request, token=token, csrf=csrf, settings=settings)
    return response


@router.post("/logout", summary="Log out: clears the session cookies, then the login page")
def logout(
    request: Request,
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
    lang: Annotated[Lang | None, Query(description="language of the login page shown next")] = None,
) -> Response:
    """Needs the CSRF token (form field ``csrf_token`` or ``X-CSRF-Token``), so no other site can log you out."""
    sent = csrf_token or request.headers.get("X-CSRF-Token")
    check_csrf(sent, request.cookies.get(CSRF_COOKIE))
    query = "?logged_out=1" + (f"&lang={lang}" if lang else "")
    response = RedirectResponse(f"{_root(request)}{LOGIN_PATH}{query}", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    clear_session(response, request)
    return response
