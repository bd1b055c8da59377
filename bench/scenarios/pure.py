"""``pure-scoring``: ``score_touchpoint(state, touchpoint, model)`` alone, no I/O, timed with timeit.

Models are generated as YAML and loaded with ``parse_model``, like a real model file.
"""

from __future__ import annotations

import timeit
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from bench.core import Context, Metric, Outcome, Target
from leadflow_events import TouchpointType
from leadflow_scoring.domain.leads import Touchpoint
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.scoring import score_touchpoint
from leadflow_scoring.model_file import load_model, parse_model

TYPES = [t.value for t in TouchpointType]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

HEADER = """\
kind: leadflow.scoring-model
id: bench-{rules}
version: 1
thresholds: {{mql: 65, sql: 100, recycle_gap: 10, sql_min_fit: 10, mql_min_engagement: 20}}
groups:
  forms: {{half_life_days: 90}}
  content: {{half_life_days: 60, cap: 45}}
  web: {{half_life_days: 30, cap: 30}}
  email: {{half_life_days: 30, cap: 20}}
  signals: {{}}
fit:
  - {{id: business-email, points: 10, reason: Business e-mail, when: [{{field: email_domain, op: not_in, value: [gmail.com, yahoo.com, web.de]}}]}}
  - {{id: decision-maker, points: 15, reason: Senior role, when: [{{field: profile.job_title, op: regex, value: '\\b(head|director|vp|chief|c[eftom]o)\\b'}}]}}
  - {{id: company-size, points: 10, reason: 50+ employees, when: [{{field: profile.company_size, op: gte, value: 50}}]}}
fast_tracks:
  - {{id: demo-fast-track, touchpoint: demo_requested, min_fit: 10, reason: Requested a demo}}
engagement:
"""

# One engagement rule of each kind of condition; rule i uses CONDITIONS[i % len(CONDITIONS)].
CONDITIONS = [
    "[]",
    "[{field: properties.page_url, op: url_matches, value: '*/pricing*'}]",
    "[{field: profile.job_title, op: regex, value: '(?i)(marketing|sales|revenue) (manager|lead)'}]",
    "[{field: profile.company_size, op: gte, value: 200}]",
    "[{field: properties.form_id, op: in, value: [contact, demo, trial]}]",
    "[{field: properties.page_url, op: regex, value: '/(docs|blog)/[a-z-]+$'}, {field: profile.country, op: in, value: [DE, AT, CH]}]",
    "[{field: properties.utm_source, op: equals, value: linkedin}]",
    "[{field: profile.company_size, op: lt, value: 10}]",
]
GROUPS = ["forms", "content", "web", "email", "signals"]


def model_yaml(rules: int, types: list[str], *, matching: dict[str, int] | None = None) -> str:
    """``rules`` engagement rules spread over ``types`` round robin, or exactly ``matching[type]`` rules per type."""
    plan: list[str] = []
    if matching:
        for kind, count in matching.items():
            plan += [kind] * count
    else:
        plan = [types[i % len(types)] for i in range(rules)]
    lines = [HEADER.format(rules=rules)]
    for i, kind in enumerate(plan):
        limit = ", limit: {count: 3, per_days: 7}" if i % 5 == 1 else (", max_hits: 10" if i % 5 == 3 else "")
        lines.append(
            f"  - {{id: rule-{i}, touchpoint: {kind}, group: {GROUPS[i % len(GROUPS)]}, points: {(i % 9) + 1}, "
            f"reason: Rule {i}, when: {CONDITIONS[i % len(CONDITIONS)]}{limit}}}\n"
        )
    return "".join(lines)


def touchpoints() -> list[Touchpoint]:
    """One touchpoint of every type, with the properties and profile fields the conditions read."""
    out = []
    for i, kind in enumerate(TYPES):
        out.append(Touchpoint(
            event_id=f"tp-{i}", type=kind, occurred_at=T0 + timedelta(hours=i), email="ada@acme.example", anonymous_id=None,
            profile=MappingProxyType({"job_title": "Marketing Manager", "company_size": 250, "country": "DE"}),
            properties=MappingProxyType({"page_url": "https://leadflow.example/docs/pricing-guide", "form_id": "contact",
                                         "utm_source": "linkedin"}),
        ))
    return out


def mean_us(model: ScoringModel, tps: list[Touchpoint], number: int) -> float:
    """Mean microseconds per call, each touchpoint scored against the same warmed-up lead."""
    state = None
    for tp in tps * 3:  # a lead with history: hits, groups, limits in play
        state = score_touchpoint(state, tp, model).state
    calls = [(lambda tp=tp: score_touchpoint(state, tp, model)) for tp in tps]

    def run() -> None:
        for call in calls:
            call()

    best = min(timeit.repeat(run, number=number, repeat=3))
    return best / (number * len(tps)) * 1e6


def rule_growth(number: int) -> tuple[float, float]:
    """µs per page view with 10 rules vs 100 rules, the 90 extra rules for other touchpoint types."""
    others = [t for t in TYPES if t != "page_viewed"]
    base = {"page_viewed": 4, **{t: 1 for t in others[:6]}}
    more = {"page_viewed": 4, **{t: 7 for t in others}}  # 4 + 13 * 7 = 95
    more[others[0]] += 100 - sum(more.values())
    m10 = parse_model(model_yaml(10, TYPES, matching=base), "<10 rules>")
    m100 = parse_model(model_yaml(100, TYPES, matching=more), "<100 rules>")
    assert len(m10.engagement_rules) == 10 and len(m100.engagement_rules) == 100
    views = [tp for tp in touchpoints() if tp.type == "page_viewed"]
    return mean_us(m10, views, number * 10), mean_us(m100, views, number * 10)


def pure_scoring(ctx: Context, out: Outcome) -> None:
    number = ctx.size(3000, 100)
    model50 = parse_model(model_yaml(50, TYPES), "<50 rules>")
    tps = touchpoints()
    us50 = mean_us(model50, tps, number)
    us_default = mean_us(load_model(), tps, number)
    us10, us100 = rule_growth(number)
    out.details.update({"iterations_per_touchpoint": number * 3, "touchpoint_types": len(tps),
                        "model_50": {"engagement_rules": 50, "fit_rules": 3}})
    out.add(
        Metric("50-rule model, mean per touchpoint", us50, "µs", Target("<", 100)),
        Metric("shipped default model, mean per touchpoint", us_default, "µs"),
        Metric("10 rules, per page view", us10, "µs"),
        Metric("100 rules (90 for other types), per page view", us100, "µs", baseline=us10,
               note="ratio = cost with 100 rules / cost with 10"),
    )
    out.notes.append(
        f"timeit, best of 3 repeats of {number} rounds over one touchpoint of each of the {len(tps)} types, scored "
        "against a lead that already has history (hits, groups, per-period limits). The 50 rules spread over all "
        "types and use every kind of condition: url_matches, regex, numeric gte/lt, in, equals."
    )
