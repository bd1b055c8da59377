"""Dashboard sessions: a cookie signed with the admin key, and the check every dashboard request passes.

The cookie holds only an expiry time and an HMAC-SHA256 of it keyed with the admin key, so
changing ``LEADFLOW_SCORING_ADMIN_KEY`` ends every session. Scripts may send the key itself as
``Authorization: Bearer <key>`` instead of logging in.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import Request

from leadflow_runtime.problems import Problem

COOKIE = "leadflow_dashboard"
SESSION_SECONDS = 12 * 3600
ENABLE_HINT = (
    "The dashboard is off: set LEADFLOW_SCORING_ADMIN_KEY (a secret of at least 16 characters, e.g. the output of "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`) and restart the scoring service."
)


def _mac(key: str, expires: int) -> str:
    return hmac.new(key.encode(), f"leadflow-dashboard-session:{expires}".encode(), hashlib.sha256).hexdigest()


def issue(key: str, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
    return f"{expires}.{_mac(key, expires)}"


def valid(key: str, cookie: str | None, now: float | None = None) -> bool:
    if not cookie or "." not in cookie:
        return False
    stamp, _, mac = cookie.partition(".")
    if not stamp.isdigit():
        return False
    expires = int(stamp)
    return expires > (now if now is not None else time.time()) and hmac.compare_digest(mac, _mac(key, expires))


def key_matches(key: str, given: str) -> bool:
    return hmac.compare_digest(key.encode(), given.encode())


def admin_key(request: Request) -> str | None:
    secret = request.app.state.container.settings.scoring_admin_key
    return secret.get_secret_value() if secret is not None else None


def signed_in(request: Request) -> bool:
    key = admin_key(request)
    if key is None:
        return False
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and key_matches(key, auth[7:].strip()):
        return True
    return valid(key, request.cookies.get(COOKIE))


def require_dashboard(request: Request) -> None:
    """503 while the dashboard is off; 401 without a session or the key."""
    if admin_key(request) is None:
        raise Problem(503, ENABLE_HINT, title="Dashboard not enabled")
    if not signed_in(request):
        raise Problem(401, "Log in at /dashboard/login, or send the admin key as `Authorization: Bearer <key>`.",
                      headers={"WWW-Authenticate": 'Bearer realm="leadflow-dashboard"'})


def require_admin(request: Request) -> None:
    """For the read endpoints made for the dashboard: open while no admin key is set (like the rest of
    the read API), otherwise only for a dashboard session or the key."""
    if admin_key(request) is not None:
        require_dashboard(request)
