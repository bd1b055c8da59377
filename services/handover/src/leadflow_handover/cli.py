"""``leadflow-handover serve | migrate | check-config FILE``."""

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
    check = sub.add_parser("check-config", help="validate a destinations/teams/routing file without starting anything")
    check.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if args.command == "check-config":
        return _check_config(args.file)
    settings = HandoverSettings()
    configure_logging(settings.log_level, settings.log_format, service="handover")
    if args.command == "migrate":
        from leadflow_runtime.migrations import upgrade

        upgrade(MIGRATIONS, settings.database_url, "handover")
        print("handover schema is up to date")
        return 0
    from leadflow_runtime.serve import serve

    from leadflow_handover.app import create_app
    from leadflow_handover.config_file import ConfigFileError

    try:
        app = create_app(settings)
    except ConfigFileError as exc:
        print(f"leadflow-handover: the configuration cannot be used: {exc}", file=sys.stderr)
        return 2
    serve(app, host=settings.http_host, port=settings.handover_port, shutdown_timeout=settings.shutdown_timeout_seconds)
    return 0


def _check_config(path: Path) -> int:
    from leadflow_handover.config_file import ConfigFileError, load_config

    try:
        config = load_config(path)
    except ConfigFileError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    r = config.routing
    print(f"{path}: {len(config.destinations)} destinations ({', '.join(d.name for d in config.destinations) or '-'}), "
          f"{len(r.teams)} teams, {len(r.rules)} routing rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
