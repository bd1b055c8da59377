"""Background loops of a service: started after the HTTP server, restarted when they crash, stopped on SIGTERM."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from leadflow_runtime.health import Heartbeat
from leadflow_runtime.logs import get_logger

log = get_logger(__name__)


class Supervisor:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def start(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        self._tasks[name] = asyncio.create_task(self._keep_running(name, loop), name=name)

    async def _keep_running(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        delay = 1.0
        while not self._stopping:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("background loop crashed; restarting", loop=name, restart_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def stop(self, stoppers: list[Callable[[], None]], timeout: float) -> None:
        self._stopping = True
        for stop in stoppers:
            stop()
        tasks = list(self._tasks.values())
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            log.warning("loop did not stop in time; cancelling", loop=task.get_name())
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def start_kafka_client(client: AIOKafkaProducer | AIOKafkaConsumer, what: str, stopping: Callable[[], bool]) -> bool:
    """Start a client, waiting for the broker as long as it takes (the service stays up, not ready)."""
    delay = 0.5
    while not stopping():
        try:
            await client.start()
            return True
        except (KafkaError, OSError) as exc:
            log.warning("kafka not reachable yet", client=what, error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    return False


async def kafka_ready(client: AIOKafkaProducer | AIOKafkaConsumer) -> None:
    inner = getattr(client, "client", None) or getattr(client, "_client")  # aiokafka has no public probe
    if not await inner.force_metadata_update():
        raise ConnectionError("Kafka did not answer a metadata request")


async def stop_quietly(*clients: AIOKafkaProducer | AIOKafkaConsumer) -> None:
    for client in clients:
        try:
            await client.stop()
        except Exception as exc:  # never started, or the broker is gone: nothing left to flush
            log.debug("kafka client stop", error=str(exc))


async def retry_transient(action: Callable[[], Awaitable[object]], what: str, max_delay: float = 5.0) -> None:
    """Run ``action`` until it succeeds; transient failures (a dependency away) are waited out."""
    from leadflow_runtime.errors import is_transient

    delay = 0.5
    while True:
        try:
            await action()
            return
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("waiting for a dependency", action=what, error=str(exc)[:300], retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


class BatchedJob:
    """A periodic job that works in batches: ``step(now)`` returns how many items it handled.

    Each round repeats ``step`` while it comes back with a full batch, then waits
    ``interval`` seconds; a dependency that is away is waited out, anything else
    propagates (the supervisor restarts the loop).
    """

    def __init__(self, *, name: str, interval: float, batch: int, heartbeat: Heartbeat) -> None:
        self.name = name
        self.interval = interval
        self.batch = batch
        self.heartbeat = heartbeat
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def step(self, now: datetime) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    async def run(self) -> None:
        from leadflow_runtime.errors import is_transient

        while not self._stop.is_set():
            self.heartbeat.beat()
            try:
                while await self.step(datetime.now(UTC)) == self.batch and not self._stop.is_set():
                    self.heartbeat.beat()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("job waiting for a dependency", job=self.name, error=str(exc)[:300])
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
