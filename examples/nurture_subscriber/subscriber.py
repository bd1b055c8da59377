"""Nurture subscriber: an example service that follows Leadflow's lead stages.

It keeps two lists for the marketing team and prints every change to them:

- ``recycled``: leads that fell back to LEAD - MQLs that cooled down, and SQLs sales sent back
  (the reason, e.g. ``not_now``, is in the stage change's cause): nurture them;
- ``new_mqls``: leads that just became marketing qualified.

A lead leaves a list with its next stage change (a recycled lead that qualifies again
moves to ``new_mqls``; an MQL that becomes an SQL leaves ``new_mqls``). The lists are
kept in a SQLite file and exported to ``nurture.json`` after every batch.

How it honours the contract (``docs/events.md``):

- its own consumer group, so it gets every event no matter who else subscribes;
- delivery is at least once: each event's CloudEvents ``source`` + ``id`` is recorded in
  the same SQLite transaction as the list change, so a repeat is recognised and dropped;
  Kafka offsets are committed only after that transaction;
- events are in order per lead (the record key is the lead id), so "the latest stage
  change decides" is safe;
- records it cannot read (an unknown type, a newer major version, a broken record) are
  logged and skipped; the partition keeps moving.

Run it with ``python -m examples.nurture_subscriber`` from the repository root, or as
``python examples/nurture_subscriber/subscriber.py``; ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from leadflow_events import (
    LEAD_STAGES_TOPIC, CloudEvent, ContractViolation, LeadStageChanged, Stage, UnknownEventType, parse_stage_changed,
)

log = logging.getLogger("nurture")
RECYCLED, NEW_MQLS = "recycled", "new_mqls"
LISTS = (RECYCLED, NEW_MQLS)


def list_for(change: LeadStageChanged) -> str | None:
    """Which list a lead belongs on after this stage change (None: neither)."""
    if change.from_stage in (Stage.MQL, Stage.SQL) and change.to_stage is Stage.LEAD:
        return RECYCLED
    if change.to_stage is Stage.MQL:
        return NEW_MQLS
    return None


class NurtureState:
    """Seen event ids and the two lists, in one SQLite file: a change and its dedupe record commit together."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS seen_events (
            source TEXT NOT NULL, id TEXT NOT NULL, seen_at TEXT NOT NULL, PRIMARY KEY (source, id));
        CREATE TABLE IF NOT EXISTS nurture (
            list TEXT NOT NULL, lead_id TEXT NOT NULL, email TEXT, name TEXT, company TEXT, score INTEGER NOT NULL,
            since TEXT NOT NULL, reason TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (list, lead_id));
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript(self.SCHEMA)

    def apply(self, event: CloudEvent[LeadStageChanged]) -> list[str] | None:
        """Apply one event (uncommitted); the changes to the lists as lines, or None for a duplicate."""
        first_time = self.db.execute(
            "INSERT OR IGNORE INTO seen_events (source, id, seen_at) VALUES (?, ?, ?)",
            (event.source, event.id, datetime.now(UTC).isoformat()),
        ).rowcount
        if not first_time:
            return None
        change, target = event.data, list_for(event.data)
        who = describe(change)
        lines = []
        for name in LISTS:
            if name != target and self.db.execute(
                "DELETE FROM nurture WHERE list = ? AND lead_id = ?", (name, change.lead_id)
            ).rowcount:
                lines.append(f"- {name}: {who} (now {change.to_stage.value})")
        if target:
            profile = change.lead.profile
            name = " ".join(p for p in (profile.first_name, profile.last_name) if p) or None
            known = self.db.execute(
                "SELECT 1 FROM nurture WHERE list = ? AND lead_id = ?", (target, change.lead_id)
            ).fetchone()
            self.db.execute(
                "INSERT OR REPLACE INTO nurture VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (target, change.lead_id, change.lead.email, name, profile.company, change.scores.score,
                 change.occurred_at.isoformat(), change.cause.reason, event.id),
            )
            if not known:
                lines.append(f"+ {target}: {who}, score {change.scores.score}: {change.cause.reason}")
        return lines

    def commit(self) -> None:
        self.db.commit()

    def rollback(self) -> None:
        self.db.rollback()

    def lists(self) -> dict[str, list[dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT list, lead_id, email, name, company, score, since, reason, event_id FROM nurture ORDER BY since, lead_id"
        )
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in LISTS}
        for list_name, *values in rows:
            keys = ("lead_id", "email", "name", "company", "score", "since", "reason", "event_id")
            out[list_name].append(dict(zip(keys, values)))
        return out

    def close(self) -> None:
        self.db.close()


def describe(change: LeadStageChanged) -> str:
    return f"{change.lead.email or change.lead.anonymous_id or '(unknown)'} [{change.lead_id}]"


def write_json(path: Path, lists: dict[str, Any]) -> None:
    """Replace the export atomically, so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(lists, indent=2) + "\n")
    os.replace(tmp, path)


@dataclass
class Settings:
    bootstrap: str
    topic: str
    group: str
    state_dir: Path
    max_idle_seconds: float | None = None


@dataclass
class Counts:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0


class NurtureSubscriber:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = NurtureState(settings.state_dir / "nurture.sqlite3")
        self.json_path = settings.state_dir / "nurture.json"
        self.counts = Counts()
        self.stopping = asyncio.Event()

    def handle(self, record: Any) -> list[str]:
        """One record: parse, dedupe, apply; lines to print. Unreadable records are logged and skipped."""
        where = f"{record.topic}/{record.partition}@{record.offset}"
        try:
            event = parse_stage_changed(record)
        except UnknownEventType as exc:
            self.counts.skipped += 1
            if exc.newer_version:
                log.warning("skipping %s: %s", where, exc)
            else:
                log.info("skipping %s: %s", where, exc)
            return []
        except ContractViolation as exc:
            self.counts.skipped += 1
            log.error("skipping unreadable record %s: %s", where, exc)
            return []
        lines = self.state.apply(event)
        if lines is None:
            self.counts.duplicates += 1
            return [f"= duplicate event {event.id} ({where}) skipped"]
        self.counts.applied += 1
        return lines

    async def run(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            s.topic, bootstrap_servers=s.bootstrap, group_id=s.group, client_id="nurture-subscriber",
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise SystemExit(f"cannot follow {s.topic} on {s.bootstrap}: {exc!r} (does the topic exist?)") from exc
        write_json(self.json_path, self.state.lists())
        log.info("following %s on %s as group %s", s.topic, s.bootstrap, s.group)
        idle_since: float | None = None
        try:
            while not self.stopping.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=500)
                records = [record for records in batch.values() for record in records]
                if not records:
                    if consumer.assignment():
                        idle_since = idle_since or time.monotonic()
                        if s.max_idle_seconds is not None and time.monotonic() - idle_since >= s.max_idle_seconds:
                            log.info("idle for %.1f s; stopping", s.max_idle_seconds)
                            break
                    continue
                idle_since = None
                try:
                    lines = [line for record in records for line in self.handle(record)]
                    self.state.commit()  # seen ids and list changes together
                except BaseException:
                    self.state.rollback()
                    raise
                if any(line[0] in "+-" for line in lines):
                    write_json(self.json_path, self.state.lists())
                for line in lines:
                    print(line, flush=True)
                try:  # after the SQLite commit: a crash in between replays the batch, and dedupe drops it
                    await consumer.commit()
                except KafkaError as exc:  # e.g. a rebalance; the records come again and are deduped
                    log.warning("offset commit failed: %s", exc)
        finally:
            await consumer.stop()
            lists = self.state.lists()
            self.state.close()
            c = self.counts
            print(
                f"stopped: {c.applied} events applied, {c.duplicates} duplicates skipped, {c.skipped} records skipped; "
                f"{len(lists[RECYCLED])} recycled, {len(lists[NEW_MQLS])} new MQLs (see {self.json_path})",
                flush=True,
            )


def parse_args(argv: list[str] | None) -> Settings:
    def env(name: str, default: str) -> str:
        return os.environ.get(name) or default  # set but empty counts as unset

    parser = argparse.ArgumentParser(
        prog="python -m examples.nurture_subscriber", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--bootstrap", default=env("LEADFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                        help="Kafka bootstrap servers (env LEADFLOW_KAFKA_BOOTSTRAP)")
    parser.add_argument("--topic", default=env("LEADFLOW_TOPIC_LEAD_STAGES", LEAD_STAGES_TOPIC),
                        help="the lead-stages topic (env LEADFLOW_TOPIC_LEAD_STAGES)")
    parser.add_argument("--group", default=env("NURTURE_GROUP_ID", "nurture-subscriber"),
                        help="consumer group id (env NURTURE_GROUP_ID)")
    parser.add_argument("--state-dir", type=Path, default=Path(env("NURTURE_STATE_DIR", "nurture-state")),
                        help="where nurture.sqlite3 and nurture.json live (env NURTURE_STATE_DIR)")
    parser.add_argument("--max-idle-seconds", type=float, default=None,
                        help="stop after this long without records (default: run until Ctrl-C / SIGTERM)")
    args = parser.parse_args(argv)
    return Settings(args.bootstrap, args.topic, args.group, args.state_dir, args.max_idle_seconds)


async def run(settings: Settings) -> None:
    subscriber = NurtureSubscriber(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, subscriber.stopping.set)
    await subscriber.run()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
