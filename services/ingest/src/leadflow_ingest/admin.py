"""The admin API: sources (``/v1/sources``) and their API keys. Every route needs the admin key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from leadflow_events import TouchpointType
from leadflow_runtime.problems import Problem

from leadflow_ingest.adapters.store import KeyRecord, SourceStore
from leadflow_ingest.auth import Admin
from leadflow_ingest.deps import SourceId
from leadflow_ingest.problem_docs import problems
from leadflow_ingest.registry import SourceRegistry
from leadflow_ingest.sources import PROVIDER_KINDS, SOURCE_ID_PATTERN, Source, SourceKind, SourceSpec

router = APIRouter(prefix="/v1", tags=["sources (admin)"])
ADMIN_PROBLEMS = problems(401, 404, 422, 503)
KeyId = Annotated[str, Path(pattern=r"^key_[0-9a-f]{16}$", description="The key's id (not the key).", examples=["key_4f1c2a9e0b7d6c5a"])]


class SourceCreate(SourceSpec):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "typeform-demo", "kind": "typeform", "name": "Typeform demo request",
        "signing_secret": "a-long-random-typeform-secret", "field_mapping": {"work_email": "email", "company": "profile.company"},
        "touchpoint_type": "demo_requested", "rate_limit_per_minute": 120,
    }]})

    id: str = Field(pattern=SOURCE_ID_PATTERN, description="Lower-case letters, digits, `-` and `_`; part of the URLs.")


class SourceView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "website", "kind": "html-form", "name": "Contact form on www.example.com", "has_signing_secret": False,
        "field_mapping": {"firstname": "profile.first_name"}, "touchpoint_type": "form_submitted",
        "allowed_origins": ["https://www.example.com"], "thank_you_url": "https://www.example.com/thanks",
        "rate_limit_per_minute": 600, "endpoint": "/v1/sources/website/form",
        "created_at": "2026-11-27T09:30:00Z", "updated_at": "2026-11-27T09:30:00Z",
    }]})

    id: str
    kind: SourceKind
    name: str
    has_signing_secret: bool = Field(description="Whether a signing secret is stored (it is never returned).")
    field_mapping: dict[str, str]
    touchpoint_type: TouchpointType
    allowed_origins: list[str]
    thank_you_url: str | None
    rate_limit_per_minute: int
    endpoint: str = Field(description="Where this source sends its touchpoints.")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, source: Source) -> SourceView:
        return cls(
            id=source.id, kind=source.kind, name=source.name, has_signing_secret=bool(source.signing_secret),
            field_mapping=source.field_mapping, touchpoint_type=source.touchpoint_type,
            allowed_origins=list(source.allowed_origins), thank_you_url=source.thank_you_url,
            rate_limit_per_minute=source.rate_limit_per_minute, endpoint=source.endpoint,
            created_at=source.created_at, updated_at=source.updated_at,
        )


class KeyView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "key_4f1c2a9e0b7d6c5a", "source_id": "website", "prefix": "lf_Qx3k", "created_at": "2026-11-27T09:30:00Z",
        "revoked_at": None,
    }]})

    id: str
    source_id: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: KeyRecord) -> KeyView:
        return cls(id=key.id, source_id=key.source_id, prefix=key.prefix, created_at=key.created_at, revoked_at=key.revoked_at)


class KeyCreated(KeyView):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "key_4f1c2a9e0b7d6c5a", "source_id": "website", "prefix": "lf_Qx3k",
        "key": "lf_Qx3kP0V8mD2rT7yZ1aB4cE6gH9jK3nL5pR8sU0wX2z", "created_at": "2026-11-27T09:30:00Z", "revoked_at": None,
    }]})

    key: str = Field(description="The API key. Shown this once; only its SHA-256 is stored.")


def _store(request: Request) -> SourceStore:
    return request.app.state.store


def _registry(request: Request) -> SourceRegistry:
    return request.app.state.registry


def _needs_secret(source_id: str, spec: SourceSpec) -> Problem:
    return Problem(
        422, f"A {spec.kind} source needs the provider's signing_secret to check its webhooks; add it to `{source_id}`.",
        type_="https://leadflow.dev/problems/validation",
        errors=[{"in": "body", "field": "signing_secret", "message": f"required for kind {spec.kind}"}],
    )


def _missing(request: Request, source_id: str) -> Problem:
    return Problem(404, f"There is no source `{source_id}`; create it with POST /v1/sources.",
                   type_="https://leadflow.dev/problems/unknown-source")


@router.get("/sources", response_model=list[SourceView], responses=ADMIN_PROBLEMS, summary="List the sources")
async def list_sources(request: Request, _: Admin) -> list[SourceView]:
    return [SourceView.of(s) for s in await _store(request).list_sources()]


@router.post(
    "/sources", status_code=status.HTTP_201_CREATED, response_model=SourceView, responses=problems(401, 409, 422, 503),
    summary="Create a source",
)
async def create_source(body: SourceCreate, request: Request, response: Response, _: Admin) -> SourceView:
    spec = SourceSpec.model_validate(body.model_dump(exclude={"id"}))
    if spec.kind in PROVIDER_KINDS and spec.signing_secret is None:
        raise _needs_secret(body.id, spec)
    source, _created = await _store(request).upsert_source(body.id, spec, create_only=True)
    if source is None:
        raise Problem(409, f"A source `{body.id}` exists already; change it with PUT /v1/sources/{body.id}.",
                      type_="https://leadflow.dev/problems/source-exists")
    _registry(request).forget_source(body.id)
    response.headers["Location"] = f"/v1/sources/{body.id}"
    return SourceView.of(source)


@router.get("/sources/{source_id}", response_model=SourceView, responses=ADMIN_PROBLEMS, summary="Show a source")
async def get_source(source_id: SourceId, request: Request, _: Admin) -> SourceView:
    source = await _store(request).get_source(source_id)
    if source is None:
        raise _missing(request, source_id)
    return SourceView.of(source)


@router.put(
    "/sources/{source_id}", response_model=SourceView, responses={**ADMIN_PROBLEMS, 201: {"description": "Created."}},
    summary="Create or replace a source",
    description="Replaces every setting; an omitted `signing_secret` keeps the stored one. Other instances see the "
    "change within LEADFLOW_INGEST_KEY_CACHE_SECONDS.",
)
async def put_source(source_id: SourceId, spec: SourceSpec, request: Request, response: Response, _: Admin) -> SourceView:
    store = _store(request)
    if spec.kind in PROVIDER_KINDS and spec.signing_secret is None:
        existing = await store.get_source(source_id)
        if existing is None or not existing.signing_secret:
            raise _needs_secret(source_id, spec)
    source, created = await store.upsert_source(source_id, spec)
    assert source is not None
    _registry(request).forget_source(source_id)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return SourceView.of(source)


@router.delete(
    "/sources/{source_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_PROBLEMS,
    summary="Delete a source and its API keys",
)
async def delete_source(source_id: SourceId, request: Request, _: Admin) -> Response:
    if not await _store(request).delete_source(source_id):
        raise _missing(request, source_id)
    _registry(request).forget_source(source_id)
    _registry(request).forget_keys()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/sources/{source_id}/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreated, responses=ADMIN_PROBLEMS,
    summary="Create an API key for a source",
    description="The key is in this answer only; store it in the sender's secrets. To rotate: create a new key, switch "
    "the sender over, then revoke the old one.",
)
async def create_key(source_id: SourceId, request: Request, _: Admin) -> KeyCreated:
    store = _store(request)
    if await store.get_source(source_id) is None:
        raise _missing(request, source_id)
    record, key = await store.create_key(source_id)
    _registry(request).forget_keys()  # a cached "unknown key" must not outlive its creation here
    return KeyCreated(**KeyView.of(record).model_dump(), key=key)


@router.get("/sources/{source_id}/keys", response_model=list[KeyView], responses=ADMIN_PROBLEMS, summary="List a source's API keys")
async def list_keys(source_id: SourceId, request: Request, _: Admin) -> list[KeyView]:
    store = _store(request)
    if await store.get_source(source_id) is None:
        raise _missing(request, source_id)
    return [KeyView.of(k) for k in await store.list_keys(source_id)]


@router.delete(
    "/sources/{source_id}/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_PROBLEMS,
    summary="Revoke an API key",
    description="Takes effect at once on this instance and within LEADFLOW_INGEST_KEY_CACHE_SECONDS (30 s) on the others.",
)
async def revoke_key(source_id: SourceId, key_id: KeyId, request: Request, _: Admin) -> Response:
    if await _store(request).revoke_key(source_id, key_id) is None:
        raise Problem(404, f"Source `{source_id}` has no key `{key_id}`.", type_="https://leadflow.dev/problems/unknown-key")
    _registry(request).forget_keys()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
