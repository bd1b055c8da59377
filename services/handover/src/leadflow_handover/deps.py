"""Route dependencies: the engine, the container, and the admin key that guards every write."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_runtime.problems import Problem

ADMIN_DISABLED = "https://leadflow.dev/problems/admin-api-disabled"


def container_of(request: Request) -> Any:
    return request.app.state.container


def engine_of(request: Request) -> AsyncEngine:
    return request.app.state.container.engine


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key")


async def require_admin(request: Request) -> None:
    key = request.app.state.container.settings.handover_admin_key
    if key is None:
        raise Problem(
            503,
            "The write API (destinations, replays) is switched off because no admin key is set. Set "
            "LEADFLOW_HANDOVER_ADMIN_KEY (at least 16 random characters) on the handover service, restart it, and "
            "send the key as `Authorization: Bearer <key>`.",
            type_=ADMIN_DISABLED, title="Admin API disabled",
        )
    presented = _presented_key(request)
    if not presented:
        raise Problem(401, "Send the admin key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
                      headers={"WWW-Authenticate": 'Bearer realm="leadflow-handover"'})
    expected = hashlib.sha256(key.get_secret_value().encode()).digest()
    if not hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), expected):
        raise Problem(401, "The admin key is not valid.",
                      headers={"WWW-Authenticate": 'Bearer realm="leadflow-handover", error="invalid_token"'})


EngineDep = Annotated[AsyncEngine, Depends(engine_of)]
ContainerDep = Annotated[Any, Depends(container_of)]
AdminDep = Annotated[None, Depends(require_admin)]
