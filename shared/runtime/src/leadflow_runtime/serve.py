"""Runs a service's ASGI app under uvicorn with graceful shutdown on SIGTERM."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


def serve(app: FastAPI, *, host: str, port: int, shutdown_timeout: float) -> None:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover
        loop = "asyncio"
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(shutdown_timeout),
        lifespan="on",
    )
    uvicorn.Server(config).run()
