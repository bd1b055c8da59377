"""The scoring service's ASGI application: read API, health, metrics, and the consuming loops."""

from __future__ import annotations

from fastapi import FastAPI

from leadflow_runtime.app import create_service_app

from leadflow_scoring import api, dashboard, funnel, models_api, privacy_api
from leadflow_scoring.bootstrap import Container, build
from leadflow_scoring.settings import ScoringSettings


def create_app(settings: ScoringSettings | None = None, container: Container | None = None) -> FastAPI:
    return create_service_app(
        title="Leadflow scoring",
        description="Lead state and scores: the read API over what the scoring workers computed.",
        container=container or build(settings or ScoringSettings()),
        routers=[api.router, models_api.router, privacy_api.router, funnel.router, dashboard.router],
    )
