"""The handover configuration file (YAML): ``destinations``, ``teams`` and ``routing``.

``${NAME}`` in any string is replaced by the environment variable ``NAME`` so secrets can
stay out of the file. Errors name the file, the entry and the field, never a value.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadflow_handover.destinations import NAME_PATTERN, Destination, DestinationBase
from leadflow_handover.domain.assignment import Absence, Capacity, Member, Team
from leadflow_handover.domain.routing import Criteria, Routing, RoutingRule, SizeRange
from leadflow_handover.domain.sla import SlaOverride

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigFileError(ValueError):
    """The configuration cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class CapacitySpec(_Strict):
    leads: int = Field(ge=1, description="Most leads a member gets within `days`.")
    days: float = Field(default=30, gt=0)


class AbsenceSpec(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AbsenceSpec:
        if self.end < self.start:
            raise ValueError("`to` is before `from`")
        return self


class MemberSpec(_Strict):
    id: str = Field(min_length=1, max_length=100)
    name: str | None = None
    email: str | None = None
    weight: int = Field(default=1, ge=1, le=100, description="Relative share of the team's leads.")
    active: bool = True
    capacity: CapacitySpec | None = None
    out_of_office: list[AbsenceSpec] = Field(default_factory=list)
    owner_ids: dict[str, str] = Field(
        default_factory=dict, description="The member in other systems: `hubspot` owner id, `salesforce` user id, `slack` user id."
    )


class SlaSpec(_Strict):
    accept_within_minutes: float | None = Field(
        default=None, gt=0, description="Time to accept a handover; default LEADFLOW_HANDOVER_SLA_SECONDS."
    )
    escalate_to: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Destination that is told when nobody accepted in time (e.g. the team lead's Slack)."
    )
    reassign: bool | None = Field(default=None, description="Give an overdue lead to the next member of the round-robin.")


class TeamSpec(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    members: list[MemberSpec] = Field(min_length=1)
    capacity: CapacitySpec | None = Field(default=None, description="Cap per member, e.g. {leads: 30, days: 30}.")
    timezone: str = Field(default="UTC", description="Out-of-office dates are days in this time zone.")
    keep_owner: bool = Field(default=True, description="A lead that qualifies again goes back to its owner if available.")
    sla: SlaSpec | None = Field(default=None, description="The team's own acceptance deadline and escalation.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _unique(self) -> TeamSpec:
        ids = [m.id for m in self.members]
        if dupes := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"member ids must be unique in a team: {', '.join(dupes)}")
        return self


class SizeSpec(_Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class WhenSpec(_Strict):
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes.")
    regions: list[str] = Field(default_factory=list, description="Names from `routing.regions`.")
    company_size: SizeSpec | None = None
    product_interest: list[str] = Field(default_factory=list, description="Any of these (case-insensitive).")


class RuleSpec(_Strict):
    name: str = Field(min_length=1)
    team: str
    when: WhenSpec = WhenSpec()


class RoutingSpec(_Strict):
    regions: dict[str, list[str]] = Field(default_factory=dict, description="Region name -> country codes.")
    rules: list[RuleSpec] = Field(default_factory=list, description="First match wins; a rule without `when` matches all.")
    product_interest_property: str = Field(default="product_interest", min_length=1)


class FileSpec(_Strict):
    destinations: list[Destination] = Field(default_factory=list)
    teams: list[TeamSpec] = Field(default_factory=list)
    routing: RoutingSpec = RoutingSpec()

    @model_validator(mode="after")
    def _references(self) -> FileSpec:
        problems = []
        for what, names in (("destination", [d.name for d in self.destinations]), ("team", [t.name for t in self.teams])):
            if dupes := sorted({n for n in names if names.count(n) > 1}):
                problems.append(f"{what} names must be unique: {', '.join(dupes)}")
        teams = {t.name for t in self.teams}
        for i, rule in enumerate(self.routing.rules):
            if rule.team not in teams:
                problems.append(f"routing.rules[{i}] ({rule.name}): unknown team {rule.team!r}")
            for region in rule.when.regions:
                if region not in self.routing.regions:
                    problems.append(f"routing.rules[{i}] ({rule.name}): unknown region {region!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True)
class HandoverConfig:
    destinations: tuple[DestinationBase, ...] = ()
    routing: Routing = field(default_factory=Routing)


def load_config(path: Path | str, environ: dict[str, str] | None = None) -> HandoverConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the handover configuration: {exc.strerror or exc}") from exc
    return parse_config(text, str(path), os.environ if environ is None else environ)


def parse_config(text: str, origin: str = "<config>", environ: dict[str, str] | None = None) -> HandoverConfig:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigFileError(f"{origin}: expected a mapping with `destinations`, `teams` and `routing`")
    missing: list[str] = []
    raw = _expand(raw, {} if environ is None else environ, "", missing)
    if missing:
        raise ConfigFileError(f"{origin}: " + "; ".join(missing))
    try:
        spec = FileSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigFileError(f"{origin}: " + "; ".join(_describe(e) for e in exc.errors())) from None
    return HandoverConfig(destinations=tuple(spec.destinations), routing=_routing(spec))


def _expand(value: Any, environ: dict[str, str] | Any, path: str, missing: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, environ, f"{path}.{k}" if path else str(k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ, f"{path}[{i}]", missing) for i, v in enumerate(value)]
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                missing.append(f"{path}: environment variable {name} is not set")
                return ""
            return str(environ[name])

        return _VARIABLE.sub(sub, value)
    return value


def _describe(error: Any) -> str:
    parts: list[str] = []
    for p in error.get("loc", ()):
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif p in {"webhook", "slack", "hubspot", "salesforce"} and parts and parts[-1].startswith("["):
            continue  # the union's tag: the entry's `kind` says it already
        else:
            parts.append(("." if parts else "") + str(p))
    where = "".join(parts) or "<root>"
    return f"{where}: {error.get('msg', 'invalid')}".replace("Value error, ", "")


def _sla(spec: SlaSpec | None) -> SlaOverride | None:
    if spec is None:
        return None
    within = timedelta(minutes=spec.accept_within_minutes) if spec.accept_within_minutes is not None else None
    return SlaOverride(accept_within=within, escalate_to=spec.escalate_to, reassign=spec.reassign)


def _routing(spec: FileSpec) -> Routing:
    teams = {
        t.name: Team(
            name=t.name,
            members=tuple(
                Member(
                    id=m.id, name=m.name, email=m.email, weight=m.weight, active=m.active,
                    capacity=Capacity(m.capacity.leads, m.capacity.days) if m.capacity else None,
                    absences=tuple(Absence(a.start, a.end) for a in m.out_of_office),
                    owner_ids=dict(m.owner_ids),
                )
                for m in t.members
            ),
            capacity=Capacity(t.capacity.leads, t.capacity.days) if t.capacity else None,
            timezone=t.timezone, keep_owner=t.keep_owner, sla=_sla(t.sla),
        )
        for t in spec.teams
    }
    regions = {name: {c.upper() for c in countries} for name, countries in spec.routing.regions.items()}
    rules = tuple(
        RoutingRule(
            name=r.name, team=r.team,
            criteria=Criteria(
                countries=frozenset({c.upper() for c in r.when.countries}.union(*(regions[g] for g in r.when.regions))),
                company_size=SizeRange(r.when.company_size.min, r.when.company_size.max) if r.when.company_size else None,
                product_interest=frozenset(p.strip().lower() for p in r.when.product_interest),
            ),
        )
        for r in spec.routing.rules
    )
    return Routing(teams=teams, rules=rules, interest_property=spec.routing.product_interest_property)
