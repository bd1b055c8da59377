"""Destinations over HTTP: list, create, replace, delete, enable, health, and bulk replay.

Reads are open like the delivery log; writes need the admin key. Secrets go in and never
come out: a view shows how many there are, not what they are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, Field

from leadflow_runtime.problems import Problem

from leadflow_handover import queries, replays
from leadflow_handover.adapters import destination_store as store
from leadflow_handover.adapters.destination_store import (
    DestinationExists, DestinationManagedByConfig, DestinationNotFound, StoredDestination,
)
from leadflow_handover.deps import AdminDep, ContainerDep, EngineDep
from leadflow_handover.destinations import Destination

router = APIRouter(prefix="/v1/destinations", tags=["destinations"])


class DestinationView(BaseModel):
    name: str
    kind: str = Field(description="webhook | slack | hubspot | salesforce")
    stages: list[str]
    target: str = Field(description="Where it sends to (a Slack webhook URL is a secret and is not shown).")
    description: str | None
    source: str = Field(description="file | env | api: only `api` destinations can be changed here.")
    enabled: bool
    disabled_at: datetime | None = Field(description="When a receiver answered 410 Gone.")
    disabled_reason: str | None
    secrets: int = Field(description="How many secrets are stored (never their values).")
    settings: dict[str, Any] = Field(description="The kind's other settings, without secrets.")
    created_at: datetime
    updated_at: datetime


class FailureView(BaseModel):
    status_code: int | None
    error: str | None
    verdict: str


class HealthView(BaseModel):
    destination: str
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    window_hours: float
    deliveries: dict[str, int] = Field(description="All deliveries of the destination by status.")
    pending: int
    failed: int
    attempts: int = Field(description="Attempts within the window.")
    success_rate: float | None = Field(description="Successful attempts / attempts within the window.")
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure: FailureView | None
    oldest_pending_created_at: datetime | None


class ReplayedView(BaseModel):
    destination: str
    replayed: int
    delivery_ids: list[str]


def view(d: StoredDestination) -> DestinationView:
    public, _ = d.config.split()
    settings = {k: v for k, v in public.items() if k not in {"name", "kind", "stages", "description", "url"}}
    return DestinationView(
        name=d.name, kind=d.config.kind, stages=[str(s) for s in d.config.stages], target=d.config.target,
        description=d.config.description, source=d.source, enabled=d.enabled, disabled_at=d.disabled_at,
        disabled_reason=d.disabled_reason, secrets=d.config.secret_count(), settings=settings,
        created_at=d.created_at, updated_at=d.updated_at,
    )


def _not_found(name: str) -> Problem:
    return Problem(404, f"No destination named {name!r}.")


def _managed(name: str, source: str) -> Problem:
    where = "LEADFLOW_HANDOVER_DESTINATIONS" if source == "env" else "the file LEADFLOW_HANDOVER_DESTINATIONS_FILE"
    return Problem(409, f"Destination {name!r} is configured in {where}; change it there and restart the service.")


@router.get("", response_model=list[DestinationView], summary="Every destination, its state, never its secrets")
async def list_destinations(engine: EngineDep) -> list[DestinationView]:
    async with engine.connect() as conn:
        return [view(d) for d in await store.load_all(conn)]


@router.get("/{name}", response_model=DestinationView, summary="One destination")
async def get_destination(name: str, engine: EngineDep) -> DestinationView:
    try:
        async with engine.connect() as conn:
            return view(await store.get(conn, name))
    except DestinationNotFound:
        raise _not_found(name) from None


@router.post("", response_model=DestinationView, status_code=201, summary="Create a destination (admin key)")
async def create_destination(
    destination: Annotated[Destination, Body()], _: AdminDep, engine: EngineDep, response: Response
) -> DestinationView:
    try:
        async with engine.begin() as conn:
            created = await store.create(conn, destination)
    except DestinationExists:
        raise Problem(409, f"A destination named {destination.name!r} exists already; PUT /v1/destinations/"
                           f"{destination.name} replaces it.") from None
    response.headers["Location"] = f"/v1/destinations/{created.name}"
    return view(created)


@router.put(
    "/{name}", response_model=DestinationView, summary="Create or replace a destination (admin key)",
    description="Replaces the whole configuration, secrets included (send every active secret; several while "
    "rotating). A replaced destination is enabled again.",
)
async def replace_destination(
    name: str, destination: Annotated[Destination, Body()], _: AdminDep, engine: EngineDep, response: Response
) -> DestinationView:
    if destination.name != name:
        raise Problem(422, f"The body names destination {destination.name!r} but the path {name!r}; they must agree.",
                      type_="https://leadflow.dev/problems/validation",
                      errors=[{"in": "body", "field": "name", "message": "must equal the name in the path"}])
    try:
        async with engine.begin() as conn:
            stored, created = await store.replace(conn, destination)
    except DestinationManagedByConfig as exc:
        raise _managed(name, str(exc)) from None
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/v1/destinations/{name}"
    return view(stored)


@router.delete("/{name}", status_code=204, summary="Delete a destination; its pending deliveries fail (admin key)")
async def delete_destination(name: str, _: AdminDep, engine: EngineDep) -> Response:
    try:
        async with engine.begin() as conn:
            await store.delete(conn, name)
    except DestinationNotFound:
        raise _not_found(name) from None
    except DestinationManagedByConfig as exc:
        raise _managed(name, str(exc)) from None
    return Response(status_code=204)


@router.post(
    "/{name}/enable", response_model=DestinationView, summary="Enable a destination a 410 disabled (admin key)",
    description="Deliveries parked while it was disabled stay `disabled`; send them with `replay-failed`.",
)
async def enable_destination(name: str, _: AdminDep, engine: EngineDep) -> DestinationView:
    try:
        async with engine.begin() as conn:
            return view(await store.enable(conn, name))
    except DestinationNotFound:
        raise _not_found(name) from None


@router.get("/{name}/health", response_model=HealthView, summary="Success rate, latency, last success and failure, backlog")
async def destination_health(
    name: str, engine: EngineDep,
    window_hours: float = Query(default=24, gt=0, le=24 * 90, description="Attempts in this window count."),
) -> HealthView:
    async with engine.connect() as conn:
        try:
            d = await store.get(conn, name)
        except DestinationNotFound:
            raise _not_found(name) from None
        h = await queries.health(conn, name, timedelta(hours=window_hours))
    return HealthView(
        destination=name, enabled=d.enabled, disabled_at=d.disabled_at, disabled_reason=d.disabled_reason,
        window_hours=window_hours, pending=h["deliveries"]["pending"],
        failed=h["deliveries"]["failed"] + h["deliveries"]["disabled"], **h,
    )


@router.post(
    "/{name}/replay-failed", response_model=ReplayedView, status_code=202,
    summary="Replay the destination's failed deliveries; each keeps its webhook-id (admin key)",
    description="By default both `failed` deliveries and those parked as `disabled` while the destination was "
    "disabled. Oldest first, at most `limit` per call; deliveries cancelled for privacy are never replayed.",
)
async def replay_failed(
    name: str, _: AdminDep, engine: EngineDep, container: ContainerDep,
    status: Annotated[list[str], Query(description="failed and/or disabled")] = ["failed", "disabled"],  # noqa: B006
    since: datetime | None = Query(default=None, description="Only deliveries created at or after this time."),
    limit: int = Query(default=1000, ge=1, le=10000),
) -> ReplayedView:
    if not set(status) <= {"failed", "disabled"}:
        raise Problem(422, "`status` may be `failed` and/or `disabled`.", type_="https://leadflow.dev/problems/validation",
                      errors=[{"in": "query", "field": "status", "message": "failed or disabled"}])
    try:
        async with engine.begin() as conn:
            ids = await replays.replay_failed(conn, name, status, since, limit)
    except replays.ReplayRefused as exc:
        raise Problem(exc.status, exc.detail) from None
    if ids and container.dispatcher is not None:
        container.dispatcher.wake()
    return ReplayedView(destination=name, replayed=len(ids), delivery_ids=ids)
