"""Who in sales has a lead: the latest ``leadflow.handover.assigned.v1`` wins.

A lead's assignments arrive in order (one partition, key = lead id), but a replayed or
redelivered record can bring an older one back; it never replaces a newer assignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Assignment:
    team: str | None
    member: str | None
    assigned_at: datetime


def latest(current: Assignment | None, incoming: Assignment) -> Assignment:
    """The lead's assignment once ``incoming`` is known; the same event twice gives the same answer."""
    if current is None or incoming.assigned_at >= current.assigned_at:
        return incoming
    return current
