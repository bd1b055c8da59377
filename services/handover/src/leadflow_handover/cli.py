"""``leadflow-handover serve | migrate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leadflow_runtime.logs import configure_logging

from leadflow_handover.settings import HandoverSettings

MIGRATIONS = Path(__file__).with_name("migrations")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadflow-handover", description="Leadflow handover service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the delivery workers and the delivery API")
    sub.add_parser("migrate", help="apply the database migrations of the handover schema")
    args = parser.parse_args(argv)
    settings = HandoverSettings()
    configure_logging(settings.log_level, settings.log_format, service="handover")
    if args.command == "migrate":
        from leadflow_runtime.migrations import upgrade

        upgrade(MIGRATIONS, settings.database_url, "handover")
        print("handover schema is up to date")
        return 0
    from leadflow_runtime.serve import serve

    from leadflow_handover.app import create_app

    serve(create_app(settings), host=settings.http_host, port=settings.handover_port,
          shutdown_timeout=settings.shutdown_timeout_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
