#!/usr/bin/env python3
"""A sales team's webhook endpoint for the local demo (standard library only).

    python deploy/local/receiver.py --port 8099 --secret whsec_... --log notifications.jsonl
    python deploy/local/receiver.py --port 8099 --secret-file secret --log notifications.jsonl

POST (any path, e.g. /hooks/sales)  verifies the Standard Webhooks signature itself:
    HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` keyed with the base64-decoded
    secret after ``whsec_``; ``webhook-signature`` holds space-separated ``v1,<base64>`` values
    (several while a secret is rotated; one match is enough); a timestamp more than 5 minutes
    off is rejected. Answers 200 when valid, 401 otherwise. Every request is appended to the
    log file as one JSON line: received_at, webhook-id, webhook-timestamp, signature_valid,
    error, duplicate (webhook-id seen before - a receiver must dedupe on it) and the payload.
GET /notifications                  everything in the log file, as a JSON list (oldest first).
GET /health/ready, GET /health      200 while the server runs.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOLERANCE_SECONDS = 5 * 60
MAX_BODY = 1024 * 1024
PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    raw = secret.strip()
    raw = raw[len(PREFIX):] if raw.startswith(PREFIX) else raw
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the secret must be `whsec_` followed by base64") from exc
    if len(key) < 16:
        raise ValueError("the secret must hold at least 16 bytes")
    return key


def verify(key: bytes, msg_id: str | None, timestamp: str | None, signature: str | None, body: bytes,
           now: float | None = None) -> str | None:
    """None when the request is authentic and fresh, else why not."""
    if not msg_id or not timestamp or not signature:
        return "missing webhook-id, webhook-timestamp or webhook-signature header"
    try:
        ts = int(timestamp)
    except ValueError:
        return f"webhook-timestamp {timestamp!r} is not a Unix time in seconds"
    skew = (time.time() if now is None else now) - ts
    if abs(skew) > TOLERANCE_SECONDS:
        return f"webhook-timestamp is {skew:+.0f} s off (tolerance {TOLERANCE_SECONDS} s)"
    expected = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    for part in signature.split():
        version, _, value = part.partition(",")
        if version != "v1":
            continue
        try:
            presented = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(presented, expected):
            return None
    return "no v1 signature matches"


class Journal:
    """The notification log: appended line by line, also kept in memory for GET /notifications."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    self.entries.append(json.loads(line))
                except ValueError:
                    continue  # a torn last line after a crash
        self.seen = {e.get("webhook_id") for e in self.entries if e.get("signature_valid")}

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if entry["signature_valid"]:
                entry["duplicate"] = entry["webhook_id"] in self.seen
                self.seen.add(entry["webhook_id"])
            else:
                entry["duplicate"] = False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
                f.flush()
            self.entries.append(entry)
            return entry

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.entries)


def make_handler(key: bytes, journal: Journal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "leadflow-demo-receiver/1.0"
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False, indent=1 if isinstance(body, list) else None).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/notifications":
                self._answer(200, journal.snapshot())
            elif path in ("/health", "/health/ready", "/health/live"):
                self._answer(200, {"status": "pass"})
            else:
                self._answer(404, {"detail": "POST notifications to any path; GET /notifications lists them"})

        def do_POST(self) -> None:  # noqa: N802
            received = time.time()
            try:
                length = int(self.headers.get("content-length") or "0")
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self.close_connection = True
                self._answer(413, {"detail": "body missing or too large"})
                return
            body = self.rfile.read(length)
            msg_id = self.headers.get("webhook-id")
            timestamp = self.headers.get("webhook-timestamp")
            error = verify(key, msg_id, timestamp, self.headers.get("webhook-signature"), body, received)
            try:
                payload: Any = json.loads(body)
            except ValueError:
                payload = body.decode("utf-8", errors="replace")[:2000]
            entry = journal.add({
                "received_at": datetime.fromtimestamp(received, UTC).isoformat(timespec="microseconds"),
                "webhook_id": msg_id,
                "webhook_timestamp": timestamp,
                "path": self.path,
                "signature_valid": error is None,
                "error": error,
                "payload": payload,
            })
            if error is None:
                self._answer(200, {"received": msg_id, "duplicate": entry["duplicate"]})
            else:
                self._answer(401, {"detail": error})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            sys.stderr.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {self.address_string()} {format % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Demo webhook receiver that verifies Standard Webhooks signatures.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--secret", help="whsec_<base64> (visible in the process list; prefer --secret-file)")
    group.add_argument("--secret-file", type=Path, help="a file holding the whsec_ secret")
    parser.add_argument("--log", type=Path, required=True, help="JSON-lines file the notifications are appended to")
    args = parser.parse_args(argv)
    try:
        key = secret_key(args.secret if args.secret else args.secret_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    journal = Journal(args.log)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(key, journal))
    server.daemon_threads = True
    print(f"receiver listening on http://{args.host}:{args.port} (log {args.log}, {len(journal.entries)} earlier entries)",
          file=sys.stderr, flush=True)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("receiver stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
