"""Dashboard pages: login, the single-page app and its static assets, and the page's configuration."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from leadflow_runtime.problems import Problem

from leadflow_scoring.dashboard.session import (
    COOKIE, ENABLE_HINT, SESSION_SECONDS, admin_key, issue, key_matches, require_dashboard, signed_in,
)

STATIC = Path(__file__).with_name("static")
ASSETS = {"app.css": "text/css", "app.js": "text/javascript", "charts.js": "text/javascript", "views.js": "text/javascript",
          "dom.js": "text/javascript", "icon.svg": "image/svg+xml"}
MAX_LOGIN_BODY = 4096

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _headers(request: Request) -> dict[str, str]:
    handover = _origin(request.app.state.container.settings.dashboard_handover_url)
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {handover}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def _enabled(request: Request) -> None:
    if admin_key(request) is None:
        raise Problem(503, ENABLE_HINT, title="Dashboard not enabled")


def _login_page(request: Request, message: str = "", status: int = 200) -> HTMLResponse:
    page = (STATIC / "login.html").read_text(encoding="utf-8")
    notice = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return HTMLResponse(page.replace("{{MESSAGE}}", notice), status_code=status, headers=_headers(request))


@router.get("", summary="The dashboard (log in first)")
async def index(request: Request) -> Response:
    _enabled(request)
    if not signed_in(request):
        return RedirectResponse("/dashboard/login", status_code=303)
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"), headers=_headers(request))


@router.get("/login")
async def login_form(request: Request) -> Response:
    _enabled(request)
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    _enabled(request)
    body = await request.body()
    if len(body) > MAX_LOGIN_BODY:
        raise Problem(413, f"A login form is at most {MAX_LOGIN_BODY} bytes.")
    given = (parse_qs(body.decode("utf-8", "replace")).get("key") or [""])[0]
    key = admin_key(request) or ""
    if not given or not key_matches(key, given):
        await asyncio.sleep(0.5)  # slows guessing; the key is long enough that guessing is hopeless anyway
        return _login_page(request, "That is not the admin key.", status=401)
    response = RedirectResponse("/dashboard", status_code=303)
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(COOKIE, issue(key), max_age=SESSION_SECONDS, httponly=True, samesite="strict", secure=secure, path="/")
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise Problem(404, f"No dashboard asset {name!r}.")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@router.get("/config", dependencies=[Depends(require_dashboard)])
async def config(request: Request) -> dict[str, Any]:
    """What the page needs besides the API: where handover is, and the active model's grade grid."""
    container = request.app.state.container
    model = container.model
    return {
        "handover_url": container.settings.dashboard_handover_url.rstrip("/"),
        "model": {"id": model.id, "hash": model.hash,
                  "thresholds": {k: getattr(model.thresholds, k) for k in model.thresholds.__slots__}},
        "grades": {"fit": [list(x) for x in model.grades.fit], "engagement": [list(x) for x in model.grades.engagement]},
    }
