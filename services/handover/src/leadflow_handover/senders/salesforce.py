"""Salesforce REST: upsert a Lead by an external-id field that holds the e-mail, or query by e-mail, then update or create.

``LastName`` and ``Company`` are required on a Lead; when the lead did not tell them,
``[not provided]`` is sent, as Salesforce's own marketing tools do. Salesforce says "slow
down" as 403 ``REQUEST_LIMIT_EXCEEDED``; that is retried like a 429.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from leadflow_handover.destinations import SalesforceDestination
from leadflow_handover.senders.base import Attempt, Calls, Outcome, StepFailed, with_progress
from leadflow_handover.senders.fields import escalation_text, feedback_text, mapped, owner_of, reasons_text, resolve

DEFAULT_FIELDS = {
    "Email": "lead.email",
    "FirstName": "lead.profile.first_name",
    "LastName": "lead.profile.last_name",
    "Company": "lead.profile.company",
    "Title": "lead.profile.job_title",
    "Phone": "lead.profile.phone",
    "Country": "lead.profile.country",
    "Industry": "lead.profile.industry",
    "NumberOfEmployees": "lead.profile.company_size",
}
NOT_PROVIDED = "[not provided]"


def lead_fields(destination: SalesforceDestination, n: Mapping[str, Any]) -> dict[str, Any]:
    fields = mapped(n, {**DEFAULT_FIELDS, **destination.fields})
    fields.setdefault("LastName", NOT_PROVIDED)
    fields.setdefault("Company", NOT_PROVIDED)
    fields.setdefault("Status", destination.lead_status)
    fields.setdefault("LeadSource", destination.lead_source)
    description = "\n\n".join(part for part in (
        escalation_text(n), reasons_text(n), f"Lead in Leadflow: {resolve(n, 'lead.url') or ''}", feedback_text(n),
    ) if part)
    fields.setdefault("Description", description[:32000])
    owner = owner_of(n, "salesforce", destination.default_owner_id)
    if owner:
        fields["OwnerId"] = owner
    return fields


def soql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceSender:
    def __init__(self, destination: SalesforceDestination, client: httpx.AsyncClient) -> None:
        self.d = destination
        self.client = client
        self.base = f"{destination.instance_url.rstrip('/')}/services/data/{destination.api_version}"
        self.headers = {"authorization": f"Bearer {destination.access_token.get_secret_value()}"}

    async def send(self, attempt: Attempt) -> Outcome:
        n = attempt.payload
        progress = dict(attempt.progress)
        email = resolve(n, "lead.email")
        if not email:
            return Outcome(None, "salesforce: the lead has no e-mail to match a Lead by", None, None, 0.0, permanent=True)
        calls = Calls(self.client, attempt.traceparent)
        fields = lead_fields(self.d, n)
        try:
            if self.d.match == "external_id":
                progress["lead_id"] = await self._upsert(calls, email, fields)
            else:
                progress["lead_id"] = await self._query_then_write(calls, email, fields, progress.get("lead_id"))
        except StepFailed as failed:
            return with_progress(failed.outcome, progress)
        return calls.succeeded(progress)

    async def _call(self, calls: Calls, step: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await calls.request(step, method, url, headers=self.headers, **kwargs)
        except StepFailed as failed:
            o = failed.outcome
            if o.status == 403 and "REQUEST_LIMIT_EXCEEDED" in (o.excerpt or ""):
                raise StepFailed(replace(o, throttled=True)) from None
            raise

    async def _upsert(self, calls: Calls, email: str, fields: dict[str, Any]) -> str | None:
        body = {k: v for k, v in fields.items() if k != self.d.external_id_field}
        url = f"{self.base}/sobjects/Lead/{self.d.external_id_field}/{quote(email, safe='')}"
        r = await self._call(calls, "salesforce upsert lead", "PATCH", url, json=body, ok=(300,))
        if r.status_code == 300:
            raise calls.failed("salesforce upsert lead", r, "several Leads have this e-mail; merge them in Salesforce",
                               permanent=True)
        return _id_of(r)

    async def _query_then_write(self, calls: Calls, email: str, fields: dict[str, Any], known: str | None) -> str | None:
        lead_id = known
        if lead_id is None:
            q = f"SELECT Id FROM Lead WHERE Email = {soql_string(email)} AND IsConverted = false ORDER BY CreatedDate DESC LIMIT 1"
            r = await self._call(calls, "salesforce query lead", "GET", f"{self.base}/query", params={"q": q})
            records = r.json().get("records") or []
            lead_id = records[0]["Id"] if records else None
        if lead_id is not None:
            await self._call(calls, "salesforce update lead", "PATCH", f"{self.base}/sobjects/Lead/{lead_id}", json=fields)
            return lead_id
        r = await self._call(calls, "salesforce create lead", "POST", f"{self.base}/sobjects/Lead", json=fields)
        return _id_of(r)


def _id_of(response: httpx.Response) -> str | None:
    if response.status_code == 204 or not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("id") if isinstance(body, dict) else None

