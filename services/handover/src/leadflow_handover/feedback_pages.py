"""The signed accept / reject links of notifications: a confirmation page first, the decision on its POST.

``GET /feedback/{id}/accept?token=...`` only shows a page - mail scanners and link previews
fetch links, and must not accept a lead - whose button POSTs the same token back. The token
is the whole authentication (``domain.links``). Browsers get HTML pages; a client that asks
for JSON gets the handover, or RFC 9457 problem details, with the same status codes.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from leadflow_events import FeedbackChannel, FeedbackDecision, RejectionReason
from leadflow_runtime.problems import problem_response

from leadflow_handover.adapters import handover_store as store
from leadflow_handover.domain.links import ExpiredLink, InvalidLink, LinkAction, LinkClaims
from leadflow_handover.handovers import FeedbackRefused, SalesFeedback
from leadflow_handover.handovers_api import PROBLEM_TYPES, apply

router = APIRouter(prefix="/feedback", tags=["feedback links"])
MAX_FORM_BYTES = 8192
REASON_LABELS = {
    RejectionReason.NOT_NOW: "Not now - interested, but not ready to buy",
    RejectionReason.NOT_A_FIT: "Not a fit - not someone we sell to",
    RejectionReason.DEFINITIONAL: "Does not meet the SQL definition",
    RejectionReason.CLERICAL: "Wrong or incomplete data",
    RejectionReason.PROCEDURAL: "Wrong team, territory or process",
    RejectionReason.DUPLICATE: "Duplicate - we already work this lead",
    RejectionReason.OTHER: "Other (say why below)",
}
HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",  # the token is in the URL
    "x-robots-tag": "noindex, nofollow",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}
STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d2430}
h1{font-size:1.4rem}.muted{color:#5b6575}.box{border:1px solid #d5dae1;border-radius:8px;padding:1rem 1.25rem}
button{font:inherit;padding:.55rem 1.2rem;border-radius:6px;border:0;background:#1f6feb;color:#fff;cursor:pointer}
button.reject{background:#c93c37}select,textarea{font:inherit;width:100%;box-sizing:border-box;margin:.25rem 0 1rem}
.error{color:#c93c37}
"""


class _Refusal(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<meta name=robots content=noindex><title>{html.escape(title)} - Leadflow</title><style>{STYLE}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def _refused(request: Request, refusal: _Refusal) -> Response:
    if _wants_html(request):
        return _page(refusal.title, f"<p>{html.escape(refusal.detail)}</p>", refusal.status)
    return problem_response(refusal.status, refusal.detail, instance=request.url.path, title=refusal.title,
                            type_=PROBLEM_TYPES.get(refusal.status, "about:blank"), headers=HEADERS)


def _action(action: str) -> LinkAction:
    try:
        return LinkAction(action)
    except ValueError:
        raise _Refusal(404, "Not Found", "A feedback link is /feedback/{handover}/accept or /feedback/{handover}/reject.") from None


def _check(container: Any, handover_id: str, action: LinkAction, token: str | None) -> LinkClaims:
    links = container.links
    if not links.enabled:
        raise _Refusal(404, "Not Found", "Feedback links are switched off on this service (LEADFLOW_HANDOVER_FEEDBACK_SECRET "
                                         "is not set); use the API.")
    if not token:
        raise _Refusal(403, "Forbidden", "The link has no token; open the link from the notification as it was sent.")
    try:
        return links.verify(handover_id, action, token, datetime.now(UTC))
    except ExpiredLink as exc:
        when = datetime.fromtimestamp(exc.expired_at, UTC).isoformat(timespec="minutes")
        raise _Refusal(410, "Link expired", f"This link expired at {when}. Answer the handover in your CRM or ask "
                                            "an administrator to record it through the API.") from None
    except InvalidLink:
        raise _Refusal(403, "Forbidden", "This link is not valid: it was changed, or it is not for this handover and "
                                         "action. Open the link from the notification as it was sent.") from None


def _who(document: dict[str, Any]) -> str:
    lead = document.get("lead") or {}
    profile = lead.get("profile") or {}
    name = " ".join(p for p in (profile.get("first_name"), profile.get("last_name")) if p) or lead.get("email") or "this lead"
    company = profile.get("company")
    return f"{name} ({company})" if company else name


def _summary(row: Any) -> str:
    document = dict(row.notification or {})
    why = document.get("why")
    owner = f"<p class=muted>Assigned to {html.escape(row.member)}</p>" if row.member else ""
    return (f"<div class=box><p><strong>{html.escape(_who(document))}</strong></p>"
            + (f"<p>{html.escape(why)}</p>" if why else "") + owner + "</div>")


@router.get("/{handover_id}/{action}", summary="The confirmation page of a signed accept / reject link (changes nothing)",
            response_class=HTMLResponse)
async def confirm_page(handover_id: str, action: str, request: Request, token: str | None = None) -> Response:
    container = request.app.state.container
    try:
        act = _action(action)
        claims = _check(container, handover_id, act, token)
        async with container.engine.connect() as conn:
            row = await store.get(conn, handover_id)
        if row is None:
            raise _Refusal(404, "Not Found", f"No handover with id {handover_id!r}.")
        if row.member != claims.member:
            raise _Refusal(409, "Reassigned", f"This lead was reassigned to {row.member or 'nobody'} after its acceptance "
                                              "deadline passed; this link no longer applies.")
    except _Refusal as refusal:
        return _refused(request, refusal)
    if not _wants_html(request):
        return JSONResponse({"handover": handover_id, "action": act.value, "status": row.status,
                             "confirm": "POST this URL (form field or query parameter `token`) to record it."}, headers=HEADERS)
    done = {"accepted", "won", "lost"} if act is LinkAction.ACCEPT else {"rejected"}
    if row.status in done:
        return _page("Already recorded", f"{_summary(row)}<p>The handover is <strong>{row.status}</strong> already; "
                                         "nothing else to do.</p>")
    if row.status != "pending":
        return _page("Cannot be changed", f"{_summary(row)}<p>The handover is {html.escape(row.status)}; it can no longer "
                                          f"be {act.value}ed.</p>", 409)
    token_field = f"<input type=hidden name=token value='{html.escape(token or '', quote=True)}'>"
    if act is LinkAction.ACCEPT:
        form = (f"<form method=post>{token_field}<label>Note (optional)<textarea name=note rows=2 maxlength=2000>"
                "</textarea></label><button type=submit>Accept this lead</button></form>")
        return _page("Accept this lead?", f"{_summary(row)}<p>Accepting tells marketing you will work this lead.</p>{form}")
    return _page("Send this lead back?", f"{_summary(row)}{_reject_form(token_field)}")


def _reject_form(token_field: str, error: str = "") -> str:
    options = "".join(f"<option value={r.value}>{html.escape(label)}</option>" for r, label in REASON_LABELS.items())
    problem = f"<p class=error>{html.escape(error)}</p>" if error else ""
    return (f"{problem}<form method=post>{token_field}<label>Why?<select name=reason required>"
            f"<option value=''>Choose a reason</option>{options}</select></label>"
            "<label>Note<textarea name=note rows=3 maxlength=2000></textarea></label>"
            "<button class=reject type=submit>Send back to marketing</button></form>")


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form a plain HTML form posts (or JSON), first value of each field."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise _Refusal(413, "Content Too Large", f"The form is larger than {MAX_FORM_BYTES} bytes.")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        import orjson

        try:
            body = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            raise _Refusal(400, "Bad Request", "The body is not valid JSON.") from None
        return {k: str(v) for k, v in body.items() if v is not None} if isinstance(body, dict) else {}
    if raw and kind not in ("application/x-www-form-urlencoded", ""):
        raise _Refusal(415, "Unsupported Media Type", "Send the form as application/x-www-form-urlencoded.")
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


@router.post("/{handover_id}/{action}", summary="Record the decision of a signed accept / reject link",
             response_class=HTMLResponse)
async def decide_by_link(handover_id: str, action: str, request: Request, token: str | None = None) -> Response:
    container = request.app.state.container
    try:
        act = _action(action)
        form = await _form(request)
        token = form.get("token") or token
        claims = _check(container, handover_id, act, token)
        note = (form.get("note") or "").strip()[:2000] or None
        if act is LinkAction.ACCEPT:
            feedback = SalesFeedback(FeedbackDecision.ACCEPTED, note=note, by=claims.member, channel=FeedbackChannel.LINK)
        else:
            reason = _reason(form.get("reason"), note)
            if not isinstance(reason, RejectionReason):
                if _wants_html(request):
                    field = f"<input type=hidden name=token value='{html.escape(token or '', quote=True)}'>"
                    return _page("Send this lead back?", _reject_form(field, reason), 422)
                raise _Refusal(422, "Unprocessable Content", reason)
            feedback = SalesFeedback(FeedbackDecision.REJECTED, reason=reason, note=note, by=claims.member,
                                     channel=FeedbackChannel.LINK)
        try:
            handover = await apply(container, handover_id, feedback, link_member=claims.member)
        except FeedbackRefused as exc:
            raise _Refusal(exc.status, "Conflict" if exc.status == 409 else "Not Found", exc.detail) from None
    except _Refusal as refusal:
        return _refused(request, refusal)
    if not _wants_html(request):
        return JSONResponse(handover.model_dump(mode="json"), headers=HEADERS)
    if handover.status == "rejected":
        label = REASON_LABELS.get(RejectionReason(handover.rejection_reason), "") if handover.rejection_reason else ""
        return _page("Sent back to marketing", f"<p>Thank you. The lead goes back to nurture ({html.escape(label)}).</p>")
    return _page("Accepted", f"<p>Thank you: the lead is yours (status <strong>{html.escape(handover.status)}</strong>).</p>")


def _reason(value: str | None, note: str | None) -> RejectionReason | str:
    """The reason, or what is wrong with the form (a string)."""
    try:
        reason = RejectionReason(value or "")
    except ValueError:
        return "Choose a reason from the list."
    if reason is RejectionReason.OTHER and not note:
        return "With the reason \u201cOther\u201d, say why in the note."
    return reason
