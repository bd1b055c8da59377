"""Generates the committed JSON Schemas and the AsyncAPI 3 document from the pydantic models.

``leadflow-schemas write`` regenerates them; ``leadflow-schemas check`` fails when the
committed files differ from what the models say (CI runs the check through the tests).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from leadflow_events.envelope import CloudEvent
from leadflow_events.records import PAYLOADS
from leadflow_events.topics import LEAD_STAGES_TOPIC, TOUCHPOINTS_TOPIC

SCHEMA_BASE = "https://leadflow.dev/schemas/"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # shared/events
SCHEMA_DIR = PACKAGE_ROOT / "schemas"
ASYNCAPI_PATH = PACKAGE_ROOT / "asyncapi.yaml"

TOPIC_OF_TYPE = {
    "leadflow.touchpoint.recorded.v1": TOUCHPOINTS_TOPIC,
    "leadflow.lead.stage_changed.v1": LEAD_STAGES_TOPIC,
}
TOPIC_DOCS = {
    TOUCHPOINTS_TOPIC: (
        "Touchpoints accepted by ingest. Key: the lead key (normalised e-mail, else `anon:<anonymous id>`), "
        "so all touchpoints of one lead are in one partition, in order."
    ),
    LEAD_STAGES_TOPIC: (
        "One event per stage change of a lead, in order per lead. Key: the lead id. "
        "Delivery is at least once: dedupe on the CloudEvents `id`."
    ),
}


def schema_file_name(event_type: str) -> str:
    return f"{event_type}.schema.json"


def payload_schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for event_type, model in sorted(PAYLOADS.items()):
        schema = model.model_json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = SCHEMA_BASE + schema_file_name(event_type)
        out[event_type] = schema
    return out


def envelope_schema() -> dict[str, Any]:
    from pydantic import BaseModel

    class AnyData(BaseModel):
        pass

    schema = CloudEvent[AnyData].model_json_schema(mode="serialization")
    schema["title"] = "CloudEvent"
    schema["properties"]["data"] = {"type": "object", "description": "The payload of `type`."}
    schema.pop("$defs", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_BASE + "cloudevent.schema.json"
    return schema


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, model in sorted(PAYLOADS.items()):
        topic = TOPIC_OF_TYPE[event_type]
        name = model.__name__
        messages[name] = {
            "name": event_type,
            "title": name,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else event_type,
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {"content-type": {"type": "string", "const": "application/cloudevents+json"}},
            },
            "payload": {
                "allOf": [
                    {"$ref": "./schemas/cloudevent.schema.json"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event_type},
                            "data": {"$ref": f"./schemas/{schema_file_name(event_type)}"},
                        },
                    },
                ]
            },
        }
        channel_id = topic.replace(".", "_").replace("-", "_")
        channel = channels.setdefault(
            channel_id,
            {"address": topic, "description": TOPIC_DOCS[topic], "messages": {}},
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        operations[f"receive_{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Leadflow events",
            "version": "1.0.0",
            "description": (
                "Topics and events of Leadflow. Events are CloudEvents 1.0 in structured mode. "
                "Within a `.vN` type only additive, optional changes are made."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "LEADFLOW_KAFKA_BOOTSTRAP"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered_files() -> dict[Path, str]:
    files = {SCHEMA_DIR / "cloudevent.schema.json": json.dumps(envelope_schema(), indent=2) + "\n"}
    for event_type, schema in payload_schemas().items():
        files[SCHEMA_DIR / schema_file_name(event_type)] = json.dumps(schema, indent=2) + "\n"
    files[ASYNCAPI_PATH] = yaml.safe_dump(asyncapi_document(), sort_keys=False, width=100)
    return files


def stale_files() -> list[Path]:
    return [p for p, text in rendered_files().items() if not p.exists() or p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadflow-schemas", description=__doc__)
    parser.add_argument("action", choices=["write", "check"])
    args = parser.parse_args(argv)
    if args.action == "write":
        SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
        for path, text in rendered_files().items():
            path.write_text(text)
            print(f"wrote {path}")
        return 0
    stale = stale_files()
    for path in stale:
        print(f"out of date: {path} (run `leadflow-schemas write`)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
