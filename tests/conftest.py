"""Shared fixtures. Integration, e2e and fault tests use the real Kafka and PostgreSQL
started (or reused) through ``deploy/local/stack.py``; unit tests touch neither."""

from __future__ import annotations

import pytest

from tests.support.stack import Infra, TestEnv, create_test_env, drop_test_env, start_infra


@pytest.fixture(scope="session")
def infra() -> Infra:
    return start_infra()


@pytest.fixture(scope="module")
def test_env(infra: Infra, request: pytest.FixtureRequest) -> TestEnv:
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:20]
    env = create_test_env(infra, name)
    yield env
    drop_test_env(env)
