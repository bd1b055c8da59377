"""Routing and assignment decisions: pure, no database, time as data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow_handover.domain.assignment import (
    Absence, Capacity, Member, PastAssignment, Rotation, Team, assign, unavailability, window_days,
)
from leadflow_handover.domain.routing import Criteria, LeadFacts, RoutingRule, SizeRange, normalise_interest, route

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
TODAY = NOW.date()

RULES = (
    RoutingRule("dach-enterprise", "enterprise", Criteria(countries=frozenset({"DE", "AT", "CH"}), company_size=SizeRange(min=1000))),
    RoutingRule("platform", "platform", Criteria(product_interest=frozenset({"platform", "api"}))),
    RoutingRule("mid-market", "mid", Criteria(company_size=SizeRange(min=50, max=999))),
    RoutingRule("everyone-else", "inbound"),
)


def run(team: Team, n: int, rotation: Rotation = Rotation(), recent: list[PastAssignment] | None = None,
        now: datetime = NOW) -> tuple[list[str | None], Rotation]:
    """Assign ``n`` new leads one after another, as the service does within one team lock."""
    recent = list(recent or [])
    picked = []
    for _ in range(n):
        a, rotation = assign(team, rotation, recent, now)
        picked.append(a.member.id if a.member else None)
        if a.member:
            recent.append(PastAssignment(a.member.id, now))
    return picked, rotation


# ------------------------------------------------------------------------------------------ routing


def test_first_matching_rule_wins():
    assert route(RULES, LeadFacts("DE", 5000, frozenset({"platform"}))).team == "enterprise"
    assert route(RULES, LeadFacts("FR", 5000, frozenset({"platform"}))).team == "platform"
    assert route(RULES, LeadFacts("FR", 200)).rule == "mid-market"
    assert route(RULES, LeadFacts("DE", 20)).team == "inbound"


def test_size_ranges_are_inclusive_and_unknown_values_never_match():
    assert route(RULES, LeadFacts("DE", 1000)).team == "enterprise"
    assert route(RULES, LeadFacts("DE", 999)).team == "mid"
    assert route(RULES, LeadFacts(None, None)).team == "inbound"  # only the catch-all takes an unknown lead
    assert route(RULES, LeadFacts("de", 1000)).team == "enterprise"  # country codes are case-insensitive


def test_no_rule_means_no_route():
    assert route(RULES[:1], LeadFacts("US", 10)) is None
    assert route((), LeadFacts("DE", 10)) is None


def test_product_interest_from_a_lead_property():
    assert normalise_interest("Platform, CRM ") == {"platform", "crm"}
    assert normalise_interest(["API"]) == {"api"}
    assert normalise_interest(None) == frozenset()
    assert route(RULES, LeadFacts("FR", 10, normalise_interest("API"))).team == "platform"


# ------------------------------------------------------------------------------------------ assignment


def test_weighted_round_robin_interleaves():
    team = Team("t", (Member("anna", weight=2), Member("ben")))
    picked, _ = run(team, 6)
    assert picked == ["anna", "ben", "anna", "anna", "ben", "anna"]


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.integers(1, 5), min_size=1, max_size=5), cycles=st.integers(1, 4))
def test_every_cycle_gives_each_member_exactly_its_weight(weights, cycles):
    team = Team("t", tuple(Member(f"m{i}", weight=w) for i, w in enumerate(weights)))
    picked, rotation = run(team, sum(weights) * cycles)
    assert Counter(picked) == {f"m{i}": w * cycles for i, w in enumerate(weights)}
    assert sum(rotation.credits.values()) == 0  # credits always sum to zero: nothing is owed after a full cycle


def test_the_rotation_continues_from_stored_state():
    team = Team("t", (Member("anna", weight=2), Member("ben"), Member("cara")))
    straight, _ = run(team, 8)
    first, stored = run(team, 3)
    restored = Rotation(dict(stored.credits))  # as read back from PostgreSQL
    rest, _ = run(team, 5, restored)
    assert first + rest == straight


def test_capacity_cap_skips_a_full_member_and_the_window_slides():
    team = Team("t", (Member("anna"), Member("ben")), capacity=Capacity(leads=2, days=30))
    recent = [PastAssignment("anna", NOW - timedelta(days=1)), PastAssignment("anna", NOW - timedelta(days=29))]
    a, _ = assign(team, Rotation(), recent, NOW)
    assert a.member.id == "ben"
    assert dict(a.skipped) == {"anna": "at capacity: 2 of 2 leads in 30 days"}
    older = [PastAssignment("anna", NOW - timedelta(days=31)), PastAssignment("anna", NOW - timedelta(days=40))]
    assert unavailability(team, team.members[0], older, NOW) is None  # outside the window: counted no more


def test_a_member_capacity_overrides_the_team_cap():
    team = Team("t", (Member("anna", capacity=Capacity(1, 7)), Member("ben")), capacity=Capacity(30, 30))
    picked, _ = run(team, 4)
    assert picked == ["anna", "ben", "ben", "ben"]
    assert window_days(team) == 30


def test_out_of_office_is_skipped_and_earns_no_credit():
    away = Member("cara", absences=(Absence(TODAY - timedelta(days=1), TODAY),))  # the last day is included
    team = Team("t", (Member("anna"), Member("ben"), away))
    picked, rotation = run(team, 4)
    assert "cara" not in picked
    assert rotation.credits.get("cara", 0) == 0  # back from holiday, no pile of catch-up leads
    tomorrow = NOW + timedelta(days=1)
    back, _ = run(team, 3, rotation, now=tomorrow)
    assert back.count("cara") == 1


def test_out_of_office_days_are_in_the_team_time_zone():
    late_utc = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # already the 28th in Berlin
    member = Member("anna", absences=(Absence(date(2026, 11, 28), date(2026, 11, 30)),))
    assert unavailability(Team("t", (member,), timezone="Europe/Berlin"), member, [], late_utc) is not None
    assert unavailability(Team("t", (member,)), member, [], late_utc) is None


def test_inactive_members_get_nothing():
    team = Team("t", (Member("anna", active=False), Member("ben")))
    assert run(team, 3)[0] == ["ben", "ben", "ben"]


def test_nobody_available_leaves_the_lead_unassigned_with_every_reason():
    team = Team(
        "t",
        (Member("anna", absences=(Absence(TODAY, TODAY + timedelta(days=3)),)), Member("ben", active=False)),
    )
    a, rotation = assign(team, Rotation({"anna": 1, "ben": -1}), [], NOW)
    assert a.member is None
    assert "anna: out of office until" in a.reason and "ben: inactive" in a.reason
    assert rotation.credits == {"anna": 1, "ben": -1}  # unchanged


def test_the_previous_owner_keeps_the_lead_even_at_capacity():
    team = Team("t", (Member("anna"), Member("ben")), capacity=Capacity(1, 30))
    recent = [PastAssignment("anna", NOW - timedelta(days=2))]
    a, rotation = assign(team, Rotation({"anna": -1, "ben": 1}), recent, NOW, previous_owner="anna")
    assert a.member.id == "anna" and a.kept_owner
    assert rotation.credits == {"anna": -1, "ben": 1}  # keeping an owner does not move the rotation


def test_an_absent_previous_owner_or_keep_owner_off_means_round_robin():
    away = Member("anna", absences=(Absence(TODAY, TODAY),))
    assert assign(Team("t", (away, Member("ben"))), Rotation(), [], NOW, previous_owner="anna")[0].member.id == "ben"
    team = Team("t", (Member("anna"), Member("ben")), keep_owner=False)
    a, _ = assign(team, Rotation({"anna": 0, "ben": 1}), [], NOW, previous_owner="anna")
    assert a.member.id == "ben" and not a.kept_owner


def test_members_removed_from_the_configuration_drop_out_of_the_state():
    team = Team("t", (Member("anna"), Member("ben")))
    _, rotation = assign(team, Rotation({"anna": 0, "ben": 0, "gone": 5}), [], NOW)
    assert set(rotation.credits) == {"anna", "ben"}
