"""How a notification reaches each kind of destination; one sender per kind, sharing one HTTP client.

A sender turns the stored ``leadflow.handover.v1`` notification into the request(s) its
destination understands and reports one ``Outcome``; what happens next (retry, give up,
disable) is decided by ``domain.retry`` from that outcome alone.
"""

from __future__ import annotations

import httpx

from leadflow_handover.destinations import (
    DestinationBase, HubSpotDestination, SalesforceDestination, SlackDestination, WebhookDestination,
)
from leadflow_handover.senders.base import Attempt, Outcome, Sender
from leadflow_handover.senders.hubspot import HubSpotSender
from leadflow_handover.senders.salesforce import SalesforceSender
from leadflow_handover.senders.slack import SlackSender
from leadflow_handover.senders.webhook import WebhookSender


def sender_for(destination: DestinationBase, client: httpx.AsyncClient) -> Sender:
    if isinstance(destination, WebhookDestination):
        return WebhookSender(destination, client)
    if isinstance(destination, SlackDestination):
        return SlackSender(destination, client)
    if isinstance(destination, HubSpotDestination):
        return HubSpotSender(destination, client)
    if isinstance(destination, SalesforceDestination):
        return SalesforceSender(destination, client)
    raise TypeError(f"no sender for {type(destination).__name__}")


__all__ = ["Attempt", "Outcome", "Sender", "sender_for"]
