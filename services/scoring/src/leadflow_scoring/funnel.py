"""Funnel metrics (``GET /v1/funnel``) read from daily aggregates, never from the raw history.

Migration 0006 puts a statement-level ``AFTER INSERT`` trigger on ``stage_history`` that folds
every inserted stage change, in the inserting transaction, into three small tables:

- ``stage_daily_counts``: per UTC day and transition (from, to), how many stage changes, and how
  many of them were the lead's *first* time in the target stage;
- ``stage_cohort_counts``: per lead creation day and stage, how many of the leads created that day
  have reached the stage (first entries only) - the basis of the conversion rates;
- ``stage_time_buckets``: per day and stage, a log-scale histogram of the time from the lead's
  creation to its first entry into the stage - the basis of median and p90.

A funnel over n days therefore reads O(n x transitions) rows, whatever the number of leads.
Rows carry a ``shard`` (the writing backend's pid modulo 8) so that concurrent scoring
transactions add to different rows instead of queueing on one counter per day.

SAL, customer and lost come from sales feedback and are counted like every other stage. The
handover figures - acceptance and win rates, time from SQL to acceptance, missed deadlines,
rejection reasons - are read from ``handover_feedback``: one row per sales decision or missed
deadline, a small fraction of the stage changes, so they are aggregated when asked for.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Column, Date, MetaData, SmallInteger, String, Table, extract, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import Stage
from leadflow_runtime.problems import Problem

from leadflow_scoring.adapters.tables import handover_feedback, metadata
from leadflow_scoring.dashboard.session import require_admin

FUNNEL = (Stage.LEAD, Stage.MQL, Stage.SQL, Stage.SAL, Stage.CUSTOMER)
TIMED = (Stage.MQL, Stage.SQL, Stage.SAL, Stage.CUSTOMER)
FEEDBACK_KINDS = ("accepted", "rejected", "won", "lost", "sla_breached")
MAX_DAYS = 731
# Histogram bucket b holds durations s (seconds) with 1.1**b <= 1 + s < 1.1**(b + 1); the trigger in
# migration 0006 computes floor(ln(1 + s) / ln(1.1)) - keep the two in step.
BUCKET_BASE = 1.1
NEW = ""  # from_stage of a lead's first stage change (it had none before)


def _tables(md: MetaData) -> tuple[Table, Table, Table]:
    daily = Table(
        "stage_daily_counts", md,
        Column("day", Date, primary_key=True, comment="UTC day the stage changes happened."),
        Column("from_stage", String(32), primary_key=True, comment="'' for a new lead."),
        Column("to_stage", String(32), primary_key=True),
        Column("shard", SmallInteger, primary_key=True, comment="Spreads concurrent writers over rows."),
        Column("entered", BigInteger, nullable=False),
        Column("first_entered", BigInteger, nullable=False, comment="Changes that took the lead into to_stage for the first time."),
    )
    cohort = Table(
        "stage_cohort_counts", md,
        Column("cohort_day", Date, primary_key=True, comment="UTC day the leads were created."),
        Column("stage", String(32), primary_key=True),
        Column("shard", SmallInteger, primary_key=True),
        Column("reached", BigInteger, nullable=False, comment="Leads of the cohort that have reached the stage."),
    )
    times = Table(
        "stage_time_buckets", md,
        Column("day", Date, primary_key=True, comment="UTC day of the first entry into the stage."),
        Column("stage", String(32), primary_key=True),
        Column("bucket", SmallInteger, primary_key=True, comment="floor(ln(1 + seconds since creation) / ln(1.1))."),
        Column("shard", SmallInteger, primary_key=True),
        Column("leads", BigInteger, nullable=False),
    )
    return daily, cohort, times


stage_daily_counts, stage_cohort_counts, stage_time_buckets = _tables(metadata)


# --------------------------------------------------------------------------- pure helpers

def bucket_of(seconds: float) -> int:
    return int(math.floor(math.log1p(max(seconds, 0.0)) / math.log(BUCKET_BASE)))


def bucket_seconds(bucket: int) -> float:
    """The middle of the bucket (geometric, on 1 + s): within 5 % of every duration in it."""
    return max(BUCKET_BASE ** (bucket + 0.5) - 1.0, 0.0)


def percentile(histogram: dict[int, int], q: float) -> float | None:
    """Nearest-rank percentile of a bucket histogram, ``None`` when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return round(bucket_seconds(bucket), 1)
    raise AssertionError("unreachable: rank <= total")


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"


def periods(start: date, end: date, by: Period) -> list[tuple[date, date]]:
    """Consecutive periods covering ``start..end`` (inclusive); weeks start on Monday, clipped to the range."""
    out = []
    day = start
    while day <= end:
        last = day if by is Period.DAY else min(day + timedelta(days=6 - day.weekday()), end)
        out.append((day, last))
        day = last + timedelta(days=1)
    return out


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


# --------------------------------------------------------------------------- HTTP models

class StageCounts(BaseModel):
    entered: dict[str, int] = Field(description="Stage changes into each stage (a recycled lead that comes back counts again).")
    first_entered: dict[str, int] = Field(description="Leads that reached each stage for the first time.")


class Conversion(BaseModel):
    from_stage: Stage
    to_stage: Stage
    from_count: int
    to_count: int
    rate: float | None = Field(description="to_count / from_count; null when from_count is 0.")


class PeriodView(StageCounts):
    start: date
    end: date
    conversion: list[Conversion] = Field(description="Of the leads created in this period, who has reached each next stage.")


class FlowView(BaseModel):
    from_stage: Stage | None = Field(description="null: a new lead.")
    to_stage: Stage
    count: int


class TimeToStage(BaseModel):
    leads: int = Field(description="Leads that reached the stage for the first time in the range.")
    median_seconds: float | None
    p90_seconds: float | None


class RejectionCount(BaseModel):
    reason: str = Field(description="procedural, clerical, definitional, not_now, not_a_fit, duplicate, other")
    count: int


class HandoverStats(BaseModel):
    """Sales' answers to handovers, by when they were given (decisions) or missed (deadlines)."""

    accepted: int
    rejected: int
    won: int
    lost: int
    acceptance_rate: float | None = Field(description="accepted / (accepted + rejected); null when neither happened.")
    win_rate: float | None = Field(description="won / (won + lost); null when neither happened.")
    time_to_acceptance: TimeToStage = Field(description="From the lead becoming SQL to its acceptance, over the acceptances in the range.")
    sla_breaches: int = Field(description="Acceptance deadlines missed in the range (a handover can miss several after reassignment).")
    decided_after_breach: int = Field(description="Decisions in the range on handovers that had missed a deadline first.")


class FunnelView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    by: Period
    time_zone: str = "UTC"
    stages: list[Stage] = Field(description="The funnel, in order.")
    totals: StageCounts
    conversion: list[Conversion] = Field(description="Of the leads created in the range, who has reached each next stage by now.")
    periods: list[PeriodView]
    flow: list[FlowView] = Field(description="Every kind of stage change in the range, with its count.")
    time_to_stage: dict[str, TimeToStage] = Field(description="From the lead's creation to its first MQL / SQL / SAL / customer entry.")
    handover: HandoverStats = Field(description="Sales feedback in the range: acceptance, time to acceptance, missed deadlines.")
    rejections: list[RejectionCount] = Field(description="Why sales sent leads back in the range, most frequent first.")
    notes: list[str]


NOTES = [
    "Days are UTC calendar days; `from` and `to` are both included; weeks start on Monday.",
    "Conversion rates are cohort rates: of the leads created in the range (or period), the share that has reached "
    "the next stage by now. Recent cohorts are still maturing, so their rates rise over time.",
    "SAL, customer and lost come from sales feedback (accept, won, lost) recorded in the handover service; a lead "
    "sales rejects goes back to lead, so SQL -> SAL conversion counts only accepted leads.",
    "time_to_stage is read from a histogram with buckets 10 % wide: each figure is within 5 % of the exact value.",
    "handover counts sales' decisions made in the range (acceptance rate = accepted / (accepted + rejected)) and "
    "deadlines missed in the range; time_to_acceptance runs from SQL to acceptance and is exact.",
    "SQL-to-delivery times live in the handover service (GET /v1/deliveries there: qualified_at, delivered_at; the "
    "dashboard shows them).",
]


def _conversions(reached: dict[str, int]) -> list[Conversion]:
    return [
        Conversion(from_stage=a, to_stage=b, from_count=reached.get(a, 0), to_count=reached.get(b, 0),
                   rate=_rate(reached.get(b, 0), reached.get(a, 0)))
        for a, b in zip(FUNNEL, FUNNEL[1:])
    ]


def _zero() -> dict[str, int]:
    return {s.value: 0 for s in Stage}


async def funnel(engine: AsyncEngine, start: date, end: date, by: Period) -> FunnelView:
    d, c, t = stage_daily_counts, stage_cohort_counts, stage_time_buckets
    async with engine.connect() as conn:
        daily = (await conn.execute(
            select(d.c.day, d.c.from_stage, d.c.to_stage, func.sum(d.c.entered), func.sum(d.c.first_entered))
            .where(d.c.day.between(start, end)).group_by(d.c.day, d.c.from_stage, d.c.to_stage)
        )).all()
        cohorts = (await conn.execute(
            select(c.c.cohort_day, c.c.stage, func.sum(c.c.reached))
            .where(c.c.cohort_day.between(start, end)).group_by(c.c.cohort_day, c.c.stage)
        )).all()
        buckets = (await conn.execute(
            select(t.c.stage, t.c.bucket, func.sum(t.c.leads))
            .where(t.c.day.between(start, end), t.c.stage.in_([s.value for s in TIMED])).group_by(t.c.stage, t.c.bucket)
        )).all()

    spans = periods(start, end, by)
    index = {}
    for i, (first, last) in enumerate(spans):
        for n in range((last - first).days + 1):
            index[first + timedelta(days=n)] = i
    entered = [_zero() for _ in spans]
    first_entered = [_zero() for _ in spans]
    reached = [_zero() for _ in spans]
    flow: dict[tuple[str, str], int] = defaultdict(int)
    for day, from_stage, to_stage, n, first in daily:
        i = index[day]
        entered[i][to_stage] = entered[i].get(to_stage, 0) + int(n)
        first_entered[i][to_stage] = first_entered[i].get(to_stage, 0) + int(first)
        flow[(from_stage, to_stage)] += int(n)
    for day, stage, n in cohorts:
        reached[index[day]][stage] = reached[index[day]].get(stage, 0) + int(n)

    def total(rows: list[dict[str, int]]) -> dict[str, int]:
        out = _zero()
        for row in rows:
            for k, v in row.items():
                out[k] = out.get(k, 0) + v
        return out

    histograms: dict[str, dict[int, int]] = {s.value: {} for s in TIMED}
    handover, rejections = await _feedback(engine, start, end)
    for stage, bucket, n in buckets:
        histograms[stage][int(bucket)] = int(n)
    return FunnelView(
        from_=start, to=end, by=by, stages=list(FUNNEL),
        totals=StageCounts(entered=total(entered), first_entered=total(first_entered)),
        conversion=_conversions(total(reached)),
        periods=[
            PeriodView(start=a, end=b, entered=entered[i], first_entered=first_entered[i], conversion=_conversions(reached[i]))
            for i, (a, b) in enumerate(spans)
        ],
        flow=[
            FlowView(from_stage=Stage(f) if f != NEW else None, to_stage=Stage(to), count=n)
            for (f, to), n in sorted(flow.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        time_to_stage={
            stage: TimeToStage(leads=sum(h.values()), median_seconds=percentile(h, 0.5), p90_seconds=percentile(h, 0.9))
            for stage, h in histograms.items()
        },
        handover=handover,
        rejections=rejections,
        notes=NOTES,
    )


async def _feedback(engine: AsyncEngine, start: date, end: date) -> tuple[HandoverStats, list[RejectionCount]]:
    f = handover_feedback
    since = datetime.combine(start, datetime.min.time(), UTC)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    in_range = (f.c.kind.in_(FEEDBACK_KINDS), f.c.occurred_at >= since, f.c.occurred_at < until)
    waited = extract("epoch", f.c.occurred_at - f.c.qualified_at)
    async with engine.connect() as conn:
        counts = (await conn.execute(
            select(f.c.kind, f.c.reason, func.count(), func.count().filter(f.c.sla_breached))
            .where(*in_range).group_by(f.c.kind, f.c.reason)
        )).all()
        accepted = (await conn.execute(
            select(func.count(), func.percentile_cont(0.5).within_group(waited), func.percentile_cont(0.9).within_group(waited))
            .where(f.c.kind == "accepted", f.c.occurred_at >= since, f.c.occurred_at < until)
        )).one()
    by_kind: dict[str, int] = defaultdict(int)
    reasons: dict[str, int] = defaultdict(int)
    after_breach = 0
    for kind, reason, n, breached in counts:
        by_kind[kind] += int(n)
        if kind == "rejected":
            reasons[reason or "other"] += int(n)
        if kind != "sla_breached":
            after_breach += int(breached)
    n, median, p90 = accepted
    stats = HandoverStats(
        accepted=by_kind["accepted"], rejected=by_kind["rejected"], won=by_kind["won"], lost=by_kind["lost"],
        acceptance_rate=_rate(by_kind["accepted"], by_kind["accepted"] + by_kind["rejected"]),
        win_rate=_rate(by_kind["won"], by_kind["won"] + by_kind["lost"]),
        time_to_acceptance=TimeToStage(
            leads=int(n), median_seconds=round(float(median), 1) if median is not None else None,
            p90_seconds=round(float(p90), 1) if p90 is not None else None,
        ),
        sla_breaches=by_kind["sla_breached"], decided_after_breach=after_breach,
    )
    return stats, [RejectionCount(reason=r, count=c) for r, c in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]


# --------------------------------------------------------------------------- route

def _engine(request: Request) -> AsyncEngine:
    return request.app.state.container.engine


router = APIRouter(prefix="/v1", tags=["funnel"])


@router.get(
    "/funnel", response_model=FunnelView, response_model_by_alias=True, dependencies=[Depends(require_admin)],
    summary="Stage entries per day or week, cohort conversion rates, stage flow, time to each stage, sales feedback",
)
async def get_funnel(
    engine: Annotated[AsyncEngine, Depends(_engine)],
    from_: Annotated[date | None, Query(alias="from", description="First day (UTC, inclusive); default: 89 days before `to`.")] = None,
    to: Annotated[date | None, Query(description="Last day (UTC, inclusive); default: today.")] = None,
    by: Annotated[Period, Query(description="`day` or `week` (Monday to Sunday).")] = Period.DAY,
) -> Any:
    end = to or datetime.now(UTC).date()
    start = from_ or end - timedelta(days=89)
    if start > end:
        raise Problem(422, f"`from` ({start}) is after `to` ({end}).",
                      errors=[{"in": "query", "field": "from", "message": "must not be after `to`"}])
    if (end - start).days + 1 > MAX_DAYS:
        raise Problem(422, f"The range covers {(end - start).days + 1} days; ask for at most {MAX_DAYS} at a time.",
                      errors=[{"in": "query", "field": "from", "message": f"range longer than {MAX_DAYS} days"}])
    return await funnel(engine, start, end, by)
