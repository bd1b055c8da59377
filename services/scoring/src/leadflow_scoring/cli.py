"""``leadflow-scoring serve | migrate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leadflow_runtime.logs import configure_logging

from leadflow_scoring.settings import ScoringSettings

MIGRATIONS = Path(__file__).with_name("migrations")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadflow-scoring", description="Leadflow scoring service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the read API and the scoring workers")
    sub.add_parser("migrate", help="apply the database migrations of the scoring schema")
    check = sub.add_parser("check-model", help="validate a scoring model file")
    check.add_argument("path", nargs="?", default=None)
    args = parser.parse_args(argv)
    settings = ScoringSettings()
    configure_logging(settings.log_level, settings.log_format, service="scoring")
    if args.command == "migrate":
        from leadflow_runtime.migrations import upgrade

        upgrade(MIGRATIONS, settings.database_url, "scoring")
        print("scoring schema is up to date")
        return 0
    if args.command == "check-model":
        from leadflow_scoring.model_file import ModelFileError, load_model

        try:
            model = load_model(args.path or settings.scoring_model_path)
        except ModelFileError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{model.id} (hash {model.hash}): {len(model.fit_rules)} fit rules, "
              f"{len(model.engagement_rules)} engagement rules, {len(model.fast_tracks)} fast tracks")
        return 0
    from leadflow_runtime.serve import serve

    from leadflow_scoring.app import create_app

    serve(create_app(settings), host=settings.http_host, port=settings.scoring_port,
          shutdown_timeout=settings.shutdown_timeout_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
