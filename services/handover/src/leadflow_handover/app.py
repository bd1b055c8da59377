"""The handover service's ASGI application: delivery API, health, metrics, and the delivery loops."""

from __future__ import annotations

from fastapi import FastAPI

from leadflow_runtime.app import create_service_app

from leadflow_handover import api
from leadflow_handover.bootstrap import Container, build
from leadflow_handover.settings import HandoverSettings


def create_app(settings: HandoverSettings | None = None, container: Container | None = None) -> FastAPI:
    return create_service_app(
        title="Leadflow handover",
        description="Hands sales-qualified leads to sales systems: signed webhooks with retries and a delivery log.",
        container=container or build(settings or HandoverSettings()),
        routers=[api.router],
    )
