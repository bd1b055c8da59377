"""What to do after a delivery attempt (Standard Webhooks / Svix conventions)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Delays before attempt 2, 3, ...: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
SLOW_DOWN = frozenset({429, 502, 503, 504})


class Verdict(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"          # permanently: a 4xx, or the schedule is used up
    DISABLE = "disable"        # 410 Gone: the receiver asks us to stop


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0
    reason: str = ""


def decide(
    attempt: int, status: int | None, schedule: tuple[float, ...] = DEFAULT_SCHEDULE, retry_after: float | None = None
) -> Decision:
    """``attempt`` counts from 1; ``status`` is None when no response came (timeout, refused connection)."""
    if status is not None and 200 <= status < 300:
        return Decision(Verdict.SUCCEEDED, reason=f"{status}")
    if status == 410:
        return Decision(Verdict.DISABLE, reason="410 Gone: the receiver disabled this endpoint")
    if status is not None and 400 <= status < 500 and status not in SLOW_DOWN:
        return Decision(Verdict.FAILED, reason=f"{status}: the receiver rejected the notification; not retried")
    if attempt >= len(schedule):
        return Decision(Verdict.FAILED, reason=f"no success after {attempt} attempts")
    delay = schedule[attempt]
    if status in SLOW_DOWN and retry_after is not None:
        delay = max(delay, min(retry_after, 86_400.0))
    what = f"{status}" if status is not None else "no response"
    return Decision(Verdict.RETRY, delay=delay, reason=f"{what}; retrying in {delay:g} s")


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        from datetime import UTC, datetime

        return max((when - datetime.now(UTC)).total_seconds(), 0.0)
