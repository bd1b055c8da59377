"""Source and API-key lookups for the hot path, cached in memory for a short time.

A lookup hits PostgreSQL at most once per ``ttl`` seconds per source or key and instance,
so a revoked key or an edited source takes effect everywhere within ``ttl`` (at once on
the instance that made the change). While PostgreSQL is unreachable, entries that were
cached before keep answering (stale beats down); anything never seen gets 503.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.exc import ProgrammingError

from leadflow_runtime.errors import is_transient
from leadflow_runtime.logs import get_logger

from leadflow_ingest.adapters.store import SourceStore, key_digest
from leadflow_ingest.sources import KeyGrant, Source

log = get_logger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class RegistryUnavailable(Exception):
    """PostgreSQL did not answer a lookup that is not cached."""


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def fresh(self, key: K) -> tuple[bool, V | None]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self.clock():
            return False, None
        return True, entry[1]

    def stale(self, key: K) -> tuple[bool, V | None]:
        entry = self._entries.get(key)
        return (True, entry[1]) if entry else (False, None)

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self.max_entries and key not in self._entries:
            self._entries.clear()  # a flood of unknown keys must not grow memory; the next lookups refill
        self._entries[key] = (self.clock() + self.ttl, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class SourceRegistry:
    def __init__(self, store: SourceStore, ttl: float) -> None:
        self.store = store
        self._sources: TtlCache[str, Source | None] = TtlCache(ttl)
        self._keys: TtlCache[bytes, KeyGrant | None] = TtlCache(ttl)

    async def source(self, source_id: str) -> Source | None:
        return await self._cached(self._sources, source_id, lambda: self.store.get_source(source_id), "source")

    async def key(self, presented: str) -> KeyGrant | None:
        digest = key_digest(presented)
        return await self._cached(self._keys, digest, lambda: self.store.find_key(digest), "api key")

    def forget_source(self, source_id: str) -> None:
        self._sources.forget(source_id)

    def forget_keys(self) -> None:
        self._keys.clear()

    @staticmethod
    async def _cached(cache: TtlCache[K, V], key: K, load: Callable[[], Awaitable[V]], what: str) -> V:
        hit, value = cache.fresh(key)
        if hit:
            return value  # type: ignore[return-value]
        try:
            value = await load()
        except ProgrammingError as exc:
            if "does not exist" not in str(exc):
                raise
            raise RegistryUnavailable("the ingest schema is missing: run `leadflow-ingest migrate`") from exc
        except Exception as exc:
            if not is_transient(exc):
                raise
            hit, stale = cache.stale(key)
            if hit:
                log.warning("PostgreSQL unreachable; answering from the cache", lookup=what, error=str(exc)[:200])
                return stale  # type: ignore[return-value]
            raise RegistryUnavailable(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        cache.put(key, value)
        return value
