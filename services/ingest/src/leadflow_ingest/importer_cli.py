"""``leadflow import contacts.csv --source ... --event-date ...``: upload a contact list to ingest and follow it.

The file goes to ``POST /v1/imports`` with the source's API key (``--api-key`` or
``LEADFLOW_API_KEY``); progress comes from ``GET /v1/imports/{id}`` until the import has
finished. Running the same command again after an interruption continues where it stopped;
after a completed import it publishes nothing and shows the earlier result.

Exit status: 0 the import completed (rows may have been rejected: see the report), 1 it
failed or ingest refused it, 2 the command line is wrong.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TransferSpeedColumn,
)
from rich.table import Table

DEFAULT_URL = "http://127.0.0.1:8000"
POLL_SECONDS = 0.25
REPORT_PAGE = 1000
SHOWN_ROWS = 20

out = Console()
err = Console(stderr=True)


class CommandError(Exception):
    """Ingest refused the request or cannot be reached; the message says what to do."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "import":
            mapping = _mapping(args.mapping, parser)
            return _import(args, mapping)
        return _status(args)
    except CommandError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 1
    except KeyboardInterrupt:
        err.print("stopped following; the import goes on in ingest (see `leadflow import-status <id>`).")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadflow", description="Leadflow command line")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser(
        "import", help="import the contacts of a trade fair or event from a CSV file",
        description="Upload a CSV contact list to ingest: every row with an e-mail address becomes an `event_visited` "
        "touchpoint. Columns are recognised by their German or English names; --mapping names others.",
    )
    imp.add_argument("file", type=Path, help="the CSV file (UTF-8 or Windows-1252; separated by ; , tab or |)")
    imp.add_argument("--source", required=True, help="the source the contacts come from, e.g. hannover-messe-2026")
    imp.add_argument("--event-date", required=True, help="the day of the event, YYYY-MM-DD")
    imp.add_argument("--event-name", help="the event's name (default: the source's name)")
    imp.add_argument("--mapping", action="append", default=[], metavar="COLUMN=TARGET|FILE",
                     help="what a column means: 'Kontakt-Mail=email', 'Stand=properties.booth', "
                     "'Rückruf=consent.sales_contact', 'Intern=ignore'; or a YAML/JSON file of such pairs. Repeatable.")
    imp.add_argument("--consent-wording", help="version of the consent text on the form or scanner")
    imp.add_argument("--no-wait", action="store_true", help="upload and print the import id without following it")
    _connection_arguments(imp)
    status = sub.add_parser("import-status", help="show an import's progress and report")
    status.add_argument("import_id", help="the id `leadflow import` printed (imp_...)")
    _connection_arguments(status)
    return parser


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("LEADFLOW_URL", DEFAULT_URL),
                        help=f"the ingest service (default: LEADFLOW_URL or {DEFAULT_URL})")
    parser.add_argument("--api-key", default=os.environ.get("LEADFLOW_API_KEY"),
                        help="the source's API key (default: LEADFLOW_API_KEY)")
    parser.add_argument("--report", type=Path, metavar="CSV",
                        help="write every rejected, merged and warned row (line, outcome, column, reason) to this file")


def _mapping(items: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        path = Path(item)
        if "=" not in item or path.is_file():
            if not path.is_file():
                parser.error(f"--mapping {item!r}: neither COLUMN=TARGET nor an existing file")
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                parser.error(f"--mapping {item}: cannot read it ({exc})")
            loaded = loaded.get("mapping", loaded) if isinstance(loaded, dict) else loaded
            if not isinstance(loaded, dict):
                parser.error(f"--mapping {item}: expected pairs such as `Kontakt-Mail: email`")
            mapping.update({str(k): str(v) for k, v in loaded.items()})
        else:
            column, _, target = item.rpartition("=")
            mapping[column.strip()] = target.strip()
    return mapping


def _client(args: argparse.Namespace) -> httpx.Client:
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    return httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=httpx.Timeout(30.0, read=600.0))


def _request(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise CommandError(
            f"cannot reach ingest at {client.base_url} ({exc}). Is it running? Give its address with --url."
        ) from None
    if response.status_code >= 400:
        raise CommandError(_problem_text(response))
    return response


def _problem_text(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"ingest answered {response.status_code}: {response.text[:300]}"
    text = f"{problem.get('detail') or problem.get('title') or response.status_code} ({response.status_code})"
    for error in problem.get("errors", [])[:10]:
        if error.get("message") != problem.get("detail"):
            text += f"\n  {error.get('field', '?')}: {error.get('message', '')}"
    if response.status_code == 401:
        text += "\n  Give the source's API key with --api-key or LEADFLOW_API_KEY."
    return text


class _CountingReader:
    """The file as httpx streams it, moving a progress bar as it is read."""

    def __init__(self, file: BinaryIO, progress: Progress, task: TaskID) -> None:
        self.file, self.progress, self.task = file, progress, task

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        self.progress.advance(self.task, len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()


def _import(args: argparse.Namespace, mapping: dict[str, str]) -> int:
    path: Path = args.file
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    form = {"source_id": args.source, "event_date": args.event_date}
    if args.event_name:
        form["event_name"] = args.event_name
    if mapping:
        form["mapping"] = json.dumps(mapping, ensure_ascii=False)
    if args.consent_wording:
        form["consent_wording_version"] = args.consent_wording
    started = time.monotonic()
    with _client(args) as client:
        with _progress() as progress, path.open("rb") as file:
            task = progress.add_task(f"Uploading {path.name}", total=path.stat().st_size)
            reader = _CountingReader(file, progress, task)
            response = _request(client, "POST", "/v1/imports", data=form,
                                files={"file": (path.name, reader, "text/csv")})  # type: ignore[dict-item]
        view = response.json()
        if response.status_code == 200:
            err.print(f"{path.name} was imported for this event before ({_when(view)}); nothing was sent again.")
        elif view.get("attempt", 1) > 1:
            err.print(f"Continuing the interrupted import {view['id']} (run {view['attempt']}).")
        if args.no_wait:
            out.print(view["id"])
            return 0
        if view["status"] == "running":
            view = _follow(client, view)
        view = _with_full_report(client, view, args.report)
    _summary(view, time.monotonic() - started)
    return 0 if view["status"] == "completed" else 1


def _status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        view = _request(client, "GET", f"/v1/imports/{args.import_id}", params={"limit": 0}).json()
        if view["status"] == "running":
            view = _follow(client, view)
        view = _with_full_report(client, view, args.report)
    _summary(view, None)
    return 0 if view["status"] == "completed" else 1


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:<22}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeElapsedColumn(), console=err)


def _follow(client: httpx.Client, view: dict[str, Any]) -> dict[str, Any]:
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as progress:
        checking = progress.add_task("Checking rows", total=view["progress"]["rows_total"])
        publishing = progress.add_task("Publishing touchpoints", total=None, start=False)
        checked = False
        while True:
            p = view["progress"]
            progress.update(checking, completed=p["rows_checked"])
            if p["touchpoints_total"] is not None:
                if not checked:
                    checked = True
                    progress.update(checking, completed=p["rows_total"])
                    progress.stop_task(checking)
                    progress.start_task(publishing)
                progress.update(publishing, total=p["touchpoints_total"], completed=p["touchpoints_published"])
            if view["status"] != "running":
                return view
            time.sleep(POLL_SECONDS)
            view = _request(client, "GET", f"/v1/imports/{view['id']}", params={"limit": 0}).json()


def _with_full_report(client: httpx.Client, view: dict[str, Any], report_path: Path | None) -> dict[str, Any]:
    """The import with its report: the first rows for the screen, every row when a report file is asked for."""
    items: list[dict[str, Any]] = []
    while True:
        limit = REPORT_PAGE if report_path else SHOWN_ROWS * 3
        page = _request(client, "GET", f"/v1/imports/{view['id']}", params={"offset": len(items), "limit": limit}).json()
        items += page["report"]["items"]
        if not report_path or not page["report"]["items"] or len(items) >= page["report"]["total"]:
            break
    page["report"]["items"] = items
    if report_path:
        with report_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["line", "outcome", "column", "reason", "merged_into"])
            for item in items:
                writer.writerow([item["line"], item["outcome"], item["field"] or "", item["reason"], item["merged_into"] or ""])
        err.print(f"report of {len(items)} rows written to {report_path}")
    return page


def _when(view: dict[str, Any]) -> str:
    return (view.get("finished_at") or view.get("created_at") or "")[:19].replace("T", " ") + " UTC"


def _summary(view: dict[str, Any], seconds: float | None) -> None:
    counts = view.get("counts") or {}
    table = Table(title=f"Import {view['id']}: {view['event_name']} ({view['event_date']})", show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    colour = {"completed": "green", "failed": "red"}.get(view["status"], "yellow")
    table.add_row("status", f"[{colour}]{view['status']}[/{colour}]")
    table.add_row("file", f"{view['file']['name']} ({view['file']['encoding']}, separated by {view['file']['separator']!r})")
    for label, key in (("rows", "rows"), ("accepted", "accepted"), ("rejected", "rejected"), ("merged (same e-mail)", "merged"),
                       ("empty rows", "blank"), ("warnings", "warnings"), ("touchpoints", "touchpoints")):
        if key in counts:
            table.add_row(label, f"{counts[key]:,}")
    table.add_row("published to Kafka", f"{view['progress']['touchpoints_published']:,}")
    if seconds is not None:
        table.add_row("time", f"{seconds:.1f} s")
    out.print(table)
    items = view["report"]["items"]
    rejected = [i for i in items if i["outcome"] == "rejected"]
    if rejected:
        out.print(f"\nRejected rows ({counts.get('rejected', len(rejected)):,}):")
        for item in rejected[:SHOWN_ROWS]:
            column = f" [{item['field']}]" if item["field"] else ""
            out.print(f"  line {item['line']}{column}: {item['reason']}", highlight=False, markup=False)
        if counts.get("rejected", 0) > SHOWN_ROWS:
            out.print(f"  ... see every row with --report rejected.csv (or GET /v1/imports/{view['id']})")
    if view.get("error"):
        out.print(f"\n[red]{view['error']}[/red]", highlight=False)


if __name__ == "__main__":
    sys.exit(main())
