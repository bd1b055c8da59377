"""Who in a team gets a lead: smooth weighted round-robin over the members who are available.

A member is skipped while inactive, out of office, or at the capacity cap (leads assigned
in the last ``days``). The rotation keeps one running credit per member (nginx's smooth
weighted round-robin): over every cycle each available member gets exactly ``weight``
leads, interleaved rather than in bursts. A skipped member earns no credit, so nobody
returns from holiday to a pile of catch-up leads. Time comes in as data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from leadflow_handover.domain.sla import SlaOverride


@dataclass(frozen=True, slots=True)
class Capacity:
    """At most ``leads`` assignments per member within any ``days``-long window ending now."""

    leads: int
    days: float = 30.0


@dataclass(frozen=True, slots=True)
class Absence:
    """Out of office from ``start`` to ``end``, both days included, in the team's time zone."""

    start: date
    end: date

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str | None = None
    email: str | None = None
    weight: int = 1
    active: bool = True
    capacity: Capacity | None = None  # overrides the team's cap for this member
    absences: tuple[Absence, ...] = ()
    owner_ids: Mapping[str, str] = field(default_factory=dict)  # the member in other systems: hubspot, salesforce, slack


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    members: tuple[Member, ...]
    capacity: Capacity | None = None
    timezone: str = "UTC"
    keep_owner: bool = True  # a lead qualified again goes back to its previous owner when available
    sla: SlaOverride | None = None  # the team's own acceptance deadline and escalation, if any

    def member(self, member_id: str | None) -> Member | None:
        return next((m for m in self.members if m.id == member_id), None)

    def capacity_of(self, member: Member) -> Capacity | None:
        return member.capacity or self.capacity


@dataclass(frozen=True, slots=True)
class PastAssignment:
    member: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Rotation:
    """The persisted round-robin state of one team."""

    credits: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Assignment:
    team: str
    member: Member | None
    reason: str
    skipped: tuple[tuple[str, str], ...] = ()  # (member id, why) for everyone passed over
    kept_owner: bool = False


def unavailability(team: Team, member: Member, recent: Sequence[PastAssignment], now: datetime) -> str | None:
    """Why ``member`` cannot take a new lead now, or None when they can."""
    return _away(team, member, now) or _full(team, member, recent, now)


def _away(team: Team, member: Member, now: datetime) -> str | None:
    if not member.active:
        return "inactive"
    today = now.astimezone(ZoneInfo(team.timezone)).date()
    for absence in member.absences:
        if absence.covers(today):
            return f"out of office until {absence.end.isoformat()}"
    return None


def _full(team: Team, member: Member, recent: Sequence[PastAssignment], now: datetime) -> str | None:
    cap = team.capacity_of(member)
    if cap is None:
        return None
    since = now - timedelta(days=cap.days)
    load = sum(1 for p in recent if p.member == member.id and p.at > since)
    return f"at capacity: {load} of {cap.leads} leads in {cap.days:g} days" if load >= cap.leads else None


def assign(
    team: Team,
    rotation: Rotation,
    recent: Sequence[PastAssignment],
    now: datetime,
    previous_owner: str | None = None,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Assignment, Rotation]:
    """Pick a member; ``recent`` holds the team's assignments inside the longest capacity window.

    ``exclude`` names members who must not get the lead (who let its acceptance deadline pass).
    """
    owner = team.member(previous_owner) if team.keep_owner else None
    if owner is not None and owner.id not in exclude and _away(team, owner, now) is None:
        # the owner knows the lead already; the cap is about new leads, so it does not apply
        return Assignment(team.name, owner, f"kept the previous owner {owner.id}", kept_owner=True), rotation
    reasons = {
        m.id: "had the lead and did not accept it in time" if m.id in exclude else unavailability(team, m, recent, now)
        for m in team.members
    }
    skipped = tuple((mid, why) for mid, why in reasons.items() if why is not None)
    available = [m for m in team.members if reasons[m.id] is None]
    if not available:
        detail = "; ".join(f"{mid}: {why}" for mid, why in skipped) or "the team has no members"
        return Assignment(team.name, None, f"nobody in team {team.name} is available ({detail})", skipped), rotation
    credits = dict(rotation.credits)
    total = sum(m.weight for m in available)
    for m in available:
        credits[m.id] = credits.get(m.id, 0) + m.weight
    chosen = max(available, key=lambda m: credits[m.id])  # max() keeps the first of equals: configuration order
    credits[chosen.id] -= total
    known = {m.id for m in team.members}
    credits = {k: v for k, v in credits.items() if k in known}
    reason = f"weighted round-robin in team {team.name} picked {chosen.id} (weight {chosen.weight} of {total})"
    if skipped:
        reason += "; skipped " + ", ".join(f"{mid} ({why})" for mid, why in skipped)
    return Assignment(team.name, chosen, reason, skipped), Rotation(credits)


def window_days(team: Team) -> float | None:
    """The longest capacity window of the team: how far back ``recent`` has to reach (None: no caps)."""
    caps = [c.days for c in (team.capacity, *(m.capacity for m in team.members)) if c is not None]
    return max(caps) if caps else None
