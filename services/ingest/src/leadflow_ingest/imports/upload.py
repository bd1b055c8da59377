"""What is known about an upload before any row is checked: readable, columns understood, rows counted.

Everything here fails fast with a message a person can act on (``UnreadableFile``,
``MappingProblem``), so a wrong file is answered at once instead of after minutes of work.
"""

from __future__ import annotations

import hashlib
import json
from itertools import islice
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from leadflow_ingest.imports.columns import Columns, resolve_columns
from leadflow_ingest.imports.contacts import RowCheck
from leadflow_ingest.imports.decoding import DecodedFile, UnreadableFile, decode
from leadflow_ingest.imports.table import Record, count_rows, header_and_rows

SAMPLE_ROWS = 20


@dataclass(frozen=True)
class PreparedList:
    file: DecodedFile
    header: Record
    columns: Columns
    rows_total: int
    sha256: str
    size: int

    def row_check(self) -> RowCheck:
        return RowCheck(self.columns, len(self.header.values), self.file.separator)


def prepare(raw: bytes, mapping: Mapping[str, str] | None = None) -> PreparedList:
    file = decode(raw)
    header, rows = header_and_rows(file)
    columns = resolve_columns(header.values, mapping, sample=[r.values for r in islice(rows, SAMPLE_ROWS)])
    rows_total = count_rows(file)
    if rows_total == 0:
        raise UnreadableFile("The file has a header line but no contacts below it.")
    return PreparedList(file, header, columns, rows_total, hashlib.sha256(raw).hexdigest(), len(raw))


def import_key(source_id: str, event_name: str, event_date: date, sha256: str, mapping: Mapping[str, str] | None) -> str:
    """The same file for the same event and source with the same mapping is the same import."""
    canonical = json.dumps([source_id, " ".join(event_name.split()).casefold(), event_date.isoformat(), sha256,
                            sorted((mapping or {}).items())], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
