"""Real local HTTP servers that play HubSpot, Salesforce and a Slack incoming webhook.

Each implements the documented request and response shapes the handover uses - including
the providers' own error bodies, bearer authentication, and 429 rate limiting with
``Retry-After`` - keeps what it was sent in memory, and records every call for assertions.

- HubSpot CRM v3: ``POST /crm/v3/objects/contacts/search``, ``POST /crm/v3/objects/contacts``
  (409 ``Contact already exists. Existing ID: <id>``), ``PATCH /crm/v3/objects/contacts/{id}``,
  ``POST /crm/v3/objects/tasks`` with associations; unknown properties and bad enumeration
  values answer 400 ``VALIDATION_ERROR``. ``search_lag_seconds`` imitates HubSpot's search
  index trailing its writes.
- Salesforce REST: ``PATCH /services/data/vXX.X/sobjects/Lead/{field}/{value}`` (upsert: 201
  created / 200 updated / 300 several matches), ``GET .../query?q=SELECT Id FROM Lead WHERE Email = '...'``,
  ``PATCH .../sobjects/Lead/{id}`` (204), ``POST .../sobjects/Lead`` (201); errors are lists of
  ``{"message", "errorCode", "fields"}``; ``REQUIRED_FIELD_MISSING`` for LastName/Company.
- Slack: ``POST /services/T.../B.../...`` answering ``ok``, or ``invalid_blocks``, ``no_text``,
  ``no_service``, ``channel_is_archived`` (410) as plain text; Block Kit is checked against
  the documented limits.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    match: str | None = None  # only for requests whose "METHOD path" contains this


class FakeServer:
    """A threaded HTTP server; subclasses implement ``route`` and return (status, body, headers)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.script: deque[Scripted] = deque()
        self.lock = threading.RLock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                call = Call(self.command, parts.path, parse_qs(parts.query), headers, body, time.time())
                status, payload, extra = owner._answer(call)
                with owner.lock:
                    owner.calls.append(Call(**{**call.__dict__, "status": status}))
                raw = payload if isinstance(payload, bytes) else (
                    payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                )
                content_type = "text/plain" if isinstance(payload, str) else "application/json;charset=UTF-8"
                try:
                    self.send_response(status)
                    if status != 204:
                        self.send_header("content-type", content_type)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("content-length", "0" if status == 204 else str(len(raw)))
                    self.end_headers()
                    if status != 204:
                        self.wfile.write(raw)
                except OSError:
                    return

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, body: Any, headers: dict[str, str] | None = None, *, match: str | None = None,
                  times: int = 1) -> None:
        with self.lock:
            for _ in range(times):
                self.script.append(Scripted(status, body, headers or {}, match))

    def _answer(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            for scripted in list(self.script):
                if scripted.match is None or scripted.match in f"{call.method} {call.path}":
                    self.script.remove(scripted)
                    return scripted.status, scripted.body, scripted.headers
            return self.route(call)

    def route(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def snapshot(self, method: str | None = None, contains: str = "") -> list[Call]:
        with self.lock:
            return [c for c in self.calls if (method is None or c.method == method) and contains in c.path]


# ---------------------------------------------------------------------------------------------- HubSpot

HUBSPOT_CONTACT_PROPERTIES = {
    "email", "firstname", "lastname", "company", "jobtitle", "phone", "country", "industry", "city", "website",
    "lifecyclestage", "hs_lead_status", "hubspot_owner_id",
}
HUBSPOT_LIFECYCLE = {"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
                     "evangelist", "other"}
HUBSPOT_LEAD_STATUS = {"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
                       "BAD_TIMING"}
HUBSPOT_TASK_PROPERTIES = {"hs_timestamp", "hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_priority",
                           "hs_task_type", "hubspot_owner_id"}


def hubspot_error(category: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}


def hubspot_rate_limited() -> dict[str, Any]:
    return {"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()), "policyName": "SECONDLY"}


class FakeHubSpot(FakeServer):
    def __init__(self, token: str, *, owners: set[str] | None = None, extra_properties: set[str] = frozenset(),
                 search_lag_seconds: float = 0.0) -> None:
        super().__init__()
        self.token = token
        self.owners = owners  # None: any owner id is accepted
        self.properties = HUBSPOT_CONTACT_PROPERTIES | set(extra_properties)
        self.search_lag_seconds = search_lag_seconds
        self.contacts: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1001)
        self._created: dict[str, float] = {}

    def rate_limit_next(self, retry_after: str = "1", *, match: str | None = None) -> None:
        self.fail_next(429, hubspot_rate_limited(), {"Retry-After": retry_after}, match=match)

    def route(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        if call.headers.get("authorization") != f"Bearer {self.token}":
            return 401, hubspot_error(
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
                "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            ), {}
        body = call.json
        if call.method == "POST" and call.path == "/crm/v3/objects/contacts/search":
            return self._search(body)
        if call.method == "POST" and call.path == "/crm/v3/objects/contacts":
            return self._create_contact(body)
        m = re.fullmatch(r"/crm/v3/objects/contacts/(\d+)", call.path)
        if call.method == "PATCH" and m:
            return self._update_contact(m.group(1), body)
        if call.method == "POST" and call.path == "/crm/v3/objects/tasks":
            return self._create_task(body)
        return 404, hubspot_error("OBJECT_NOT_FOUND", "resource not found"), {}

    def _invalid(self, props: Any, allowed: set[str]) -> tuple[int, Any, dict[str, str]] | None:
        if not isinstance(props, dict):
            return 400, hubspot_error("VALIDATION_ERROR", "Invalid input JSON on line 1: `properties` must be an object"), {}
        problems = []
        for name, value in props.items():
            if name not in allowed:
                problems.append({"isValid": False, "message": f'Property "{name}" does not exist',
                                 "error": "PROPERTY_DOESNT_EXIST", "name": name})
            elif not isinstance(value, str):
                problems.append({"isValid": False, "message": f"{value!r} is not a valid string", "error": "INVALID_STRING",
                                 "name": name})
            elif name == "lifecyclestage" and value not in HUBSPOT_LIFECYCLE:
                problems.append({"isValid": False, "message": f"{value} was not one of the allowed options",
                                 "error": "INVALID_OPTION", "name": name})
            elif name == "hs_lead_status" and value not in HUBSPOT_LEAD_STATUS:
                problems.append({"isValid": False, "message": f"{value} was not one of the allowed options",
                                 "error": "INVALID_OPTION", "name": name})
            elif name == "hubspot_owner_id" and self.owners is not None and value not in self.owners:
                problems.append({"isValid": False, "message": f"{value} is not a valid owner id", "error": "INVALID_OWNER_ID",
                                 "name": name})
        if problems:
            return 400, hubspot_error("VALIDATION_ERROR", f"Property values were not valid: {json.dumps(problems)}"), {}
        return None

    def _object(self, oid: str, props: dict[str, Any]) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return {"id": oid, "properties": dict(props), "createdAt": now, "updatedAt": now, "archived": False}

    def _by_email(self, email: str, *, searchable_only: bool = False) -> str | None:
        now = time.time()
        for cid, c in self.contacts.items():
            if c["properties"].get("email", "").lower() == email.lower():
                if searchable_only and now - self._created[cid] < self.search_lag_seconds:
                    continue
                return cid
        return None

    def _search(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        try:
            f = body["filterGroups"][0]["filters"][0]
            assert f["propertyName"] == "email" and f["operator"] == "EQ"
        except (KeyError, IndexError, TypeError, AssertionError):
            return 400, hubspot_error("VALIDATION_ERROR", "Invalid search request: expected one EQ filter on email"), {}
        with self.lock:
            cid = self._by_email(f["value"], searchable_only=True)
            results = [self._object(cid, {k: self.contacts[cid]["properties"].get(k) for k in body.get("properties", [])})] if cid else []
        return 200, {"total": len(results), "results": results}, {}

    def _create_contact(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        props = (body or {}).get("properties")
        if (bad := self._invalid(props, self.properties)) is not None:
            return bad
        with self.lock:
            existing = self._by_email(props.get("email", "")) if props.get("email") else None
            if existing:
                return 409, hubspot_error("CONFLICT", f"Contact already exists. Existing ID: {existing}"), {}
            cid = str(next(self._ids))
            self.contacts[cid] = self._object(cid, props)
            self._created[cid] = time.time()
            return 201, self.contacts[cid], {}

    def _update_contact(self, cid: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        props = (body or {}).get("properties")
        if (bad := self._invalid(props, self.properties)) is not None:
            return bad
        with self.lock:
            if cid not in self.contacts:
                return 404, hubspot_error("OBJECT_NOT_FOUND", "resource not found"), {}
            self.contacts[cid]["properties"].update(props)
            return 200, self.contacts[cid], {}

    def _create_task(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        props = (body or {}).get("properties")
        if (bad := self._invalid(props, HUBSPOT_TASK_PROPERTIES)) is not None:
            return bad
        if "hs_timestamp" not in props:
            return 400, hubspot_error("VALIDATION_ERROR", 'Property values were not valid: [{"isValid":false,"message":'
                                      '"hs_timestamp is required","error":"REQUIRED_PROPERTY","name":"hs_timestamp"}]'), {}
        with self.lock:
            for a in (body or {}).get("associations") or []:
                target = str(a.get("to", {}).get("id"))
                types = a.get("types") or []
                if target not in self.contacts:
                    return 400, hubspot_error("VALIDATION_ERROR", f"One or more associations are invalid: {target} not found"), {}
                if not any(t.get("associationCategory") == "HUBSPOT_DEFINED" and t.get("associationTypeId") == 204 for t in types):
                    return 400, hubspot_error("VALIDATION_ERROR", "invalid association type from task to contact"), {}
            tid = str(next(self._ids))
            self.tasks[tid] = {**self._object(tid, props), "associations": (body or {}).get("associations") or []}
            return 201, self.tasks[tid], {}

    def contact(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            cid = self._by_email(email)
            return self.contacts[cid] if cid else None

    def tasks_for(self, contact_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [t for t in self.tasks.values() if any(str(a["to"]["id"]) == contact_id for a in t["associations"])]


# ---------------------------------------------------------------------------------------------- Salesforce

SALESFORCE_LEAD_FIELDS = {
    "Email", "Email__c", "FirstName", "LastName", "Company", "Title", "Phone", "Country", "Industry", "NumberOfEmployees",
    "LeadSource", "Status", "Description", "OwnerId", "Rating",
}
SALESFORCE_REQUIRED = ("LastName", "Company")


def salesforce_error(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    error: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        error["fields"] = fields
    return [error]


class FakeSalesforce(FakeServer):
    def __init__(self, token: str, *, api_version: str = "v61.0", extra_fields: set[str] = frozenset()) -> None:
        super().__init__()
        self.token = token
        self.api_version = api_version
        self.fields = SALESFORCE_LEAD_FIELDS | set(extra_fields)
        self.leads: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    @property
    def prefix(self) -> str:
        return f"/services/data/{self.api_version}"

    def rate_limit_next(self, retry_after: str = "1", *, match: str | None = None) -> None:
        self.fail_next(429, salesforce_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
                       {"Retry-After": retry_after}, match=match)

    def limit_exceeded_next(self, *, match: str | None = None) -> None:
        """Salesforce's own way of saying "slow down": 403 with REQUEST_LIMIT_EXCEEDED, no Retry-After."""
        self.fail_next(403, salesforce_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), match=match)

    def route(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        if call.headers.get("authorization") != f"Bearer {self.token}":
            return 401, salesforce_error("INVALID_SESSION_ID", "Session expired or invalid"), {}
        if not call.path.startswith(self.prefix + "/"):
            return 404, salesforce_error("NOT_FOUND", "The requested resource does not exist"), {}
        rest = call.path[len(self.prefix):]
        if call.method == "GET" and rest == "/query":
            return self._query(call.query.get("q", [""])[0])
        m = re.fullmatch(r"/sobjects/Lead/([A-Za-z0-9_]+)/(.+)", rest)
        if call.method == "PATCH" and m:
            return self._upsert(m.group(1), unquote(m.group(2)), call.json)
        m = re.fullmatch(r"/sobjects/Lead/(00Q[A-Za-z0-9]{12,15})", rest)
        if call.method == "PATCH" and m:
            return self._update(m.group(1), call.json)
        if call.method == "POST" and rest == "/sobjects/Lead":
            return self._create(call.json)
        return 404, salesforce_error("NOT_FOUND", "The requested resource does not exist"), {}

    def _bad_fields(self, body: Any) -> tuple[int, Any, dict[str, str]] | None:
        if not isinstance(body, dict):
            return 400, salesforce_error("JSON_PARSER_ERROR", "Unexpected character: expected an object"), {}
        for name in body:
            if name not in self.fields:
                return 400, salesforce_error("INVALID_FIELD", f"No such column '{name}' on sobject of type Lead"), {}
        return None

    def _new(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]] | str:
        missing = [f for f in SALESFORCE_REQUIRED if not body.get(f)]
        if missing:
            return 400, salesforce_error("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                                         missing), {}
        lid = f"00Q{next(self._ids):015d}"[:18]
        self.leads[lid] = {"Id": lid, "IsConverted": False, **body}
        return lid

    def _upsert(self, field_name: str, value: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if (bad := self._bad_fields(body)) is not None:
            return bad
        if field_name not in self.fields or field_name in {"LastName", "Company"}:
            return 400, salesforce_error("NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"), {}
        with self.lock:
            matches = [lid for lid, lead in self.leads.items() if str(lead.get(field_name, "")).lower() == value.lower()]
            if len(matches) > 1:
                return 300, [f"{self.prefix}/sobjects/Lead/{lid}" for lid in matches], {}
            if matches:
                self.leads[matches[0]].update(body)
                return 200, {"id": matches[0], "success": True, "errors": [], "created": False}, {}
            created = self._new({**body, field_name: value})
            if isinstance(created, tuple):
                return created
            return 201, {"id": created, "success": True, "errors": [], "created": True}, {}

    def _query(self, soql: str) -> tuple[int, Any, dict[str, str]]:
        m = re.fullmatch(r"SELECT Id FROM Lead WHERE Email = '((?:[^'\\]|\\.)*)'(?: AND IsConverted = false)?"
                         r"(?: ORDER BY CreatedDate DESC)?(?: LIMIT (\d+))?", soql.strip())
        if m is None:
            return 400, salesforce_error("MALFORMED_QUERY", f"unexpected token in: {soql[:80]}"), {}
        email = re.sub(r"\\(.)", r"\1", m.group(1))
        with self.lock:
            records = [{"attributes": {"type": "Lead", "url": f"{self.prefix}/sobjects/Lead/{lid}"}, "Id": lid}
                       for lid, lead in self.leads.items()
                       if str(lead.get("Email", "")).lower() == email.lower() and not lead["IsConverted"]]
        records = records[: int(m.group(2))] if m.group(2) else records
        return 200, {"totalSize": len(records), "done": True, "records": records}, {}

    def _update(self, lid: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if (bad := self._bad_fields(body)) is not None:
            return bad
        with self.lock:
            if lid not in self.leads:
                return 404, salesforce_error("NOT_FOUND", "The requested resource does not exist"), {}
            self.leads[lid].update(body)
        return 204, b"", {}

    def _create(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if (bad := self._bad_fields(body)) is not None:
            return bad
        with self.lock:
            created = self._new(body)
        if isinstance(created, tuple):
            return created
        return 201, {"id": created, "success": True, "errors": []}, {}

    def leads_with(self, **fields: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(lead) for lead in self.leads.values() if all(lead.get(k) == v for k, v in fields.items())]


# ---------------------------------------------------------------------------------------------- Slack

BLOCK_TYPES = {"header", "section", "actions", "context", "divider", "image", "rich_text"}


def block_kit_problems(message: Any) -> list[str]:
    """What Slack would reject in an incoming-webhook message (the documented Block Kit limits)."""
    problems: list[str] = []
    if not isinstance(message, dict):
        return ["the body is not a JSON object"]
    blocks = message.get("blocks")
    if not message.get("text") and not blocks:
        return ["no_text"]
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return ["blocks must be a list of 1 to 50 blocks"]

    def text_object(obj: Any, where: str, limit: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in ({"plain_text"} if plain_only else {"plain_text", "mrkdwn"}):
            problems.append(f"{where}: not a {'plain_text' if plain_only else 'text'} object")
            return
        text = obj.get("text")
        if not isinstance(text, str) or not text or len(text) > limit:
            problems.append(f"{where}: text must be 1 to {limit} characters")

    for i, b in enumerate(blocks):
        kind = b.get("type") if isinstance(b, dict) else None
        where = f"blocks[{i}]"
        if kind not in BLOCK_TYPES:
            problems.append(f"{where}: unknown block type {kind!r}")
        elif kind == "header":
            text_object(b.get("text"), where + ".text", 150, plain_only=True)
        elif kind == "section":
            if "text" not in b and "fields" not in b:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in b:
                text_object(b["text"], where + ".text", 3000)
            fields = b.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}: at most 10 fields")
            for j, f in enumerate(fields):
                text_object(f, f"{where}.fields[{j}]", 2000)
        elif kind == "actions":
            elements = b.get("elements") or []
            if not 1 <= len(elements) <= 25:
                problems.append(f"{where}: 1 to 25 elements")
            for j, e in enumerate(elements):
                if e.get("type") == "button":
                    text_object(e.get("text"), f"{where}.elements[{j}].text", 75, plain_only=True)
                    if "url" in e and not 1 <= len(e["url"]) <= 3000:
                        problems.append(f"{where}.elements[{j}].url: 1 to 3000 characters")
                    if "action_id" in e and len(e["action_id"]) > 255:
                        problems.append(f"{where}.elements[{j}].action_id: at most 255 characters")
        elif kind == "context":
            elements = b.get("elements") or []
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}: 1 to 10 elements")
            for j, e in enumerate(elements):
                if e.get("type") in {"plain_text", "mrkdwn"}:
                    text_object(e, f"{where}.elements[{j}]", 3000)
    return problems


class FakeSlack(FakeServer):
    PATH = "/services/T0LEADFLOW/B0HANDOVER/xoxsecretwebhooktoken1"

    def __init__(self) -> None:
        super().__init__()
        self.archived = False
        self.messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return self.base_url + self.PATH

    def rate_limit_next(self, retry_after: str = "1") -> None:
        self.fail_next(429, "rate_limited", {"Retry-After": retry_after})

    def route(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        if call.method != "POST" or call.path != self.PATH:
            return 404, "no_service", {}
        if self.archived:
            return 410, "channel_is_archived", {}
        try:
            message = json.loads(call.body)
        except ValueError:
            return 400, "invalid_payload", {}
        problems = block_kit_problems(message)
        if problems == ["no_text"]:
            return 400, "no_text", {}
        if problems:
            return 400, "invalid_blocks", {}
        with self.lock:
            self.messages.append(message)
        return 200, "ok", {}
