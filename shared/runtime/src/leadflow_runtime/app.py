"""The ASGI application shape of a worker service: its loops in the lifespan, health, metrics, problems."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import APIRouter, FastAPI

from leadflow_runtime.health import Health, health_router
from leadflow_runtime.metrics import install_http_metrics, metrics_router
from leadflow_runtime.problems import install_problem_handlers


class ServiceContainer(Protocol):
    health: Health

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def create_service_app(
    *, title: str, description: str, container: ServiceContainer, routers: Sequence[APIRouter]
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await container.start()
        try:
            yield
        finally:
            await container.stop()

    app = FastAPI(title=title, version="0.1.0", description=description, lifespan=lifespan)
    app.state.container = container
    install_problem_handlers(app)
    install_http_metrics(app)
    app.include_router(health_router(container.health))
    app.include_router(metrics_router())
    for router in routers:
        app.include_router(router)
    return app
