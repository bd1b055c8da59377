"""Privacy operations on stored leads: consent records, objection, erasure, export, retention."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_events import LEAD_ERASED_V1, CloudEvent, LeadErased, encode_event
from leadflow_runtime.bulk import driver_connection
from leadflow_runtime.health import Heartbeat
from leadflow_runtime.lifecycle import BatchedJob
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from leadflow_runtime.logs import get_logger
from leadflow_runtime.outbox import outbox_row

from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import (
    consents, erasures, handover_feedback, lead_aliases, leads, outbox, score_ledger, stage_history, touchpoints,
)
from leadflow_scoring.domain.leads import Touchpoint
from leadflow_scoring.domain.privacy import key_hash, object_to_profiling
from leadflow_scoring.model_registry import ModelRegistry
from leadflow_scoring.writes import Writes

log = get_logger(__name__)
ERASED = Counter("leadflow_leads_erased_total", "Leads whose personal data was deleted, by reason.", ["reason"])
OBJECTIONS = Counter("leadflow_objections_total", "Objections to profiling honoured.")
DROPPED = Counter("leadflow_touchpoints_dropped_total", "Touchpoints not stored, by reason.", ["reason"])
ERASED_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000005")


def consent_rows(lead_id: str, tp: Touchpoint, consent: Any) -> dict[str, Any]:
    return {
        "lead_id": lead_id, "touchpoint_id": tp.event_id, "purpose": consent.purpose,
        "legal_basis": consent.legal_basis.value, "granted": consent.granted, "wording_version": consent.wording_version,
        "source": consent.source, "given_at": consent.given_at or tp.occurred_at,
        "double_opt_in_confirmed_at": consent.double_opt_in_confirmed_at, "proof": consent.proof,
    }


# = ANY(array): one statement text (prepared once) whatever the number of keys in the batch.
ERASED_KEYS = "SELECT key_hash, erased_at FROM scoring.erasures WHERE key_hash = ANY($1::text[])"


async def erased_keys(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, datetime]:
    """Lead keys erased before, with when: records received up to then must not bring the person back."""
    if not keys:
        return {}
    by_hash = {key_hash(k): k for k in keys}
    rows = await (await driver_connection(conn)).fetch(ERASED_KEYS, list(by_hash))
    return {by_hash[r["key_hash"]]: r["erased_at"] for r in rows}


async def object_lead(conn: AsyncConnection, registry: ModelRegistry, stage_topic: str, lead_id: str, at: datetime,
                      how: str, touchpoint_id: str | None = None) -> bool:
    """Honour an objection: keep the key, wipe the profiling data, emit ``objected``. False if no such lead."""
    row = (await conn.execute(select(leads).where(leads.c.lead_id == lead_id).with_for_update())).first()
    if row is None:
        return False
    lead = store.row_to_state(row)
    scored = object_to_profiling(lead, at, touchpoint_id, how)
    await conn.execute(delete(score_ledger).where(score_ledger.c.lead_id == lead_id))
    await conn.execute(delete(touchpoints).where(touchpoints.c.lead_id == lead_id, touchpoints.c.event_id != (touchpoint_id or "")))
    await wipe_feedback_notes(conn, [lead_id])
    model = await registry.refresh(conn)
    writes = Writes(model, stage_topic)
    writes.add(scored, at)
    await writes.flush(conn)
    OBJECTIONS.inc()
    return True


async def wipe_feedback_notes(conn: AsyncConnection, lead_ids: Sequence[str]) -> None:
    """Sales' free-text notes about a person who objected; the decisions stay, for the funnel."""
    await conn.execute(
        update(handover_feedback).where(handover_feedback.c.lead_id.in_(list(lead_ids))).values(note=None, outcome_reason=None)
    )


async def erase_lead(conn: AsyncConnection, stage_topic: str, lead_id: str, reason: str, at: datetime) -> bool:
    """Delete everything personal about the lead, leave a tombstone, tell subscribers. False if no such lead."""
    row = (await conn.execute(select(leads.c.lead_id, leads.c.lead_key).where(leads.c.lead_id == lead_id).with_for_update())).first()
    if row is None:
        return False
    lead_key = row.lead_key
    for table in (touchpoints, score_ledger, stage_history, consents, handover_feedback):
        await conn.execute(delete(table).where(table.c.lead_id == lead_id))
    await conn.execute(delete(lead_aliases).where(lead_aliases.c.lead_key == lead_key))
    await conn.execute(delete(outbox).where(outbox.c.key == lead_id.encode()))  # their payloads name the person
    await conn.execute(delete(leads).where(leads.c.lead_id == lead_id))
    hashed = key_hash(lead_key)
    await conn.execute(insert(erasures).values(key_hash=hashed, reason=reason, erased_at=at)
                       .on_conflict_do_update(index_elements=[erasures.c.key_hash], set_={"erased_at": at, "reason": reason}))
    event = CloudEvent[LeadErased](
        id=str(uuid.uuid5(ERASED_NAMESPACE, f"{lead_id}:{at.isoformat()}")), source="/leadflow/scoring", type=LEAD_ERASED_V1,
        time=at, subject=lead_id, data=LeadErased(lead_id=lead_id, key_hash=hashed, reason=reason, erased_at=at),
    )
    await conn.execute(insert(outbox).values(outbox_row(stage_topic, lead_id.encode(), encode_event(event), CLOUDEVENT_HEADERS)))
    ERASED.labels(reason).inc()
    log.info("lead erased", lead_id=lead_id, reason=reason)
    return True


async def export_lead(engine: AsyncEngine, lead_id: str) -> dict[str, Any] | None:
    """Everything held about the person (GDPR Art. 15 and 20), as plain JSON-able data."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(leads).where(leads.c.lead_id == lead_id))).first()
        if row is None:
            return None

        async def rows(table, order) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
            return [dict(r._mapping) for r in await conn.execute(select(table).where(table.c.lead_id == lead_id).order_by(order))]

        lead = dict(row._mapping)
        return {
            "lead": lead,
            "touchpoints": await rows(touchpoints, touchpoints.c.occurred_at),
            "score_ledger": await rows(score_ledger, score_ledger.c.id),
            "stage_history": await rows(stage_history, stage_history.c.id),
            "consents": await rows(consents, consents.c.given_at),
            "sales_feedback": await rows(handover_feedback, handover_feedback.c.occurred_at),
            "aliases": [dict(r._mapping) for r in await conn.execute(
                select(lead_aliases).where(lead_aliases.c.lead_key == row.lead_key))],
            "exported_at": datetime.now(UTC),
            "note": "Deliveries to sales systems are held by the handover service: GET /v1/deliveries?lead_id=<id> there.",
        }


class RetentionJob(BatchedJob):
    """Deletes leads with no activity for ``days`` that never qualified (never MQL or beyond)."""

    def __init__(self, *, engine: AsyncEngine, stage_topic: str, days: int, interval: float, heartbeat: Heartbeat,
                 after_commit=None, batch: int = 500) -> None:  # type: ignore[no-untyped-def]
        super().__init__(name="retention", interval=interval, batch=batch, heartbeat=heartbeat)
        self.engine = engine
        self.stage_topic = stage_topic
        self.days = days
        self.after_commit = after_commit

    async def step(self, now: datetime) -> int:
        return await self.run_once(now)

    async def run_once(self, now: datetime) -> int:
        cutoff = now - timedelta(days=self.days)
        qualified = exists().where(and_(stage_history.c.lead_id == leads.c.lead_id,
                                        stage_history.c.to_stage.in_(["mql", "sql", "sal", "customer", "lost"])))
        async with self.engine.begin() as conn:
            ids = (await conn.execute(
                select(leads.c.lead_id).where(leads.c.updated_at < cutoff, leads.c.stage == "lead", ~qualified)
                .order_by(leads.c.updated_at).limit(self.batch).with_for_update(skip_locked=True)
            )).scalars().all()
            for lead_id in ids:
                await erase_lead(conn, self.stage_topic, str(lead_id), "retention", now)
        if ids and self.after_commit:
            self.after_commit()
        return len(ids)
