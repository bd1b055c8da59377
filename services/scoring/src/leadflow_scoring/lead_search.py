"""Lead search for ``GET /v1/leads``: filters, three sort orders and keyset cursors.

Every sort is a keyset over ``(sort column, lead_id)``, so page n costs what page 1 costs. The
cursor names its sort and direction; a cursor handed back with another sort is refused rather
than silently paging through a different order. Cursors of the older form (``updated_at|lead_id``)
still work: they are the default order, newest activity first.

The indexes these queries rely on are declared here (on the shared ``scoring`` metadata) and
created by migration 0006: one ``(column, lead_id)`` B-tree per sort, ``(stage, column, lead_id)``
for the stage filter, a trigram GIN index over the searchable text and ``(source_id, lead_id)``
on touchpoints for the source filter.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, exists, literal, literal_column, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import Stage

from leadflow_scoring.adapters.tables import leads, touchpoints
from leadflow_scoring.queries import SUMMARY_COLUMNS

# The one expression free text is matched against; migration 0006 builds a trigram GIN index over it
# (Alembic does not compare expression indexes, so it is not declared below). The query must spell it
# exactly as the index does - constants inline, not bound parameters - or PostgreSQL cannot use the index.
SEARCH_TEXT_SQL = (
    "lower(coalesce(email, '') || ' ' || coalesce(profile ->> 'first_name', '') || ' ' || "
    "coalesce(profile ->> 'last_name', '') || ' ' || coalesce(profile ->> 'company', ''))"
)
MIN_SEARCH_CHARS = 3

Index("ix_leads_updated_id", leads.c.updated_at, leads.c.lead_id)
Index("ix_leads_created_id", leads.c.created_at, leads.c.lead_id)
Index("ix_leads_score_id", leads.c.score, leads.c.lead_id)
Index("ix_leads_stage_score_id", leads.c.stage, leads.c.score, leads.c.lead_id)
Index("ix_leads_grade_updated_id", leads.c.grade, leads.c.updated_at, leads.c.lead_id)
Index("ix_touchpoints_source_lead", touchpoints.c.source_id, touchpoints.c.lead_id)

GRADE = re.compile(r"^[A-D][1-3]?$")


class SortKey(StrEnum):
    UPDATED_AT = "updated_at"
    SCORE = "score"
    CREATED_AT = "created_at"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


SORT_COLUMNS = {SortKey.UPDATED_AT: leads.c.updated_at, SortKey.SCORE: leads.c.score, SortKey.CREATED_AT: leads.c.created_at}


class BadSearch(ValueError):
    """A filter or cursor the API must answer with 400/422: the message says what to change."""


class BadCursor(BadSearch):
    pass


@dataclass(frozen=True)
class LeadFilter:
    stages: tuple[Stage, ...] = ()
    grades: tuple[str, ...] = ()
    score_min: int | None = None
    score_max: int | None = None
    source: str | None = None
    updated_since: datetime | None = None
    text: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Cursor:
    sort: SortKey
    order: SortOrder
    value: datetime | int
    lead_id: str

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else str(self.value)
        raw = f"{self.sort.value}|{self.order.value}|{value}|{self.lead_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, cursor: str) -> Cursor:
        try:
            parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
            if len(parts) == 2:  # the original cursor: newest activity first
                parts = [SortKey.UPDATED_AT.value, SortOrder.DESC.value, *parts]
            sort, order, value, lead_id = parts
            key = SortKey(sort)
            parsed: datetime | int = int(value) if key is SortKey.SCORE else datetime.fromisoformat(value)
            return cls(key, SortOrder(order), parsed, str(uuid.UUID(lead_id)))
        except Exception as exc:
            raise BadCursor("The cursor is not one this API returned; start again without it.") from exc


def expand_grades(grades: list[str] | None) -> tuple[str, ...]:
    """``A`` means ``A1``, ``A2`` and ``A3``; ``B2`` means itself."""
    out: list[str] = []
    for grade in grades or []:
        g = grade.strip().upper()
        if not GRADE.match(g):
            raise BadSearch(f"grade {grade!r} is not a grade: use a fit letter A-D, optionally with a level 1-3 (e.g. B or B2).")
        out.extend([g] if len(g) == 2 else [g + level for level in "123"])
    return tuple(dict.fromkeys(out))


def search_words(q: str | None) -> tuple[str, ...]:
    words = tuple((q or "").lower().split())
    if words and max(len(w) for w in words) < MIN_SEARCH_CHARS:
        raise BadSearch(f"q needs a word of at least {MIN_SEARCH_CHARS} characters (the trigram index cannot narrow shorter ones).")
    return words


def _like_pattern(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _summary(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["lead_id"] = str(out["lead_id"])
    return out


def build_query(f: LeadFilter, *, sort: SortKey, order: SortOrder, limit: int, cursor: Cursor | None):  # type: ignore[no-untyped-def]
    column = SORT_COLUMNS[sort]
    keyset = tuple_(column, leads.c.lead_id)
    ordering = [column.desc(), leads.c.lead_id.desc()] if order is SortOrder.DESC else [column.asc(), leads.c.lead_id.asc()]
    query = select(*SUMMARY_COLUMNS).order_by(*ordering).limit(limit + 1)
    if f.stages:
        query = query.where(leads.c.stage.in_([s.value for s in f.stages]))
    if f.grades:
        query = query.where(leads.c.grade.in_(list(f.grades)))
    if f.score_min is not None:
        query = query.where(leads.c.score >= f.score_min)
    if f.score_max is not None:
        query = query.where(leads.c.score <= f.score_max)
    if f.updated_since is not None:
        query = query.where(leads.c.updated_at >= f.updated_since)
    if f.email:
        query = query.where(leads.c.email == f.email.strip().lower())
    if f.source:
        query = query.where(
            exists().where(touchpoints.c.source_id == f.source, touchpoints.c.lead_id == leads.c.lead_id)
        )
    for word in search_words(f.text):
        query = query.where(literal_column(SEARCH_TEXT_SQL).like(_like_pattern(word)))
    if cursor is not None:
        if (cursor.sort, cursor.order) != (sort, order):
            raise BadCursor(
                f"The cursor belongs to sort={cursor.sort.value}&order={cursor.order.value}; "
                f"ask with that sort again, or start without a cursor."
            )
        after = tuple_(literal(cursor.value, column.type), literal(cursor.lead_id, leads.c.lead_id.type))
        query = query.where(keyset < after if order is SortOrder.DESC else keyset > after)
    return query


async def lead_page(
    engine: AsyncEngine, f: LeadFilter, *, sort: SortKey = SortKey.UPDATED_AT, order: SortOrder = SortOrder.DESC,
    limit: int = 50, cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of leads and the cursor of the next (``None`` on the last page)."""
    query = build_query(f, sort=sort, order=order, limit=limit, cursor=Cursor.decode(cursor) if cursor else None)
    async with engine.connect() as conn:
        # A generic plan cannot see the search pattern or how selective a filter is: plan each page for its
        # values. JIT compiling costs more than a page of 50 ever takes.
        await conn.execute(text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)"))
        rows = [_summary(r) for r in await conn.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    if not (more and rows):
        return rows, None
    last = rows[-1]
    return rows, Cursor(sort, order, last[sort.value], last["lead_id"]).encode()
