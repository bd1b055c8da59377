"""``python -m bench [--smoke] [--only NAME ...] [--no-write]``: run the scenarios, print and record results."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback
from datetime import UTC, datetime

from bench import report
from bench.core import Context, Outcome, Scenario
from bench.infra import RESULTS, bring_up_servers, say, wait_until_quiet
from bench.machine import describe
from bench.scenarios import SCENARIOS

# A figure taken while others used more than this many cores is retaken once (full runs only, and only
# scenarios short enough to repeat; the long ones say how busy the machine was instead).
BUSY_RETRY_CORES = 0.5
RETRY_MAX_SECONDS = 180


def _run_one(name: str, scenario: Scenario, ctx: Context, quiet_wait: float) -> Outcome:
    out = Outcome(name, started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    out.details["machine_before"] = wait_until_quiet(0 if ctx.smoke else quiet_wait)
    t0 = time.monotonic()
    try:
        scenario(ctx, out)
    except Exception as exc:  # one broken scenario must not hide the others' figures
        out.status = "error"
        out.notes.insert(0, f"{type(exc).__name__}: {str(exc)[:500]}")
        traceback.print_exc()
    out.duration_s = time.monotonic() - t0
    return out


def _save(args: argparse.Namespace, argv: list[str] | None, infra: object, outcomes: dict[str, Outcome]) -> None:
    if args.no_write:
        return
    run = {
        "mode": "smoke" if args.smoke else "full",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": describe(getattr(infra, "database_url", None)),
        "scenarios": {n: o.as_dict() for n, o in outcomes.items()},
    }
    if args.smoke:  # toy sizes never overwrite the published figures
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "benchmarks-smoke.json"
        path.write_text(json.dumps(run, indent=2, default=str) + "\n")
        say(f"wrote {path}")
    else:
        json_path, md_path = report.write(run, list(SCENARIOS))
        say(f"wrote {md_path} and {json_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="toy sizes: every scenario in seconds (used by the tests)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=list(SCENARIOS), help="run these scenarios only")
    parser.add_argument("--no-write", action="store_true", help="print results only; write no files")
    parser.add_argument("--profile", action="store_true", help="record py-spy profiles of ingest and scoring")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto",
                        help="closed-loop load generator (auto: wrk when installed)")
    parser.add_argument("--memory-minutes", type=float, default=10.0, help="load period of the memory scenario")
    parser.add_argument("--soak-minutes", type=float, default=30.0,
                        help="memory scenario: minutes of further load after the load period, for RSS growth (0: skip)")
    parser.add_argument("--quiet-wait", type=float, default=90.0,
                        help="seconds to wait for a quiet machine before each scenario (0: measure at once)")
    parser.add_argument("--no-retry", action="store_true", help="never retake a figure taken on a busy machine")
    parser.add_argument("--drain-size", nargs=2, type=int, metavar=("TOUCHPOINTS", "LEADS"),
                        help="scoring-drain size (default 1,000,000 over 100,000 leads)")
    parser.add_argument("--rescoring-leads", type=int, metavar="LEADS",
                        help="rescoring: leads stored with their history (default 1,000,000)")
    args = parser.parse_args(argv)
    # SIGTERM (a timeout, CI stopping) unwinds like Ctrl-C, so every service process started is stopped
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    names = args.only or list(SCENARIOS)
    needs_servers = any(SCENARIOS[n].needs_servers for n in names)
    say(f"{'smoke' if args.smoke else 'full'} run of {', '.join(names)}")
    infra = bring_up_servers() if needs_servers else None
    ctx = Context(infra, smoke=args.smoke, generator=args.generator, profile=args.profile,
                  memory_minutes=args.memory_minutes, soak_minutes=args.soak_minutes, drain_size=tuple(args.drain_size) if args.drain_size else None,
                  rescoring_leads=args.rescoring_leads)

    outcomes: dict[str, Outcome] = {}
    for name in names:
        spec = SCENARIOS[name]
        say(f"== {name}: {spec.description}")
        out = _run_one(name, spec.run, ctx, args.quiet_wait)
        if (not args.smoke and not args.no_retry and out.status == "measured"
                and out.other_cores > BUSY_RETRY_CORES and out.duration_s < RETRY_MAX_SECONDS):
            say(f"{name}: others used {out.other_cores:.2f} cores while it was measured; running it again")
            again = _run_one(name, spec.run, ctx, args.quiet_wait)
            if again.status == "measured" and again.other_cores < out.other_cores:
                again.notes.append(f"Retaken: others used {out.other_cores:.2f} cores during the first attempt.")
                out = again
            else:
                out.notes.append(f"Others used {out.other_cores:.2f} cores while this was measured (retaken once, "
                                 "no quieter); the figures understate the software.")
        if out.status == "measured" and out.other_cores > BUSY_RETRY_CORES and not any("Others used" in n for n in out.notes):
            out.notes.append(f"Others used up to {out.other_cores:.2f} cores while this was measured; the figures "
                             "understate the software.")
        outcomes[name] = out
        print(out.result_line(), flush=True)
        for note in out.notes:
            print(f"  - {note}", flush=True)
        _save(args, argv, infra, outcomes)  # after every scenario: a run stopped half-way keeps what it measured

    errors = [n for n, o in outcomes.items() if o.status == "error"]
    if errors:
        say(f"scenarios that failed to run: {', '.join(errors)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
