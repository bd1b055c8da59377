"""Recycles MQLs whose engagement has decayed below the line, at the moment it happened.

Each MQL carries the time at which decay takes it below ``mql - recycle_gap``
(``review_at``, computed when it was last scored). The sweep only visits leads whose
time has come - never every lead - and evaluates each at its own review time, so the
result does not depend on when the sweep runs.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_runtime.health import Heartbeat
from leadflow_runtime.lifecycle import BatchedJob
from leadflow_runtime.logs import get_logger

from leadflow_scoring.adapters import store
from leadflow_scoring.model_registry import ModelRegistry
from leadflow_scoring.domain.scoring import reevaluate
from leadflow_scoring.writes import Writes

log = get_logger(__name__)
REVIEWED = Counter("leadflow_decay_reviews_total", "MQLs re-evaluated because their engagement decayed.")


class DecaySweep(BatchedJob):
    def __init__(self, *, engine: AsyncEngine, registry: ModelRegistry, stage_topic: str, heartbeat: Heartbeat,
                 interval: float, batch: int = 500, after_commit=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(name="decay-sweep", interval=interval, batch=batch, heartbeat=heartbeat)
        self.engine = engine
        self.registry = registry
        self.stage_topic = stage_topic
        self.after_commit = after_commit

    async def step(self, now: datetime) -> int:
        return await self.sweep_once(now)

    async def sweep_once(self, now: datetime) -> int:
        async with self.engine.begin() as conn:
            due = await store.claim_due_reviews(conn, now, self.batch)
            if not due:
                return 0
            model = await self.registry.refresh(conn)
            writes = Writes(model, self.stage_topic)
            for lead in due:
                assert lead.review_at is not None
                scored = reevaluate(lead, model, lead.review_at)
                writes.add(scored, lead.review_at)
            await writes.flush(conn)
        REVIEWED.inc(len(due))
        if self.after_commit and writes.history:
            self.after_commit()
        return len(due)
