"""Lead search for ``GET /v1/leads``: filters, three sort orders and keyset cursors.

Every sort is a keyset over ``(sort column, lead_id)``, so page n costs what page 1 costs. The
cursor names its sort and direction; a cursor handed back with another sort is refused rather
than silently paging through a different order. Cursors of the older form (``updated_at|lead_id``)
still work: they are the default order, newest activity first.

The indexes these queries rely on are declared here (on the shared ``scoring`` metadata) and
created by migration 0006: one ``(column, lead_id)`` B-tree per sort, ``(stage | grade, score,
lead_id)`` because score follows stage and grade (a walk down the score order looking for SQLs, or
for D3 leads, would pass most of the table first), ``(source_id, lead_id)`` on touchpoints for the
source filter. Migration 0008 adds ``(assigned_team, updated_at | score, lead_id)`` and ``(assigned_member,
updated_at, lead_id)``, partial (assigned leads only): a team's or a rep's leads, newest activity first,
straight from the index, and a team's by score either way.

PostgreSQL plans "first 50 in sort order that match" as a walk along the sort index, assuming the
matches are spread evenly. When a filter is correlated with the order (``stage=lead`` with
``score >= 90``: none exist) the walk passes the whole table. So a filtered page gets
``WALK_BUDGET_MS``; past it the page is fetched the other way round - every match through the filters'
indexes, then sorted - which is fast exactly when matches are rare. Free text is matched in a
side table, ``lead_search`` (name, e-mail and company as one lower-case text, with a trigram GIN
index), which triggers on ``leads`` keep current only when the e-mail or the profile changes: a
trigram index on ``leads`` itself would take ~60 new entries on every score update.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Column, ForeignKey, Index, Table, Text, any_, bindparam, exists, literal, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_events import Stage

from leadflow_scoring.adapters.tables import leads, metadata, touchpoints
from leadflow_scoring.queries import SUMMARY_COLUMNS, with_assignment

MIN_SEARCH_CHARS = 3
# Free text is looked up first through the trigram index, up to this many leads. Below it, the page is
# sorted from exactly those leads; above it, matches are dense enough (>= 0.5 % of a million) that
# walking the sort order and checking each lead's text finds a page quickly. Left to itself the planner
# may instead scan the whole search table and hash it: ten times slower on a million leads.
TEXT_CANDIDATES = 5000
WALK_BUDGET_MS = 100
QUERY_CANCELED = "57014"

Index("ix_leads_updated_id", leads.c.updated_at, leads.c.lead_id)
Index("ix_leads_created_id", leads.c.created_at, leads.c.lead_id)
Index("ix_leads_score_id", leads.c.score, leads.c.lead_id)
Index("ix_leads_stage_score_id", leads.c.stage, leads.c.score, leads.c.lead_id)
Index("ix_leads_grade_score_id", leads.c.grade, leads.c.score, leads.c.lead_id)
Index("ix_touchpoints_source_lead", touchpoints.c.source_id, touchpoints.c.lead_id)
# Only leads handover assigned have entries, so a score update of any other lead costs these nothing. Score
# follows assignment as it follows stage (only SQLs are assigned): a team's leads by score ascending would
# otherwise be found only past every lower-scored lead. A rep's leads are few enough to gather and sort.
Index("ix_leads_team_updated_id", leads.c.assigned_team, leads.c.updated_at, leads.c.lead_id,
      postgresql_where=leads.c.assigned_team.is_not(None))
Index("ix_leads_team_score_id", leads.c.assigned_team, leads.c.score, leads.c.lead_id,
      postgresql_where=leads.c.assigned_team.is_not(None))
Index("ix_leads_member_updated_id", leads.c.assigned_member, leads.c.updated_at, leads.c.lead_id,
      postgresql_where=leads.c.assigned_member.is_not(None))

lead_search = Table(
    "lead_search",
    metadata,
    Column("lead_id", UUID(as_uuid=False), ForeignKey(leads.c.lead_id, ondelete="CASCADE"), primary_key=True),
    Column("search_text", Text, nullable=False,
           comment="lower(e-mail first_name last_name company); kept by triggers on leads, deleted with the lead."),
)
Index("ix_lead_search_trgm", lead_search.c.search_text, postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"})

GRADE = re.compile(r"^[A-D][1-3]?$")
WALKS_ABANDONED = Counter(
    "leadflow_lead_list_walks_abandoned_total",
    "Lead list pages whose walk along the sort order ran past its budget and were gathered through the filters instead.",
)


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
    teams: tuple[str, ...] = ()
    reps: tuple[str, ...] = ()


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


def _text_matches(words: tuple[str, ...]) -> list[Any]:
    return [lead_search.c.search_text.like(_like_pattern(w)) for w in words]


def build_query(  # type: ignore[no-untyped-def]
    f: LeadFilter, *, sort: SortKey, order: SortOrder, limit: int, cursor: Cursor | None, candidates: list[str] | None = None,
):
    """The page query; ``candidates`` (all leads whose text matches) replaces the text condition when known."""
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
    if f.teams:
        query = query.where(_one_of(leads.c.assigned_team, f.teams))
    if f.reps:
        query = query.where(_one_of(leads.c.assigned_member, f.reps))
    if f.source:
        query = query.where(
            exists().where(touchpoints.c.source_id == f.source, touchpoints.c.lead_id == leads.c.lead_id)
        )
    words = search_words(f.text)
    if candidates is not None:
        query = query.where(leads.c.lead_id == any_(bindparam("candidates", list(candidates), type_=ARRAY(UUID(as_uuid=False)))))
    elif words:
        query = query.where(exists().where(lead_search.c.lead_id == leads.c.lead_id, *_text_matches(words)))
    if cursor is not None:
        if (cursor.sort, cursor.order) != (sort, order):
            raise BadCursor(
                f"The cursor belongs to sort={cursor.sort.value}&order={cursor.order.value}; "
                f"ask with that sort again, or start without a cursor."
            )
        after = tuple_(literal(cursor.value, column.type), literal(cursor.lead_id, leads.c.lead_id.type))
        query = query.where(keyset < after if order is SortOrder.DESC else keyset > after)
    return query


def _one_of(column: Any, values: tuple[str, ...]) -> Any:
    """``column = v`` for one value, which reads a team's (or rep's) leads in sort order straight from its index."""
    return column == values[0] if len(values) == 1 else column.in_(list(values))


async def _text_candidates(conn: AsyncConnection, words: tuple[str, ...]) -> list[str] | None:
    """Every lead whose text matches, through the trigram index; ``None`` when there are more than the cap."""
    await conn.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
    found = (await conn.execute(
        select(lead_search.c.lead_id).where(*_text_matches(words)).limit(TEXT_CANDIDATES + 1)
    )).scalars().all()
    await conn.execute(text("SELECT set_config('enable_seqscan', 'on', true)"))
    return None if len(found) > TEXT_CANDIDATES else [str(x) for x in found]


def _filtered(f: LeadFilter) -> bool:
    return bool(f.stages or f.grades or f.source or f.email or f.text or f.teams or f.reps or f.updated_since is not None
                or f.score_min is not None or f.score_max is not None)


async def _walk_or_gather(conn: AsyncConnection, query: Any) -> list[dict[str, Any]]:
    """The planner's plan within the walk budget; past it, every match through the filters' indexes, then sorted."""
    try:
        async with conn.begin_nested():  # the budget (SET LOCAL) ends with the savepoint
            await conn.execute(text("SELECT set_config('statement_timeout', :budget, true)"), {"budget": f"{WALK_BUDGET_MS}ms"})
            return [_summary(r) for r in await conn.execute(query)]
    except DBAPIError as exc:
        if _sqlstate(exc) != QUERY_CANCELED:
            raise
    WALKS_ABANDONED.inc()
    await conn.execute(text(
        "SELECT set_config('enable_indexscan', 'off', true), set_config('enable_indexonlyscan', 'off', true), "
        "set_config('enable_hashjoin', 'on', true), set_config('enable_mergejoin', 'on', true)"
    ))
    return [_summary(r) for r in await conn.execute(query)]


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


async def lead_page(
    engine: AsyncEngine, f: LeadFilter, *, sort: SortKey = SortKey.UPDATED_AT, order: SortOrder = SortOrder.DESC,
    limit: int = 50, cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of leads and the cursor of the next (``None`` on the last page)."""
    after = Cursor.decode(cursor) if cursor else None
    words = search_words(f.text)
    async with engine.connect() as conn:
        # A generic plan cannot see the search pattern or how selective a filter is: plan each page for its
        # values. JIT compiling costs more than a page of 50 ever takes.
        await conn.execute(text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)"))
        candidates = await _text_candidates(conn, words) if words else None
        if words and candidates is None:  # dense matches: walk the sort order, check each lead's text by its key
            await conn.execute(text("SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"))
        query = build_query(f, sort=sort, order=order, limit=limit, cursor=after, candidates=candidates)
        if candidates is None and _filtered(f):
            rows = await _walk_or_gather(conn, query)
        else:
            rows = [_summary(r) for r in await conn.execute(query)]
    more = len(rows) > limit
    rows = [with_assignment(r) for r in rows[:limit]]
    if not (more and rows):
        return rows, None
    last = rows[-1]
    return rows, Cursor(sort, order, last[sort.value], last["lead_id"]).encode()
