"""Runs rescoring jobs: every lead replayed from its stored history under the new model.

Leads are taken in batches in lead-id order, each batch in one transaction with the job's
cursor, so a crashed job resumes where it stopped (any instance takes over a job whose
heartbeat went quiet). Stage changes it causes are emitted with cause ``model_changed``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_runtime.bulk import driver_connection
from leadflow_runtime.errors import is_transient
from leadflow_runtime.health import Heartbeat
from leadflow_runtime.logs import get_logger

from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import rescore_jobs
from leadflow_scoring.domain.leads import Touchpoint
from leadflow_scoring.domain.rescoring import rescore
from leadflow_scoring.domain.simulation import replay_history
from leadflow_scoring.model_registry import ModelRegistry
from leadflow_scoring.writes import Writes

log = get_logger(__name__)
RESCORED = Counter("leadflow_rescored_leads_total", "Leads rescored after a model change.")
STALE = timedelta(seconds=30)
NIL_UUID = "00000000-0000-0000-0000-000000000000"  # below every lead id: the first page
# Statements on the transaction's asyncpg connection, their text fixed whatever the page (prepared once).
LEADS_PAGE = "SELECT * FROM scoring.leads WHERE lead_id > $1::uuid ORDER BY lead_id LIMIT $2 FOR UPDATE"
HISTORY = (
    "SELECT lead_id, event_id, type, occurred_at, source_id, profile, properties FROM scoring.touchpoints "
    "WHERE lead_id = ANY($1::uuid[]) ORDER BY lead_id, kafka_partition, kafka_offset"
)
DELETE_LEDGER = "DELETE FROM scoring.score_ledger WHERE lead_id = ANY($1::uuid[])"


class RescoringWorker:
    def __init__(self, *, engine: AsyncEngine, registry: ModelRegistry, stage_topic: str, heartbeat: Heartbeat,
                 batch: int = 500, poll_interval: float = 2.0, after_commit=None) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.registry = registry
        self.stage_topic = stage_topic
        self.heartbeat = heartbeat
        self.batch = batch
        self.poll_interval = poll_interval
        self.after_commit = after_commit
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            self.heartbeat.beat()
            try:
                job = await self._claim()
                if job is not None:
                    await self._run_job(job)
                    continue
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("rescoring waiting for the database", error=str(exc)[:300])
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass

    async def _claim(self) -> Any:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            row = (await conn.execute(
                select(rescore_jobs).where(rescore_jobs.c.status == "running")
                .order_by(rescore_jobs.c.started_at).limit(1).with_for_update(skip_locked=True)
            )).first()
            if row is None:
                return None
            if row.heartbeat_at > now - STALE and row.done > 0:
                return None  # another instance is on it
            await conn.execute(update(rescore_jobs).where(rescore_jobs.c.id == row.id).values(heartbeat_at=now))
            return row

    async def _run_job(self, job: Any) -> None:
        log.info("rescoring job running", job=job.id, model=job.model_hash, done=job.done, total=job.total)
        cursor = job.cursor
        while not self._stop.is_set():
            self.heartbeat.beat()
            moved, cursor, finished = await self._step(job, cursor)
            if finished:
                log.info("rescoring job finished", job=job.id)
                return
            if moved is None:
                return  # superseded by a newer activation

    async def _step(self, job: Any, cursor: str | None) -> tuple[int | None, str | None, bool]:
        at = job.started_at
        async with self.engine.begin() as conn:
            status = await conn.scalar(select(rescore_jobs.c.status).where(rescore_jobs.c.id == job.id).with_for_update())
            if status != "running":
                return None, cursor, False
            model = await self.registry.refresh(conn)
            if model.hash != job.model_hash:
                return None, cursor, False
            db = await driver_connection(conn)
            rows = await db.fetch(LEADS_PAGE, cursor or NIL_UUID, self.batch)
            if not rows:
                await conn.execute(update(rescore_jobs).where(rescore_jobs.c.id == job.id)
                                   .values(status="done", finished_at=datetime.now(UTC), heartbeat_at=datetime.now(UTC)))
                return 0, cursor, True
            ids = [str(r["lead_id"]) for r in rows]
            history: dict[str, list[Any]] = {i: [] for i in ids}
            for t in await db.fetch(HISTORY, ids):
                history[str(t["lead_id"])].append(t)
            writes = Writes(model, self.stage_topic)
            ledger_rows: list[dict[str, Any]] = []
            changed = 0
            for row in rows:
                current = store.row_to_state(row)
                tps = [
                    Touchpoint(t["event_id"], t["type"], t["occurred_at"], current.email, current.anonymous_id,
                               MappingProxyType(t["profile"] or {}), MappingProxyType(t["properties"] or {}), t["source_id"])
                    for t in history[current.lead_id]
                ]
                replayed = replay_history(tps, model, at)
                if replayed is None:
                    continue
                scored = rescore(current, replayed, model, at)
                changed += bool(scored.changes)
                writes.add(scored, at, ledger=False)
                ledger_rows += [{
                    "lead_id": current.lead_id, "touchpoint_id": e.touchpoint_id, "rule_id": e.rule_id,
                    "group_name": e.dimension, "points": e.points, "reason": e.reason, "capped": e.capped,
                    "model_hash": model.hash, "occurred_at": when,
                } for e, when in replayed.ledger]
            await db.execute(DELETE_LEDGER, ids)
            await store.LEDGER_INSERT.copy(conn, ledger_rows)
            await writes.flush(conn)
            await conn.execute(update(rescore_jobs).where(rescore_jobs.c.id == job.id).values(
                cursor=ids[-1], done=rescore_jobs.c.done + len(rows), changed=rescore_jobs.c.changed + changed,
                heartbeat_at=datetime.now(UTC),
            ))
        RESCORED.inc(len(rows))
        if changed and self.after_commit:
            self.after_commit()
        return len(rows), ids[-1], False
