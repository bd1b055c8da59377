"""The compatibility promise, enforced: within a `.vN` type the schemas only grow compatibly.

The released schemas are committed under shared/events/released/v1/ (the 1.0 baseline); the
schemas the models give now must not break them. The checker itself is tested on hand-made
old/new pairs: every kind of breaking change is caught, additive changes pass.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from typing import Any

import pytest

from leadflow_events import LeadStageChanged
from leadflow_events.compat import breaking_changes, compare_releases
from leadflow_events.schemas import (
    RELEASED_DIR, SCHEMA_DIR, current_schemas, envelope_schema, main, payload_schemas, released_schemas,
)


# --- the real schemas against the released ones ---------------------------------------------------

def test_released_baseline_exists():
    released = released_schemas(RELEASED_DIR / "v1")
    assert {"cloudevent", "leadflow.lead.stage_changed.v1", "leadflow.touchpoint.recorded.v1"} <= released.keys()


def test_payload_schemas_are_compatible_with_the_release():
    released = released_schemas(RELEASED_DIR / "v1")
    for event_type, schema in payload_schemas().items():
        if event_type in released:
            assert breaking_changes(released[event_type], schema, root="$.data") == [], event_type


def test_envelope_schema_is_compatible_with_the_release():
    assert breaking_changes(released_schemas(RELEASED_DIR / "v1")["cloudevent"], envelope_schema()) == []


def test_no_released_type_is_gone():
    assert compare_releases(released_schemas(RELEASED_DIR / "v1"), current_schemas()) == []


def test_the_cli_agrees(capsys):
    assert main(["compat"]) == 0
    assert "compatible" in capsys.readouterr().out


def test_the_cli_fails_on_a_breaking_change_and_names_it(tmp_path, capsys):
    """Pretend 1.0 had a touchpoint type the models no longer have."""
    release = tmp_path / "v1"
    shutil.copytree(RELEASED_DIR / "v1", release)
    path = release / "leadflow.touchpoint.recorded.v1.schema.json"
    schema = json.loads(path.read_text())
    schema["$defs"]["TouchpointType"]["enum"].append("fax_received")
    path.write_text(json.dumps(schema))
    assert main(["compat", "--released", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert 'v1/leadflow.touchpoint.recorded.v1: $.data.touchpoint_type: enum value(s) removed: "fax_received"' in err


def test_the_cli_fails_without_a_baseline(tmp_path, capsys):
    assert main(["compat", "--released", str(tmp_path)]) == 1
    assert "no released schemas" in capsys.readouterr().err


def test_committed_schemas_are_what_the_release_was_cut_from():
    """Sanity: the baseline is a copy of generated schemas (not hand-edited JSON)."""
    for path in (RELEASED_DIR / "v1").glob("*.schema.json"):
        assert (SCHEMA_DIR / path.name).exists(), path.name


# --- model changes, as a developer would make them ---------------------------------------------

def released_stage_schema() -> dict[str, Any]:
    return released_schemas(RELEASED_DIR / "v1")["leadflow.lead.stage_changed.v1"]


def test_a_new_optional_field_on_the_model_is_fine():
    class WithOwner(LeadStageChanged):
        owner: str | None = None

    assert breaking_changes(released_stage_schema(), WithOwner.model_json_schema(mode="serialization")) == []


def test_a_new_required_field_on_the_model_is_caught():
    class WithOwner(LeadStageChanged):
        owner: str

    new = WithOwner.model_json_schema(mode="serialization")
    assert breaking_changes(released_stage_schema(), new, root="$.data") == ["$.data.owner: new required property"]


# --- the checker on hand-made schemas -----------------------------------------------------------

BASE: dict[str, Any] = {
    "$defs": {
        "Stage": {"enum": ["lead", "mql", "sql"], "title": "Stage", "type": "string"},
        "Profile": {
            "type": "object",
            "properties": {
                "company": {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}], "default": None},
                "company_size": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}], "default": None},
            },
        },
    },
    "type": "object",
    "properties": {
        "lead_id": {"type": "string", "minLength": 1, "description": "The lead."},
        "from_stage": {"anyOf": [{"$ref": "#/$defs/Stage"}, {"type": "null"}]},
        "to_stage": {"$ref": "#/$defs/Stage"},
        "profile": {"$ref": "#/$defs/Profile"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string", "default": ""},
        "properties": {"type": "object", "additionalProperties": True},
        "occurred_at": {"type": "string", "format": "date-time"},
    },
    "required": ["lead_id", "from_stage", "to_stage", "occurred_at"],
}


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def props(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["properties"]


BREAKING: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("removed property", lambda s: props(s).pop("note"), "$.note: property removed"),
    ("removed nested property", lambda s: s["$defs"]["Profile"]["properties"].pop("company"),
     "$.profile.company: property removed"),
    ("property became required", lambda s: s["required"].append("note"), "$.note: became required"),
    ("new required property", lambda s: (props(s).update(owner={"type": "string"}), s["required"].append("owner")),
     "$.owner: new required property"),
    ("required without a definition", lambda s: s["required"].append("owner"), "$.owner: new required property"),
    ("required no longer", lambda s: s["required"].remove("lead_id"),
     "$.lead_id: no longer required (subscribers may stop receiving it)"),
    ("changed type", lambda s: props(s)["lead_id"].update(type="integer"),
     "$.lead_id: type changed from string to integer"),
    ("changed type in an array", lambda s: props(s)["tags"]["items"].update(type="integer"),
     "$.tags[]: type changed from string to integer"),
    ("became nullable", lambda s: props(s).update(lead_id={"anyOf": [{"type": "string"}, {"type": "null"}]}),
     "$.lead_id: type changed from string to null | string"),
    ("no longer nullable", lambda s: s["$defs"]["Profile"]["properties"].update(company={"type": "string"}),
     "$.profile.company: type changed from null | string to string"),
    ("object became a string", lambda s: props(s).update(profile={"type": "string"}),
     "$.profile: type changed from object to string"),
    ("removed enum value (seen through $ref and anyOf)", lambda s: s["$defs"]["Stage"]["enum"].remove("sql"),
     '$.from_stage: enum value(s) removed: "sql"'),
    ("enum imposed", lambda s: props(s)["note"].update(enum=["a", "b"]),
     '$.note: values restricted to the enum ["a", "b"]'),
    ("maxLength lowered", lambda s: s["$defs"]["Profile"]["properties"]["company"]["anyOf"][0].update(maxLength=50),
     "$.profile.company: maxLength lowered from 100 to 50"),
    ("maxLength added", lambda s: props(s)["note"].update(maxLength=500), "$.note: maxLength added: 500"),
    ("minimum raised", lambda s: s["$defs"]["Profile"]["properties"]["company_size"]["anyOf"][0].update(minimum=1),
     "$.profile.company_size: minimum raised from 0 to 1"),
    ("minLength raised", lambda s: props(s)["lead_id"].update(minLength=36), "$.lead_id: minLength raised from 1 to 36"),
    ("minItems added", lambda s: props(s)["tags"].update(minItems=1), "$.tags: minItems added: 1"),
    ("pattern added", lambda s: props(s)["lead_id"].update(pattern="^[0-9a-f-]+$"),
     '$.lead_id: pattern added: "^[0-9a-f-]+$"'),
    ("format changed", lambda s: props(s)["occurred_at"].update(format="date"),
     '$.occurred_at: format changed from "date-time" to "date"'),
    ("uniqueItems switched on", lambda s: props(s)["tags"].update(uniqueItems=True), "$.tags: uniqueItems switched on"),
    ("additional properties closed", lambda s: props(s)["properties"].update(additionalProperties=False),
     "$.properties: additional properties no longer allowed"),
    ("free values typed", lambda s: props(s)["properties"].update(additionalProperties={"type": "string"}),
     "$.properties.*: type changed from any to string"),
]


@pytest.mark.parametrize(("edit", "expected"), [(e, x) for _, e, x in BREAKING], ids=[n for n, _, _ in BREAKING])
def test_breaking_changes_are_caught(edit, expected):
    problems = breaking_changes(BASE, changed(edit))
    assert expected in problems, problems


def test_a_shared_definition_is_reported_at_every_use():
    problems = breaking_changes(BASE, changed(lambda s: s["$defs"]["Stage"]["enum"].remove("sql")))
    assert problems == ['$.from_stage: enum value(s) removed: "sql"', '$.to_stage: enum value(s) removed: "sql"']


ALLOWED: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("nothing changed", lambda s: None),
    ("new optional property", lambda s: props(s).update(owner={"anyOf": [{"type": "string"}, {"type": "null"}]})),
    ("new optional nested property", lambda s: s["$defs"]["Profile"]["properties"].update(phone={"type": "string"})),
    ("new enum value", lambda s: s["$defs"]["Stage"]["enum"].append("customer")),
    ("maxLength raised", lambda s: s["$defs"]["Profile"]["properties"]["company"]["anyOf"][0].update(maxLength=255)),
    ("maxLength dropped", lambda s: s["$defs"]["Profile"]["properties"]["company"]["anyOf"][0].pop("maxLength")),
    ("minLength dropped", lambda s: props(s)["lead_id"].pop("minLength")),
    ("format dropped", lambda s: props(s)["occurred_at"].pop("format")),
    ("docs changed", lambda s: props(s)["lead_id"].update(description="The lead's id.", title="Lead", examples=["l1"])),
    ("default changed", lambda s: props(s)["note"].update(default="n/a")),
    ("definition renamed", lambda s: (s["$defs"].update(FunnelStage=s["$defs"].pop("Stage")),
                                      props(s).update(to_stage={"$ref": "#/$defs/FunnelStage"}),
                                      props(s).update(from_stage={"anyOf": [{"$ref": "#/$defs/FunnelStage"}, {"type": "null"}]}))),
    ("definition inlined", lambda s: props(s).update(to_stage={"enum": ["lead", "mql", "sql"], "type": "string"})),
]


@pytest.mark.parametrize("edit", [e for _, e in ALLOWED], ids=[n for n, _ in ALLOWED])
def test_additive_changes_are_allowed(edit):
    assert breaking_changes(BASE, changed(edit)) == []


def test_several_problems_are_all_reported_with_the_given_root():
    def edit(s: dict[str, Any]) -> None:
        props(s).pop("note")
        s["$defs"]["Stage"]["enum"].remove("mql")
        props(s)["lead_id"]["type"] = "integer"

    problems = breaking_changes(BASE, changed(edit), root="$.data")
    assert problems == [
        "$.data.lead_id: type changed from string to integer",
        '$.data.from_stage: enum value(s) removed: "mql"',
        '$.data.to_stage: enum value(s) removed: "mql"',
        "$.data.note: property removed",
    ]


def test_recursive_definitions_terminate_and_are_checked():
    def tree(child_type: str) -> dict[str, Any]:
        return {
            "$defs": {"Node": {"type": "object", "properties": {
                "name": {"type": child_type},
                "child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
            }}},
            "$ref": "#/$defs/Node",
        }

    assert breaking_changes(tree("string"), tree("string")) == []
    assert breaking_changes(tree("string"), tree("integer")) == ["$.name: type changed from string to integer"]


def test_a_removed_event_type_is_breaking_a_new_one_is_not():
    released = {"cloudevent": {}, "leadflow.a.v1": BASE}
    assert compare_releases(released, {"cloudevent": {}, "leadflow.a.v1": BASE, "leadflow.a.v2": {}}) == []
    assert compare_releases(released, {"cloudevent": {}}) == [
        "leadflow.a.v1: the released event type is gone (keep it, or retire it deliberately)"
    ]


def test_unresolvable_refs_are_an_error_not_a_pass():
    with pytest.raises(ValueError, match="points nowhere"):
        breaking_changes({"$ref": "#/$defs/Missing"}, {"type": "object"})
