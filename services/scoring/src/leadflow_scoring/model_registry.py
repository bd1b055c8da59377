"""Which scoring model is active: PostgreSQL holds it, every instance follows it.

The model file from the settings only seeds an empty database. After that a model is
changed by activating it (API), which every scoring instance picks up inside its next
transaction - after it has locked the leads it is about to score, so a lead is never
scored with the old model once a rescoring job has rewritten it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_runtime.logs import get_logger

from leadflow_scoring.adapters.tables import leads, models, rescore_jobs
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.model_file import parse_model

log = get_logger(__name__)


ACTIVATION_LOCK = (0x4C46, 1)  # seeding and activating the active model, one at a time across instances


@dataclass
class Activation:
    job_id: str | None
    model: ScoringModel
    already_active: bool


class ModelRegistry:
    def __init__(self, seed: ScoringModel, seed_source: str) -> None:
        self.current = seed
        self.seed_source = seed_source

    async def seed(self, engine: AsyncEngine) -> None:
        """Make the configured model active if the database has none yet; then follow the database."""
        async with engine.begin() as conn:
            await conn.execute(select(func.pg_advisory_xact_lock(*ACTIVATION_LOCK)))  # not while a model is activated
            active = await conn.scalar(select(models.c.hash).where(models.c.active))
            if active is None:
                await conn.execute(insert(models).values(
                    hash=self.current.hash, model_id=self.current.id, source=self.seed_source, active=True,
                    activated_at=func.now(),
                ).on_conflict_do_update(index_elements=[models.c.hash], set_={"active": True, "activated_at": func.now()}))
                log.info("scoring model seeded", model=self.current.id, hash=self.current.hash)
            await self.refresh(conn)

    async def refresh(self, conn: AsyncConnection) -> ScoringModel:
        active = await conn.scalar(select(models.c.hash).where(models.c.active))
        if active is not None and active != self.current.hash:
            source = await conn.scalar(select(models.c.source).where(models.c.hash == active))
            self.current = parse_model(source, f"model {active}")
            log.info("following the active scoring model", model=self.current.id, hash=self.current.hash)
        return self.current

    async def activate(self, engine: AsyncEngine, model: ScoringModel, source: str, now: datetime) -> Activation:
        """Make ``model`` active and start a rescoring job over every lead (one job at a time)."""
        async with engine.begin() as conn:
            await conn.execute(select(func.pg_advisory_xact_lock(*ACTIVATION_LOCK)))  # one activation at a time
            previous = await conn.scalar(select(models.c.hash).where(models.c.active))
            if previous == model.hash:
                return Activation(None, model, already_active=True)
            await conn.execute(insert(models).values(hash=model.hash, model_id=model.id, source=source)
                               .on_conflict_do_nothing(index_elements=[models.c.hash]))
            await conn.execute(update(models).where(models.c.active).values(active=False))
            await conn.execute(update(models).where(models.c.hash == model.hash).values(active=True, activated_at=now))
            await conn.execute(update(rescore_jobs).where(rescore_jobs.c.status == "running")
                               .values(status="superseded", finished_at=now))
            total = await conn.scalar(select(func.count()).select_from(leads))
            job_id = str(uuid.uuid4())
            await conn.execute(rescore_jobs.insert().values(
                id=job_id, model_hash=model.hash, previous_hash=previous, status="running", total=total,
                started_at=now, heartbeat_at=now,
            ))
        self.current = model
        log.info("scoring model activated; rescoring every lead", model=model.id, hash=model.hash, job=job_id, leads=total)
        return Activation(job_id, model, already_active=False)
