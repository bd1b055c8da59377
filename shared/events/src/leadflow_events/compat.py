"""Is a new JSON Schema of an event still compatible with the released one?

Within a ``.vN`` event type, subscribers built against the released schema must keep
working, and new subscribers must still read the old events kept on the topic. So these
changes are **breaking** (they need a new major version, ``.v(N+1)``):

- a property removed, or a required property no longer required (subscribers may stop getting it);
- a property that became required, or a new property that is required;
- a changed type (this includes becoming nullable or no longer nullable);
- an enum value removed, an enum or a ``const`` imposed where there was none, a ``const`` changed;
- a narrowed constraint: a lower bound (``minimum``, ``minLength``, ``minItems``, ...) added or
  raised, an upper bound (``maximum``, ``maxLength``, ...) added or lowered, a ``pattern``,
  ``format`` or ``multipleOf`` added or changed, ``uniqueItems`` switched on, additional
  properties closed.

These are **allowed**: new optional properties, new enum values, loosened constraints,
and changed titles, descriptions, defaults and examples.

``breaking_changes(old, new)`` compares two schemas and names each problem by its JSON path
(``$.lead.profile.company_size: maximum added: 100000``). Local ``$ref``s (``#/$defs/...``)
are resolved in each schema's own root.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
EXACT = ("pattern", "format", "multipleOf", "const")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def breaking_changes(old_schema: Schema, new_schema: Schema, *, root: str = "$") -> list[str]:
    """Every breaking change from ``old_schema`` to ``new_schema``; empty when compatible."""
    comparison = _Comparison(old_schema, new_schema)
    comparison.compare(old_schema, new_schema, root)
    return comparison.problems


def compare_releases(released: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[str]:
    """Compare schema sets keyed by event type (``"cloudevent"`` for the envelope).

    A released type that is gone is breaking; a new type is not. Payload paths start at
    ``$.data`` (where the payload sits in the event), envelope paths at ``$``.
    """
    problems = []
    for name, old in sorted(released.items()):
        if name not in current:
            problems.append(f"{name}: the released event type is gone (keep it, or retire it deliberately)")
            continue
        root = "$" if name == "cloudevent" else "$.data"
        problems += [f"{name}: {problem}" for problem in breaking_changes(old, current[name], root=root)]
    return problems


def json_type(value: Any) -> str:
    """The JSON Schema type name of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if _IDENTIFIER.match(name) else f"{path}[{json.dumps(name)}]"


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root, self.new_root = old_root, new_root
        self.problems: list[str] = []
        self.active: set[tuple[str | None, str | None]] = set()  # pairs of $refs being compared (recursion guard)

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        old, old_ref = resolve(old, self.old_root)
        new, new_ref = resolve(new, self.new_root)
        refs = (old_ref, new_ref)
        if refs in self.active:
            return  # a recursive definition: its changes are reported at the outer level already
        if old_ref or new_ref:
            self.active.add(refs)
        try:
            self.compare_resolved(old, new, path)
        finally:
            self.active.discard(refs)

    def compare_resolved(self, old: Schema, new: Schema, path: str) -> None:
        old_types, new_types = types(old, self.old_root), types(new, self.new_root)
        if old_types != new_types:
            self.report(path, f"type changed from {_types_label(old_types)} to {_types_label(new_types)}")
            return  # the details below would only repeat it
        self.compare_enum(old, new, path)
        self.compare_constraints(old, new, path)
        self.compare_properties(old, new, path)
        if "items" in old or "items" in new:
            self.compare(_as_schema(old.get("items", True)), _as_schema(new.get("items", True)), f"{path}[]")
        for keyword in ("anyOf", "oneOf", "allOf"):
            self.compare_alternatives(keyword, old, new, path)

    def report(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def compare_enum(self, old: Schema, new: Schema, path: str) -> None:
        if "enum" not in new:
            return  # no enum (any longer): widened, fine
        if "enum" not in old:
            self.report(path, f"values restricted to the enum {_show(new['enum'])}")
            return
        removed = [value for value in old["enum"] if value not in new["enum"]]
        if removed:
            self.report(path, "enum value(s) removed: " + ", ".join(_show(v) for v in removed))

    def compare_constraints(self, old: Schema, new: Schema, path: str) -> None:
        for keyword in LOWER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                self.report(path, _narrowed(keyword, old, new, "raised"))
        for keyword in UPPER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                self.report(path, _narrowed(keyword, old, new, "lowered"))
        for keyword in EXACT:
            if keyword in new and (keyword not in old or new[keyword] != old[keyword]):
                self.report(path, _narrowed(keyword, old, new, "changed"))
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            self.report(path, "uniqueItems switched on")

    def compare_properties(self, old: Schema, new: Schema, path: str) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name, old_prop in old_props.items():
            where = _child(path, name)
            if name not in new_props:
                self.report(where, "property removed")
                continue
            if name in new_required and name not in old_required:
                self.report(where, "became required")
            elif name in old_required and name not in new_required:
                self.report(where, "no longer required (subscribers may stop receiving it)")
            self.compare(old_prop, new_props[name], where)
        for name in sorted(new_required - old_props.keys()):
            if name not in old_required:
                self.report(_child(path, name), "new required property")
        old_extra, new_extra = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            self.report(path, "additional properties no longer allowed")
        elif old_extra is not False and (isinstance(old_extra, Mapping) or isinstance(new_extra, Mapping)):
            self.compare(_as_schema(old_extra), _as_schema(new_extra), f"{path}.*")  # e.g. dict[str, int] values

    def compare_alternatives(self, keyword: str, old: Schema, new: Schema, path: str) -> None:
        """Pair the non-null alternatives by position (their types were compared already)."""
        old_alts = [a for a in old.get(keyword, []) if not self.is_null(a, self.old_root)]
        new_alts = [a for a in new.get(keyword, []) if not self.is_null(a, self.new_root)]
        if len(old_alts) != len(new_alts):
            if old_alts or new_alts:
                self.report(path, f"{keyword} alternatives changed from {len(old_alts)} to {len(new_alts)}")
            return
        for old_alt, new_alt in zip(old_alts, new_alts):
            self.compare(old_alt, new_alt, path)

    @staticmethod
    def is_null(schema: Schema, root: Schema) -> bool:
        return types(resolve(schema, root)[0], root) == frozenset({"null"})


def resolve(schema: Schema, root: Schema) -> tuple[Schema, str | None]:
    """Follow local ``$ref``s (``#/$defs/Name``); keywords beside a ``$ref`` are kept. Returns the last ref too."""
    ref = None
    seen: set[str] = set()
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            raise ValueError(f"cannot resolve $ref {ref!r} (only local, non-circular references are supported)")
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise ValueError(f"$ref {ref!r} points nowhere")
            target = target[part]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings}
    return schema, ref


def types(schema: Schema, root: Schema) -> frozenset[str] | None:
    """The JSON types a schema admits; None when it admits any value."""
    schema = resolve(schema, root)[0]
    if "type" in schema:
        declared = schema["type"]
        return frozenset(declared if isinstance(declared, list) else [declared])
    if "const" in schema:
        return frozenset({json_type(schema["const"])})
    if "enum" in schema:
        return frozenset(json_type(value) for value in schema["enum"])
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            parts = [types(alt, root) for alt in schema[keyword]]
            return None if any(p is None for p in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
    if "allOf" in schema:
        known = [p for p in (types(part, root) for part in schema["allOf"]) if p is not None]
        return frozenset.intersection(*known) if known else None
    return None


def _as_schema(value: Any) -> Schema:
    """``true`` (anything) as the empty schema; schemas as they are."""
    return value if isinstance(value, Mapping) else {}


def _types_label(found: frozenset[str] | None) -> str:
    return "any" if found is None else " | ".join(sorted(found))


def _narrowed(keyword: str, old: Schema, new: Schema, verb: str) -> str:
    if keyword not in old:
        return f"{keyword} added: {_show(new[keyword])}"
    return f"{keyword} {verb} from {_show(old[keyword])} to {_show(new[keyword])}"
