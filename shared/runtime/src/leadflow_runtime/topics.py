"""``leadflow-topics create``: creates the topics the services expect, with their partition counts."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from leadflow_events import dead_letter_topic
from leadflow_runtime.settings import CommonSettings


def planned_topics(settings: CommonSettings, partitions: int, dlq_partitions: int) -> dict[str, int]:
    topics = {
        settings.topic_touchpoints: partitions, settings.topic_lead_stages: partitions,
        settings.topic_handover_feedback: partitions,
    }
    for name in list(topics):
        topics[dead_letter_topic(name)] = dlq_partitions
    return topics


async def create_topics(
    bootstrap: str, topics: dict[str, int], *, replication: int = 1, wait_seconds: float = 60,
    configs: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """Create missing topics; return the names created. Existing topics are left as they are."""
    deadline = time.monotonic() + wait_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-topics")
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            await admin.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(n, p, replication, topic_configs=(configs or {}).get(n, {})) for n, p in topics.items() if n not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created them meanwhile
        return [t.name for t in missing]
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadflow-topics", description=__doc__)
    parser.add_argument("action", choices=["create"])
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the touchpoint, stage and feedback topics")
    parser.add_argument("--dlq-partitions", type=int, default=1)
    parser.add_argument("--replication-factor", type=int, default=1, help="3 on a production cluster")
    parser.add_argument(
        "--touchpoint-retention-days", type=float, default=30,
        help="how long raw touchpoints (personal data) stay in Kafka; bounds erasure in the log (default 30)",
    )
    args = parser.parse_args(argv)
    settings = CommonSettings()
    topics = planned_topics(settings, args.partitions, args.dlq_partitions)
    retention_ms = str(int(args.touchpoint_retention_days * 86_400_000))
    configs = {name: {"retention.ms": retention_ms} for name in (settings.topic_touchpoints, dead_letter_topic(settings.topic_touchpoints))}
    created = asyncio.run(create_topics(settings.kafka_bootstrap, topics, replication=args.replication_factor, configs=configs))
    for name, parts in topics.items():
        state = "created" if name in created else "exists"
        print(f"topic {name:<32} partitions={parts:<3} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
