"""Database outages answer 503 problem details with Retry-After; database bugs stay 500s."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError

from leadflow_runtime.problems import install_problem_handlers


def app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


async def get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/boom")


async def test_a_dropped_connection_is_a_503_to_retry():
    r = await get(app_raising(OperationalError("SELECT 1", {}, ConnectionResetError("connection reset by peer"))))
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "1"
    assert "retry the request" in r.json()["detail"]


async def test_a_constraint_violation_is_not_called_an_outage():
    r = await get(app_raising(IntegrityError("INSERT", {}, ValueError("duplicate key"))))
    assert r.status_code == 500


@pytest.fixture(autouse=True)
def _quiet_server_errors(caplog):  # the 500 case logs its traceback on purpose
    caplog.set_level("CRITICAL")
