from __future__ import annotations

import pytest

from tests.support.stack import create_test_env, drop_test_env


@pytest.fixture
def fresh_env(infra, request):
    env = create_test_env(infra, "f_" + request.node.name.removeprefix("test_")[:14])
    yield env
    drop_test_env(env)


@pytest.fixture(scope="session")
def stack_control():
    from tests.support.stack import load_stack_module

    return load_stack_module()
