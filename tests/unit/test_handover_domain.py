"""Signing and retry decisions, checked against the independent Standard Webhooks library."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks import Webhook

from leadflow_handover.domain.retry import DEFAULT_SCHEDULE, Verdict, decide, parse_retry_after
from leadflow_handover.domain.signing import InvalidSecret, sign, signed_headers

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()


def test_signature_verifies_with_the_reference_library():
    import time

    now = int(time.time())
    body = b'{"lead": "x"}'
    headers = signed_headers("msg_1", now, body, [SECRET])
    assert Webhook(SECRET).verify(body, headers) == {"lead": "x"}


def test_rotation_signs_with_every_active_secret():
    import time

    now = int(time.time())
    header = sign("msg_1", now, b"{}", [OTHER, SECRET])
    assert len(header.split(" ")) == 2
    Webhook(SECRET).verify(b"{}", {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": header})


def test_tampered_body_fails_verification():
    import time

    from standardwebhooks.webhooks import WebhookVerificationError

    now = int(time.time())
    headers = signed_headers("msg_1", now, b'{"a":1}', [SECRET])
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b'{"a":2}', headers)


def test_short_secret_is_refused():
    with pytest.raises(InvalidSecret):
        sign("m", 1, b"", ["whsec_" + base64.b64encode(b"short").decode()])


@pytest.mark.parametrize(
    ("attempt", "status", "verdict", "delay"),
    [
        (1, 200, Verdict.SUCCEEDED, 0),
        (1, 204, Verdict.SUCCEEDED, 0),
        (1, 500, Verdict.RETRY, 5),
        (2, 500, Verdict.RETRY, 300),
        (1, None, Verdict.RETRY, 5),
        (1, 400, Verdict.FAILED, 0),
        (1, 404, Verdict.FAILED, 0),
        (1, 410, Verdict.DISABLE, 0),
        (len(DEFAULT_SCHEDULE), 500, Verdict.FAILED, 0),
    ],
)
def test_retry_decisions(attempt, status, verdict, delay):
    decision = decide(attempt, status)
    assert decision.verdict is verdict
    assert decision.delay == delay


def test_retry_after_is_honoured_for_429_and_503():
    assert decide(1, 429, retry_after=42).delay == 42
    assert decide(1, 503, retry_after=120).delay == 120
    assert decide(1, 500, retry_after=120).delay == 5  # only "slow down" answers carry Retry-After


def test_parse_retry_after():
    assert parse_retry_after("7") == 7
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None


def test_a_throttle_said_with_another_status_is_retried_like_a_429():
    # Salesforce says "slow down" as 403 REQUEST_LIMIT_EXCEEDED
    assert decide(1, 403).verdict is Verdict.FAILED
    throttled = decide(1, 403, retry_after=30, throttled=True)
    assert throttled.verdict is Verdict.RETRY and throttled.delay == 30
    assert decide(len(DEFAULT_SCHEDULE), 403, throttled=True).verdict is Verdict.FAILED  # the schedule still ends


def test_permanent_outcomes_fail_at_once_but_410_still_disables():
    assert decide(1, 300, permanent=True).verdict is Verdict.FAILED
    assert decide(1, None, permanent=True).verdict is Verdict.FAILED
    assert decide(1, 410, permanent=True).verdict is Verdict.DISABLE


def test_a_replay_restarts_the_schedule():
    # the dispatcher passes attempts made since the replay; 8 earlier attempts do not count
    attempts, retry_base = 9, 8
    decision = decide(attempts - retry_base, 500)
    assert decision.verdict is Verdict.RETRY and decision.delay == DEFAULT_SCHEDULE[1]
