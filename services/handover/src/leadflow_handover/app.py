"""The handover service's ASGI application: delivery API, health, metrics, and the delivery loops."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from leadflow_runtime.app import create_service_app

from leadflow_handover import api, destinations_api, feedback_pages, handovers_api, routing_api
from leadflow_handover.bootstrap import Container, build
from leadflow_handover.settings import HandoverSettings


def create_app(settings: HandoverSettings | None = None, container: Container | None = None) -> FastAPI:
    app = create_service_app(
        title="Leadflow handover",
        description="Hands sales-qualified leads to sales systems - signed webhooks, Slack, HubSpot, Salesforce - "
        "routed to a team member, retried, replayable, with a delivery log and per-destination health; takes sales' "
        "feedback (accept, reject with a reason, won, lost) and escalates handovers nobody accepted in time.",
        container=container or build(settings or HandoverSettings()),
        routers=[api.router, handovers_api.router, feedback_pages.router, destinations_api.router, routing_api.router],
    )
    # The scoring dashboard reads deliveries and asks for replays from the browser, on another origin.
    app.add_middleware(
        CORSMiddleware, allow_origins=app.state.container.settings.handover_dashboard_origins,
        allow_methods=["GET", "POST"], allow_headers=["authorization", "content-type"], max_age=600,
    )
    return app
