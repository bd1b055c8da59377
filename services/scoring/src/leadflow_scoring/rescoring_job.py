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
from leadflow_scoring.domain.leads import EMPTY, Touchpoint
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
# A lead the new model leaves as it was: only which model scored it changes (no indexed column, so PostgreSQL
# can keep the row's index entries).
RESTAMP = "UPDATE scoring.leads SET model_id = $1, model_hash = $2, row_updated_at = now() WHERE lead_id = ANY($3::uuid[])"


PAGES_IN_FLIGHT = 2


def _view(values: dict[str, Any] | None) -> Any:
    return MappingProxyType(values) if values else EMPTY


class PageOutOfTurn(Exception):
    """A page found the job moved or stopped under it; it rolls back and the job goes on from its stored cursor."""


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
        """Pages one after another, two in flight: while one page's writes run in PostgreSQL, the next page is
        read and replayed here (the two cores work at once). Pages touch disjoint leads; each commits only
        after the page before it (it waits for it before moving the job's cursor, and the cursor only moves
        from where it stood), so a page that fails stops the page after it too, and the job goes on from
        the last committed page."""
        log.info("rescoring job running", job=job.id, model=job.model_hash, done=job.done, total=job.total)
        cursor = job.cursor
        in_flight: list[asyncio.Task[tuple[int | None, str | None, bool]]] = []
        try:
            while not self._stop.is_set():
                self.heartbeat.beat()
                if len(in_flight) >= PAGES_IN_FLIGHT:
                    await in_flight.pop(0)
                fetched: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
                step = asyncio.create_task(self._step(job, cursor, fetched, in_flight[-1] if in_flight else None))
                in_flight.append(step)
                await asyncio.wait([fetched, step], return_when=asyncio.FIRST_COMPLETED)
                last_id = fetched.result() if fetched.done() else None
                if last_id is not None:
                    cursor = last_id
                    continue
                for task in in_flight:  # the end, or the job was superseded: let the pages in flight finish
                    moved, _, finished = await task
                in_flight.clear()
                if finished:
                    log.info("rescoring job finished", job=job.id)
                return
        except asyncio.CancelledError:
            for task in in_flight:
                task.cancel()
            raise
        finally:
            if in_flight:  # stopping, or a page failed: let the pages in flight finish (or fail) before returning
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _step(self, job: Any, cursor: str | None, fetched: asyncio.Future[str | None],
                    previous: asyncio.Task[Any] | None) -> tuple[int | None, str | None, bool]:
        """One page after ``cursor``; ``fetched`` learns the page's last lead id (None: nothing to do) as soon as it
        is read, so the next page can start."""
        at = job.started_at
        try:
            return await self._page(job, cursor, fetched, previous, at)
        finally:
            if not fetched.done():
                fetched.set_result(None)

    async def _page(self, job: Any, cursor: str | None, fetched: asyncio.Future[str | None],
                    previous: asyncio.Task[Any] | None, at: datetime) -> tuple[int | None, str | None, bool]:
        async with self.engine.begin() as conn:
            status = await conn.scalar(select(rescore_jobs.c.status).where(rescore_jobs.c.id == job.id))
            if status != "running":
                return None, cursor, False
            model = await self.registry.refresh(conn)
            if model.hash != job.model_hash:
                return None, cursor, False
            db = await driver_connection(conn)
            rows = await db.fetch(LEADS_PAGE, cursor or NIL_UUID, self.batch)
            if not rows:
                fetched.set_result(None)
                if previous is not None:
                    await previous
                await self._advance(conn, job, cursor, status="done", finished_at=datetime.now(UTC))
                return 0, cursor, True
            ids = [str(r["lead_id"]) for r in rows]
            fetched.set_result(ids[-1])
            history: dict[str, list[Any]] = {i: [] for i in ids}
            for t in await db.fetch(HISTORY, ids):
                history[str(t["lead_id"])].append(t)
            writes = Writes(model, self.stage_topic)
            ledger_rows: list[tuple[Any, ...]] = []  # in LEDGER_INSERT's column order, for COPY
            unchanged: list[str] = []
            changed = 0
            for n, row in enumerate(rows, start=1):
                if n % 50 == 0:
                    await asyncio.sleep(0)  # let the page before this one send its next statement to PostgreSQL
                current = store.row_to_state(row)
                tps = [
                    Touchpoint(t["event_id"], t["type"], t["occurred_at"], current.email, current.anonymous_id,
                               _view(t["profile"]), _view(t["properties"]), t["source_id"])
                    for t in history[current.lead_id]
                ]
                replayed = replay_history(tps, model, at, current.lead_id)
                if replayed is None:
                    continue
                scored = rescore(current, replayed, model, at)
                lead_id = current.lead_id
                if not scored.changes and scored.state == current and \
                        model.grades.grade(current.fit, current.engagement) == row["grade"]:
                    unchanged.append(lead_id)
                else:
                    changed += bool(scored.changes)
                    writes.add(scored, at, ledger=False)
                ledger_rows += [store.ledger_record(lead_id, e, model.hash, when) for e, when in replayed.ledger]
            await db.execute(DELETE_LEDGER, ids)
            await store.insert_ledger(conn, ledger_rows)
            await writes.flush(conn)
            if unchanged:
                await db.execute(RESTAMP, model.id, model.hash, unchanged)
            if previous is not None:
                await previous  # pages commit in order
            await self._advance(conn, job, cursor, cursor=ids[-1], done=rescore_jobs.c.done + len(rows),
                                changed=rescore_jobs.c.changed + changed)
        RESCORED.inc(len(rows))
        if changed and self.after_commit:
            self.after_commit()
        return len(rows), ids[-1], False

    @staticmethod
    async def _advance(conn: Any, job: Any, expected_cursor: str | None, **values: Any) -> None:
        """Move the job on from ``expected_cursor``; if the job was superseded or its cursor is elsewhere (a page
        before this one did not commit, or another instance moved it), this page rolls back."""
        moved = await conn.execute(
            update(rescore_jobs)
            .where(rescore_jobs.c.id == job.id, rescore_jobs.c.status == "running",
                   rescore_jobs.c.cursor.is_not_distinct_from(expected_cursor))
            .values(heartbeat_at=datetime.now(UTC), **values)
        )
        if moved.rowcount != 1:
            raise PageOutOfTurn(f"rescoring job {job.id}: cursor no longer at {expected_cursor}; page rolled back")
