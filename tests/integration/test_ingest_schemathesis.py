"""Property-based API test of the ingest app (schemathesis): no 5xx, every answer as the OpenAPI document says.

The app runs in-process (schemathesis's ASGI transport runs its lifespan once, in one event
loop) on the real broker and database of ``test_env``. A source ``website`` exists so the
documented examples reach real code, not only 404s.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from leadflow_ingest.adapters.store import SourceStore
from leadflow_ingest.app import create_app
from leadflow_ingest.sources import SourceSpec
from leadflow_runtime.db import make_engine
from tests.integration.test_ingest_support import ADMIN_KEY, STATIC_KEY, settings_for

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 25


async def _seed(database_url: str) -> None:
    engine = make_engine(database_url)
    store = SourceStore(engine)
    await store.upsert_source("website", SourceSpec(kind="html-form", name="Website",
                                                    allowed_origins=["https://www.example.com"],
                                                    thank_you_url="https://www.example.com/thanks"))
    await store.upsert_source("typeform-demo", SourceSpec(kind="typeform", name="Typeform", signing_secret="tf-secret-0123456789"))
    await engine.dispose()


@pytest.fixture(scope="module")
def ingest_schema(test_env):
    asyncio.run(_seed(test_env.database_url))
    app = create_app(settings_for(test_env, ingest_api_keys=[STATIC_KEY], ingest_produce_timeout_seconds=10))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _credentials(path: str) -> dict[str, str]:
    admin = path == "/v1/sources" or path.startswith("/v1/sources/{source_id}/keys") or path == "/v1/sources/{source_id}"
    key = {"Authorization": f"Bearer {ADMIN_KEY}"} if admin else {"X-API-Key": STATIC_KEY}
    return {**key, "Origin": "https://www.example.com"}  # the page of the `website` source, for the browser endpoints


def _strategy(operation):  # type: ignore[no-untyped-def]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    if "{source_id}" in operation.path:  # existing sources too, not only random (unknown) ids
        strategies += [operation.as_strategy(path_parameters={"source_id": sid}) for sid in ("website", "typeform-demo")]
    return st.one_of(strategies)


def test_ingest_api_has_no_server_errors_and_keeps_its_schema(ingest_schema):
    failures = []
    statuses: Counter[tuple[str, int]] = Counter()
    operations = sorted((result.ok() for result in ingest_schema.get_all_operations()),
                        key=lambda op: op.method.upper() == "DELETE")  # deleting the seeded sources last
    assert len(operations) >= 15
    for operation in operations:

        @given(case=_strategy(operation))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call_and_validate(
                headers=_credentials(operation.path), checks=[not_a_server_error, response_schema_conformance],
            )
            statuses[(f"{operation.method.upper()} {operation.path}", response.status_code)] += 1

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then fail once
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    print(sorted(statuses.items()))
    reached = {op for (op, status) in statuses if status < 400}
    assert len(reached) >= 10, f"most operations never got past validation: {sorted(statuses.items())}"
