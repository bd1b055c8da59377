"""Many rows in one statement: ``INSERT … SELECT … FROM unnest($1::type[], …)`` on the transaction's asyncpg connection.

The hot writers (the scoring worker writes a lead, a touchpoint and its ledger lines per touchpoint)
spent most of their CPU in SQLAlchemy turning each row into parameters and in ``json.dumps``.
Here each column travels as one array parameter in asyncpg's binary format, JSON columns as
text cast to ``jsonb`` by PostgreSQL, and the statement text never changes, so asyncpg
prepares it once per connection. It runs inside the caller's SQLAlchemy transaction (same
connection), so it commits or rolls back with everything else.

Statement-level triggers fire once per call, as for one multi-row ``INSERT``.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_runtime.db import json_text

_DIALECT = postgresql.dialect()
STAGE_FROM_ROWS = 100  # below this, arrays in one statement beat a stage table (three more round trips)
T = TypeVar("T")


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn`` (in the same transaction)."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


@asynccontextmanager
async def in_flight(statement: Awaitable[T]) -> AsyncIterator[asyncio.Future[T]]:
    """Send ``statement`` and run the body while PostgreSQL executes it: the process and the database work at
    the same time. The body must not use the connection; leaving the block waits for the statement (and
    raises its error). If the body fails, the statement is still awaited, so the connection is free again."""
    task = asyncio.ensure_future(statement)
    await asyncio.sleep(0)  # the task runs up to the point where it waits for PostgreSQL's answer
    try:
        yield task
    except BaseException:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # seen: the body's error is the one raised
        raise
    await task


class BulkInsert:
    """``INSERT INTO table (columns) SELECT … FROM unnest(…)``, optionally with a conflict clause and ``RETURNING``.

    ``tail`` is appended as is (``ON CONFLICT (event_id) DO NOTHING RETURNING event_id``); with
    ``upsert_key`` a conflict over that key updates the ``update`` columns (default: all others) and ``extra_set``.
    """

    def __init__(self, table: Table, columns: Sequence[str], *, tail: str = "", upsert_key: str | None = None,
                 update: Sequence[str] | None = None, extra_set: Mapping[str, str] | None = None) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.json_columns = frozenset(c for c in self.columns if isinstance(table.c[c].type, JSON))
        name = f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
        quoted = [f'"{c}"' for c in self.columns]
        arrays, picks = [], []
        for i, column in enumerate(self.columns, start=1):
            if column in self.json_columns:
                arrays.append(f"${i}::text[]")
                picks.append(f'u."{column}"::jsonb')
            else:
                arrays.append(f"${i}::{table.c[column].type.compile(dialect=_DIALECT)}[]")
                picks.append(f'u."{column}"')
        if upsert_key is not None:
            updated = [c for c in self.columns if c != upsert_key] if update is None else list(update)
            sets = [f'"{c}" = EXCLUDED."{c}"' for c in updated]
            sets += [f'"{c}" = {expression}' for c, expression in (extra_set or {}).items()]
            tail = f'ON CONFLICT ("{upsert_key}") DO UPDATE SET {", ".join(sets)} {tail}'.strip()
        self.sql = (
            f"INSERT INTO {name} ({', '.join(quoted)}) "
            f"SELECT {', '.join(picks)} FROM unnest({', '.join(arrays)}) AS u({', '.join(quoted)}) {tail}"
        ).strip()
        # Staged: the rows are copied into a session's temporary table of the same columns, then moved over in
        # one statement (the DELETE empties the stage, so a second batch in the transaction starts from nothing).
        self.stage_table = f"leadflow_stage_{table.name}_{zlib.crc32(' '.join(self.columns).encode()):08x}"  # per column list
        self.create_stage = (
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{self.stage_table}" ON COMMIT DELETE ROWS AS '
            f"SELECT {', '.join(quoted)} FROM {name} WITH NO DATA"
        )
        self.staged_sql = (
            f'WITH staged AS (DELETE FROM "{self.stage_table}" RETURNING {", ".join(quoted)}) '
            f"INSERT INTO {name} ({', '.join(quoted)}) SELECT {', '.join(quoted)} FROM staged {tail}"
        ).strip()

    def arrays(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        out = []
        for column in self.columns:
            values = [row.get(column) for row in rows]
            out.append([None if v is None else json_text(v) for v in values] if column in self.json_columns else values)
        return out

    async def execute(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await (await driver_connection(conn)).execute(self.sql, *self.arrays(rows))

    def records(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Mappings as tuples in ``columns`` order, JSON columns as text: what ``copy`` and ``stage`` take."""
        columns, json_columns = self.columns, self.json_columns
        return [tuple(json_text(v) if c in json_columns and v is not None else v
                      for c, v in zip(columns, map(row.get, columns))) for row in rows]

    async def copy(self, conn: AsyncConnection, records: Sequence[tuple[Any, ...]]) -> None:
        """Rows as tuples in ``columns`` order (JSON columns as text) through binary ``COPY … FROM STDIN``:
        cheaper than ``execute`` for both sides on many rows, for plain inserts only (no conflict clause, nothing
        returned; for those, ``stage`` and then ``staged_sql``)."""
        if records:
            await (await driver_connection(conn)).copy_records_to_table(
                self.table.name, schema_name=self.table.schema, columns=list(self.columns), records=records)

    async def load(self, db: Any, records: Sequence[tuple[Any, ...]], *, fetch: bool = False) -> Coroutine[Any, Any, Any]:
        """Get ``records`` ready to go in and return the statement that puts them in (to await, or to run
        ``in_flight``; with ``fetch`` it answers the ``RETURNING`` rows). Many rows are staged (``stage``); a few
        go as arrays in the statement itself, which saves the stage's round trips (and so do rows written outside
        a transaction, which a stage would lose at the implicit commit)."""
        if len(records) >= STAGE_FROM_ROWS and db.is_in_transaction():
            await self.stage(db, records)
            sql, args = self.staged_sql, []
        else:
            sql, args = self.sql, [list(column) for column in zip(*records)] or [[] for _ in self.columns]
        return db.fetch(sql, *args) if fetch else db.execute(sql, *args)

    async def stage(self, db: Any, records: Sequence[tuple[Any, ...]]) -> None:
        """Copy ``records`` into this session's stage table (made on first use); ``staged_sql`` then moves them into
        the table with the conflict clause and ``RETURNING`` of this insert. ``db`` is the asyncpg connection, in a
        transaction: the stage empties itself at every commit, an implicit one included."""
        if not db.is_in_transaction():
            raise RuntimeError(f"staging rows for {self.table.name} outside a transaction would lose them at once")
        await db.execute(self.create_stage)
        await db.copy_records_to_table(self.stage_table, columns=list(self.columns), records=records)
