"""The one place where the handover service's real adapters are built and wired."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import LEAD_ERASED_V1, LEAD_STAGE_CHANGED_V1
from leadflow_runtime.consumer import OffsetStore, TransactionalConsumer
from leadflow_runtime.db import make_engine, ping
from leadflow_runtime.errors import is_transient
from leadflow_runtime.health import Health
from leadflow_runtime.kafka import make_consumer, make_producer
from leadflow_runtime.lifecycle import Supervisor, kafka_ready, retry_transient, start_kafka_client, stop_quietly
from leadflow_runtime.logs import get_logger

from leadflow_handover.adapters import destination_store
from leadflow_handover.adapters.destination_store import Source
from leadflow_handover.adapters.tables import consumer_offsets
from leadflow_handover.config_file import ConfigFileError, HandoverConfig, load_config
from leadflow_handover.destinations import DestinationBase
from leadflow_handover.dispatch import Dispatcher
from leadflow_handover.intake import RecordHandovers
from leadflow_handover.privacy import PrivacyFirst
from leadflow_handover.settings import HandoverSettings

log = get_logger(__name__)


@dataclass
class Container:
    settings: HandoverSettings
    engine: AsyncEngine
    transport: httpx.AsyncBaseTransport | None = None
    config: HandoverConfig = field(default_factory=HandoverConfig)
    configured: list[tuple[DestinationBase, Source]] = field(default_factory=list)
    health: Health = field(default_factory=Health)
    supervisor: Supervisor = field(default_factory=Supervisor)
    consumer: TransactionalConsumer | None = None
    dispatcher: Dispatcher | None = None

    async def start(self) -> None:
        """Kafka and HTTP clients need the running loop, so they are built here rather than in ``build``."""
        s = self.settings
        self.dispatcher = Dispatcher(
            engine=self.engine, schedule=tuple(s.handover_retry_schedule),
            timeout=s.handover_timeout_seconds, lease_seconds=s.handover_lease_seconds,
            concurrency=s.handover_concurrency, heartbeat=self.health.heartbeat("dispatcher"), transport=self.transport,
            gauge_seconds=s.handover_gauge_seconds,
        )
        producer = make_producer(s.kafka_bootstrap, client_id="leadflow-handover")
        consumer = make_consumer(s.kafka_bootstrap, group_id=s.handover_group_id, client_id="leadflow-handover")
        self.consumer = TransactionalConsumer(
            name=s.handover_group_id, consumer=consumer, producer=producer, engine=self.engine,
            offsets=OffsetStore(consumer_offsets, s.handover_group_id), topics=[s.topic_lead_stages],
            handler=PrivacyFirst(RecordHandovers(lead_url=s.handover_lead_url, routing=self.config.routing)),
            expected_types=[LEAD_STAGE_CHANGED_V1, LEAD_ERASED_V1], heartbeat=self.health.heartbeat("stage-consumer"),
            after_commit=self.dispatcher.wake,
        )
        self.health.readiness["kafka"] = lambda: kafka_ready(producer)
        try:  # usually PostgreSQL answers at once and the API shows the configured destinations from the start
            await asyncio.wait_for(self._store_destinations(), 5)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.supervisor.start("destinations", self._store_destinations_then_run)
        else:
            self._run_loops()

    async def _store_destinations(self) -> None:
        await destination_store.sync_configured(self.engine, self.configured)

    async def _store_destinations_then_run(self) -> None:
        """Deliveries are made and sent only once the configured destinations are in PostgreSQL."""
        await retry_transient(self._store_destinations, "store the configured destinations")
        self._run_loops()

    def _run_loops(self) -> None:
        assert self.dispatcher
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
    """Raises ``ConfigFileError`` (naming the file, entry and field) when the configuration cannot be used."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would show Slack URLs, which are secrets
    config = load_config(settings.handover_destinations_file) if settings.handover_destinations_file else HandoverConfig()
    configured = configured_destinations(settings, config)
    engine = make_engine(settings.database_url)
    container = Container(settings, engine, transport, config, configured)
    container.health.readiness["postgresql"] = lambda: ping(engine)
    container.health.readiness["kafka"] = _not_connected
    if not configured:
        log.info("no destinations in the environment or the file; destinations created through the API are used")
    if config.routing.enabled:
        log.info("routing configured", teams=sorted(config.routing.teams), rules=len(config.routing.rules))
    return container


def configured_destinations(settings: HandoverSettings, config: HandoverConfig) -> list[tuple[DestinationBase, Source]]:
    from_env: list[tuple[DestinationBase, Source]] = [(d, "env") for d in settings.handover_destinations]
    from_file: list[tuple[DestinationBase, Source]] = [(d, "file") for d in config.destinations]
    names = [d.name for d, _ in from_env + from_file]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigFileError(
            f"destination names must be unique across LEADFLOW_HANDOVER_DESTINATIONS and the file: {', '.join(dupes)}"
        )
    return from_env + from_file


async def _not_connected() -> None:
    raise ConnectionError("Kafka clients not started yet")
