"""API-key authentication for the JSON API (constant-time comparison of key digests)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request

from leadflow_runtime.problems import Problem


class ApiKeys:
    def __init__(self, keys: list[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def accepts(self, presented: str) -> bool:
        digest = hashlib.sha256(presented.encode()).digest()
        return any(hmac.compare_digest(digest, d) for d in self._digests)


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value:
            return value.strip()
    return request.headers.get("x-api-key")


async def require_api_key(request: Request) -> None:
    keys: ApiKeys = request.app.state.api_keys
    if not keys.enabled:
        return
    presented = _presented_key(request)
    if not presented:
        raise Problem(401, "Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
                      headers={"WWW-Authenticate": 'Bearer realm="leadflow"'})
    if not keys.accepts(presented):
        raise Problem(401, "The API key is not valid (revoked, mistyped, or for another installation).",
                      headers={"WWW-Authenticate": 'Bearer realm="leadflow", error="invalid_token"'})


Authenticated = Annotated[None, Depends(require_api_key)]
