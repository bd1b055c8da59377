"""Runs an import: checks every row, then publishes the contacts in chunks through the live touchpoint path.

Each chunk goes to Kafka exactly as ``POST /v1/touchpoints/batch`` sends (acks=all,
idempotent producer, many sends, then one wait for the acknowledgements) and only after
Kafka acknowledged it does the import's cursor (``touchpoints_published``) move. A run
that stops half-way (crash, shutdown, Kafka away for longer than the retry window)
leaves the import ``failed`` (or visibly stale); uploading the same file again resumes at
the cursor. Anything published twice on the way carries the same event id, which scoring
records once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from itertools import islice

from prometheus_client import Counter

from leadflow_runtime.errors import is_transient
from leadflow_runtime.logs import get_logger

from leadflow_ingest.adapters.import_store import ImportStore
from leadflow_ingest.imports.contacts import CheckedRows, Contact, ContactAssembly
from leadflow_ingest.imports.table import header_and_rows
from leadflow_ingest.imports.touchpoints import ImportedEvent, touchpoint_of
from leadflow_ingest.imports.upload import PreparedList
from leadflow_ingest.publish import KafkaUnavailable, TouchpointEvent, TouchpointPublisher, recorded_event, utcnow

log = get_logger(__name__)

IMPORT_ROWS = Counter("leadflow_ingest_import_rows_total", "Rows of imported contact lists, by outcome.", ["outcome"])
IMPORTS = Counter("leadflow_ingest_imports_total", "Import runs that ended, by status.", ["status"])
IMPORTED = Counter("leadflow_ingest_imported_touchpoints_total", "Touchpoints of imports acknowledged by Kafka.")


class ImportFailed(Exception):
    """The run cannot go on; the message is stored as the import's error and says how to continue."""


class Superseded(Exception):
    """Another run took this import over (it looked stale); this one stops without writing."""


@dataclass(frozen=True)
class ImportJob:
    import_id: str
    attempt: int
    prepared: PreparedList
    event: ImportedEvent
    published: int = 0
    """Contacts already acknowledged by an earlier run: where this one starts."""


class ImportRunner:
    def __init__(self, store: ImportStore, publisher: TouchpointPublisher, *, retry_seconds: float, chunk: int = 1000,
                 check_slice: int = 2000, progress_every: float = 0.5) -> None:
        self.store = store
        self.publisher = publisher
        self.retry_seconds = retry_seconds
        self.chunk = chunk
        self.check_slice = check_slice
        self.progress_every = progress_every
        self._tasks: dict[str, tuple[asyncio.Task[None], ImportJob]] = {}

    def start(self, job: ImportJob) -> None:
        task = asyncio.create_task(self._run(job), name=f"import {job.import_id}")
        self._tasks[job.import_id] = (task, job)
        task.add_done_callback(lambda _: self._tasks.pop(job.import_id, None))

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def stop(self) -> None:
        """Cancel the runs and mark them failed (best effort: a stale heartbeat says the same)."""
        runs = list(self._tasks.values())
        for task, _ in runs:
            task.cancel()
        await asyncio.gather(*(task for task, _ in runs), return_exceptions=True)
        for _, job in runs:
            try:
                await self.store.fail(job.import_id, job.attempt,
                                      "interrupted: the ingest instance stopped. Upload the same file again to continue "
                                      "where it stopped.")
            except Exception as exc:
                log.warning("interrupted import not marked failed", import_id=job.import_id, error=str(exc)[:200])

    async def _run(self, job: ImportJob) -> None:
        log.info("import running", import_id=job.import_id, attempt=job.attempt, rows=job.prepared.rows_total,
                 resume_at=job.published)
        try:
            checked = await self._check(job)
            await self._publish(job, checked)
        except asyncio.CancelledError:
            raise
        except Superseded:
            log.warning("import taken over by another run; this one stops", import_id=job.import_id, attempt=job.attempt)
            return
        except Exception as exc:
            error = str(exc) if isinstance(exc, ImportFailed) else f"{type(exc).__name__}: {exc}"
            log.error("import failed", import_id=job.import_id, error=error[:500], exc_info=not isinstance(exc, ImportFailed))
            IMPORTS.labels("failed").inc()
            try:
                await self.store.fail(job.import_id, job.attempt, error)
            except Exception as store_error:
                log.warning("failed import not marked failed", import_id=job.import_id, error=str(store_error)[:200])
            return
        IMPORTS.labels("completed").inc()

    async def _check(self, job: ImportJob) -> CheckedRows:
        check = job.prepared.row_check()
        _, rows = header_and_rows(job.prepared.file)
        loop = asyncio.get_running_loop()
        saved = loop.time()
        while chunk := list(islice(rows, self.check_slice)):
            check.add_all(chunk)
            if loop.time() - saved >= self.progress_every:
                await self._save(partial(self.store.checking, job.import_id, job.attempt, check.rows))
                saved = loop.time()
            await asyncio.sleep(0)  # live touchpoints go on being answered while a big list is checked
        checked = check.result()
        counts = checked.counts.as_dict()
        await self._save(partial(
            self.store.checked, job.import_id, job.attempt, rows_checked=counts["rows"], counts=counts,
            report=[item.as_dict() for item in checked.report], report_truncated=checked.report_truncated,
        ))
        log.info("import checked", import_id=job.import_id, **counts)
        return checked

    async def _publish(self, job: ImportJob, checked: CheckedRows) -> None:
        """Assemble the contacts again from the rows, in order, and publish those past the cursor in chunks."""
        assembly = ContactAssembly(job.prepared.columns, checked)
        total = checked.counts.touchpoints
        published = min(job.published, total)
        loop = asyncio.get_running_loop()
        saved = loop.time()
        _, rows = header_and_rows(job.prepared.file)
        batch: list[Contact] = []
        for index, record in enumerate(rows):
            if index % self.check_slice == 0:
                await asyncio.sleep(0)  # rows skipped on a resumed run are assembled without sending anything
            contact = assembly.add(index, record)
            if contact is None or assembly.assembled <= job.published:
                continue  # rejected, an earlier row of someone, or published by an earlier run
            batch.append(contact)
            if len(batch) < self.chunk:
                continue
            published = await self._send_contacts(job, batch, published, total)
            batch = []
            if loop.time() - saved >= self.progress_every:
                await self._save(partial(self.store.published, job.import_id, job.attempt, published))
                saved = loop.time()
        if batch:
            published = await self._send_contacts(job, batch, published, total)
        counts = assembly.counts().as_dict()
        report, truncated = assembly.report()
        await self._save(partial(
            self.store.complete, job.import_id, job.attempt, touchpoints_published=published, counts=counts,
            report=[item.as_dict() for item in report], report_truncated=truncated,
        ))
        for outcome in ("accepted", "rejected", "blank"):
            IMPORT_ROWS.labels(outcome).inc(counts[outcome])
        log.info("import completed", import_id=job.import_id, touchpoints=total, resumed_at=job.published,
                 warnings=counts["warnings"])

    async def _send_contacts(self, job: ImportJob, contacts: list[Contact], published: int, total: int) -> int:
        now = utcnow()
        events = [recorded_event(touchpoint_of(c, job.event, now), job.event.event_id(c.email), None) for c in contacts]
        await self._send(job, events, published, total)
        IMPORTED.inc(len(events))
        return published + len(events)

    async def _send(self, job: ImportJob, events: list[TouchpointEvent], published: int, total: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_seconds
        delay = 0.5
        while True:
            try:
                await self.publisher.publish(events)
                return
            except KafkaUnavailable as exc:
                if loop.time() + delay > deadline:
                    raise ImportFailed(
                        f"Kafka did not acknowledge the touchpoints for {self.retry_seconds:g} s ({exc}); {published} of "
                        f"{total} were published. Upload the same file again to continue from there."
                    ) from exc
                log.warning("import waiting for Kafka", import_id=job.import_id, error=str(exc)[:200], retry_in=delay)
                await self._save(partial(self.store.published, job.import_id, job.attempt, published))  # still alive
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _save(self, write: Callable[[], Awaitable[bool]]) -> None:
        """Write progress, waiting out a PostgreSQL that is briefly away; ``Superseded`` when the run lost its import."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_seconds
        delay = 0.5
        while True:
            try:
                if not await write():
                    raise Superseded()
                return
            except Superseded:
                raise
            except Exception as exc:
                if not is_transient(exc) or loop.time() + delay > deadline:
                    raise
                log.warning("import progress not saved yet", error=str(exc)[:200], retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
