"""Seeding and activating the scoring model on the real database, at the same time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from leadflow_runtime.db import make_engine
from leadflow_scoring.adapters.tables import models, rescore_jobs
from leadflow_scoring.model_file import DEFAULT_MODEL_PATH, load_model, parse_model
from leadflow_scoring.model_registry import ModelRegistry

pytestmark = pytest.mark.integration


async def test_a_model_activated_while_an_instance_starts_leaves_exactly_one_active_model(test_env):
    """An instance seeds the configured model at start; an activation may arrive at the same moment."""
    draft = DEFAULT_MODEL_PATH.read_text().replace("mql: 65", "mql: 61")
    engine = make_engine(test_env.database_url)
    try:
        for _ in range(5):
            async with engine.begin() as conn:  # a fresh database: no model yet
                await conn.execute(delete(rescore_jobs))
                await conn.execute(delete(models))
            starting = ModelRegistry(load_model(), str(DEFAULT_MODEL_PATH))
            admin = ModelRegistry(load_model(), str(DEFAULT_MODEL_PATH))
            await asyncio.gather(starting.seed(engine), admin.activate(engine, parse_model(draft), draft, datetime.now(UTC)))
            async with engine.connect() as conn:
                active = list(await conn.scalars(select(models.c.hash).where(models.c.active)))
            # whichever came first: the seed only fills an empty registry, the activation wins
            assert active == [parse_model(draft).hash]
    finally:
        await engine.dispose()
