"""``leadflow-ingest serve``."""

from __future__ import annotations

import argparse
import sys

from leadflow_runtime.logs import configure_logging

from leadflow_ingest.settings import IngestSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadflow-ingest", description="Leadflow ingest service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP edge")
    parser.parse_args(argv)
    settings = IngestSettings()
    configure_logging(settings.log_level, settings.log_format, service="ingest")
    from leadflow_runtime.serve import serve

    from leadflow_ingest.app import create_app

    serve(create_app(settings), host=settings.http_host, port=settings.ingest_port,
          shutdown_timeout=settings.shutdown_timeout_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
