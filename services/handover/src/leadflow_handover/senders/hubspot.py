"""HubSpot CRM v3: search the contact by e-mail, create or update it, then give its owner a task.

Finished steps are kept in the delivery's progress, so a retry after a 429 on the task does
not touch the contact again, and a task is created once per delivery. HubSpot's search
index trails writes by a few seconds; a create that answers 409 "Contact already exists.
Existing ID: 123" therefore updates that contact instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from leadflow_handover.destinations import HubSpotDestination
from leadflow_handover.senders.base import Attempt, Calls, Outcome, StepFailed, with_progress
from leadflow_handover.senders.fields import display_name, escalation_text, feedback_text, mapped, owner_of, reasons_text, resolve

DEFAULT_PROPERTIES = {
    "email": "lead.email",
    "firstname": "lead.profile.first_name",
    "lastname": "lead.profile.last_name",
    "company": "lead.profile.company",
    "jobtitle": "lead.profile.job_title",
    "phone": "lead.profile.phone",
    "country": "lead.profile.country",
    "industry": "lead.profile.industry",
}
TASK_TO_CONTACT = 204  # HubSpot-defined association type: task -> contact
_EXISTING = re.compile(r"Existing ID:\s*(\d+)")


def contact_properties(destination: HubSpotDestination, n: Mapping[str, Any]) -> dict[str, str]:
    props = mapped(n, {**DEFAULT_PROPERTIES, **destination.properties})
    stage = n.get("stage")
    lifecycle = {str(k): v for k, v in destination.lifecycle_stages.items()}.get(stage)
    status = {str(k): v for k, v in destination.lead_status.items()}.get(stage)
    if lifecycle:
        props["lifecyclestage"] = lifecycle
    if status:
        props["hs_lead_status"] = status
    owner = owner_of(n, "hubspot", destination.default_owner_id)
    if owner:
        props["hubspot_owner_id"] = owner
    return {k: v if isinstance(v, str) else str(v) for k, v in props.items()}


def task_properties(destination: HubSpotDestination, n: Mapping[str, Any]) -> dict[str, str]:
    t = destination.task
    profile = resolve(n, "lead.profile") or {}
    subject = t.subject.format(name=display_name(n), company=profile.get("company") or "unknown company",
                               email=resolve(n, "lead.email") or "", stage=n.get("stage", ""))
    due = datetime.fromisoformat(str(n["qualified_at"])) + timedelta(minutes=t.due_minutes)
    props = {
        "hs_timestamp": due.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "hs_task_subject": subject[:200],
        "hs_task_body": "\n\n".join(part for part in (
            escalation_text(n), reasons_text(n), f"Lead in Leadflow: {resolve(n, 'lead.url') or ''}", feedback_text(n),
        ) if part),
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": t.priority,
        "hs_task_type": t.type,
    }
    owner = owner_of(n, "hubspot", destination.default_owner_id)
    if owner:
        props["hubspot_owner_id"] = owner
    return props


class HubSpotSender:
    def __init__(self, destination: HubSpotDestination, client: httpx.AsyncClient) -> None:
        self.d = destination
        self.client = client
        self.base = destination.base_url.rstrip("/")
        self.headers = {"authorization": f"Bearer {destination.token.get_secret_value()}"}

    async def send(self, attempt: Attempt) -> Outcome:
        n = attempt.payload
        progress = dict(attempt.progress)
        calls = Calls(self.client, attempt.traceparent)
        email = resolve(n, "lead.email")
        if not email:
            return Outcome(None, "hubspot: the lead has no e-mail, so no contact can be found or created", None, None, 0.0,
                           permanent=True)
        try:
            if not progress.get("contact_synced"):
                progress["contact_id"] = await self._sync_contact(calls, email, contact_properties(self.d, n),
                                                                  progress.get("contact_id"))
                progress["contact_synced"] = True
            if self.d.task.enabled and n.get("stage") in {str(s) for s in self.d.task.stages} and not progress.get("task_id"):
                progress["task_id"] = await self._create_task(calls, progress["contact_id"], task_properties(self.d, n))
        except StepFailed as failed:
            return with_progress(failed.outcome, progress)
        return calls.succeeded(progress)

    async def _sync_contact(self, calls: Calls, email: str, props: dict[str, str], known: str | None) -> str:
        contact_id = known or await self._search(calls, email)
        if contact_id is not None:
            r = await calls.request("hubspot update contact", "PATCH", f"{self.base}/crm/v3/objects/contacts/{contact_id}",
                                    json={"properties": props}, headers=self.headers, ok=(404,))
            if r.status_code != 404:
                return contact_id
            # deleted in HubSpot since the search: create it again
        r = await calls.request("hubspot create contact", "POST", f"{self.base}/crm/v3/objects/contacts",
                                json={"properties": props}, headers=self.headers, ok=(409,))
        if r.status_code != 409:
            return str(r.json()["id"])
        existing = _EXISTING.search(_message(r))
        if existing is None:
            raise calls.failed("hubspot create contact", r)
        await calls.request("hubspot update contact", "PATCH", f"{self.base}/crm/v3/objects/contacts/{existing.group(1)}",
                            json={"properties": props}, headers=self.headers)
        return existing.group(1)

    async def _search(self, calls: Calls, email: str) -> str | None:
        body = {
            "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
            "properties": ["email", "lifecyclestage", "hubspot_owner_id"],
            "limit": 1,
        }
        r = await calls.request("hubspot search contact", "POST", f"{self.base}/crm/v3/objects/contacts/search",
                                json=body, headers=self.headers)
        results = r.json().get("results") or []
        return str(results[0]["id"]) if results else None

    async def _create_task(self, calls: Calls, contact_id: str, props: dict[str, str]) -> str:
        body = {
            "properties": props,
            "associations": [{"to": {"id": contact_id},
                              "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_CONTACT}]}],
        }
        r = await calls.request("hubspot create task", "POST", f"{self.base}/crm/v3/objects/tasks", json=body, headers=self.headers)
        return str(r.json()["id"])


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        return response.text
