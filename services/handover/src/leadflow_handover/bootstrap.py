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
from leadflow_runtime.lifecycle import Supervisor, kafka_ready, start_kafka_client, stop_quietly
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
    transport: httpx.AsyncBaseTransport | None = None
    health: Health = field(default_factory=Health)
    supervisor: Supervisor = field(default_factory=Supervisor)
    consumer: TransactionalConsumer | None = None
    dispatcher: Dispatcher | None = None

    async def start(self) -> None:
        """Kafka and HTTP clients need the running loop, so they are built here rather than in ``build``."""
        s = self.settings
        self.dispatcher = Dispatcher(
            engine=self.engine, destinations=s.handover_destinations, schedule=tuple(s.handover_retry_schedule),
            timeout=s.handover_timeout_seconds, lease_seconds=s.handover_lease_seconds,
            concurrency=s.handover_concurrency, heartbeat=self.health.heartbeat("dispatcher"), transport=self.transport,
        )
        producer = make_producer(s.kafka_bootstrap, client_id="leadflow-handover")
        consumer = make_consumer(s.kafka_bootstrap, group_id=s.handover_group_id, client_id="leadflow-handover")
        self.consumer = TransactionalConsumer(
            name=s.handover_group_id, consumer=consumer, producer=producer, engine=self.engine,
            offsets=OffsetStore(consumer_offsets, s.handover_group_id), topics=[s.topic_lead_stages],
            handler=RecordHandovers(s.handover_destinations, s.handover_lead_url),
            expected_types=[LEAD_STAGE_CHANGED_V1], heartbeat=self.health.heartbeat("stage-consumer"),
            after_commit=self.dispatcher.wake,
        )
        self.health.readiness["kafka"] = lambda: kafka_ready(producer)
        self.supervisor.start("dispatcher", self.dispatcher.run)
        self.supervisor.start("kafka-clients", self._run)

    async def _run(self) -> None:
        assert self.consumer
        tc = self.consumer
        if not await start_kafka_client(tc.producer, "producer", lambda: tc.stopping):
            return
        if await start_kafka_client(tc.consumer, "consumer", lambda: tc.stopping):
            self.supervisor.start("stage-consumer", tc.run)

    async def stop(self) -> None:
        stoppers = [x.stop for x in (self.consumer, self.dispatcher) if x is not None]
        await self.supervisor.stop(stoppers, timeout=self.settings.shutdown_timeout_seconds)
        if self.consumer:
            await stop_quietly(self.consumer.consumer, self.consumer.producer)
        if self.dispatcher:
            await self.dispatcher.close()
        await self.engine.dispose()


def build(settings: HandoverSettings, transport: httpx.AsyncBaseTransport | None = None) -> Container:
    engine = make_engine(settings.database_url)
    container = Container(settings, engine, transport)
    container.health.readiness["postgresql"] = lambda: ping(engine)
    container.health.readiness["kafka"] = _not_connected
    if not settings.handover_destinations:
        log.warning("no destinations configured: sales-qualified leads are recorded but nobody is notified")
    return container


async def _not_connected() -> None:
    raise ConnectionError("Kafka clients not started yet")
