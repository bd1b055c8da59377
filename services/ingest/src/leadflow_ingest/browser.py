"""What web pages post directly: HTML forms, the snippet's page views, CORS preflights, and the snippet itself.

No secret can live in a web page, so these endpoints trust less: the page's origin must
be one of the source's allowed origins, the rate limit always applies, a filled-in
honeypot field (``_hp``) is answered like a success and dropped, and browser events
carry only an anonymous id and low-trust types.
"""

from __future__ import annotations

import html
import uuid
from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from prometheus_client import Counter
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from leadflow_events import TouchpointType
from leadflow_runtime.problems import Problem

from leadflow_ingest.contracts import BrowserEventAccepted, BrowserEventIn, FormAccepted, TouchpointIn
from leadflow_ingest.deps import SourceId, publish_or_503, source_or_404, take_rate_limit, wrong_endpoint
from leadflow_ingest.mapping import build_touchpoint
from leadflow_ingest.origins import PREFLIGHT_HEADERS, cors_headers, origin_allowed, request_origin
from leadflow_ingest.problem_docs import problems
from leadflow_ingest.publish import encode_touchpoint, event_id_for, utcnow
from leadflow_ingest.sources import Source, SourceKind

router = APIRouter(prefix="/v1", tags=["websites"])

SPAM_DROPPED = Counter("leadflow_ingest_spam_dropped_total", "Form posts answered as success but dropped.", ["reason"])
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
RESERVED_FIELDS = {"_hp", "_anonymous_id", "_page_url"}
MAX_FORM_FIELDS = 100


async def _browser_source(request: Request, source_id: str) -> tuple[Source, dict[str, str]]:
    """The html-form source and the CORS headers for this page; 403 for a page of another origin."""
    source = await source_or_404(request, source_id)
    if source.kind != SourceKind.HTML_FORM:
        raise wrong_endpoint(source)
    origin = request_origin(request.headers)
    if not origin_allowed(origin, source.allowed_origins):
        allowed = ", ".join(source.allowed_origins) or "none configured"
        raise Problem(
            403, f"Pages of {origin or 'an unknown origin (no Origin or Referer header)'} may not post to source "
            f"`{source.id}`; its allowed_origins are: {allowed}.", type_="https://leadflow.dev/problems/origin-not-allowed",
        )
    return source, cors_headers(origin)  # type: ignore[arg-type]


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _form_answer(request: Request, source: Source, event_id: str, cors: dict[str, str]) -> Response:
    if _wants_json(request):
        return JSONResponse(FormAccepted(event_id=event_id).model_dump(), status_code=202, headers=cors)
    if source.thank_you_url:
        return RedirectResponse(source.thank_you_url, status_code=status.HTTP_303_SEE_OTHER, headers=cors)
    page = f"<!doctype html><meta charset=utf-8><title>Thank you</title><p>Thank you, {html.escape(source.name)} has your message.</p>"
    return HTMLResponse(page, headers=cors)


FORM_BODY_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email"},
        "first_name": {"type": "string"},
        "company": {"type": "string"},
        "message": {"type": "string"},
        "_anonymous_id": {"type": "string", "description": "Added by the snippet: links earlier page views."},
        "_page_url": {"type": "string", "description": "Added by the snippet: the page the form is on."},
        "_hp": {"type": "string", "description": "Honeypot: keep it hidden and empty; filled in means a bot."},
    },
    "additionalProperties": {"type": "string"},
}
FORM_EXAMPLE = {"email": "ada@example.com", "first_name": "Ada", "company": "Analytical Engines", "message": "Please call me.",
                "_hp": ""}


@router.post(
    "/sources/{source_id}/form", status_code=status.HTTP_303_SEE_OTHER, response_class=Response,
    summary="Receive a plain HTML form post",
    description="For `<form method=post action=.../v1/sources/{id}/form>`: url-encoded or multipart fields, mapped "
    "through the source's field mapping. Answers 303 to the source's thank-you URL (a small thank-you page without "
    "one), or 202 JSON when the request prefers `application/json`. The page's Origin (or Referer) must be allowed.",
    responses={
        202: {"description": "Recorded (the request asked for JSON).",
              "content": {"application/json": {"schema": FormAccepted.model_json_schema(),
                                               "example": {"accepted": True, "event_id": "0b6c3c1e-9f0e-4a43-9a52-8e2d7f0c6a11"}}}},
        303: {"description": "Recorded; the browser goes to the thank-you URL.",
              "headers": {"Location": {"schema": {"type": "string"}, "description": "The source's thank_you_url."}}},
        200: {"description": "Recorded; the source has no thank-you URL, so a short thank-you page.",
              "content": {"text/html": {"schema": {"type": "string"}, "example": "<p>Thank you</p>"}}},
        **problems(400, 403, 404, 413, 415, 422, 429, 503),
    },
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": FORM_BODY_SCHEMA, "example": FORM_EXAMPLE},
        "multipart/form-data": {"schema": FORM_BODY_SCHEMA, "example": FORM_EXAMPLE},
    }}},
)
async def receive_form(source_id: SourceId, request: Request) -> Response:
    source, cors = await _browser_source(request, source_id)
    take_rate_limit(request, source, cors)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in FORM_TYPES:
        raise Problem(415, "Send the form as application/x-www-form-urlencoded or multipart/form-data "
                      "(a plain <form method=post> does).", headers=cors)
    try:
        form = await request.form(max_files=10, max_fields=MAX_FORM_FIELDS)
    except Exception as exc:  # python-multipart's parse errors
        status_code = getattr(exc, "status_code", 400)
        if status_code >= 500:
            raise
        raise Problem(400, f"The form body cannot be read: {getattr(exc, 'detail', exc)}.", headers=cors) from exc
    if form.get("_hp"):
        SPAM_DROPPED.labels("honeypot").inc()
        return _form_answer(request, source, str(uuid.uuid4()), cors)
    fields: dict[str, Any] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile) or name in RESERVED_FIELDS:
            continue
        if name in fields:
            fields[name] = [*(fields[name] if isinstance(fields[name], list) else [fields[name]]), value]
        else:
            fields[name] = value
    anonymous = form.get("_anonymous_id")
    page_url = form.get("_page_url") or request.headers.get("referer")  # cross-site Referer is only the origin
    properties = {"page_url": page_url[:2048]} if isinstance(page_url, str) and page_url else {}
    try:
        item = build_touchpoint(fields, source, properties=properties,
                                anonymous_id=anonymous if isinstance(anonymous, str) and anonymous else None)
    except Problem as exc:
        exc.headers = {**exc.headers, **cors}
        raise
    event = encode_touchpoint(item, event_id_for(item, None), utcnow(), None)
    await publish_or_503(request, [event], cors)
    return _form_answer(request, source, event.id, cors)


@router.post(
    "/sources/{source_id}/events", status_code=status.HTTP_202_ACCEPTED, response_model=BrowserEventAccepted,
    summary="Record a page view from a web page (the snippet)",
    description="Low-trust browser events: `page_viewed` or `email_clicked`, an anonymous id and the page, nothing "
    "that identifies a person. JSON as `application/json` or `text/plain` (what `navigator.sendBeacon` sends). "
    "Origin-checked and rate-limited like forms.",
    responses=problems(400, 403, 404, 413, 422, 429, 503),
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": BrowserEventIn.model_json_schema(), "example": BrowserEventIn.model_config["json_schema_extra"]["examples"][0]},  # type: ignore[index]
        "text/plain": {"schema": {"type": "string", "description": "The same JSON document."}},
    }}},
)
async def receive_browser_event(source_id: SourceId, request: Request) -> JSONResponse:
    source, cors = await _browser_source(request, source_id)
    take_rate_limit(request, source, cors)
    body = await request.body()
    try:
        parsed = BrowserEventIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [{"in": "body", "field": ".".join(str(p) for p in e["loc"]) or "<root>", "message": e["msg"]}
                  for e in exc.errors()]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise Problem(422, f"The browser event is invalid: {summary}.", type_="https://leadflow.dev/problems/validation",
                      errors=errors, headers=cors) from exc
    properties = {k: v for k, v in {"page_url": parsed.page_url, "referrer": parsed.referrer, "title": parsed.title}.items() if v}
    properties.update(parsed.utm)
    item = TouchpointIn(type=TouchpointType(parsed.type), anonymous_id=parsed.anonymous_id, source_id=source.id,
                        properties=properties)
    event = encode_touchpoint(item, event_id_for(item, None), utcnow(), None)
    await publish_or_503(request, [event], cors)
    return JSONResponse(BrowserEventAccepted(event_id=event.id).model_dump(), status_code=202, headers=cors)


PREFLIGHT_DOC = {
    "summary": "CORS preflight for browser posts",
    "description": "Answers 204 with the page's origin when it is one of the source's allowed origins; 403 otherwise.",
    "status_code": status.HTTP_204_NO_CONTENT,
    "responses": {204: {"description": "The origin may post.", "headers": {
        "Access-Control-Allow-Origin": {"schema": {"type": "string"}, "example": "https://www.example.com"}}},
        **problems(403, 404, 422, 503)},
}


@router.options("/sources/{source_id}/form", **PREFLIGHT_DOC)  # type: ignore[arg-type]
async def preflight_form(source_id: SourceId, request: Request) -> Response:
    _, cors = await _browser_source(request, source_id)
    return Response(status_code=204, headers={**cors, **PREFLIGHT_HEADERS})


@router.options("/sources/{source_id}/events", **PREFLIGHT_DOC)  # type: ignore[arg-type]
async def preflight_events(source_id: SourceId, request: Request) -> Response:
    _, cors = await _browser_source(request, source_id)
    return Response(status_code=204, headers={**cors, **PREFLIGHT_HEADERS})


@router.get(
    "/snippet.js", summary="The website snippet (JavaScript)",
    description="Load it with `<script src=\".../v1/snippet.js\" data-source=\"website\" defer></script>`. It does "
    "nothing until the page calls `leadflow.consent(true)` (or the configured consent cookie is present); then it "
    "sets the anonymous-id cookie, records the page view and adds the id to forms posting to ingest.",
    response_class=Response,
    responses={200: {"description": "The snippet.", "content": {"application/javascript": {"schema": {"type": "string"},
                                                                                          "example": "(function(){...})();"}}}},
)
async def snippet() -> Response:
    return Response(_snippet(), media_type="application/javascript",
                    headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})


@cache
def _snippet() -> bytes:
    return files("leadflow_ingest").joinpath("snippet.js").read_bytes()
