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


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, _TRANSIENT):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and isinstance(cause, _TRANSIENT)
