"""Slack incoming webhooks: a Block Kit message a sales rep can act on - who, company, why now, owner, link."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from leadflow_handover.destinations import SlackDestination
from leadflow_handover.senders.base import Attempt, Calls, Outcome, StepFailed
from leadflow_handover.senders.fields import display_name, escalation_text, resolve

STAGE_TITLES = {"sql": "Sales-qualified lead", "mql": "Marketing-qualified lead"}
# Block Kit limits: header 150, section text 3000, a field 2000, button text 75
HEADER_MAX, TEXT_MAX, FIELD_MAX = 150, 3000, 2000


def escape(text: Any) -> str:
    """Slack mrkdwn: &, < and > are control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(n: Mapping[str, Any]) -> dict[str, Any]:
    """The message for one notification (``leadflow.handover.v1`` as stored)."""
    stage = n.get("stage", "")
    name = display_name(n)
    profile = resolve(n, "lead.profile") or {}
    email = resolve(n, "lead.email")
    company = profile.get("company")
    escalation = n.get("escalation") or {}
    if escalation.get("kind") == "sla_missed":
        title = f"Not accepted in time: {name}"
    elif escalation.get("kind") == "reassigned":
        title = f"Reassigned to you: {name}"
    else:
        title = f"{STAGE_TITLES.get(stage, f'Lead moved to {stage}')}: {name}"

    who = [f"*Who*\n{escape(name)}"]
    if profile.get("job_title"):
        who.append(escape(profile["job_title"]))
    if email:
        who.append(f"<mailto:{escape(email)}|{escape(email)}>")
    org = [f"*Company*\n{escape(company) if company else '_unknown_'}"]
    details = [f"{profile['company_size']:,} employees" if profile.get("company_size") is not None else None, profile.get("country"),
               profile.get("industry")]
    if any(details):
        org.append(escape(" · ".join(d for d in details if d)))
    scores = n.get("scores") or {}
    score = f"*Score*\n{scores.get('score', 0)} (fit {scores.get('fit', 0)}, engagement {scores.get('engagement', 0)})"
    if n.get("grade"):
        score += f" · grade {escape(n['grade'])}"

    fields = ["\n".join(who), "\n".join(org), score, _owner(n.get("assignee"))]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_MAX), "emoji": True}},
    ]
    if escalation:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*Escalation*\n{escape(escalation_text(n))}", TEXT_MAX)}})
    blocks += [
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut(f, FIELD_MAX)} for f in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*Why now*\n{escape(n.get('why', ''))}", TEXT_MAX)}},
    ]
    reasons = [f"• {escape(r['reason'])} ({r['points']:+d})" for r in (n.get("top_reasons") or [])[:5]]
    if reasons:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("*Top reasons*\n" + "\n".join(reasons), TEXT_MAX)}})
    touchpoints = n.get("recent_touchpoints")
    if touchpoints:
        lines = [f"• {escape(t.get('type') or 'touchpoint')} {_when(t.get('occurred_at'))}" for t in touchpoints[:5]]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("*Recent activity*\n" + "\n".join(lines), TEXT_MAX)}})
    url = resolve(n, "lead.url")
    feedback = n.get("feedback") or {}
    buttons = []
    if feedback.get("accept_url"):  # link buttons: they open the confirmation page, nothing is decided by the click alone
        buttons.append({"type": "button", "text": {"type": "plain_text", "text": "Accept"}, "url": feedback["accept_url"][:3000],
                        "style": "primary", "action_id": "accept_handover"})
    if feedback.get("reject_url"):
        buttons.append({"type": "button", "text": {"type": "plain_text", "text": "Reject"}, "url": feedback["reject_url"][:3000],
                        "style": "danger", "action_id": "reject_handover"})
    if url:
        buttons.append({"type": "button", "text": {"type": "plain_text", "text": "Open lead"}, "url": url[:3000],
                        "action_id": "open_lead", **({} if buttons else {"style": "primary"})})
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    respond_by = f" · accept by {_when(feedback['respond_by'])}" if feedback.get("respond_by") else ""
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"Qualified {_when(n.get('qualified_at'))}{respond_by} · handover `{n.get('handover_id', '')}`"},
    ]})
    owner = (n.get("assignee") or {}).get("name") or (n.get("assignee") or {}).get("member_id")
    fallback = f"{title}{f' ({company})' if company else ''}" + (f", assigned to {owner}" if owner else "")
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _owner(assignee: Mapping[str, Any] | None) -> str:
    if not assignee:
        return "*Assigned to*\n_not routed_"
    if not assignee.get("member_id"):
        return f"*Assigned to*\nnobody yet - {escape(assignee.get('reason', ''))}"
    slack_id = (assignee.get("owner_ids") or {}).get("slack")
    who = f"<@{slack_id}>" if slack_id else escape(assignee.get("name") or assignee["member_id"])
    return f"*Assigned to*\n{who} ({escape(assignee.get('team') or '')})"


def _when(value: Any) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return escape(value)


class SlackSender:
    def __init__(self, destination: SlackDestination, client: httpx.AsyncClient) -> None:
        self.destination = destination
        self.client = client

    async def send(self, attempt: Attempt) -> Outcome:
        calls = Calls(self.client, attempt.traceparent)
        try:
            await calls.request("slack", "POST", self.destination.webhook_url.get_secret_value(),
                                json=slack_message(attempt.payload))
        except StepFailed as failed:
            return failed.outcome
        return calls.succeeded()
