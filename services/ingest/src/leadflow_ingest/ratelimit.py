"""Per-source request budgets: a token bucket per source, in memory, per ingest instance."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from prometheus_client import Counter

RATE_LIMITED = Counter("leadflow_ingest_rate_limited_total", "Requests refused with 429 by a source's rate limit.", ["kind"])


class TokenBuckets:
    """``per_minute`` requests a minute on average, bursts of up to ``per_minute`` at once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, per_minute: int) -> float:
        """0 when the request may go; otherwise the seconds until it could."""
        now = self.clock()
        capacity = float(per_minute)
        tokens, at = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * per_minute / 60.0)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) * 60.0 / per_minute


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
