"""Rows of a contact list in, contacts out: each row checked on its own, rows of the same person merged.

Two passes over the rows, so a list of any length needs memory only for its e-mail addresses:

    RowCheck         every row's e-mail address: rejected rows, which rows are the same person
    ContactAssembly  every row's other cells: a contact when the person's last row has been read

A row without a usable e-mail address is rejected (with its line, its column and why) and
the rest go on. Rows with the same e-mail address (a badge scanned at two booths) become
one contact: values of later rows fill in and override earlier ones, consents add up, and
the report names the lines that were merged. Contacts come out in the order of their last
row, the same order on every run, so an interrupted import can skip what was published.

The report holds line numbers, column names and reasons only, never the values: it is kept
after the people in it may have been erased.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from types import MappingProxyType
from typing import Any

from leadflow_ingest.emails import InvalidEmail, normalise_email
from leadflow_ingest.imports.columns import Column, Columns
from leadflow_ingest.imports.table import Record
from leadflow_ingest.imports.values import clean, company_size, consent_answer, country_code, email_candidate

MAX_REPORT_ITEMS = 10_000
MAX_TEXT = 256
MAX_PHONE = 64
MAX_PROPERTY_TEXT = 2048
MAX_RECORD_LINES = 100
_OUTCOME_ORDER = {"rejected": 0, "merged": 1, "warning": 2}


@dataclass(frozen=True)
class ReportItem:
    line: int
    outcome: str
    """``rejected`` (no touchpoint from this row), ``merged`` (same person as an earlier row) or ``warning``."""
    field: str | None
    """The column as named in the file; None when the whole row is meant."""
    reason: str
    merged_into: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sort_key(self) -> tuple[int, int]:
        return self.line, _OUTCOME_ORDER[self.outcome]


@dataclass(frozen=True)
class Counts:
    rows: int
    """Records after the header, empty ones included: accepted + rejected + blank."""
    accepted: int
    rejected: int
    merged: int
    """Accepted rows that joined an earlier row of the same person."""
    blank: int
    warnings: int = 0
    """Cells that could not be used as given; counted while the contacts are assembled."""

    @property
    def touchpoints(self) -> int:
        return self.accepted - self.merged

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "touchpoints": self.touchpoints}


@dataclass(frozen=True)
class CheckedRows:
    emails: tuple[str | None, ...]
    """The normalised e-mail address of each record after the header; None for rejected and empty rows."""
    last_rows: Mapping[str, int]
    """Each person's last record (index into ``emails``): where the merged contact is complete."""
    counts: Counts
    report: tuple[ReportItem, ...]
    report_truncated: bool
    """More report items happened than are kept (``MAX_REPORT_ITEMS``); the counts are complete."""


@dataclass(frozen=True)
class Contact:
    email: str
    profile: Mapping[str, str | int]
    properties: Mapping[str, str]
    consents: tuple[str, ...]
    """Purposes the person said yes to (``newsletter``, ``sales_contact``, ...), in column order."""
    lines: tuple[int, ...]


class _Report:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[ReportItem] = []
        self.truncated = False

    def add(self, item: ReportItem) -> None:
        if len(self.items) < self.limit:
            self.items.append(item)
        else:
            self.truncated = True


class _Rejected(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason


class RowCheck:
    """Pass one: each row's shape and e-mail address."""

    def __init__(self, columns: Columns, header_width: int, separator: str, *,
                 max_report_items: int = MAX_REPORT_ITEMS) -> None:
        self.email_column = columns.email
        self.width = header_width
        self.separator = separator
        self._emails: list[str | None] = []
        self._people: dict[str, tuple[int, int]] = {}  # e-mail -> (first line, last record index)
        self._report = _Report(max_report_items)
        self.rows = self.accepted = self.rejected = self.merged = self.blank = 0

    def add_all(self, records: Iterable[Record]) -> None:
        for record in records:
            self.add(record)

    def add(self, record: Record) -> None:
        index = self.rows
        self.rows += 1
        if not any(v.strip() for v in record.values):
            self.blank += 1
            self._emails.append(None)
            return
        try:
            self._check_shape(record)
            email = self._checked_email(record.values)
        except _Rejected as exc:
            self.rejected += 1
            self._emails.append(None)
            self._report.add(ReportItem(record.line, "rejected", exc.field, exc.reason))
            return
        self.accepted += 1
        self._emails.append(email)
        earlier = self._people.get(email)
        if earlier is None:
            self._people[email] = (record.line, index)
            return
        self.merged += 1
        self._people[email] = (earlier[0], index)
        self._report.add(ReportItem(record.line, "merged", self.email_column.label,
                                    f"same e-mail address as line {earlier[0]}: combined into one touchpoint",
                                    merged_into=earlier[0]))

    def result(self) -> CheckedRows:
        counts = Counts(self.rows, self.accepted, self.rejected, self.merged, self.blank)
        last_rows = {email: last for email, (_, last) in self._people.items()}
        return CheckedRows(tuple(self._emails), MappingProxyType(last_rows), counts, tuple(self._report.items),
                           self._report.truncated)

    def _check_shape(self, record: Record) -> None:
        swallowed = record.lines > 1 and any(
            "\n" in v and v.count(self.separator) >= max(self.width - 1, 1) for v in record.values
        )
        if record.lines > MAX_RECORD_LINES or swallowed:
            raise _Rejected(None, f"this row runs over {record.lines} lines: a quote (\") is probably not closed, so the "
                                  "rows after it were read as part of one value")
        extra = record.values[self.width:]
        if any(v.strip() for v in extra):
            raise _Rejected(None, f"the row has {len(record.values)} values but the header has {self.width} columns: "
                                  "a value probably contains the separator without quotes around it")

    def _checked_email(self, values: list[str]) -> str:
        column = self.email_column
        raw = clean(values[column.index]) if column.index < len(values) else ""
        if not raw:
            raise _Rejected(column.label, "missing e-mail address")
        try:
            return normalise_email(email_candidate(raw))
        except InvalidEmail as exc:
            raise _Rejected(column.label, f"not a valid e-mail address: {exc}") from None


class _Pending:
    __slots__ = ("profile", "properties", "consents", "lines")

    def __init__(self) -> None:
        self.profile: dict[str, Any] = {}
        self.properties: dict[str, str] = {}
        self.consents: list[str] = []
        self.lines: list[int] = []


class ContactAssembly:
    """Pass two, over the same records in the same order: ``add`` returns a contact once its last row is read."""

    def __init__(self, columns: Columns, checked: CheckedRows, *, max_report_items: int = MAX_REPORT_ITEMS) -> None:
        self.checked = checked
        self._cells = [c for c in columns.columns if c.target not in ("email", "ignore")]
        self._pending: dict[str, _Pending] = {}
        self._warnings = _Report(max_report_items)
        self.warnings = 0
        self.assembled = 0
        """Contacts returned so far."""

    def add(self, index: int, record: Record) -> Contact | None:
        email = self.checked.emails[index]
        if email is None:
            return None
        last = self.checked.last_rows[email] == index
        pending = self._pending.pop(email, None) if last else self._pending.setdefault(email, _Pending())
        target = pending or _Pending()
        self._cells_of(record, target)
        if not last:
            return None
        self.assembled += 1
        return Contact(email, MappingProxyType(target.profile), MappingProxyType(target.properties),
                       tuple(target.consents), tuple(target.lines))

    def report(self) -> tuple[tuple[ReportItem, ...], bool]:
        """Rejections, merges and warnings in line order, at most ``MAX_REPORT_ITEMS``."""
        limit = self._warnings.limit
        merged = list(heapq.merge(self.checked.report, self._warnings.items, key=ReportItem.sort_key))
        truncated = self.checked.report_truncated or self._warnings.truncated or len(merged) > limit
        return tuple(merged[:limit]), truncated

    def counts(self) -> Counts:
        return replace(self.checked.counts, warnings=self.warnings)

    def _warn(self, line: int, column: Column, reason: str) -> None:
        self.warnings += 1
        self._warnings.add(ReportItem(line, "warning", column.label, reason))

    def _cells_of(self, record: Record, into: _Pending) -> None:
        """This row's values over the person's earlier rows: later rows fill in and override, consents add up."""
        values, line = record.values, record.line
        into.lines.append(line)
        profile: dict[str, Any] = {}
        full_name = None
        for column in self._cells:
            if column.index >= len(values):
                continue
            text = clean(values[column.index])
            if not text:
                continue
            head, _, name = column.target.partition(".")
            if head == "profile":
                if name not in profile:
                    self._profile_value(line, column, name, text, profile, into.properties)
            elif head == "properties":
                if len(text) > MAX_PROPERTY_TEXT:
                    text = text[:MAX_PROPERTY_TEXT]
                    self._warn(line, column, f"longer than {MAX_PROPERTY_TEXT} characters: shortened")
                into.properties[name] = text
            elif head == "consent":
                answer = consent_answer(text)
                if answer is None:
                    self._warn(line, column, "not understood as yes or no (ja/yes/x/1/true or nein/no/0/empty): "
                                             "no consent recorded")
                elif answer and name not in into.consents:
                    into.consents.append(name)
            elif head == "name" and full_name is None:
                full_name = text
        if full_name is not None:
            _split_name(full_name, profile, into.properties)
        into.profile.update(profile)

    def _profile_value(self, line: int, column: Column, name: str, text: str, profile: dict[str, Any],
                       properties: dict[str, str]) -> None:
        if name == "company_size":
            size = company_size(text)
            if size is None:
                properties["company_size"] = text[:MAX_PROPERTY_TEXT]
                self._warn(line, column, "not a number of employees: kept as property company_size")
            else:
                profile[name] = size
            return
        if name == "country":
            code = country_code(text)
            if code is None:
                properties["country"] = text[:MAX_PROPERTY_TEXT]
                self._warn(line, column, "not recognised as a country: kept as property country")
            else:
                profile[name] = code
            return
        limit = MAX_PHONE if name == "phone" else MAX_TEXT
        if len(text) > limit:
            self._warn(line, column, f"longer than {limit} characters: left out")
            return
        profile[name] = text


def assemble(columns: Columns, checked: CheckedRows, records: Sequence[Record] | Iterable[Record]) -> list[Contact]:
    """Every contact of a (small) list at once; the runner streams instead."""
    assembly = ContactAssembly(columns, checked)
    return [c for i, r in enumerate(records) if (c := assembly.add(i, r)) is not None]


def _split_name(full_name: str, profile: dict[str, Any], properties: dict[str, str]) -> None:
    """``Ada Lovelace`` and ``Lovelace, Ada`` fill first and last name when no column gave them."""
    if "first_name" in profile or "last_name" in profile:
        properties["full_name"] = full_name[:MAX_PROPERTY_TEXT]
        return
    if "," in full_name:
        last, _, first = (p.strip() for p in full_name.partition(","))
    else:
        first, _, last = full_name.rpartition(" ")
        first, last = first.strip(), last.strip()
    for field, value in (("first_name", first), ("last_name", last)):
        if value and len(value) <= MAX_TEXT:
            profile[field] = value
