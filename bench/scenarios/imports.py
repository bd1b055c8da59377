"""``csv-import``: a trade fair's contact list through ``leadflow import`` until Kafka acknowledged every touchpoint."""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from datetime import date, timedelta

import httpx

from bench.core import Context, Measure, Metric, Outcome, Target
from bench.infra import RESULTS, Service, isolated, running, say
from bench.scenarios.ingest import _topic_records

API_KEY = "bench-key-0123456789abcdef"
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
SOURCE = "bench-fair"
TITLES = ("Geschäftsführerin", "Leiter Einkauf", "Head of IT", "Vertriebsingenieur", "Werkstudent", "CTO")
COUNTRIES = ("Deutschland", "Österreich", "Schweiz", "DE", "Niederlande")


def contact_list(rows: int) -> tuple[bytes, int]:
    """A German Excel export (Windows-1252, semicolons, CRLF): every 50th row is a second scan of an earlier
    visitor (merged), every 200th has no e-mail address (rejected). Returns the file and its touchpoints."""
    lines = ["Anrede;Vorname;Nachname;Firma;Position;E-Mail;Telefon;Stadt;Land;Mitarbeiter;Einwilligung Newsletter;Notiz"]
    touchpoints = 0
    for i in range(rows):
        person = i - 25 if i % 50 == 49 else i
        email = "" if i % 200 == 199 else f"besucher.{person}@firma-{person % 2_000}.example"
        touchpoints += bool(email) and person == i
        lines.append(
            f"{'Frau' if i % 2 else 'Herr'};Jürgen{person};Müller{person};Müller & Söhne {person % 2_000} GmbH;"
            f"{TITLES[i % len(TITLES)]};{email};+49 511 {i:07d};Hannover;{COUNTRIES[i % len(COUNTRIES)]};{(i % 40) * 25};"
            f"{'ja' if i % 3 else 'nein'};Gespräch am Stand B{i % 30}, Rückruf gewünscht"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252"), touchpoints


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def csv_import(ctx: Context, out: Outcome) -> None:
    rows = ctx.size(100_000, 2_000)
    raw, expected = contact_list(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "csv-import-contacts.csv"
    path.write_bytes(raw)
    event_date = (date.today() - timedelta(days=2)).isoformat()
    with isolated(ctx.infra, "csv-import") as env:
        subprocess.run([sys.executable, "-m", "leadflow_ingest.cli", "migrate"], env={**env.env}, check=True,
                       capture_output=True, timeout=120)
        ingest = Service("ingest", {**env.env, "LEADFLOW_INGEST_API_KEYS": json.dumps([API_KEY]),
                                    "LEADFLOW_INGEST_ADMIN_KEY": ADMIN_KEY})
        with running(ingest):
            httpx.put(f"{ingest.url}/v1/sources/{SOURCE}", json={"kind": "api", "name": "Bench-Messe 2026"},
                      headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10).raise_for_status()
            command = [sys.executable, "-m", "leadflow_ingest.importer_cli", "import", str(path), "--source", SOURCE,
                       "--event-date", event_date, "--url", ingest.url, "--api-key", API_KEY]
            say(f"csv-import: {rows:,} rows ({len(raw) / 1e6:.1f} MB, Windows-1252, semicolons) through `leadflow import`")
            cpu0 = _children_cpu()
            with Measure(out, "import", {ingest.name: [ingest.pid]}) as m:
                t0 = time.perf_counter()
                first = subprocess.run(command, capture_output=True, text=True, timeout=600)
                seconds = time.perf_counter() - t0
                m.exclude("leadflow import (command line)", (_children_cpu() - cpu0) / max(seconds, 1e-6))
            if first.returncode != 0:
                raise RuntimeError(f"`leadflow import` exited {first.returncode}:\n{first.stdout}\n{first.stderr[-2000:]}")
            found = re.search(r"imp_[0-9a-f]{16}", first.stdout)
            if found is None:
                raise RuntimeError(f"no import id in the output:\n{first.stdout}")
            view = httpx.get(f"{ingest.url}/v1/imports/{found.group(0)}", params={"limit": 0},
                             headers={"X-API-Key": API_KEY}, timeout=10).json()
            t0 = time.perf_counter()
            again = subprocess.run(command, capture_output=True, text=True, timeout=600)
            repeat_seconds = time.perf_counter() - t0
            if again.returncode != 0 or "nothing was sent again" not in again.stderr.replace("\n", " "):
                raise RuntimeError(f"the repeated import did not say it was a repeat:\n{again.stdout}\n{again.stderr[-2000:]}")
        on_topic = _topic_records(env)
    counts = view["counts"]
    out.details.update(rows=rows, bytes=len(raw), view=view, records_on_topic=on_topic, cli_output=first.stdout[-3000:])
    if view["status"] != "completed" or counts["touchpoints"] != expected or on_topic != expected:
        raise AssertionError(f"expected {expected:,} touchpoints; the import says {counts} ({view['status']}), "
                             f"the topic holds {on_topic:,}")
    out.add(
        Metric(f"time to import {rows:,} rows", seconds, "s", Target("<", 30)),
        Metric("rows per second", rows / seconds, "rows/s"),
        Metric("same file again (nothing published)", repeat_seconds, "s"),
    )
    out.notes.append(
        f"`leadflow import` (its own process) uploads a {len(raw) / 1e6:.1f} MB German Excel export of {rows:,} rows to "
        f"ingest and follows the import until Kafka acknowledged its last touchpoint: {counts['touchpoints']:,} "
        f"touchpoints ({counts['merged']:,} second scans merged, {counts['rejected']:,} rows without an e-mail address "
        f"rejected). Timed from starting the command to its exit; all {on_topic:,} records were on the topic afterwards."
    )
