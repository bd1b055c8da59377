"""GDPR requests over HTTP: objection (Art. 21), erasure (Art. 17), access and export (Art. 15/20)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from leadflow_runtime.problems import Problem

from leadflow_scoring import privacy
from leadflow_scoring.domain.scoring import lead_id_for

router = APIRouter(prefix="/v1/leads", tags=["privacy"])


class ObjectionIn(BaseModel):
    how: str = Field(default="request to the controller", max_length=256, description="How the objection reached you.")


def _container(request: Request) -> Any:
    return request.app.state.container


def _lead_id(lead_id: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(lead_id))
    except ValueError as exc:
        raise Problem(404, f"No lead with id {lead_id!r}.") from exc


@router.post("/{lead_id}/objection", status_code=status.HTTP_202_ACCEPTED,
             summary="The person objects to profiling and direct marketing: stop scoring and handover now")
async def object_(lead_id: str, body: ObjectionIn, request: Request) -> dict[str, str]:
    c = _container(request)
    async with c.engine.begin() as conn:
        found = await privacy.object_lead(conn, c.registry, c.settings.topic_lead_stages, _lead_id(lead_id),
                                          datetime.now(UTC), body.how)
    if not found:
        raise Problem(404, f"No lead with id {lead_id!r}.")
    if c.relay:
        c.relay.wake()
    return {"lead_id": lead_id, "stage": "objected"}


async def _erase(request: Request, lead_id: str) -> None:
    c = _container(request)
    async with c.engine.begin() as conn:
        found = await privacy.erase_lead(conn, c.settings.topic_lead_stages, lead_id, "request", datetime.now(UTC))
    if not found:
        raise Problem(404, f"No lead with id {lead_id!r} (already erased, or never known).")
    if c.relay:
        c.relay.wake()


@router.delete("/{lead_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Erase a lead: delete its personal data everywhere, keep a non-personal tombstone")
async def erase(lead_id: str, request: Request) -> Response:
    await _erase(request, _lead_id(lead_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Erase a lead by e-mail")
async def erase_by_email(request: Request, email: str = Query(min_length=3, max_length=320)) -> Response:
    await _erase(request, lead_id_for(email.strip().lower()))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{lead_id}/export", summary="Everything held about the person, as JSON (access and portability)")
async def export(lead_id: str, request: Request) -> dict[str, Any]:
    data = await privacy.export_lead(_container(request).engine, _lead_id(lead_id))
    if data is None:
        raise Problem(404, f"No lead with id {lead_id!r}.")
    return data
