"""Handovers over HTTP: list and read them (deadlines, escalations, deliveries) and record sales feedback.

Reads are open like the delivery log; accept, reject and outcome need the admin key (a CRM
integration or a script calls them). People use the signed links of ``feedback_pages``
instead. A handover is addressed by its own id (``ho_...``) or by the ``handover_id`` /
``webhook-id`` of any notification about it (``msg_...``).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadflow_events import FeedbackChannel, FeedbackDecision, RejectionReason
from leadflow_runtime.problems import Problem

from leadflow_handover import handovers
from leadflow_handover.adapters import handover_store as store
from leadflow_handover.deps import AdminDep, ContainerDep, EngineDep
from leadflow_handover.handovers import FeedbackRefused, SalesFeedback

router = APIRouter(prefix="/v1/handovers", tags=["handovers"])
STATUS_PATTERN = "^(pending|accepted|rejected|won|lost|cancelled)$"


class EscalationView(BaseModel):
    number: int
    deadline: datetime = Field(description="The acceptance deadline that passed.")
    escalated_at: datetime
    missed_by: str | None
    escalated_to: str | None = Field(description="The destination that was told, if any.")
    reassigned_to: str | None
    reason: str


class HandoverDeliveryView(BaseModel):
    id: str = Field(description="The delivery (and webhook-id); GET /v1/deliveries/{id} shows its attempts.")
    kind: Literal["handover", "escalation", "reassignment"]
    destination: str
    status: str
    delivered_at: datetime | None


class HandoverView(BaseModel):
    id: str
    lead_id: str
    stage_event_id: str = Field(description="The stage change that made the lead SQL.")
    status: str = Field(description="pending | accepted | rejected | won | lost | cancelled")
    team: str | None
    member: str | None = Field(description="Who has the lead now.")
    qualified_at: datetime = Field(description="When the lead became SQL.")
    handed_over_at: datetime = Field(description="When the handover was recorded and assigned; the deadline runs from here.")
    first_delivered_at: datetime | None = Field(description="The first successful delivery of the handover's notification.")
    respond_by: datetime | None = Field(description="The open acceptance deadline; null once answered, or escalated for good.")
    sla_seconds: float | None = Field(description="Time to accept that applied to this handover; null: no deadline.")
    escalations: list[EscalationView]
    accepted_at: datetime | None
    rejected_at: datetime | None
    rejection_reason: RejectionReason | None
    note: str | None
    outcome_at: datetime | None = Field(description="When won or lost was reported.")
    outcome_reason: str | None
    amount: float | None
    currency: str | None
    decided_by: str | None
    channel: str | None = Field(description="api | link: how the last feedback came.")
    cancelled_reason: str | None
    updated_at: datetime
    deliveries: list[HandoverDeliveryView]


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)
    by: str | None = Field(default=None, max_length=200, description="Who accepted (e.g. the rep's CRM user).")


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RejectionReason
    note: str | None = Field(default=None, max_length=2000, description="Required with reason `other`.")
    by: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _explained(self) -> RejectBody:
        if self.reason is RejectionReason.OTHER and not (self.note or "").strip():
            raise ValueError("a rejection for reason `other` needs a note saying why")
        return self


class OutcomeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["won", "lost"]
    amount: float | None = Field(default=None, ge=0, description="Deal value, in `currency`.")
    currency: str | None = Field(default=None, pattern="^[A-Z]{3}$", description="ISO 4217, e.g. EUR.")
    reason: str | None = Field(default=None, max_length=1000, description="Why it was won or lost.")
    by: str | None = Field(default=None, max_length=200)


def view(row: dict[str, Any], escalations: list[dict[str, Any]], sent: list[dict[str, Any]]) -> HandoverView:
    kinds = {"sla": "escalation", "reassign": "reassignment"}
    out = []
    for d in sent:
        _, _, suffix = d["stage_event_id"].partition(store.SUFFIX)
        out.append(HandoverDeliveryView(id=d["id"], kind=kinds.get(suffix.split("-")[0], "handover") if suffix else "handover",
                                        destination=d["destination"], status=d["status"], delivered_at=d["delivered_at"]))
    first = [d.delivered_at for d in out if d.kind == "handover" and d.delivered_at is not None]
    amount = row["amount"]
    return HandoverView(
        **{k: row[k] for k in ("id", "stage_event_id", "status", "team", "member", "qualified_at", "handed_over_at",
                               "sla_seconds", "accepted_at", "rejected_at", "rejection_reason", "note", "outcome_at",
                               "outcome_reason", "currency", "decided_by", "channel", "cancelled_reason", "updated_at")},
        lead_id=str(row["lead_id"]), respond_by=row["sla_deadline"], first_delivered_at=min(first, default=None),
        amount=float(amount) if isinstance(amount, Decimal) else amount,
        escalations=[EscalationView(**e) for e in escalations], deliveries=out,
    )


async def load_views(conn: Any, rows: list[dict[str, Any]]) -> list[HandoverView]:
    escalations = await store.escalations_of(conn, [r["id"] for r in rows])
    sent = await store.deliveries_of(conn, [(r["stage_event_id"], r["escalations"]) for r in rows])
    return [view(r, escalations.get(r["id"], []), sent.get(r["stage_event_id"], [])) for r in rows]


async def load_view(engine: Any, handover_id: str) -> HandoverView | None:
    async with engine.connect() as conn:
        row = await store.one(conn, handover_id)
        return (await load_views(conn, [row]))[0] if row is not None else None


def _cursor(row: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(f"{row['handed_over_at'].isoformat()}|{row['id']}".encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, _, hid = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        return datetime.fromisoformat(at), hid
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "The cursor is not one this API handed out; start again without `cursor`.") from None


@router.get(
    "", response_model=list[HandoverView], summary="Handovers, newest first: status, deadlines, escalations",
    description="Pages: when more match, the response carries `Link: <...>; rel=\"next\"` and `Leadflow-Next-Cursor`.",
)
async def list_handovers(
    request: Request, response: Response, engine: EngineDep,
    status: str | None = Query(default=None, pattern=STATUS_PATTERN), lead_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000), cursor: str | None = None,
) -> list[HandoverView]:
    before = _uncursor(cursor) if cursor else None
    async with engine.connect() as conn:
        rows = await store.page(conn, status=status, lead_id=lead_id, limit=limit + 1, before=before)
        more = len(rows) > limit
        rows = rows[:limit]
        views = await load_views(conn, rows)
    if more and rows:
        response.headers["Leadflow-Next-Cursor"] = next_cursor = _cursor(rows[-1])
        response.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
    return views


@router.get("/{handover_id}", response_model=HandoverView, summary="One handover (its id, or a notification's handover_id)")
async def get_handover(handover_id: str, engine: EngineDep) -> HandoverView:
    async with engine.connect() as conn:
        hid = await store.resolve(conn, handover_id)
    found = await load_view(engine, hid) if hid else None
    if found is None:
        raise Problem(404, f"No handover with id {handover_id!r}.")
    return found


async def apply(container: Any, handover_id: str, feedback: SalesFeedback, link_member: str | None = None) -> HandoverView:
    """Record the feedback and answer with the handover as it is now; FeedbackRefused when it cannot be recorded."""
    engine = container.engine
    async with engine.begin() as conn:
        recorded = await handovers.record_feedback(
            conn, container.settings.topic_handover_feedback, handover_id, feedback, datetime.now(UTC), link_member=link_member,
        )
    handovers.observe(recorded, feedback)
    if recorded.changed and getattr(container, "relay", None) is not None:
        container.relay.wake()
    found = await load_view(engine, recorded.row.id)
    assert found is not None
    return found


async def _answer(container: Any, handover_id: str, feedback: SalesFeedback) -> HandoverView:
    try:
        return await apply(container, handover_id, feedback)
    except FeedbackRefused as exc:
        raise Problem(exc.status, exc.detail, type_=PROBLEM_TYPES.get(exc.status, "about:blank")) from None


PROBLEM_TYPES = {409: "https://leadflow.dev/problems/handover-feedback-conflict"}
ACCEPT_DOC = ("A repeated acceptance answers 200 with the handover unchanged; accepting a rejected handover is 409. "
              "Needs the admin key.")


@router.post("/{handover_id}/accept", response_model=HandoverView, summary="Sales accepts the lead (SQL -> SAL)",
             description=ACCEPT_DOC)
async def accept(handover_id: str, _: AdminDep, container: ContainerDep,
                 body: Annotated[AcceptBody | None, Body()] = None) -> HandoverView:
    body = body or AcceptBody()
    return await _answer(container, handover_id, SalesFeedback(FeedbackDecision.ACCEPTED, note=body.note, by=body.by))


@router.post(
    "/{handover_id}/reject", response_model=HandoverView, summary="Sales sends the lead back to nurture, with a reason",
    description="`reason`: procedural, clerical, definitional, not_now, not_a_fit, duplicate or other (with a `note`). "
    "The lead is recycled to stage `lead` with the reason in its stage history. A repeated rejection answers 200 "
    "unchanged; rejecting an accepted handover is 409. Needs the admin key.",
)
async def reject(handover_id: str, body: RejectBody, _: AdminDep, container: ContainerDep) -> HandoverView:
    return await _answer(container, handover_id,
                         SalesFeedback(FeedbackDecision.REJECTED, reason=body.reason, note=body.note, by=body.by))


@router.post(
    "/{handover_id}/outcome", response_model=HandoverView, summary="The deal was won (-> customer) or lost (-> lost)",
    description="Only for an accepted handover (409 otherwise); a repeated report of the same outcome answers 200 "
    "unchanged, the other outcome is 409. Needs the admin key.",
)
async def outcome(handover_id: str, body: OutcomeBody, _: AdminDep, container: ContainerDep) -> HandoverView:
    return await _answer(container, handover_id, SalesFeedback(
        FeedbackDecision(body.outcome), outcome_reason=body.reason, amount=body.amount, currency=body.currency, by=body.by,
        channel=FeedbackChannel.API,
    ))
