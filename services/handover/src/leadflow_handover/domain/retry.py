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
    attempt: int,
    status: int | None,
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE,
    retry_after: float | None = None,
    *,
    throttled: bool = False,
    permanent: bool = False,
) -> Decision:
    """What to do after attempt number ``attempt`` (counting from 1 since the delivery was created or replayed).

    ``status`` is None when no response came (timeout, refused connection). ``throttled`` marks
    an answer that means "slow down" although its status does not say so (Salesforce answers
    403 ``REQUEST_LIMIT_EXCEEDED``); it is retried like a 429. ``permanent`` marks an answer
    that can never turn into a success by waiting (a Salesforce 300 Multiple Choices, a lead
    a CRM cannot identify); it fails at once.
    """
    slow_down = throttled or status in SLOW_DOWN
    if status is not None and 200 <= status < 300:
        return Decision(Verdict.SUCCEEDED, reason=f"{status}")
    if status == 410:
        return Decision(Verdict.DISABLE, reason="410 Gone: the receiver disabled this endpoint")
    if permanent:
        return Decision(Verdict.FAILED, reason=f"{status if status is not None else 'no request'}: cannot succeed as it is; not retried")
    if status is not None and 400 <= status < 500 and not slow_down:
        return Decision(Verdict.FAILED, reason=f"{status}: the receiver rejected the notification; not retried")
    if attempt >= len(schedule):
        return Decision(Verdict.FAILED, reason=f"no success after {attempt} attempts")
    delay = schedule[attempt]
    if slow_down and retry_after is not None:
        delay = max(delay, min(retry_after, 86_400.0))
    what = (f"{status} (rate limited)" if throttled else f"{status}") if status is not None else "no response"
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
