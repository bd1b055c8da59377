"""Helpers for the ingest tests (no tests here): an in-process ingest app on the real broker and database, and
provider signers written from the providers' documentation."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from leadflow_events import decode_event
from leadflow_ingest.app import create_app
from leadflow_ingest.settings import IngestSettings
from tests.support.kafka import read_all
from tests.support import stack

ADMIN_KEY = "admin-key-for-tests-0123456789"
STATIC_KEY = "static-key-for-tests-0123456789"


def settings_for(test_env: stack.TestEnv, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": test_env.infra.kafka_bootstrap, "topic_touchpoints": test_env.touchpoints_topic,
        "database_url": test_env.database_url, "ingest_admin_key": ADMIN_KEY,
    }
    values.update(overrides)
    return IngestSettings(**values)


@contextlib.asynccontextmanager
async def running_ingest(settings: IngestSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        for _ in range(200):  # the producer connects in the background (never, to a closed port)
            if app.state.publisher.started or settings.kafka_bootstrap.endswith(":1"):
                break
            await asyncio.sleep(0.05)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


async def put_source(client: httpx.AsyncClient, source_id: str, **spec: Any) -> dict[str, Any]:
    r = await client.put(f"/v1/sources/{source_id}", json=spec, headers=admin())
    assert r.status_code in (200, 201), r.text
    return r.json()


async def events_on_topic(test_env: stack.TestEnv, expect: int | None = None) -> list[Any]:
    records = await read_all(test_env.infra.kafka_bootstrap, test_env.touchpoints_topic, expect=expect, timeout=10)
    return [decode_event(r.value, r.headers) for r in records]


def compact(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


# Provider signatures, written from each provider's documentation (not from ingest's code)

def hubspot_headers(secret: str, uri: str, body: bytes, *, at_ms: int | None = None) -> dict[str, str]:
    stamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), b"POST" + uri.encode() + body + stamp.encode(), hashlib.sha256).digest()
    return {"X-HubSpot-Signature-v3": base64.b64encode(digest).decode(), "X-HubSpot-Request-Timestamp": stamp,
            "Content-Type": "application/json"}


def typeform_headers(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"Typeform-Signature": "sha256=" + base64.b64encode(digest).decode(), "Content-Type": "application/json"}


def webflow_headers(secret: str, body: bytes, *, at_ms: int | None = None) -> dict[str, str]:
    stamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    signature = hmac.new(secret.encode(), stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"x-webflow-timestamp": stamp, "x-webflow-signature": signature, "Content-Type": "application/json"}


def flip_one_byte(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]
