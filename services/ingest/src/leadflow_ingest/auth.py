"""Who is calling: API keys for the JSON API (static or issued per source) and the admin key.

    static keys   LEADFLOW_INGEST_API_KEYS: unscoped, any source_id allowed
    issued keys   `lf_...`, made with POST /v1/sources/{id}/keys: speak for that source only
    no key        accepted only when no static key and no admin key is configured (development)
    admin key     LEADFLOW_INGEST_ADMIN_KEY: the /v1/sources admin API; unset = admin API off (503)

Digests are compared in constant time; issued keys are looked up by their SHA-256 through
the registry's short cache (a revoked key stops working within its TTL).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from leadflow_runtime.problems import Problem

from leadflow_ingest.adapters.store import KEY_PREFIX
from leadflow_ingest.registry import RegistryUnavailable, SourceRegistry


class ApiKeys:
    def __init__(self, keys: list[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def accepts(self, presented: str) -> bool:
        digest = hashlib.sha256(presented.encode()).digest()
        return any(hmac.compare_digest(digest, d) for d in self._digests)


@dataclass(frozen=True)
class Caller:
    source_id: str | None
    """The source an issued key speaks for; None for a static key or an unauthenticated development call."""
    key_id: str | None = None

    def may_speak_for(self, source_id: str | None) -> bool:
        return self.source_id is None or source_id is None or source_id == self.source_id


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None


def _invalid() -> Problem:
    return Problem(401, "The API key is not valid (revoked, mistyped, or for another installation).",
                   headers={"WWW-Authenticate": 'Bearer realm="leadflow", error="invalid_token"'})


def registry_unavailable(request: Request, exc: RegistryUnavailable) -> Problem:
    retry = request.app.state.settings.ingest_retry_after_seconds
    return Problem(503, f"Sources and API keys cannot be looked up right now ({exc}). Send the request again later.",
                   type_="https://leadflow.dev/problems/registry-unavailable", headers={"Retry-After": str(retry)})


async def authenticate(request: Request) -> Caller:
    static: ApiKeys = request.app.state.api_keys
    registry: SourceRegistry = request.app.state.registry
    presented = presented_key(request)
    if presented:
        if static.accepts(presented):
            return Caller(None, "static")
        if presented.startswith(KEY_PREFIX) and len(presented) < 100:
            try:
                grant = await registry.key(presented)
            except RegistryUnavailable as exc:
                raise registry_unavailable(request, exc) from exc
            if grant is not None:
                return Caller(grant.source_id, grant.key_id)
        raise _invalid()
    if request.app.state.settings.authentication_required:
        raise Problem(401, "Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
                      headers={"WWW-Authenticate": 'Bearer realm="leadflow"'})
    return Caller(None)


async def require_admin(request: Request) -> None:
    admin_key = request.app.state.settings.ingest_admin_key
    if admin_key is None:
        raise Problem(
            503, "The admin API is off. Set LEADFLOW_INGEST_ADMIN_KEY to a random value of at least 16 characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) and restart ingest.",
            type_="https://leadflow.dev/problems/admin-api-disabled",
        )
    presented = presented_key(request)
    if not presented:
        raise Problem(401, "Send the admin key as `Authorization: Bearer <admin key>`.",
                      headers={"WWW-Authenticate": 'Bearer realm="leadflow-admin"'})
    if not hmac.compare_digest(hashlib.sha256(presented.encode()).digest(),
                               hashlib.sha256(admin_key.get_secret_value().encode()).digest()):
        raise Problem(401, "The admin key is not valid.",
                      headers={"WWW-Authenticate": 'Bearer realm="leadflow-admin", error="invalid_token"'})


Authenticated = Annotated[Caller, Depends(authenticate)]
Admin = Annotated[None, Depends(require_admin)]
