"""The one place where the handover service's real adapters are built and wired."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import LEAD_STAGE_CHANGED_V1
from leadflow_runtime.consumer import OffsetStore, TransactionalConsumer
from leadflow_runtime.db import make_engine, ping
from leadflow_runtime.health import Health
from leadflow_runtime.kafka import make_consumer, make_producer
from leadflow_runtime.lifecycle import Supervisor, kafka_ready, start_kafka_client
from leadflow_runtime.logs import get_logger

from leadflow_handover.adapters.tables import consumer_offsets
from leadflow_handover.dispatch import Dispatcher
from leadflow_handover.intake import RecordHandovers
from leadflow_handover.settings import HandoverSettings

log = get_logger(__name__)


@dataclass
class Container:
    settings: HandoverSettings
    engine: AsyncEngine
    health: Health
    consumer: TransactionalConsumer
    dispatcher: Dispatcher
    supervisor: Supervisor = field(default_factory=Supervisor)

    async def start(self) -> None:
        self.supervisor.start("stage-consumer", self._consume)
        self.supervisor.start("dispatcher", self.dispatcher.run)

    async def _consume(self) -> None:
        tc = self.consumer
        if not await start_kafka_client(tc.producer, "producer", lambda: tc.stopping):
            return
        if await start_kafka_client(tc.consumer, "consumer", lambda: tc.stopping):
            await tc.run()

    async def stop(self) -> None:
        await self.supervisor.stop([self.consumer.stop, self.dispatcher.stop], timeout=self.settings.shutdown_timeout_seconds)
        for client in (self.consumer.consumer, self.consumer.producer):
            try:
                await client.stop()
            except Exception as exc:
                log.debug("client stop", error=str(exc))
        await self.dispatcher.close()
        await self.engine.dispose()


def build(settings: HandoverSettings, transport: httpx.AsyncBaseTransport | None = None) -> Container:
    engine = make_engine(settings.database_url)
    producer = make_producer(settings.kafka_bootstrap, client_id="leadflow-handover")
    consumer = make_consumer(settings.kafka_bootstrap, group_id=settings.handover_group_id, client_id="leadflow-handover")
    health = Health()
    dispatcher = Dispatcher(
        engine=engine, destinations=settings.handover_destinations, schedule=tuple(settings.handover_retry_schedule),
        timeout=settings.handover_timeout_seconds, lease_seconds=settings.handover_lease_seconds,
        concurrency=settings.handover_concurrency, heartbeat=health.heartbeat("dispatcher"), transport=transport,
    )
    transactional = TransactionalConsumer(
        name=settings.handover_group_id, consumer=consumer, producer=producer, engine=engine,
        offsets=OffsetStore(consumer_offsets, settings.handover_group_id), topics=[settings.topic_lead_stages],
        handler=RecordHandovers(settings.handover_destinations, settings.handover_lead_url),
        expected_types=[LEAD_STAGE_CHANGED_V1], heartbeat=health.heartbeat("stage-consumer"), after_commit=dispatcher.wake,
    )
    health.readiness["postgresql"] = lambda: ping(engine)
    health.readiness["kafka"] = lambda: kafka_ready(producer)
    if not settings.handover_destinations:
        log.warning("no destinations configured: sales-qualified leads are recorded but nobody is notified")
    return Container(settings, engine, health, transactional, dispatcher)
