"""Handover killed between sending and recording: the same webhook-id again, never a second handover."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from tests.support.processes import ServiceProcess
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.faults
SECRET = "whsec_" + base64.b64encode(b"fault-test-secret-0123456789abcd").decode()


def wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_kill_handover_while_the_receiver_is_answering(fresh_env):
    with WebhookReceiver() as receiver:
        receiver.delays.extend([3.0])  # the first delivery stalls: handover is killed while waiting for the answer
        env = {
            **fresh_env.env,
            "LEADFLOW_HANDOVER_DESTINATIONS": json.dumps([{"name": "crm", "url": receiver.url, "secrets": [SECRET]}]),
            "LEADFLOW_HANDOVER_LEASE_SECONDS": "4",
        }
        procs = [ServiceProcess("ingest", env).start(), ServiceProcess("scoring", env).start()]
        handover = ServiceProcess("handover", env, name="handover-1").start()
        try:
            r = httpx.post(f"{procs[0].url}/v1/touchpoints", json={
                "type": "demo_requested", "email": "cfo@bigbank.example",
                "profile": {"job_title": "CFO", "company_size": 9000},
            }, timeout=10)
            assert r.status_code == 202
            assert wait(lambda: len(receiver.arrivals) >= 1), "the first delivery never arrived"
            handover.kill()  # between sending and recording the outcome
            handover = ServiceProcess("handover", env, name="handover-2").start()
            assert wait(lambda: len(receiver.snapshot()) >= 2, timeout=30), "the delivery was not resumed"
            time.sleep(2)
            deliveries = httpx.get(f"{handover.url}/v1/deliveries", timeout=5).json()
        finally:
            handover.stop()
            for p in procs:
                p.stop()
    ids = {h["webhook-id"] for h, _ in receiver.arrivals}
    assert len(ids) == 1, f"more than one handover for one lead: {ids}"
    assert len(receiver.arrivals) >= 2  # sent again after the crash, with the same id
    assert len(deliveries) == 1
    assert deliveries[0]["status"] == "succeeded" and deliveries[0]["id"] in ids
    print(f"handover crash: requests={len(receiver.arrivals)} distinct webhook-ids={len(ids)}")
