"""Which team a lead goes to: ordered rules over territory, company size and product interest; first match wins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from leadflow_handover.domain.assignment import Team


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What routing looks at; unknown values never match a criterion that asks about them."""

    country: str | None = None
    company_size: int | None = None
    product_interest: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SizeRange:
    """Inclusive employee-count range; an open end is ``None``."""

    min: int | None = None
    max: int | None = None

    def contains(self, size: int | None) -> bool:
        if size is None:
            return False
        return (self.min is None or size >= self.min) and (self.max is None or size <= self.max)


@dataclass(frozen=True, slots=True)
class Criteria:
    """Every criterion given must hold; an empty ``Criteria`` matches every lead (a catch-all rule)."""

    countries: frozenset[str] = frozenset()
    company_size: SizeRange | None = None
    product_interest: frozenset[str] = frozenset()

    def mismatch(self, lead: LeadFacts) -> str | None:
        """Why the lead does not match, or None when it does."""
        if self.countries and (lead.country or "").upper() not in self.countries:
            return f"country {lead.country or 'unknown'} is outside the territory"
        if self.company_size is not None and not self.company_size.contains(lead.company_size):
            return f"company size {lead.company_size if lead.company_size is not None else 'unknown'} is out of range"
        if self.product_interest and not (self.product_interest & lead.product_interest):
            return "no matching product interest"
        return None


@dataclass(frozen=True, slots=True)
class RoutingRule:
    name: str
    team: str
    criteria: Criteria = Criteria()


@dataclass(frozen=True, slots=True)
class Route:
    team: str
    rule: str


@dataclass(frozen=True, slots=True)
class Routing:
    """Teams and the rules that pick one; empty when routing is not configured."""

    teams: Mapping[str, Team] = field(default_factory=dict)
    rules: tuple[RoutingRule, ...] = ()
    interest_property: str = "product_interest"  # the lead property that holds the product interest

    @property
    def enabled(self) -> bool:
        return bool(self.rules)


def route(rules: Sequence[RoutingRule], lead: LeadFacts) -> Route | None:
    """The first rule the lead matches names its team; None when no rule matches."""
    for rule in rules:
        if rule.criteria.mismatch(lead) is None:
            return Route(team=rule.team, rule=rule.name)
    return None


def normalise_interest(value: object) -> frozenset[str]:
    """A lead property as a set of lower-case interests: ``"Analytics, CRM"``, ``["analytics"]`` or absent."""
    if value is None:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    return frozenset(s for s in (str(i).strip().lower() for i in items) if s)
