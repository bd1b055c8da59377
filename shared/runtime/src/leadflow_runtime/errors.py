"""Transient versus permanent failures, decided here and nowhere else.

    transient   the world is temporarily broken (database or broker unreachable, timeouts):
                retry the same work later without moving any offset
    permanent   the input itself is the problem (contract violation, a rule that cannot apply):
                dead-letter the record and move on

Anything not recognised as transient is permanent.
"""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

try:  # asyncpg is our driver, but keep the module importable without it
    from asyncpg import PostgresConnectionError, CannotConnectNowError
    _ASYNCPG_TRANSIENT: tuple[type[BaseException], ...] = (PostgresConnectionError, CannotConnectNowError)
except ImportError:  # pragma: no cover
    _ASYNCPG_TRANSIENT = ()

_TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
    TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    *_ASYNCPG_TRANSIENT,
)


# deadlock detected, serialization failure, lock not available: the same work succeeds when retried
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if _sqlstate(exc) in RETRYABLE_SQLSTATES:
        return True
    if isinstance(exc, _TRANSIENT):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and isinstance(cause, _TRANSIENT)
