"""The ASGI application shape of a worker service: its loops in the lifespan, health, metrics, problems, tracing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import APIRouter, FastAPI

from leadflow_runtime.health import Health, health_router
from leadflow_runtime.metrics import install_http_metrics, metrics_router
from leadflow_runtime.problems import install_problem_handlers
from leadflow_runtime.settings import CommonSettings
from leadflow_runtime.tracing import FASTAPI_TELEMETRY, TraceContextMiddleware, configure_tracing, flush_tracing


class ServiceContainer(Protocol):
    health: Health
    settings: CommonSettings

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def create_service_app(
    *, title: str, description: str, container: ServiceContainer, routers: Sequence[APIRouter], service: str | None = None
) -> FastAPI:
    """``service`` names the service in traces (``leadflow-<service>``); by default the title's last word."""
    service = service or title.split()[-1].lower()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_tracing(service, container.settings.otel_exporter_otlp_endpoint)
        await container.start()
        try:
            yield
        finally:
            await container.stop()
            flush_tracing()

    app = FastAPI(title=title, version="0.1.0", description=description, lifespan=lifespan, telemetry=FASTAPI_TELEMETRY)
    app.state.container = container
    install_problem_handlers(app)
    install_http_metrics(app)
    app.add_middleware(TraceContextMiddleware)
    app.include_router(health_router(container.health))
    app.include_router(metrics_router())
    for router in routers:
        app.include_router(router)
    return app
