"""``python -m bench.receiver OUT.json``: the tests' webhook receiver in a process of its own.

Prints its URL on the first line of stdout; on SIGTERM (or after an hour at most) it writes
every request it answered - arrival time, headers, body - to ``OUT.json`` and exits. Its own
process keeps its clock readings free of the load generator's event loop.
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from tests.support.receiver import WebhookReceiver


def main() -> int:
    out = sys.argv[1]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with WebhookReceiver() as receiver:
        print(receiver.url, flush=True)
        stop.wait(timeout=3600)
        received = receiver.snapshot()
    with open(out, "w") as f:
        json.dump([{"at": r.at, "headers": r.headers, "body": r.body.decode("utf-8", "replace"), "status": r.answered}
                   for r in received], f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
