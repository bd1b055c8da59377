"""Acceptance deadlines: how long sales has to accept a handover, and what happens when nobody does.

The deadline runs from the moment the handover is recorded and assigned (nobody can accept a
lead before it is theirs). When it passes, the handover is escalated once - to a destination
such as the team lead's Slack - and, when the policy says so, given to the next member of
the team's round-robin, whose own deadline starts then. Time comes in as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    accept_within: timedelta | None  # None: no deadline
    escalate_to: str | None = None  # a destination name
    reassign: bool = False

    def deadline(self, start: datetime) -> datetime | None:
        return None if self.accept_within is None else start + self.accept_within


@dataclass(frozen=True, slots=True)
class SlaOverride:
    """A team's own settings; what it leaves out (None) comes from the service-wide policy."""

    accept_within: timedelta | None = None
    escalate_to: str | None = None
    reassign: bool | None = None


def effective(default: SlaPolicy, override: SlaOverride | None) -> SlaPolicy:
    if override is None:
        return default
    return SlaPolicy(
        accept_within=override.accept_within if override.accept_within is not None else default.accept_within,
        escalate_to=override.escalate_to if override.escalate_to is not None else default.escalate_to,
        reassign=override.reassign if override.reassign is not None else default.reassign,
    )


def is_overdue(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and deadline <= now


def next_deadline(policy: SlaPolicy, now: datetime, reassigned: bool) -> datetime | None:
    """After an escalation: a new member gets the full time again; without one, the handover is escalated once only."""
    return policy.deadline(now) if reassigned else None


def describe(delta: timedelta) -> str:
    """``1 h``, ``30 min``, ``1 h 30 min``, ``45 s``: how long the deadline gave."""
    seconds = int(round(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if minutes else [])
    return " ".join(parts) or f"{seconds} s"
