"""Mapping notification fields onto a CRM's fields: ``{"company": "lead.profile.company", ...}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def resolve(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``lead.profile.company``, ``top_reasons.0.reason``); None when absent."""
    value: Any = document
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def mapped(document: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Target field -> value, leaving out what the notification does not know (so nothing is blanked)."""
    out = {}
    for target, path in mapping.items():
        value = resolve(document, path)
        if value is not None and value != "":
            out[target] = value
    return out


def display_name(n: Mapping[str, Any]) -> str:
    profile = resolve(n, "lead.profile") or {}
    name = " ".join(p for p in (profile.get("first_name"), profile.get("last_name")) if p)
    return name or resolve(n, "lead.email") or "an unnamed lead"


def reasons_text(n: Mapping[str, Any], limit: int = 5) -> str:
    """Why now, then the top score reasons, as plain lines (CRM notes and task bodies)."""
    lines = [f"Why now: {n.get('why', '')}"]
    for r in (n.get("top_reasons") or [])[:limit]:
        lines.append(f"- {r['reason']} ({r['points']:+d})")
    return "\n".join(lines)


def owner_of(n: Mapping[str, Any], system: str, default: str | None = None) -> str | None:
    """The assignee's id in ``system`` (``hubspot``, ``salesforce``, ``slack``), else the destination's default."""
    return (resolve(n, "assignee.owner_ids") or {}).get(system) or default


def feedback_text(n: Mapping[str, Any]) -> str:
    """The accept / reject links and the deadline, as plain lines (empty when the notification has none)."""
    feedback = n.get("feedback") or {}
    lines = []
    if feedback.get("respond_by"):
        lines.append(f"Accept by: {feedback['respond_by']}")
    if feedback.get("accept_url"):
        lines.append(f"Accept: {feedback['accept_url']}")
    if feedback.get("reject_url"):
        lines.append(f"Reject (with a reason): {feedback['reject_url']}")
    return "\n".join(lines)


def escalation_text(n: Mapping[str, Any]) -> str:
    """One line when the notification is an escalation or a reassignment, else empty."""
    escalation = n.get("escalation") or {}
    if not escalation:
        return ""
    if escalation.get("kind") == "reassigned":
        return f"Reassigned to you: {escalation.get('reason', '')}"
    return f"Not accepted in time: {escalation.get('reason', '')}"
