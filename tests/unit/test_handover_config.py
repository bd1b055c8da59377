"""The handover configuration file and destination configurations: parsing, errors, secrets kept apart."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from leadflow_handover.config_file import ConfigFileError, load_config, parse_config
from leadflow_handover.destinations import DESTINATION, HubSpotDestination, SlackDestination, WebhookDestination, from_storage
from leadflow_handover.domain.routing import LeadFacts, route
from leadflow_handover.settings import HandoverSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "handover" / "handover.example.yaml"
SECRET = "whsec_" + base64.b64encode(b"unit-test-secret-0123456789abcd").decode()
ENV = {
    "SALES_WEBHOOK_SECRET": SECRET, "NURTURE_WEBHOOK_SECRET": SECRET,
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/sekrit", "HUBSPOT_TOKEN": "pat-eu1-sekrit",
    "SALESFORCE_TOKEN": "00D-sekrit", "DACH_LEAD_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B2/lead",
}


def test_the_shipped_example_is_valid_and_routes_as_documented():
    config = load_config(EXAMPLE, ENV)
    assert [d.kind for d in config.destinations] == ["webhook", "slack", "hubspot", "salesforce", "slack", "webhook"]
    slack = config.destinations[1]
    assert isinstance(slack, SlackDestination) and slack.webhook_url.get_secret_value() == ENV["SLACK_WEBHOOK_URL"]
    r = config.routing
    assert set(r.teams) == {"enterprise-dach", "inbound"}
    assert r.teams["enterprise-dach"].members[0].owner_ids["hubspot"] == "52150001"
    assert r.teams["inbound"].members[1].capacity.leads == 10
    sla = r.teams["enterprise-dach"].sla
    assert (sla.accept_within.total_seconds(), sla.escalate_to, sla.reassign) == (1800, "dach-lead-slack", True)
    assert r.teams["inbound"].sla is None
    assert route(r.rules, LeadFacts("AT", 4000)).team == "enterprise-dach"
    assert route(r.rules, LeadFacts("US", 10, frozenset({"api"}))).rule == "platform-interest"
    assert route(r.rules, LeadFacts("US", 10)).team == "inbound"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("routing: {rules: [{name: r, team: nobody}]}", "routing.rules[0] (r): unknown team 'nobody'"),
        ("teams: [{name: t, members: [{id: a}]}]\nrouting: {rules: [{name: r, team: t, when: {regions: [NOWHERE]}}]}",
         "unknown region 'NOWHERE'"),
        ("teams: [{name: t, members: [{id: a, weight: 0}]}]", "teams[0].members[0].weight: Input should be greater than or equal to 1"),
        ("teams: [{name: t, members: [{id: a}, {id: a}]}]", "member ids must be unique in a team: a"),
        ("teams: [{name: t, timezone: Mars/Olympus, members: [{id: a}]}]", "unknown time zone 'Mars/Olympus'"),
        ("teams: [{name: t, members: [{id: a, out_of_office: [{from: 2026-12-02, to: 2026-12-01}]}]}]", "`to` is before `from`"),
        ("destinations: [{name: x, kind: fax, url: 'http://a'}]", "destinations[0]: kind must be one of webhook, slack, hubspot, salesforce"),
        ("destinations: [{name: x, kind: hubspot}]", "destinations[0].token: Field required"),
        ("destinations: [{name: x, kind: slack, webhook_url: 'http://a', colour: red}]", "destinations[0].colour: Extra inputs are not permitted"),
        ("destinations: [{name: X!, url: 'http://a', secrets: [a]}]", "destinations[0].name: String should match pattern"),
        ("destinations: [{name: x, kind: hubspot, token: '${NOT_SET_ANYWHERE}'}]", "destinations[0].token: environment variable NOT_SET_ANYWHERE is not set"),
        ("- just\n- a list", "expected a mapping"),
        ("teams: [", "not valid YAML"),
    ],
)
def test_errors_name_the_entry_and_field(text, message):
    with pytest.raises(ConfigFileError) as exc:
        parse_config(text, "handover.yaml", {})
    assert str(exc.value).startswith("handover.yaml: ")
    assert message in str(exc.value)


def test_a_bad_secret_is_never_echoed_in_an_error():
    text = "destinations: [{name: x, url: 'http://a', secrets: ['whsec_tooshort-but-secret']}]"
    with pytest.raises(ConfigFileError) as exc:
        parse_config(text, "f.yaml", {})
    assert "tooshort-but-secret" not in str(exc.value)
    assert "destinations[0].secrets" in str(exc.value)
    with pytest.raises(Exception) as exc2:
        HandoverSettings(handover_destinations=[{"name": "x", "url": "http://a", "secrets": ["whsec_tooshort-but-secret"]}])
    assert "tooshort-but-secret" not in str(exc2.value)


def test_the_older_environment_entries_are_webhooks():
    d = DESTINATION.validate_python({"name": "crm", "url": "https://crm.example/h", "secrets": [SECRET]})
    assert isinstance(d, WebhookDestination) and [s.value for s in d.stages] == ["sql"]


def test_secrets_are_stored_apart_and_change_the_fingerprint():
    d = DESTINATION.validate_python({"name": "hs", "kind": "hubspot", "token": "pat-1", "stages": ["mql", "sql"]})
    public, secrets = d.split()
    assert "pat-1" not in str(public) and secrets == {"token": "pat-1"}
    assert "pat-1" not in repr(d)
    again = from_storage(public, secrets)
    assert isinstance(again, HubSpotDestination) and again == d and again.fingerprint() == d.fingerprint()
    rotated = DESTINATION.validate_python({**public, "token": "pat-2"})
    assert rotated.fingerprint() != d.fingerprint()
    assert d.secret_count() == 1


def test_the_slack_target_hides_the_url():
    d = DESTINATION.validate_python({"name": "s", "kind": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/tok"})
    assert "tok" not in d.target and "hooks.slack.com" in d.target
