"""The one place where the handover service's real adapters are built and wired."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

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
from leadflow_runtime.outbox import OutboxRelay

from leadflow_handover.adapters import destination_store
from leadflow_handover.adapters.destination_store import Source
from leadflow_handover.adapters.tables import consumer_offsets, outbox
from leadflow_handover.config_file import ConfigFileError, HandoverConfig, load_config
from leadflow_handover.destinations import DestinationBase
from leadflow_handover.dispatch import Dispatcher
from leadflow_handover.domain.sla import SlaPolicy
from leadflow_handover.escalations import SlaSweep
from leadflow_handover.feedback_links import FeedbackLinks
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
    relay: OutboxRelay | None = None
    sla_sweep: SlaSweep | None = None

    @property
    def sla(self) -> SlaPolicy:
        s = self.settings
        within = timedelta(seconds=s.handover_sla_seconds) if s.handover_sla_seconds > 0 else None
        return SlaPolicy(accept_within=within, escalate_to=s.handover_sla_escalate_to, reassign=s.handover_sla_reassign)

    @property
    def links(self) -> FeedbackLinks:
        s = self.settings
        secret = s.handover_feedback_secret.get_secret_value().encode() if s.handover_feedback_secret else None
        return FeedbackLinks(s.handover_public_url, secret, timedelta(seconds=s.handover_feedback_link_ttl_seconds))

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
        # assignments, sales feedback and missed deadlines leave through the outbox, published by this relay
        self.relay = OutboxRelay(
            service="handover", engine=self.engine, producer=producer, table=outbox, heartbeat=self.health.heartbeat("outbox-relay"),
        )
        dispatcher = self.dispatcher
        relay = self.relay

        def wake_senders() -> None:
            dispatcher.wake()
            relay.wake()

        self.sla_sweep = SlaSweep(
            engine=self.engine, routing=self.config.routing, default=self.sla, links=self.links,
            feedback_topic=s.topic_handover_feedback, interval=s.handover_sla_check_seconds, after_commit=wake_senders,
            heartbeat=self.health.heartbeat("sla-sweep", max_silence=max(120.0, 3 * s.handover_sla_check_seconds)),
        )
        relay.wake_after_consumer_writes()  # assignments announced by the intake
        self.consumer = TransactionalConsumer(
            name=s.handover_group_id, consumer=consumer, producer=producer, engine=self.engine,
            offsets=OffsetStore(consumer_offsets, s.handover_group_id), topics=[s.topic_lead_stages],
            handler=PrivacyFirst(RecordHandovers(lead_url=s.handover_lead_url, routing=self.config.routing, sla=self.sla,
                                                 links=self.links, feedback_topic=s.topic_handover_feedback,
                                                 handoff=dispatcher.submit, lease_seconds=s.handover_lease_seconds)),
            expected_types=[LEAD_STAGE_CHANGED_V1, LEAD_ERASED_V1], heartbeat=self.health.heartbeat("stage-consumer"),
            # no after_commit: the intake hands its deliveries to the dispatcher itself
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
        assert self.dispatcher and self.sla_sweep
        self.supervisor.start("dispatcher", self.dispatcher.run)
        self.supervisor.start("sla-sweep", self.sla_sweep.run)
        self.supervisor.start("kafka-clients", self._run)

    async def _run(self) -> None:
        assert self.consumer
        tc = self.consumer
        if not await start_kafka_client(tc.producer, "producer", lambda: tc.stopping):
            return
        assert self.relay
        self.supervisor.start("outbox-relay", self.relay.run)
        if await start_kafka_client(tc.consumer, "consumer", lambda: tc.stopping):
            self.supervisor.start("stage-consumer", tc.run)

    async def stop(self) -> None:
        stoppers = [x.stop for x in (self.consumer, self.dispatcher, self.relay, self.sla_sweep) if x is not None]
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
    escalation_targets = {settings.handover_sla_escalate_to} | {
        t.sla.escalate_to for t in config.routing.teams.values() if t.sla is not None
    }
    unknown = sorted(n for n in escalation_targets - {d.name for d, _ in configured} if n)
    if unknown:  # an API destination of that name may exist or be created later; the deliveries fail with a reason if not
        log.warning("escalation destinations are not in the environment or the file", destinations=unknown)
    if settings.handover_feedback_secret is None:
        log.info("feedback links are off (LEADFLOW_HANDOVER_FEEDBACK_SECRET unset): accept and reject through the API")
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
