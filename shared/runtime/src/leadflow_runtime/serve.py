"""Runs a service's ASGI app under uvicorn with graceful shutdown on SIGTERM."""

from __future__ import annotations

import gc

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
    # Everything built so far (modules, models, schemas, the app) lives as long as the process: move it out of the
    # collector's sight. Otherwise every full collection walks it again, a pause that showed as a p99 six times
    # the median under load (docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run()
