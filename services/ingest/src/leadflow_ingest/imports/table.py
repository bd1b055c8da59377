"""A decoded CSV file as a header and records, each numbered by the line it starts on (as a text editor counts)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from leadflow_ingest.imports.decoding import DecodedFile, UnreadableFile

@dataclass(frozen=True)
class Record:
    line: int
    """The line the record starts on; line 1 is the file's first line."""
    values: list[str]
    lines: int = 1
    """How many lines it spans (quoted values may hold line breaks)."""


def records(file: DecodedFile) -> Iterator[Record]:
    """Every record, the header included. A broken file (a value over 128 KiB) raises ``UnreadableFile``."""
    reader = csv.reader(io.StringIO(file.text, newline=""), delimiter=file.separator)
    end = 0
    try:
        for values in reader:
            start, end = end + 1, reader.line_num
            yield Record(start + file.skipped_lines, values, end - start + 1)
    except csv.Error as exc:
        raise UnreadableFile(
            f"Line {end + 1 + file.skipped_lines} cannot be read as CSV ({exc}); a quote (\") is probably not closed."
        ) from None


def header_and_rows(file: DecodedFile) -> tuple[Record, Iterator[Record]]:
    """The first non-empty record is the header; the rest follow lazily."""
    it = records(file)
    for record in it:
        if any(v.strip() for v in record.values):
            return record, it
    raise UnreadableFile("The file has no header line.")


def count_rows(file: DecodedFile) -> int:
    """Records after the header (empty ones included), reading the whole file once: broken CSV shows up here."""
    _, rows = header_and_rows(file)
    return sum(1 for _ in rows)

