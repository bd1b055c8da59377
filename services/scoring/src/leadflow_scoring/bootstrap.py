"""The one place where the scoring service's real adapters are built and wired."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import (
    HANDOVER_ASSIGNED_V1, HANDOVER_FEEDBACK_RECORDED_V1, HANDOVER_SLA_BREACHED_V1, TOUCHPOINT_RECORDED_V1,
)
from leadflow_runtime.consumer import OffsetStore, TransactionalConsumer
from leadflow_runtime.db import make_engine, ping
from leadflow_runtime.health import Health
from leadflow_runtime.kafka import make_consumer, make_producer
from leadflow_runtime.lifecycle import Supervisor, kafka_ready, retry_transient, start_kafka_client, stop_quietly
from leadflow_runtime.logs import get_logger
from leadflow_runtime.outbox import OutboxRelay

from leadflow_scoring.adapters.tables import consumer_offsets, outbox
from leadflow_scoring.apply import ApplyTouchpoints
from leadflow_scoring.assignments import apply_assignments
from leadflow_scoring.decay_sweep import DecaySweep
from leadflow_scoring.feedback import ApplyFeedback, ByEventType
from leadflow_scoring.privacy import RetentionJob
from leadflow_scoring.model_file import DEFAULT_MODEL_PATH, load_model
from leadflow_scoring.model_registry import ModelRegistry
from leadflow_scoring.rescoring_job import RescoringWorker
from leadflow_scoring.settings import ScoringSettings

log = get_logger(__name__)


@dataclass
class Container:
    settings: ScoringSettings
    registry: ModelRegistry
    engine: AsyncEngine
    health: Health = field(default_factory=Health)
    supervisor: Supervisor = field(default_factory=Supervisor)
    consumer: TransactionalConsumer | None = None
    relay: OutboxRelay | None = None
    sweep: DecaySweep | None = None
    rescoring: RescoringWorker | None = None
    retention: RetentionJob | None = None

    @property
    def model(self):  # type: ignore[no-untyped-def]
        return self.registry.current

    async def start(self) -> None:
        """Kafka clients need the running loop, so they are built here rather than in ``build``."""
        s = self.settings
        producer = make_producer(s.kafka_bootstrap, client_id="leadflow-scoring")
        consumer = make_consumer(
            s.kafka_bootstrap, group_id=s.scoring_group_id, client_id="leadflow-scoring", max_poll_records=s.scoring_max_batch
        )
        relay = OutboxRelay(
            service="scoring", engine=self.engine, producer=producer, table=outbox,
            heartbeat=self.health.heartbeat("outbox-relay"),
        )
        self.relay = relay
        relay.wake_after_consumer_writes()  # the consumer's batches that emit stage events wake it once committed
        self.consumer = TransactionalConsumer(
            name=s.scoring_group_id, consumer=consumer, producer=producer, engine=self.engine,
            offsets=OffsetStore(consumer_offsets, s.scoring_group_id), topics=[s.topic_touchpoints, s.topic_handover_feedback],
            handler=ByEventType(
                touchpoints=ApplyTouchpoints(self.registry, s.topic_lead_stages),
                feedback=ApplyFeedback(self.registry, s.topic_lead_stages),
                assignments=apply_assignments,
            ),
            expected_types=[TOUCHPOINT_RECORDED_V1, HANDOVER_FEEDBACK_RECORDED_V1, HANDOVER_SLA_BREACHED_V1, HANDOVER_ASSIGNED_V1],
            heartbeat=self.health.heartbeat("touchpoint-consumer"),
            max_records=s.scoring_max_batch,
        )
        self.sweep = DecaySweep(
            engine=self.engine, registry=self.registry, stage_topic=s.topic_lead_stages,
            heartbeat=self.health.heartbeat("decay-sweep", max_silence=max(120.0, 3 * s.scoring_decay_sweep_seconds)),
            interval=s.scoring_decay_sweep_seconds, after_commit=relay.wake,
        )
        self.rescoring = RescoringWorker(
            engine=self.engine, registry=self.registry, stage_topic=s.topic_lead_stages,
            heartbeat=self.health.heartbeat("rescoring", max_silence=300.0), after_commit=relay.wake,
        )
        self.retention = RetentionJob(
            engine=self.engine, stage_topic=s.topic_lead_stages, days=s.scoring_retention_days,
            interval=s.scoring_retention_interval_seconds, after_commit=relay.wake,
            heartbeat=self.health.heartbeat("retention", max_silence=max(600.0, 3 * s.scoring_retention_interval_seconds)),
        )
        self.health.readiness["kafka"] = _waiting_for("the scoring model from PostgreSQL")
        self.supervisor.start("model-registry", self._seed_then_run)

    async def _seed_then_run(self) -> None:
        await retry_transient(lambda: self.registry.seed(self.engine), "seed the scoring model")
        self.health.readiness["kafka"] = _waiting_for("the Kafka clients to connect")
        assert self.sweep and self.rescoring
        self.supervisor.start("kafka-clients", self._run)
        self.supervisor.start("decay-sweep", self.sweep.run)
        self.supervisor.start("rescoring", self.rescoring.run)
        assert self.retention
        self.supervisor.start("retention", self.retention.run)

    async def _run(self) -> None:
        assert self.consumer and self.relay
        tc = self.consumer
        if not await start_kafka_client(tc.producer, "producer", lambda: tc.stopping):
            return
        if not await start_kafka_client(tc.consumer, "consumer", lambda: tc.stopping):
            return
        self.health.readiness["kafka"] = lambda: kafka_ready(tc.producer)
        self.supervisor.start("touchpoint-consumer", tc.run)
        self.supervisor.start("outbox-relay", self.relay.run)

    async def stop(self) -> None:
        stoppers = [x.stop for x in (self.consumer, self.relay, self.sweep, self.rescoring, self.retention) if x is not None]
        await self.supervisor.stop(stoppers, timeout=self.settings.shutdown_timeout_seconds)
        if self.consumer:
            await stop_quietly(self.consumer.consumer, self.consumer.producer)
        await self.engine.dispose()


def build(settings: ScoringSettings) -> Container:
    path = settings.scoring_model_path or DEFAULT_MODEL_PATH
    model = load_model(path)
    engine = make_engine(settings.database_url, pool_size=settings.scoring_db_pool_size)
    container = Container(settings, ModelRegistry(model, open(path, encoding="utf-8").read()), engine)
    container.health.readiness["postgresql"] = lambda: ping(engine)
    container.health.readiness["kafka"] = _not_connected
    log.info("scoring model loaded", model=model.id, hash=model.hash,
             rules=len(model.engagement_rules) + len(model.fit_rules))
    return container


async def _not_connected() -> None:
    raise ConnectionError("Kafka clients not started yet")


def _waiting_for(what: str):  # type: ignore[no-untyped-def]
    async def check() -> None:
        raise ConnectionError(f"not started yet: waiting for {what}")

    return check
