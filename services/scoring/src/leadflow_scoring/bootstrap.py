"""The one place where the scoring service's real adapters are built and wired."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import TOUCHPOINT_RECORDED_V1
from leadflow_runtime.consumer import OffsetStore, TransactionalConsumer
from leadflow_runtime.db import make_engine, ping
from leadflow_runtime.health import Health
from leadflow_runtime.kafka import make_consumer, make_producer
from leadflow_runtime.lifecycle import Supervisor, kafka_ready, start_kafka_client
from leadflow_runtime.logs import get_logger
from leadflow_runtime.outbox import OutboxRelay

from leadflow_scoring.adapters.tables import consumer_offsets, outbox
from leadflow_scoring.apply import ApplyTouchpoints
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.model_file import load_model
from leadflow_scoring.settings import ScoringSettings

log = get_logger(__name__)


@dataclass
class Container:
    settings: ScoringSettings
    model: ScoringModel
    engine: AsyncEngine
    health: Health
    consumer: TransactionalConsumer
    relay: OutboxRelay
    supervisor: Supervisor = field(default_factory=Supervisor)

    async def start(self) -> None:
        self.supervisor.start("touchpoint-consumer", self._consume)
        self.supervisor.start("outbox-relay", self._relay)

    async def _consume(self) -> None:
        tc = self.consumer
        if await start_kafka_client(tc.consumer, "consumer", lambda: tc.stopping):
            await tc.run()

    async def _relay(self) -> None:
        if await start_kafka_client(self.relay.producer, "producer", lambda: self.relay._stopping):
            await self.relay.run()

    async def stop(self) -> None:
        await self.supervisor.stop([self.consumer.stop, self.relay.stop], timeout=self.settings.shutdown_timeout_seconds)
        for client in (self.consumer.consumer, self.relay.producer):
            try:
                await client.stop()
            except Exception as exc:  # already stopped or never started
                log.debug("client stop", error=str(exc))
        await self.engine.dispose()


def build(settings: ScoringSettings) -> Container:
    model = load_model(settings.scoring_model_path)
    engine = make_engine(settings.database_url, pool_size=settings.scoring_db_pool_size)
    producer = make_producer(settings.kafka_bootstrap, client_id="leadflow-scoring")
    consumer = make_consumer(
        settings.kafka_bootstrap, group_id=settings.scoring_group_id, client_id="leadflow-scoring",
        max_poll_records=settings.scoring_max_batch,
    )
    health = Health()
    relay = OutboxRelay(
        service="scoring", engine=engine, producer=producer, table=outbox, heartbeat=health.heartbeat("outbox-relay"),
    )
    transactional = TransactionalConsumer(
        name=settings.scoring_group_id,
        consumer=consumer,
        producer=producer,
        engine=engine,
        offsets=OffsetStore(consumer_offsets, settings.scoring_group_id),
        topics=[settings.topic_touchpoints],
        handler=ApplyTouchpoints(model, settings.topic_lead_stages),
        expected_types=[TOUCHPOINT_RECORDED_V1],
        heartbeat=health.heartbeat("touchpoint-consumer"),
        after_commit=relay.wake,
        max_records=settings.scoring_max_batch,
    )
    health.readiness["postgresql"] = lambda: ping(engine)
    health.readiness["kafka"] = lambda: kafka_ready(producer)
    log.info("scoring model loaded", model=model.id, hash=model.hash, rules=len(model.engagement_rules) + len(model.fit_rules))
    return Container(settings, model, engine, health, transactional, relay)
