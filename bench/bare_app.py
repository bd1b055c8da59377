"""The ingest baseline: a FastAPI endpoint that does nothing, served like the services are.

``python -m bench.bare_app`` listens on ``LEADFLOW_INGEST_PORT``. Same uvicorn settings as every
Leadflow service (``leadflow_runtime.serve``: uvloop, httptools, no access log), no middleware,
no validation, no Kafka: what is left is the cost of HTTP and FastAPI alone.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from leadflow_runtime.serve import serve

app = FastAPI()


@app.post("/v1/touchpoints", status_code=202)
async def record_touchpoint() -> dict[str, bool]:
    return {"accepted": True}


@app.get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "pass"}


if __name__ == "__main__":
    serve(app, host="127.0.0.1", port=int(os.environ["LEADFLOW_INGEST_PORT"]), shutdown_timeout=5)
