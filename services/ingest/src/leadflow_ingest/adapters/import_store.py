"""Imports in PostgreSQL: one row per import with its status, progress, counts and report.

A run owns its import through ``attempt``: every write names the attempt it belongs to,
so a run that was given up on (its heartbeat, ``updated_at``, went quiet and the file was
uploaded again) learns it has been superseded and stops, instead of overwriting the
progress of the run that took over.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, cast, func, literal, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import JSONPATH, insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_ingest.adapters.tables import imports

STALE_AFTER_SECONDS = 30
"""A running import whose progress has not moved for this long lost its run (the instance stopped or crashed)."""
_STALE = literal_column(f"interval '{STALE_AFTER_SECONDS} seconds'")
_SUMMARY = [c for c in imports.c if c.name != "report"]


@dataclass(frozen=True)
class NewImport:
    import_key: str
    source_id: str
    event_name: str
    event_date: date
    file_name: str | None
    file_sha256: str
    file_bytes: int
    encoding: str
    separator: str
    mapping: dict[str, str]
    columns: list[dict[str, str]]
    consent_wording_version: str | None
    rows_total: int


@dataclass(frozen=True)
class ImportRecord:
    id: str
    source_id: str
    event_name: str
    event_date: date
    file_name: str | None
    file_sha256: str
    file_bytes: int
    encoding: str
    separator: str
    mapping: dict[str, str]
    columns: list[dict[str, str]]
    consent_wording_version: str | None
    status: str
    phase: str
    attempt: int
    rows_total: int
    rows_checked: int
    touchpoints_total: int | None
    touchpoints_published: int
    counts: dict[str, int] | None
    report_truncated: bool
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    stale: bool = False
    report_total: int = 0
    report: tuple[dict[str, Any], ...] = ()


def _record(row: RowMapping) -> ImportRecord:
    values = {name: row[name] for name in ImportRecord.__dataclass_fields__ if name in row}
    if "report" in values:
        values["report"] = tuple(values["report"] or ())
    return ImportRecord(**values)


class ImportStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def begin(self, new: NewImport) -> tuple[ImportRecord, str]:
        """Record a new import, or find the same one again. Says what to do with it:

        ``started``   new: run it
        ``resumed``   it had failed or its run went quiet: run it again, from its cursor (attempt + 1)
        ``running``   another run is making progress on it: leave it
        ``completed`` done before: nothing to publish
        """
        values = {**new.__dict__, "id": "imp_" + secrets.token_hex(8), "status": "running", "phase": "checking"}
        stale = and_(imports.c.status == "running", imports.c.updated_at < func.now() - _STALE)
        async with self.engine.begin() as conn:
            inserted = (await conn.execute(
                insert(imports).values(**values).on_conflict_do_nothing(index_elements=[imports.c.import_key])
                .returning(*_SUMMARY)
            )).mappings().first()
            if inserted is not None:
                return _record(inserted), "started"
            resumed = (await conn.execute(
                update(imports)
                .where(imports.c.import_key == new.import_key, or_(imports.c.status == "failed", stale))
                .values(status="running", phase="checking", attempt=imports.c.attempt + 1, rows_checked=0, error=None,
                        finished_at=None, updated_at=func.now(), file_name=new.file_name)
                .returning(*_SUMMARY)
            )).mappings().first()
            if resumed is not None:
                return _record(resumed), "resumed"
            row = (await conn.execute(select(*_SUMMARY).where(imports.c.import_key == new.import_key))).mappings().one()
        record = _record(row)
        return record, "completed" if record.status == "completed" else "running"

    async def get(self, import_id: str, *, offset: int = 0, limit: int = 100) -> ImportRecord | None:
        """The import with ``limit`` report items from ``offset`` on (in line order)."""
        if limit > 0:
            path = f"$[{int(offset)} to {int(offset) + int(limit) - 1}]"
            page = func.jsonb_path_query_array(imports.c.report, cast(literal(path), JSONPATH))
        else:
            page = literal_column("'[]'::jsonb")
        query = select(
            *_SUMMARY,
            and_(imports.c.status == "running", imports.c.updated_at < func.now() - _STALE).label("stale"),
            func.jsonb_array_length(imports.c.report).label("report_total"),
            page.label("report"),
        ).where(imports.c.id == import_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _record(row) if row else None

    async def checking(self, import_id: str, attempt: int, rows_checked: int) -> bool:
        return await self._update(import_id, attempt, rows_checked=rows_checked)

    async def checked(self, import_id: str, attempt: int, *, rows_checked: int, counts: dict[str, int],
                      report: Sequence[dict[str, Any]], report_truncated: bool) -> bool:
        return await self._update(
            import_id, attempt, rows_checked=rows_checked, counts=counts, report=list(report),
            report_truncated=report_truncated, touchpoints_total=counts["touchpoints"], phase="publishing",
        )

    async def published(self, import_id: str, attempt: int, touchpoints_published: int) -> bool:
        """Progress, and the heartbeat that says this run is alive (also while it waits for Kafka)."""
        return await self._update(import_id, attempt, touchpoints_published=touchpoints_published)

    async def complete(self, import_id: str, attempt: int, *, touchpoints_published: int, counts: dict[str, int],
                       report: Sequence[dict[str, Any]], report_truncated: bool) -> bool:
        """Done: the final counts and the full report (the warnings are known only now)."""
        return await self._update(import_id, attempt, status="completed", phase="finished",
                                  touchpoints_published=touchpoints_published, counts=counts, report=list(report),
                                  report_truncated=report_truncated, finished_at=func.now())

    async def fail(self, import_id: str, attempt: int, error: str) -> bool:
        return await self._update(import_id, attempt, status="failed", error=error[:2000], finished_at=func.now())

    async def _update(self, import_id: str, attempt: int, **values: Any) -> bool:
        stmt = (
            update(imports)
            .where(imports.c.id == import_id, imports.c.attempt == attempt, imports.c.status == "running")
            .values(**values, updated_at=func.now())
        )
        async with self.engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount == 1
