"""``POST /v1/imports`` (upload a contact list) and ``GET /v1/imports/{id}`` (its status, progress and report)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from leadflow_runtime.problems import Problem

from leadflow_ingest.adapters.import_store import STALE_AFTER_SECONDS, ImportRecord, ImportStore, NewImport
from leadflow_ingest.auth import Authenticated, Caller
from leadflow_ingest.deps import source_or_404, take_rate_limit
from leadflow_ingest.imports.columns import MappingProblem, check_mapping
from leadflow_ingest.imports.decoding import UnreadableFile
from leadflow_ingest.imports.runner import ImportJob, ImportRunner
from leadflow_ingest.imports.touchpoints import ImportedEvent
from leadflow_ingest.imports.upload import import_key, prepare
from leadflow_ingest.problem_docs import problems
from leadflow_ingest.sources import SOURCE_ID_PATTERN, Source

router = APIRouter(prefix="/v1", tags=["imports"])

IMPORT_ID_PATTERN = r"^imp_[0-9a-f]{16}$"
MAX_REPORT_PAGE = 1000
INTERRUPTED = (f"interrupted: no progress for {STALE_AFTER_SECONDS} s (the ingest instance running it stopped). Upload the "
               "same file again to continue where it stopped.")

EXAMPLE_VIEW: dict[str, Any] = {
    "id": "imp_4f1c2a9e0b7d6c5a", "status": "completed", "source_id": "hannover-messe-2026",
    "event_name": "Hannover Messe 2026", "event_date": "2026-04-20",
    "file": {"name": "hannover-messe.csv", "sha256": "9f2c6d0b8a7e4f3c1d5b2a9e8f7c6d5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d",
             "bytes": 48213, "encoding": "windows-1252", "separator": ";"},
    "columns": [{"column": "E-Mail", "maps_to": "email", "by": "name"},
                {"column": "Vorname", "maps_to": "profile.first_name", "by": "name"},
                {"column": "Firma", "maps_to": "profile.company", "by": "name"},
                {"column": "Einwilligung Newsletter", "maps_to": "consent.newsletter", "by": "name"},
                {"column": "Stand", "maps_to": "properties.booth", "by": "name"}],
    "progress": {"phase": "finished", "rows_total": 412, "rows_checked": 412, "touchpoints_total": 398,
                 "touchpoints_published": 398},
    "counts": {"rows": 412, "accepted": 405, "rejected": 5, "merged": 7, "blank": 2, "warnings": 3, "touchpoints": 398},
    "report": {"items": [
        {"line": 14, "outcome": "rejected", "field": "E-Mail", "reason": "missing e-mail address", "merged_into": None},
        {"line": 57, "outcome": "merged", "field": "E-Mail",
         "reason": "same e-mail address as line 12: combined into one touchpoint", "merged_into": 12},
        {"line": 88, "outcome": "warning", "field": "Land", "reason": "not recognised as a country: kept as property country",
         "merged_into": None},
    ], "offset": 0, "limit": 100, "total": 15, "truncated": False},
    "error": None, "attempt": 1,
    "created_at": "2026-04-22T08:15:02Z", "updated_at": "2026-04-22T08:15:04Z", "finished_at": "2026-04-22T08:15:04Z",
}


class FileView(BaseModel):
    name: str | None = Field(description="The uploaded file's name.")
    sha256: str = Field(description="SHA-256 of the content: the same content for the same event is the same import.")
    bytes: int
    encoding: str = Field(description="`utf-8`, `utf-16` or `windows-1252`, as detected.")
    separator: str = Field(description="`;`, `,`, a tab or `|`, as detected (or from a `sep=` first line).")


class ColumnView(BaseModel):
    column: str = Field(description="The column's name in the file.")
    maps_to: str = Field(description="`email`, `profile.<field>`, `name`, `consent.<purpose>`, `properties.<name>` or `ignore`.")
    by: Literal["mapping", "name", "unrecognised"] = Field(
        description="`mapping`: as given; `name`: a recognised name; `unrecognised`: kept as a property.",
    )


class ProgressView(BaseModel):
    phase: Literal["checking", "publishing", "finished"]
    rows_total: int = Field(description="Rows below the header.")
    rows_checked: int
    touchpoints_total: int | None = Field(description="Touchpoints to publish (one per person); known once every row is checked.")
    touchpoints_published: int = Field(description="Touchpoints Kafka acknowledged.")


class CountsView(BaseModel):
    rows: int = Field(description="accepted + rejected + blank.")
    accepted: int
    rejected: int
    merged: int = Field(description="Accepted rows with the e-mail address of an earlier row, combined with it.")
    blank: int
    warnings: int
    touchpoints: int = Field(description="accepted - merged: one `event_visited` touchpoint per person.")


class ReportItemView(BaseModel):
    line: int = Field(description="Line in the file (line 1 is the header).")
    outcome: Literal["rejected", "merged", "warning"]
    field: str | None = Field(description="The column, as named in the file; null for the whole row.")
    reason: str
    merged_into: int | None = Field(default=None, description="For `merged`: the line it was combined with.")


class ReportPage(BaseModel):
    items: list[ReportItemView]
    offset: int
    limit: int
    total: int = Field(description="Report items kept for this import.")
    truncated: bool = Field(description="More rows had remarks than are kept (10,000); the counts are complete.")


class ImportView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_VIEW]})

    id: str
    status: Literal["running", "completed", "failed"]
    source_id: str
    event_name: str
    event_date: date
    file: FileView
    columns: list[ColumnView]
    progress: ProgressView
    counts: CountsView | None = Field(description="Known once every row is checked.")
    report: ReportPage
    error: str | None = Field(description="Why it failed, and how to continue.")
    attempt: int = Field(description="Runs so far: an interrupted import that was uploaded again counts one more.")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, record: ImportRecord, offset: int, limit: int) -> ImportView:
        stale = record.status == "running" and record.stale
        return cls(
            id=record.id, status="failed" if stale else record.status, source_id=record.source_id,
            event_name=record.event_name, event_date=record.event_date,
            file=FileView(name=record.file_name, sha256=record.file_sha256, bytes=record.file_bytes,
                          encoding=record.encoding, separator=record.separator),
            columns=[ColumnView(**c) for c in record.columns],
            progress=ProgressView(phase=record.phase, rows_total=record.rows_total, rows_checked=record.rows_checked,
                                  touchpoints_total=record.touchpoints_total,
                                  touchpoints_published=record.touchpoints_published),
            counts=CountsView(**record.counts) if record.counts else None,
            report=ReportPage(items=[ReportItemView(**i) for i in record.report], offset=offset, limit=limit,
                              total=record.report_total, truncated=record.report_truncated),
            error=INTERRUPTED if stale else record.error, attempt=record.attempt,
            created_at=record.created_at, updated_at=record.updated_at, finished_at=record.finished_at,
        )


_ACCEPTED_DOC = {"description": "The import runs (or, uploaded again after an interruption, continues); follow "
                 "`Location` (`GET /v1/imports/{id}`) for progress and the report.",
                 "content": {"application/json": {"example": {**EXAMPLE_VIEW, "status": "running", "counts": None,
                                                             "finished_at": None, "progress": {
                                                                 "phase": "checking", "rows_total": 412, "rows_checked": 0,
                                                                 "touchpoints_total": None, "touchpoints_published": 0}}}}}
_REPEATED_DOC = {"model": ImportView, "description": "This file was imported for this event before: nothing is published "
                 "again; the earlier import is returned."}


def _problem_422(detail: str, field: str, *, type_: str = "https://leadflow.dev/problems/validation",
                 errors: list[dict[str, Any]] | None = None) -> Problem:
    return Problem(422, detail, type_=type_, errors=errors or [{"in": "body", "field": field, "message": detail}])


def _plain(value: str | None, field: str) -> str | None:
    """PostgreSQL stores neither NUL characters nor unpaired surrogates: a 422, not a 500."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _problem_422(f"`{field}` is not valid text.", field) from None
    if "\x00" in value:
        raise _problem_422(f"`{field}` contains a NUL character.", field)
    return value


def _parse_mapping(text: str | None) -> dict[str, str]:
    if text is None or not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise _problem_422(f"`mapping` is not JSON ({exc}); send an object such as "
                           "{\"Kontakt-Mail\": \"email\", \"Stand\": \"properties.booth\"}.", "mapping") from None
    if not isinstance(parsed, dict) or not all(isinstance(k, str) for k in parsed):
        raise _problem_422("`mapping` must be a JSON object of column name -> target, e.g. {\"Kontakt-Mail\": \"email\"}.",
                           "mapping")
    for key, value in parsed.items():
        _plain(key, "mapping")
        if isinstance(value, str):
            _plain(value, "mapping")
    try:
        return check_mapping(parsed)
    except MappingProblem as exc:
        raise Problem(422, exc.detail, type_="https://leadflow.dev/problems/validation", errors=exc.errors) from None


async def _source_for(request: Request, caller: Caller, source_id: str | None) -> Source:
    target = source_id or caller.source_id
    if target is None:
        raise _problem_422("Name the source the contacts come from: form field `source_id` (command line: --source).",
                           "source_id")
    if not caller.may_speak_for(target):
        raise Problem(403, f"This API key belongs to source `{caller.source_id}`; it cannot import for source `{target}`.",
                      type_="https://leadflow.dev/problems/wrong-source")
    return await source_or_404(request, target)


@router.post(
    "/imports", status_code=status.HTTP_202_ACCEPTED, response_model=ImportView,
    responses={202: _ACCEPTED_DOC, 200: _REPEATED_DOC, **problems(400, 401, 403, 404, 413, 422, 429, 503)},
    summary="Import contacts of a trade fair or event from a CSV file",
    description="Upload a CSV export (Excel, a badge scanner, a guest list) as `multipart/form-data`. Every row with an "
    "e-mail address becomes one `event_visited` touchpoint carrying the event's name and date, the profile columns "
    "and any consent columns, published to Kafka exactly like `POST /v1/touchpoints/batch`. Columns are recognised "
    "by their German or English names (E-Mail, Vorname/First name, Firma/Company, Position/Job title, Land/Country, "
    "Telefon/Phone, Einwilligung Newsletter/Newsletter consent, ...); `mapping` names others. UTF-8, UTF-16 and "
    "Windows-1252 files with `;`, `,`, tab or `|` are read. Rows for the same e-mail address are merged; a bad row "
    "is reported and skipped, never stopping the rest. Answers 202 with the import, which then runs in the "
    "background; `GET /v1/imports/{id}` shows progress and the per-row report. Importing the same file for the same "
    "event again publishes nothing new (200 when it had completed; an interrupted import continues). With a "
    "source's key (`lf_...`) the import is filed under that source.",
)
async def start_import(
    request: Request,
    response: Response,
    caller: Authenticated,
    file: Annotated[UploadFile, File(description="The CSV file with a header line.")],
    event_date: Annotated[date, Form(description="The day of the event (YYYY-MM-DD): the touchpoints' time.",
                                     examples=["2026-04-20"])],
    source_id: Annotated[str | None, Form(pattern=SOURCE_ID_PATTERN, examples=["hannover-messe-2026"],
                                          description="The source of the contacts; defaults to the API key's source.")] = None,
    event_name: Annotated[str | None, Form(min_length=1, max_length=200, examples=["Hannover Messe 2026"],
                                           description="The event's name; defaults to the source's name.")] = None,
    mapping: Annotated[str | None, Form(max_length=64 * 1024, examples=['{"Kontakt-Mail": "email", "Stand": "properties.booth"}'],
                                        description="JSON object: column name -> `email`, `name`, a profile field "
                                        "(`first_name`, `company`, ...), `consent.<purpose>`, `properties.<name>` or "
                                        "`ignore`. Columns it leaves out are recognised by their names.")] = None,
    consent_wording_version: Annotated[str | None, Form(max_length=64, examples=["messe-2026-v1"],
                                                        description="Version of the consent text on the form or "
                                                        "scanner, recorded with each consent.")] = None,
) -> ImportView:
    source = await _source_for(request, caller, source_id)
    take_rate_limit(request, source)
    explicit = _parse_mapping(mapping)
    name = (" ".join((_plain(event_name, "event_name") or "").split()) or " ".join(source.name.split()))[:200]
    wording = _plain(consent_wording_version, "consent_wording_version")
    if event_date > date.today() + timedelta(days=1):
        raise _problem_422(f"`event_date` {event_date.isoformat()} lies in the future; give the day the contacts were met.",
                           "event_date")
    raw = await file.read()
    try:
        prepared = await asyncio.to_thread(prepare, raw, explicit)
    except UnreadableFile as exc:
        raise _problem_422(str(exc), "file", type_="https://leadflow.dev/problems/unreadable-file") from None
    except MappingProblem as exc:
        raise Problem(422, exc.detail, type_="https://leadflow.dev/problems/validation", errors=exc.errors) from None
    store: ImportStore = request.app.state.import_store
    file_name = (file.filename or "").replace("\x00", "").encode("utf-8", "replace").decode()[:255] or None
    record, state = await store.begin(NewImport(
        import_key=import_key(source.id, name, event_date, prepared.sha256, explicit), source_id=source.id,
        event_name=name, event_date=event_date, file_name=file_name, file_sha256=prepared.sha256,
        file_bytes=prepared.size, encoding=prepared.file.encoding, separator=prepared.file.separator, mapping=explicit,
        columns=prepared.columns.as_list(), consent_wording_version=wording, rows_total=prepared.rows_total,
    ))
    if state in ("started", "resumed"):
        runner: ImportRunner = request.app.state.import_runner
        event = ImportedEvent(source.id, record.event_name, record.event_date, record.id, record.file_sha256,
                              record.consent_wording_version)
        runner.start(ImportJob(record.id, record.attempt, prepared, event, record.touchpoints_published))
    response.headers["Location"] = f"/v1/imports/{record.id}"
    response.status_code = status.HTTP_200_OK if state == "completed" else status.HTTP_202_ACCEPTED
    return ImportView.of(await store.get(record.id, limit=0) or record, 0, 0)  # with its report's size


@router.get(
    "/imports/{import_id}", response_model=ImportView, responses=problems(401, 404, 422, 503),
    summary="An import's status, progress, counts and per-row report",
    description="`status` is `running`, `completed` or `failed` (`error` says why and how to continue: usually by "
    "uploading the same file again). `progress` counts rows checked and touchpoints Kafka acknowledged. The report "
    "lists rejected rows (line, column, reason), merged rows and warnings in line order, `limit` at a time from "
    "`offset`. A source's key sees that source's imports only.",
)
async def get_import(
    request: Request,
    caller: Authenticated,
    import_id: Annotated[str, Path(pattern=IMPORT_ID_PATTERN, examples=["imp_4f1c2a9e0b7d6c5a"])],
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="First report item to show.")] = 0,
    limit: Annotated[int, Query(ge=0, le=MAX_REPORT_PAGE, description="Report items to show (0: counts only).")] = 100,
) -> ImportView:
    store: ImportStore = request.app.state.import_store
    record = await store.get(import_id, offset=offset, limit=limit)
    if record is None or not caller.may_speak_for(record.source_id):
        raise Problem(404, f"There is no import `{import_id}`.", type_="https://leadflow.dev/problems/unknown-import")
    return ImportView.of(record, offset, limit)
