"""What sales may say about a handover, and when: the feedback state machine.

```
pending --accept--> accepted --won--> won
   |                    +-----lost--> lost
   +-----reject-------> rejected
```

Saying the same thing twice is not an error (the second answer changes nothing), so a
double-clicked link or a retried API call is harmless; saying something that contradicts
what was said before (reject after accept, won before accept) is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from leadflow_events import FeedbackDecision


class HandoverStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WON = "won"
    LOST = "lost"
    CANCELLED = "cancelled"  # the person objected or was erased: nothing is decided any more


class Outcome(StrEnum):
    APPLY = "apply"        # a new state: record it and tell scoring
    SAME = "same"          # said before: answer with the current state, change nothing
    CONFLICT = "conflict"  # contradicts what was said: refuse


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    status: HandoverStatus
    detail: str = ""


_TO = {
    FeedbackDecision.ACCEPTED: HandoverStatus.ACCEPTED,
    FeedbackDecision.REJECTED: HandoverStatus.REJECTED,
    FeedbackDecision.WON: HandoverStatus.WON,
    FeedbackDecision.LOST: HandoverStatus.LOST,
}
ALLOWED = {
    (HandoverStatus.PENDING, FeedbackDecision.ACCEPTED),
    (HandoverStatus.PENDING, FeedbackDecision.REJECTED),
    (HandoverStatus.ACCEPTED, FeedbackDecision.WON),
    (HandoverStatus.ACCEPTED, FeedbackDecision.LOST),
}
# A won or lost handover was accepted before: accepting it again is a repeat, not a contradiction.
REPEATS = {
    (HandoverStatus.ACCEPTED, FeedbackDecision.ACCEPTED),
    (HandoverStatus.WON, FeedbackDecision.ACCEPTED),
    (HandoverStatus.LOST, FeedbackDecision.ACCEPTED),
    (HandoverStatus.REJECTED, FeedbackDecision.REJECTED),
    (HandoverStatus.WON, FeedbackDecision.WON),
    (HandoverStatus.LOST, FeedbackDecision.LOST),
}


def decide(status: HandoverStatus, decision: FeedbackDecision) -> Verdict:
    """What ``decision`` does to a handover in ``status``."""
    if (status, decision) in ALLOWED:
        return Verdict(Outcome.APPLY, _TO[decision])
    if (status, decision) in REPEATS:
        return Verdict(Outcome.SAME, status)
    return Verdict(Outcome.CONFLICT, status, _conflict(status, decision))


def _conflict(status: HandoverStatus, decision: FeedbackDecision) -> str:
    if status is HandoverStatus.CANCELLED:
        return "The handover was cancelled (the person objected to profiling or was erased); it takes no feedback."
    if decision in (FeedbackDecision.WON, FeedbackDecision.LOST):
        if status is HandoverStatus.PENDING:
            return f"The handover is still pending; accept it before reporting it {decision.value}."
        if status is HandoverStatus.REJECTED:
            return f"The handover was rejected; a rejected lead cannot be reported {decision.value}."
        return f"The handover was reported {status.value} already; it cannot also be {decision.value}."
    if decision is FeedbackDecision.ACCEPTED:
        return "The handover was rejected already; it cannot also be accepted."
    return f"The handover was {status.value} already; it cannot be rejected any more."
