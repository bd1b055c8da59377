"""The sources YAML file (``LEADFLOW_INGEST_SOURCES_FILE``), read and checked at start-up.

    sources:
      - id: website
        kind: html-form
        name: Contact form on www.example.com
        allowed_origins: [https://www.example.com]
        thank_you_url: https://www.example.com/thanks
      - id: hubspot
        kind: hubspot
        name: HubSpot portal 62515
        signing_secret_env: HUBSPOT_CLIENT_SECRET   # read from the environment, keeps the file free of secrets

Each entry is upserted by id at start-up; the file wins over edits made through the admin
API for the sources it names, and leaves other sources alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from leadflow_ingest.sources import PROVIDER_KINDS, SOURCE_ID_PATTERN, SourceSpec


class SourcesFileError(ValueError):
    pass


def load_sources_file(path: Path, environ: dict[str, str] | None = None) -> list[tuple[str, SourceSpec]]:
    env = os.environ if environ is None else environ
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesFileError(f"{path}: cannot be read: {exc}") from exc
    entries = document.get("sources") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SourcesFileError(f"{path}: expected a top-level `sources:` list")

    loaded: list[tuple[str, SourceSpec]] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{path}: sources[{index}]"
        if not isinstance(entry, dict):
            raise SourcesFileError(f"{where}: expected a mapping")
        entry = dict(entry)
        source_id = entry.pop("id", None)
        if not isinstance(source_id, str) or not re.match(SOURCE_ID_PATTERN, source_id):
            raise SourcesFileError(f"{where}.id: give an id of lower-case letters, digits, - and _ (got {source_id!r})")
        if source_id in seen:
            raise SourcesFileError(f"{where}.id: `{source_id}` appears twice")
        seen.add(source_id)
        secret_env = entry.pop("signing_secret_env", None)
        if secret_env is not None:
            if secret_env not in env:
                raise SourcesFileError(f"{where}.signing_secret_env: the environment variable {secret_env} is not set")
            entry["signing_secret"] = env[secret_env]
        try:
            spec = SourceSpec.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "<entry>"
            raise SourcesFileError(f"{where} ({source_id}).{field}: {first['msg']}") from None
        if spec.kind in PROVIDER_KINDS and spec.signing_secret is None:
            raise SourcesFileError(f"{where} ({source_id}): a {spec.kind} source needs signing_secret or signing_secret_env")
        loaded.append((source_id, spec))
    return loaded
