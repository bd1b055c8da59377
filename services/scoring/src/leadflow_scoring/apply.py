"""Applies a batch of touchpoints: one SELECT of the affected leads, pure scoring, bulk writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from prometheus_client import Counter
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import CloudEvent, Stage, TouchpointRecorded
from leadflow_runtime.bulk import in_flight
from leadflow_runtime.consumer import Delivered
from leadflow_runtime.db import json_text

from leadflow_scoring import identity, privacy
from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import consents, score_ledger, touchpoints
from leadflow_scoring.domain.leads import LeadState, Touchpoint
from leadflow_scoring.domain.privacy import OBJECTION_TYPE, object_to_profiling
from leadflow_scoring.domain.scoring import lead_id_for, new_lead, score_touchpoint
from leadflow_scoring.model_registry import ModelRegistry
from leadflow_scoring.writes import Writes

DUPLICATES = Counter("leadflow_touchpoints_duplicate_total", "Touchpoints dropped because their event id was seen before.")


def to_touchpoint(event: CloudEvent[TouchpointRecorded]) -> Touchpoint:
    data = event.data
    return Touchpoint(
        event_id=event.id,
        type=data.touchpoint_type.value,
        occurred_at=data.occurred_at,
        email=data.identity.email,
        anonymous_id=data.identity.anonymous_id,
        profile=MappingProxyType(data.profile.model_dump(exclude_none=True)),
        properties=MappingProxyType(dict(data.properties)),
        source_id=data.source_id,
    )


@dataclass
class ApplyTouchpoints:
    registry: ModelRegistry
    stage_topic: str

    async def __call__(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        seen: set[str] = set()
        items: list[tuple[Delivered, Touchpoint]] = []
        for d in batch:
            if d.event.id not in seen:
                seen.add(d.event.id)
                items.append((d, to_touchpoint(d.event)))
        aliases, new_links = await identity.lock_and_resolve(conn, [tp for _, tp in items])
        keys = {identity.resolved(tp, aliases) for _, tp in items} | set(new_links.values())
        gone = await privacy.erased_keys(conn, sorted(keys))
        states = await store.load_leads(conn, keys)
        items = [(d, tp) for d, tp in items if self._admissible(d, identity.resolved(tp, aliases), gone, states)]
        if not items and not new_links:
            return
        rows = [self._touchpoint_record(d, tp, lead_id_for(identity.resolved(tp, aliases))) for d, tp in items]
        model = await self.registry.refresh(conn)  # after the locks: see model_registry
        writes = Writes(model, self.stage_topic)
        if new_links:  # merges read and write the database between the steps: one step after the other
            items = self._fresh(items, await store.insert_new_touchpoints(conn, rows))
            await self._merge(conn, items, new_links, states, model, writes)
            objected, consent_rows = self._decide(items, states, aliases, model, writes)
        else:
            # The usual batch: score while PostgreSQL inserts the touchpoints. Redelivered touchpoints the insert
            # turns away are rare (a crash between commit and offset commit); then the batch is scored again without them.
            loaded = dict(states)
            async with in_flight(await store.stage_touchpoints(conn, rows)) as inserting:
                objected, consent_rows = self._decide(items, states, aliases, model, writes)
            fresh = self._fresh(items, inserting.result())
            if len(fresh) < len(items):
                if not fresh:
                    return
                items, states, writes = fresh, loaded, Writes(model, self.stage_topic)
                objected, consent_rows = self._decide(items, states, aliases, model, writes)
        if objected:
            writes.ledger = [r for r in writes.ledger if r[0] not in objected]  # r[0]: the lead id
        await writes.flush(conn)
        if consent_rows:
            await conn.execute(insert(consents), consent_rows)
        for lead_id, objection_id in objected.items():
            await conn.execute(delete(score_ledger).where(score_ledger.c.lead_id == lead_id))
            await conn.execute(delete(touchpoints).where(touchpoints.c.lead_id == lead_id, touchpoints.c.event_id != objection_id))
        if objected:
            await privacy.wipe_feedback_notes(conn, list(objected))

    @staticmethod
    def _fresh(items: list[tuple[Delivered, Touchpoint]], fresh_ids: set[str]) -> list[tuple[Delivered, Touchpoint]]:
        """The touchpoints the insert took: the others were stored before (a redelivery) and are dropped."""
        if len(fresh_ids) < len(items):
            DUPLICATES.inc(len(items) - len(fresh_ids))
            return [(d, tp) for d, tp in items if tp.event_id in fresh_ids]
        return items

    @staticmethod
    async def _merge(conn: AsyncConnection, items: list[tuple[Delivered, Touchpoint]], new_links: dict[str, str],
                     states: dict[str, LeadState], model: Any, writes: Writes) -> None:
        """Visitors identified in this batch: their anonymous history joins the known lead."""
        batch_ids = [tp.event_id for _, tp in items]
        for anon_key, lead_key in new_links.items():
            first = next((tp for _, tp in items if tp.email == lead_key and f"anon:{tp.anonymous_id}" == anon_key), None)
            if first is None:
                continue
            merged, _ = await identity.merge_anonymous(conn, anon_key, lead_key, states, model, batch_ids, first, first.occurred_at)
            if merged is not None:
                writes.add(merged, first.occurred_at, ledger=False)

    @staticmethod
    def _decide(items: list[tuple[Delivered, Touchpoint]], states: dict[str, LeadState], aliases: dict[str, str],
                model: Any, writes: Writes) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """Score the batch in order into ``writes`` (``states`` follows each lead); no I/O. Returns the leads that
        objected (lead id -> the objection touchpoint) and the consent rows."""
        objected: dict[str, str] = {}
        consent_rows: list[dict[str, Any]] = []
        for delivered, tp in items:
            key = identity.resolved(tp, aliases)
            tp = tp if key == tp.lead_key else _as(tp, key)
            state = states.get(key)
            if state is not None and state.stage is Stage.OBJECTED:
                continue  # an objection earlier in this batch
            if tp.type == OBJECTION_TYPE:
                created = state is None
                scored = object_to_profiling(state or new_lead(tp), tp.occurred_at, tp.event_id, "objection touchpoint")
                if created:
                    scored = replace(scored, created=True, changes=tuple(replace(c, from_stage=None) for c in scored.changes))
                objected[scored.state.lead_id] = tp.event_id
            else:
                scored = score_touchpoint(state, tp, model)
            states[key] = scored.state
            writes.add(scored, tp.occurred_at, delivered.event.traceparent)
            if delivered.event.data.consent is not None:
                consent_rows.append(privacy.consent_rows(scored.state.lead_id, tp, delivered.event.data.consent))
        return objected, consent_rows

    @staticmethod
    def _admissible(d: Delivered, key: str, gone: dict[str, datetime], states: dict[str, LeadState]) -> bool:
        erased_at = gone.get(key)
        if erased_at is not None and d.event.data.received_at <= erased_at:
            privacy.DROPPED.labels("erased").inc()  # a replay must not bring an erased person back
            return False
        state = states.get(key)
        if state is not None and state.stage is Stage.OBJECTED:
            privacy.DROPPED.labels("objected").inc()  # the person objected: nothing more is recorded
            return False
        return True

    @staticmethod
    def _touchpoint_record(d: Delivered, tp: Touchpoint, lead_id: str) -> tuple[Any, ...]:
        """In ``TOUCHPOINT_INSERT`` column order, JSON columns as text."""
        return (tp.event_id, lead_id, tp.type, tp.occurred_at, d.event.data.received_at, tp.source_id,
                json_text(tp.profile), json_text(tp.properties), d.record.partition, d.record.offset)


def _as(tp: Touchpoint, lead_key: str) -> Touchpoint:
    """An anonymous touchpoint of a visitor who is now a known lead."""
    return replace(tp, email=lead_key)
