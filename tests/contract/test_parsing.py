"""Parsing records as a subscriber does: typed events, and errors that say what to do."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from leadflow_events import (
    LEAD_STAGE_CHANGED_V1, TOUCHPOINT_RECORDED_V1, CloudEvent, ContractViolation, LeadStageChanged, Stage,
    UnknownEventType, decode_event, encode_event, parse_record, parse_stage_changed,
)
from leadflow_events.examples import example_events, example_lead_stage_changed, example_touchpoint_recorded
from leadflow_events.records import PAYLOADS

HEADERS = [("content-type", b"application/cloudevents+json")]


def consumer_record(value: bytes | None, headers=HEADERS, key: bytes | None = b"lead-1") -> ConsumerRecord:
    """A real aiokafka ConsumerRecord, as ``getone()`` / ``getmany()`` hand them out."""
    return ConsumerRecord(
        topic="leadflow.lead-stages", partition=0, offset=7, timestamp=0, timestamp_type=0, key=key, value=value,
        checksum=None, serialized_key_size=len(key or b""), serialized_value_size=len(value or b""),
        headers=tuple(headers),
    )


def retyped(event: CloudEvent, event_type: str) -> bytes:
    raw = orjson.loads(encode_event(event))
    raw["type"] = event_type
    return orjson.dumps(raw)


# --- versions this package does not know ---------------------------------------------------------

def test_a_newer_major_version_says_upgrade():
    value = retyped(example_lead_stage_changed(), "leadflow.lead.stage_changed.v2")
    with pytest.raises(UnknownEventType) as caught:
        decode_event(value, HEADERS)
    assert (
        "leadflow.lead.stage_changed.v2 is a newer major version than this package knows (v1); "
        "upgrade leadflow-events"
    ) in str(caught.value)
    assert caught.value.event_type == "leadflow.lead.stage_changed.v2"
    assert caught.value.newer_version is True


def test_a_newer_major_version_of_the_other_type_too():
    with pytest.raises(UnknownEventType, match=r"leadflow\.touchpoint\.recorded\.v12 is a newer major version .*\(v1\)"):
        decode_event(retyped(example_touchpoint_recorded(), "leadflow.touchpoint.recorded.v12"))


def test_the_version_message_wins_over_the_expected_types():
    record = consumer_record(retyped(example_lead_stage_changed(), "leadflow.lead.stage_changed.v2"))
    with pytest.raises(UnknownEventType, match="newer major version") as caught:
        parse_stage_changed(record)
    assert caught.value.newer_version


def test_an_older_major_version_is_not_a_reason_to_upgrade():
    with pytest.raises(UnknownEventType, match=r"stage_changed\.v0 is a major version this package does not read \(it reads v1\)") as caught:
        decode_event(retyped(example_lead_stage_changed(), "leadflow.lead.stage_changed.v0"))
    assert caught.value.newer_version is False


@pytest.mark.parametrize("event_type", ["leadflow.lead.merged.v1", "com.example.other", ""])
def test_a_type_never_known_lists_the_known_ones(event_type):
    with pytest.raises(UnknownEventType, match="unknown event type") as caught:
        decode_event(retyped(example_lead_stage_changed(), event_type))
    assert LEAD_STAGE_CHANGED_V1 in str(caught.value) and TOUCHPOINT_RECORDED_V1 in str(caught.value)
    assert caught.value.newer_version is False


def test_a_record_without_type():
    with pytest.raises(UnknownEventType, match="unknown event type None"):
        decode_event(b'{"id": "x"}')


def test_unknown_types_are_contract_violations_so_dead_letter_handlers_catch_them():
    assert issubclass(UnknownEventType, ContractViolation)


# --- parse_record / parse_stage_changed ---------------------------------------------------------

def test_parse_stage_changed_gives_a_typed_event():
    event = parse_stage_changed(consumer_record(encode_event(example_lead_stage_changed())))
    assert isinstance(event.data, LeadStageChanged)
    assert (event.data.from_stage, event.data.to_stage) == (Stage.MQL, Stage.SQL)
    assert event.subject == event.data.lead_id
    assert event == example_lead_stage_changed()


def test_parse_stage_changed_refuses_other_types_on_its_topic():
    record = consumer_record(encode_event(example_touchpoint_recorded()))
    with pytest.raises(UnknownEventType, match="not expected on this topic") as caught:
        parse_stage_changed(record)
    assert caught.value.event_type == TOUCHPOINT_RECORDED_V1


def test_parse_record_reads_any_known_type():
    for event_type, event in example_events().items():
        parsed = parse_record(consumer_record(encode_event(event)))
        assert parsed.type == event_type and parsed == event


def test_parse_record_accepts_a_duck_typed_record():
    class Record:
        value = encode_event(example_lead_stage_changed())
        headers = [("Content-Type", b"application/cloudevents+json; charset=utf-8")]

    assert parse_record(Record()).id == example_lead_stage_changed().id


@pytest.mark.parametrize(
    ("value", "headers", "message"),
    [
        (None, HEADERS, "record has no value"),  # a tombstone
        (b"{}", [("content-type", b"application/json")], "is not application/cloudevents\\+json"),  # binary mode
        (b"\x00\x01", HEADERS, "not JSON"),
    ],
)
def test_records_that_are_no_events(value, headers, message):
    with pytest.raises(ContractViolation, match=message):
        parse_record(consumer_record(value, headers))


def test_a_schema_violation_names_the_field():
    raw = orjson.loads(encode_event(example_lead_stage_changed()))
    raw["data"]["to_stage"] = "hot"
    with pytest.raises(ContractViolation, match=r"data\.to_stage"):
        parse_stage_changed(consumer_record(orjson.dumps(raw)))


# --- the compatibility promise, seen from a subscriber ------------------------------------------

def test_fields_added_later_do_not_break_this_package():
    """Within .v1 new optional fields may appear (in data and in the envelope): they are ignored or kept."""
    raw = orjson.loads(encode_event(example_lead_stage_changed()))
    raw["data"]["owner"] = {"id": "rep-7"}
    raw["data"]["lead"]["profile"]["linkedin_url"] = "https://www.linkedin.com/in/ada"
    raw["partitionkey"] = raw["subject"]  # another CloudEvents extension attribute
    event = parse_stage_changed(consumer_record(orjson.dumps(raw)))
    assert event.data == example_lead_stage_changed().data
    assert event.model_extra == {"partitionkey": raw["subject"]}


def test_every_known_type_has_an_example_that_survives_a_round_trip():
    examples = example_events()
    assert set(examples) == set(PAYLOADS)
    for event_type, event in examples.items():
        assert isinstance(event.data, PAYLOADS[event_type])
        assert decode_event(encode_event(event), HEADERS, expected=[event_type]) == event
