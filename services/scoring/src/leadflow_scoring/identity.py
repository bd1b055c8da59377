"""Identity: an anonymous visitor becomes a known lead when a touchpoint carries both ids.

The first touchpoint with an e-mail and an anonymous id links ``anon:<id>`` to the e-mail
(an alias). The anonymous lead's history moves to the known lead, which is rescored
from the combined history in time order; later anonymous touchpoints with that id go
straight to the known lead. An anonymous id already linked to one e-mail stays linked.

Both partitions involved (the anonymous key's and the e-mail's) take a transaction-level
advisory lock per anonymous key before reading aliases, so the two cannot interleave.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import MappingProxyType

from prometheus_client import Counter
from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import Stage, StageCauseKind
from leadflow_runtime.bulk import driver_connection

from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import lead_aliases, leads, score_ledger, touchpoints
from leadflow_scoring.domain.leads import LeadState, Touchpoint
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.rescoring import PATHS
from leadflow_scoring.domain.scoring import Scored, StageChanged, lead_id_for
from leadflow_scoring.domain.simulation import replay_history
from leadflow_scoring.domain.stages import SALES_OWNED

MERGES = Counter("leadflow_identity_merges_total", "Anonymous histories merged into a known lead.")
ALIAS_LOCK_NAMESPACE = 0x4C47


ALIASES = "SELECT alias_key, lead_key FROM scoring.lead_aliases WHERE alias_key = ANY($1::text[])"


async def lock_and_resolve(conn: AsyncConnection, tps: Sequence[Touchpoint]) -> tuple[dict[str, str], dict[str, str]]:
    """Return ``(aliases, new_links)``: anonymous key -> lead key, stored and to be created by this batch."""
    anon_keys = sorted({f"anon:{tp.anonymous_id}" for tp in tps if tp.anonymous_id})
    if not anon_keys:
        return {}, {}
    # One round trip for all locks, taken in ascending order so that every worker takes them in the same order.
    lock_ids = sorted({zlib.crc32(key.encode()) & 0x7FFFFFFF for key in anon_keys})
    await conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(:ns, k) FROM unnest(CAST(:ids AS integer[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
        ),
        {"ns": ALIAS_LOCK_NAMESPACE, "ids": lock_ids},
    )
    rows = await (await driver_connection(conn)).fetch(ALIASES, anon_keys)
    aliases = {r["alias_key"]: r["lead_key"] for r in rows}
    new_links: dict[str, str] = {}
    for tp in tps:
        if tp.email and tp.anonymous_id:
            key = f"anon:{tp.anonymous_id}"
            if key not in aliases and key not in new_links:
                new_links[key] = tp.email
    return {**aliases, **new_links}, new_links


async def merge_anonymous(
    conn: AsyncConnection, anon_key: str, lead_key: str, states: dict[str, LeadState], model: ScoringModel,
    batch_event_ids: Iterable[str], identifying: Touchpoint, at: datetime,
) -> tuple[Scored | None, int]:
    """Fold the anonymous lead's stored history into ``lead_key``; return the known lead rescored (or None)."""
    await conn.execute(insert(lead_aliases).values(alias_key=anon_key, lead_key=lead_key).on_conflict_do_nothing())
    anon = (await store.load_leads(conn, [anon_key])).get(anon_key)
    if anon is None:
        return None, 0
    target_id = lead_id_for(lead_key)
    skip = set(batch_event_ids)
    rows = list(await conn.execute(
        select(touchpoints).where(touchpoints.c.lead_id.in_([anon.lead_id, target_id]))
    ))
    current = states.get(lead_key)
    history = sorted(
        (
            Touchpoint(r.event_id, r.type, r.occurred_at, lead_key, identifying.anonymous_id,
                       MappingProxyType(r.profile or {}), MappingProxyType(r.properties or {}), r.source_id)
            for r in rows if r.event_id not in skip
        ),
        key=lambda tp: (tp.occurred_at, tp.event_id),
    )
    replayed = replay_history(history, model, at)
    await conn.execute(update(touchpoints).where(touchpoints.c.lead_id == anon.lead_id).values(lead_id=target_id))
    await conn.execute(delete(score_ledger).where(score_ledger.c.lead_id.in_([anon.lead_id, target_id])))
    await store.insert_ledger(conn, [store.ledger_record(target_id, e, model.hash, when)
                                     for e, when in (replayed.ledger if replayed else ())])
    await conn.execute(delete(leads).where(leads.c.lead_id == anon.lead_id))
    states.pop(anon_key, None)
    MERGES.inc()
    if replayed is None:
        return None, 0
    merged = replayed.state
    base = current or anon
    # a lead sales sent back stays back unless the merged history takes it to where it may qualify again
    held = current is not None and current.requalify_at is not None and merged.score < current.requalify_at
    stage = base.stage if base.stage in SALES_OWNED or held else merged.stage
    from dataclasses import replace

    merged = replace(
        merged, lead_id=target_id, lead_key=lead_key, email=lead_key, anonymous_id=identifying.anonymous_id,
        created_at=min(anon.created_at, current.created_at) if current else anon.created_at,
        stage=stage, stage_changed_at=at if stage is not base.stage or current is None else base.stage_changed_at,
        requalify_at=current.requalify_at if held and current is not None else None,
    )
    states[lead_key] = merged
    changes: list[StageChanged] = []
    reason = f"Merged {anon.touchpoint_count} touchpoint(s) of anonymous visitor {anon_key} into this lead."
    previous: Stage | None = current.stage if current else None
    if current is None:
        changes.append(_change(merged, None, Stage.LEAD, at, identifying.event_id, reason))
        previous = Stage.LEAD
    if previous is not None and stage is not previous:
        for target in PATHS.get((previous, stage), (stage,)):
            changes.append(_change(merged, previous, target, at, identifying.event_id, reason))
            previous = target
    return Scored(merged, (), tuple(changes), current is None), len(history)


def _change(lead: LeadState, from_stage: Stage | None, to_stage: Stage, at: datetime, tp_id: str, reason: str) -> StageChanged:
    return StageChanged(
        lead_id=lead.lead_id, from_stage=from_stage, to_stage=to_stage, occurred_at=at, cause=StageCauseKind.TOUCHPOINT,
        reason=reason, touchpoint_id=tp_id, rule_id=None, score=lead.score, fit=lead.fit, engagement=lead.engagement,
    )


def resolved(tp: Touchpoint, aliases: dict[str, str]) -> str:
    return aliases.get(tp.lead_key, tp.lead_key) if not tp.email else tp.lead_key
