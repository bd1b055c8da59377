"""The ingest service's ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from leadflow_runtime.health import Health, health_router
from leadflow_runtime.kafka import make_producer
from leadflow_runtime.lifecycle import Supervisor, kafka_ready, start_kafka_client, stop_quietly
from leadflow_runtime.logs import get_logger
from leadflow_runtime.metrics import install_http_metrics, metrics_router
from leadflow_runtime.problems import install_problem_handlers

from leadflow_ingest import routes
from leadflow_ingest.auth import ApiKeys
from leadflow_ingest.limits import BodyLimitMiddleware
from leadflow_ingest.publish import TouchpointPublisher
from leadflow_ingest.settings import IngestSettings

log = get_logger(__name__)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    publisher = TouchpointPublisher(None, settings.topic_touchpoints, settings.ingest_produce_timeout_seconds)
    health = Health()
    health.readiness["kafka"] = lambda: kafka_ready(publisher.producer) if publisher.started else _not_started()
    supervisor = Supervisor()
    stopping = False

    async def connect() -> None:
        publisher.started = await start_kafka_client(publisher.producer, "producer", lambda: stopping)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal stopping
        publisher.producer = make_producer(  # aiokafka clients must be made inside the running loop
            settings.kafka_bootstrap, client_id="leadflow-ingest", linger_ms=settings.ingest_linger_ms,
        )
        if not settings.ingest_api_keys:
            log.warning("no API keys configured: the touchpoint API accepts unauthenticated requests")
        supervisor.start("kafka-connect", connect)
        try:
            yield
        finally:
            stopping = True
            await supervisor.stop([], timeout=settings.shutdown_timeout_seconds)
            await stop_quietly(publisher.producer)

    app = FastAPI(
        title="Leadflow ingest",
        version="0.1.0",
        description="Records touchpoints (form submissions, sign-ups, downloads, visits, demo requests) and publishes "
        "them to Kafka. Errors are RFC 9457 problem details.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.api_keys = ApiKeys([k.get_secret_value() for k in settings.ingest_api_keys])
    install_problem_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.ingest_max_body_bytes,
        limits={"/v1/touchpoints/batch": settings.ingest_max_batch_body_bytes},
    )
    install_http_metrics(app)
    app.include_router(health_router(health))
    app.include_router(metrics_router())
    app.include_router(routes.router)
    return app


async def _not_started() -> None:
    raise ConnectionError("the Kafka producer has not connected yet")
