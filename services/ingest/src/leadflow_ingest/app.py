"""The ingest service's ASGI application: the one place its adapters are built and wired."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import ProgrammingError, SQLAlchemyError

from leadflow_runtime.db import make_engine
from leadflow_runtime.errors import is_transient
from leadflow_runtime.health import Health, health_router
from leadflow_runtime.kafka import make_producer
from leadflow_runtime.lifecycle import Supervisor, kafka_ready, start_kafka_client, stop_quietly
from leadflow_runtime.logs import get_logger
from leadflow_runtime.metrics import install_http_metrics, metrics_router
from leadflow_runtime.problems import install_problem_handlers, problem_response
from leadflow_runtime.tracing import FASTAPI_TELEMETRY, TraceContextMiddleware, configure_tracing, flush_tracing

from leadflow_ingest import admin, browser, fast_path, routes, webhooks
from leadflow_ingest.adapters.import_store import ImportStore
from leadflow_ingest.adapters.store import SourceStore
from leadflow_ingest.auth import ApiKeys
from leadflow_ingest.imports import api as imports_api
from leadflow_ingest.imports.runner import ImportRunner
from leadflow_ingest.limits import BodyLimitMiddleware
from leadflow_ingest.problem_docs import add_operations_examples
from leadflow_ingest.publish import TouchpointPublisher
from leadflow_ingest.ratelimit import TokenBuckets
from leadflow_ingest.registry import SourceRegistry
from leadflow_ingest.settings import IngestSettings
from leadflow_ingest.sources import SourceSpec
from leadflow_ingest.sources_file import load_sources_file

log = get_logger(__name__)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    publisher = TouchpointPublisher(None, settings.topic_touchpoints, settings.ingest_produce_timeout_seconds)
    health = Health()
    health.readiness["kafka"] = lambda: kafka_ready(publisher.producer) if publisher.started else _not_started()
    supervisor = Supervisor()
    stopping = False
    stop_event = asyncio.Event()
    engine = make_engine(settings.database_url)  # connects lazily: the JSON API with static keys needs no PostgreSQL
    engine.sync_engine.hide_parameters = True  # errors must not print statement parameters: signing secrets are among them
    store = SourceStore(engine)
    registry = SourceRegistry(store, settings.ingest_key_cache_seconds)
    import_store = ImportStore(engine)
    import_runner = ImportRunner(import_store, publisher, retry_seconds=settings.ingest_import_retry_seconds)
    file_sources = load_sources_file(settings.ingest_sources_file) if settings.ingest_sources_file else None
    synced = asyncio.Event()

    async def connect() -> None:
        publisher.started = await start_kafka_client(publisher.producer, "producer", lambda: stopping)

    async def sync_sources_file(entries: list[tuple[str, SourceSpec]]) -> None:
        delay = 0.5
        while not stopping:
            try:
                for source_id, spec in entries:
                    await store.upsert_source(source_id, spec)
                    registry.forget_source(source_id)
                synced.set()
                log.info("sources file loaded", path=str(settings.ingest_sources_file), sources=[i for i, _ in entries])
                return
            except Exception as exc:
                hint = " (run `leadflow-ingest migrate`)" if isinstance(exc, ProgrammingError) else ""
                log.warning("sources file not loaded yet" + hint, error=str(exc)[:300], retry_in=delay)
                await _sleep_unless(stop_event, delay)
                delay = min(delay * 2, 10.0)

    async def forget_old_provider_events() -> None:
        retention = timedelta(hours=settings.ingest_provider_event_retention_hours)
        while not stopping:
            try:
                removed = await store.forget_provider_events(retention)
                if removed:
                    log.info("old provider event ids removed", count=removed)
            except Exception as exc:  # PostgreSQL away or not migrated: try again next round
                log.debug("provider event ids not pruned", error=str(exc)[:200])
            await _sleep_unless(stop_event, 3600.0)

    if file_sources is not None:
        async def _file_loaded() -> None:
            if not synced.is_set():
                raise ConnectionError(f"{settings.ingest_sources_file} not yet loaded into PostgreSQL")

        health.readiness["sources-file"] = _file_loaded

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal stopping
        configure_tracing("ingest", settings.otel_exporter_otlp_endpoint)
        publisher.producer = make_producer(  # aiokafka clients must be made inside the running loop
            settings.kafka_bootstrap, client_id="leadflow-ingest", linger_ms=settings.ingest_linger_ms,
        )
        if not settings.authentication_required:
            log.warning("no API keys and no admin key configured: the touchpoint API accepts unauthenticated requests")
        supervisor.start("kafka-connect", connect)
        if file_sources is not None:
            supervisor.start("sources-file", lambda: sync_sources_file(file_sources))
        supervisor.start("provider-event-pruning", forget_old_provider_events)
        try:
            yield
        finally:
            stopping = True
            await supervisor.stop([stop_event.set], timeout=settings.shutdown_timeout_seconds)
            await import_runner.stop()
            await stop_quietly(publisher.producer)
            await engine.dispose()
            flush_tracing()

    app = FastAPI(
        title="Leadflow ingest",
        version="0.1.0",
        description="Records touchpoints (form submissions, sign-ups, downloads, visits, demo requests) and publishes "
        "them to Kafka: from API clients (API keys), form tools' webhooks (HubSpot, Typeform, Webflow, Standard Webhooks; "
        "signatures checked), plain HTML forms and the website snippet (origin-checked), and contact lists of trade "
        "fairs and events as CSV files (`/v1/imports`). Errors are RFC 9457 problem details. See docs/forms.md and "
        "docs/imports.md.",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY,  # server spans (while tracing is on), not for probes and scrapes
    )
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.api_keys = ApiKeys([k.get_secret_value() for k in settings.ingest_api_keys])
    app.state.store = store
    app.state.registry = registry
    app.state.import_store = import_store
    app.state.import_runner = import_runner
    app.state.rate_limits = TokenBuckets()
    install_problem_handlers(app)
    for error in (SQLAlchemyError, OSError):  # sources, keys, imports and admin calls need PostgreSQL
        app.add_exception_handler(error, _database_problem)  # type: ignore[arg-type]
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.ingest_max_body_bytes,
        limits={"/v1/touchpoints/batch": settings.ingest_max_batch_body_bytes, "/v1/imports": settings.ingest_max_import_bytes},
        suffix_limits={"/webhook": settings.ingest_max_webhook_body_bytes},
        advice={"/v1/imports": "split the file into smaller ones (LEADFLOW_INGEST_MAX_IMPORT_BYTES sets the limit)"},
    )
    install_http_metrics(app)
    app.add_middleware(TraceContextMiddleware)  # every request has a trace id, on its events and log lines
    # Outermost: the plain case of POST /v1/touchpoints(/batch) without FastAPI's per-request machinery (see fast_path).
    fast_path.install(app, max_body_bytes=settings.ingest_max_body_bytes,
                      max_batch_body_bytes=settings.ingest_max_batch_body_bytes, max_batch_items=settings.ingest_max_batch_items)
    app.include_router(health_router(health))
    app.include_router(metrics_router())
    app.include_router(routes.router)
    app.include_router(webhooks.router)
    app.include_router(browser.router)
    app.include_router(imports_api.router)
    app.include_router(admin.router)
    _with_operations_examples(app)
    return app


def _with_operations_examples(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            app.openapi_schema = add_operations_examples(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _database_problem(request: Request, exc: Exception) -> JSONResponse:
    retry = {"Retry-After": str(request.app.state.settings.ingest_retry_after_seconds)}
    if isinstance(exc, ProgrammingError) and "does not exist" in str(exc):
        return problem_response(503, "The ingest schema is missing in PostgreSQL: run `leadflow-ingest migrate`.",
                                instance=request.url.path, headers=retry)
    if is_transient(exc):
        return problem_response(503, "PostgreSQL is not reachable; send the request again later.",
                                instance=request.url.path, type_="https://leadflow.dev/problems/database-unavailable",
                                headers=retry)
    raise exc


async def _not_started() -> None:
    raise ConnectionError("the Kafka producer has not connected yet")
