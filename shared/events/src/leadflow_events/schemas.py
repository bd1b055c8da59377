"""Generates the committed JSON Schemas, the AsyncAPI 3 document and docs/events.md from the pydantic models.

``leadflow-schemas write`` regenerates them all; ``leadflow-schemas docs`` only docs/events.md;
``leadflow-schemas check`` fails when the committed files differ from what the models say;
``leadflow-schemas compat`` fails when a schema broke compatibility with the released one
(``released/vN/``) within its ``.vN`` type. CI runs check and compat through the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml

from leadflow_events.compat import compare_releases
from leadflow_events.envelope import CloudEvent
from leadflow_events.eventdocs import render_event_docs
from leadflow_events.examples import example_events, example_summary
from leadflow_events.records import PAYLOADS, encode_event
from leadflow_events.topics import HANDOVER_FEEDBACK_TOPIC, LEAD_STAGES_TOPIC, TOUCHPOINTS_TOPIC

SCHEMA_BASE = "https://leadflow.dev/schemas/"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # shared/events
SCHEMA_DIR = PACKAGE_ROOT / "schemas"
ASYNCAPI_PATH = PACKAGE_ROOT / "asyncapi.yaml"
RELEASED_DIR = PACKAGE_ROOT / "released"  # released/v1/*.schema.json: the baseline compat compares with
DOCS_PATH = PACKAGE_ROOT.parents[1] / "docs" / "events.md"
ENVELOPE_FILE = "cloudevent.schema.json"

TOPIC_OF_TYPE = {
    "leadflow.touchpoint.recorded.v1": TOUCHPOINTS_TOPIC,
    "leadflow.lead.stage_changed.v1": LEAD_STAGES_TOPIC,
    "leadflow.lead.erased.v1": LEAD_STAGES_TOPIC,
    "leadflow.handover.assigned.v1": HANDOVER_FEEDBACK_TOPIC,
    "leadflow.handover.feedback_recorded.v1": HANDOVER_FEEDBACK_TOPIC,
    "leadflow.handover.sla_breached.v1": HANDOVER_FEEDBACK_TOPIC,
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
    HANDOVER_FEEDBACK_TOPIC: (
        "Who in sales has a handover (assigned when the lead became SQL, reassigned after a missed deadline), what "
        "sales did with it - accepted, rejected with a reason, won, lost - and acceptance deadlines that passed, in "
        "order per lead. Published by the handover service; scoring moves the lead's stage (SAL, recycled to lead, "
        "customer, lost) and keeps the lead's current assignee. Key: the lead id. Dedupe on the CloudEvents `id`."
    ),
}
KEY_DOCS = {
    TOUCHPOINTS_TOPIC: "the lead key: the normalised e-mail, else `anon:<anonymous id>` (UTF-8).",
    LEAD_STAGES_TOPIC: "the lead id (UTF-8), the same as `subject` and `data.lead_id`.",
    HANDOVER_FEEDBACK_TOPIC: "the lead id (UTF-8), the same as `subject` and `data.lead_id`.",
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
    examples = example_events()
    for event_type, model in sorted(PAYLOADS.items()):
        topic = TOPIC_OF_TYPE[event_type]
        name = model.__name__
        example = examples[event_type]
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
            "bindings": {
                "kafka": {"key": {"type": "string", "description": KEY_DOCS[topic]}, "bindingVersion": "0.5.0"}
            },
            "examples": [
                {
                    "name": f"{name}Example",
                    "summary": example_summary(event_type),
                    "headers": {"content-type": "application/cloudevents+json"},
                    "payload": orjson.loads(encode_event(example)),
                }
            ],
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


def events_markdown() -> str:
    """docs/events.md, rendered from the AsyncAPI document and the schemas it references."""
    schema_files = {f"./schemas/{ENVELOPE_FILE}": envelope_schema()}
    schema_files |= {f"./schemas/{schema_file_name(t)}": s for t, s in payload_schemas().items()}
    return render_event_docs(asyncapi_document(), schema_files)


def rendered_files() -> dict[Path, str]:
    files = {SCHEMA_DIR / ENVELOPE_FILE: json.dumps(envelope_schema(), indent=2) + "\n"}
    for event_type, schema in payload_schemas().items():
        files[SCHEMA_DIR / schema_file_name(event_type)] = json.dumps(schema, indent=2) + "\n"
    files[ASYNCAPI_PATH] = yaml.safe_dump(asyncapi_document(), sort_keys=False, width=100, allow_unicode=True)
    files[DOCS_PATH] = events_markdown()
    return files


def current_schemas() -> dict[str, dict[str, Any]]:
    """The schemas the models give now, keyed by event type (``"cloudevent"`` for the envelope)."""
    return {"cloudevent": envelope_schema(), **payload_schemas()}


def released_schemas(directory: Path) -> dict[str, dict[str, Any]]:
    """The schemas committed in one release directory (e.g. ``released/v1``), keyed like ``current_schemas``."""
    return {
        path.name.removesuffix(".schema.json"): json.loads(path.read_text())
        for path in sorted(directory.glob("*.schema.json"))
    }


def compat_problems(released_dir: Path = RELEASED_DIR) -> list[str]:
    """Breaking changes of the current schemas against every release under ``released_dir``."""
    releases = sorted(d for d in released_dir.iterdir() if d.is_dir()) if released_dir.is_dir() else []
    if not releases:
        return [f"no released schemas under {released_dir}"]
    current = current_schemas()
    return [
        f"{release.name}/{problem}" for release in releases
        for problem in compare_releases(released_schemas(release), current)
    ]


def stale_files() -> list[Path]:
    return [p for p, text in rendered_files().items() if not p.exists() or p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadflow-schemas", description=__doc__)
    parser.add_argument("action", choices=["write", "check", "docs", "compat"])
    parser.add_argument("--released", type=Path, default=RELEASED_DIR, help="compat: directory of releases (vN/*.json)")
    args = parser.parse_args(argv)
    if args.action in ("write", "docs"):
        files = rendered_files() if args.action == "write" else {DOCS_PATH: events_markdown()}
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
        return 0
    if args.action == "compat":
        problems = compat_problems(args.released)
        for problem in problems:
            print(f"breaking: {problem}", file=sys.stderr)
        if not problems:
            print(f"compatible with the releases in {args.released}")
        return 1 if problems else 0
    stale = stale_files()
    for path in stale:
        print(f"out of date: {path} (run `leadflow-schemas write`)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
