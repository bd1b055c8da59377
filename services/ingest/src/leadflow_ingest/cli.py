"""``leadflow-ingest serve | migrate | check-sources``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leadflow_runtime.logs import configure_logging

from leadflow_ingest.settings import IngestSettings

MIGRATIONS = Path(__file__).with_name("migrations")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadflow-ingest", description="Leadflow ingest service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP edge")
    sub.add_parser("migrate", help="apply the database migrations of the ingest schema (sources, API keys)")
    check = sub.add_parser("check-sources", help="validate a sources YAML file")
    check.add_argument("path", nargs="?", default=None)
    args = parser.parse_args(argv)
    settings = IngestSettings()
    configure_logging(settings.log_level, settings.log_format, service="ingest")
    if args.command == "migrate":
        from leadflow_runtime.migrations import upgrade

        upgrade(MIGRATIONS, settings.database_url, "ingest")
        print("ingest schema is up to date")
        return 0
    if args.command == "check-sources":
        from leadflow_ingest.sources_file import SourcesFileError, load_sources_file

        path = args.path or settings.ingest_sources_file
        if path is None:
            print("give a path or set LEADFLOW_INGEST_SOURCES_FILE", file=sys.stderr)
            return 2
        try:
            loaded = load_sources_file(Path(path))
        except SourcesFileError as exc:
            print(exc, file=sys.stderr)
            return 1
        for source_id, spec in loaded:
            print(f"{source_id}: {spec.kind} ({spec.name})")
        return 0
    from leadflow_runtime.serve import serve

    from leadflow_ingest.app import create_app

    serve(create_app(settings), host=settings.http_host, port=settings.ingest_port,
          shutdown_timeout=settings.shutdown_timeout_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
