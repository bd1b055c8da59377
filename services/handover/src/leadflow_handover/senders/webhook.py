"""Generic webhooks: the notification as the body, signed per Standard Webhooks with every active secret."""

from __future__ import annotations

import time

import httpx
import orjson

from leadflow_handover.destinations import WebhookDestination
from leadflow_handover.domain.signing import signed_headers
from leadflow_handover.senders.base import Attempt, Calls, Outcome, StepFailed


class WebhookSender:
    def __init__(self, destination: WebhookDestination, client: httpx.AsyncClient) -> None:
        self.destination = destination
        self.client = client

    async def send(self, attempt: Attempt) -> Outcome:
        body = orjson.dumps(attempt.payload)
        secrets = [s.get_secret_value() for s in self.destination.secrets]
        # signed at send time: a retry or replay carries a fresh timestamp and the same webhook-id
        headers = signed_headers(attempt.delivery_id, int(time.time()), body, secrets)
        calls = Calls(self.client, attempt.traceparent)
        try:
            await calls.request("webhook", "POST", self.destination.url, content=body, headers=headers)
        except StepFailed as failed:
            return failed.outcome
        return calls.succeeded()
