"""From uploaded bytes to text and a separator.

Spreadsheet exports come as UTF-8 (Excel's "CSV UTF-8" writes a byte-order mark), as UTF-16
with a byte-order mark (Excel's "Unicode text") or as Windows-1252 (Excel's plain "CSV" on
a German or English Windows). UTF-8 is tried strictly first: Windows-1252 text with umlauts
is never valid UTF-8, while UTF-8 text would decode as Windows-1252 into mojibake.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

SEPARATORS = (";", ",", "\t", "|")
SEPARATOR_NAMES = {";": "semicolon", ",": "comma", "\t": "tab", "|": "pipe"}
SAMPLE_CHARS = 64 * 1024
SAMPLE_RECORDS = 50
SAVE_AS_CSV = "In Excel choose File > Save As > \"CSV UTF-8 (Comma delimited)\" and upload that file."
_SEP_LINE = re.compile(r"^sep=(.)[ \t]*\r?\n", re.IGNORECASE)

_SIGNATURES = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another ZIP archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"{\\rtf", "an RTF document"),
)


class UnreadableFile(ValueError):
    """The upload is not a CSV file this importer can read; the message says what to do instead."""


@dataclass(frozen=True)
class DecodedFile:
    text: str
    encoding: str
    separator: str
    skipped_lines: int = 0
    """Lines before the header that are not data (Excel's ``sep=;`` hint)."""

    @property
    def separator_name(self) -> str:
        return SEPARATOR_NAMES.get(self.separator, self.separator)


def decode(raw: bytes) -> DecodedFile:
    text, encoding = _text(raw)
    skipped = 0
    hint = _SEP_LINE.match(text)
    if hint:
        text, skipped = text[hint.end():], 1
    if not text.strip():
        raise UnreadableFile("The file has no content (only empty lines). Export the contacts with a header line.")
    separator = hint.group(1) if hint else detect_separator(text)
    return DecodedFile(text=text, encoding=encoding, separator=separator, skipped_lines=skipped)


def _text(raw: bytes) -> tuple[str, str]:
    if not raw.strip():
        raise UnreadableFile("The file is empty. Export the contacts as CSV with a header line and upload that file.")
    for signature, what in _SIGNATURES:
        if raw.startswith(signature):
            raise UnreadableFile(f"This is {what}, not a CSV file. {SAVE_AS_CSV}")
    if raw.startswith(codecs.BOM_UTF8):
        return _strict(raw[len(codecs.BOM_UTF8):], "utf-8", "UTF-8 (it starts with a UTF-8 byte-order mark)"), "utf-8"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(raw, "utf-16", "UTF-16 (it starts with a UTF-16 byte-order mark)"), "utf-16"
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, encoding = raw.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                f"The file is neither UTF-8 nor Windows-1252 text (byte 0x{raw[exc.start]:02x} at position {exc.start}). "
                f"{SAVE_AS_CSV}"
            ) from None
    if "\x00" in text:
        raise UnreadableFile(
            "The file contains NUL bytes: it is a binary file (a spreadsheet, an image) or UTF-16 text without a "
            f"byte-order mark, not CSV. {SAVE_AS_CSV}"
        )
    return text, encoding


def _strict(raw: bytes, codec: str, what: str) -> str:
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"The file claims to be {what} but is not valid {codec.upper()} at byte {exc.start}. {SAVE_AS_CSV}"
        ) from None
    return text.removeprefix("\ufeff")


def detect_separator(text: str) -> str:
    """The separator that splits the first records into the same, largest number of columns.

    Counting on parsed records (not raw characters) keeps commas inside quoted values from
    voting; on a tie the earlier separator wins (semicolon first: German Excel's choice).
    """
    sample = text[:SAMPLE_CHARS]
    if len(text) > SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    best, best_score = ",", (False, 1, 0.0)
    for separator in SEPARATORS:
        widths = [len(r) for r in _records(sample, separator) if any(v.strip() for v in r)]
        if not widths or widths[0] < 2:
            continue
        header = widths[0]
        share = sum(1 for w in widths if w == header) / len(widths)
        score = (share >= 0.8, header, share)
        if score > best_score:
            best, best_score = separator, score
    return best


def _records(sample: str, separator: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=separator)
    records = []
    try:
        for record in reader:
            records.append(record)
            if len(records) >= SAMPLE_RECORDS:
                break
    except csv.Error:
        pass
    return records
