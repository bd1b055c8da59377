"""Turns named fields (a form post, a provider's answers) into a touchpoint, through the source's field mapping.

Lookup order for a field: the source's mapping (exact name, then normalised name), the
provider's default for it, the well-known names below, else ``properties.<name>``.
Values that do not fit a profile field (``company_size: "50-200"``) are kept as properties
rather than failing a submission a person already made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from leadflow_runtime.problems import Problem

from leadflow_ingest.contracts import TouchpointIn
from leadflow_ingest.sources import PROFILE_FIELDS, Source

MAX_PROPERTIES = 50
MAX_PROPERTY_TEXT = 2048

WELL_KNOWN = {
    "email": "email", "e_mail": "email", "email_address": "email", "emailaddress": "email", "mail": "email",
    "anonymous_id": "anonymous_id",
    "firstname": "profile.first_name", "given_name": "profile.first_name", "vorname": "profile.first_name",
    "lastname": "profile.last_name", "surname": "profile.last_name", "family_name": "profile.last_name",
    "nachname": "profile.last_name",
    "company_name": "profile.company", "organisation": "profile.company", "organization": "profile.company",
    "firma": "profile.company",
    "jobtitle": "profile.job_title", "position": "profile.job_title", "role": "profile.job_title",
    "numemployees": "profile.company_size", "employees": "profile.company_size", "number_of_employees": "profile.company_size",
    "phone_number": "profile.phone", "mobilephone": "profile.phone", "telephone": "profile.phone", "tel": "profile.phone",
    **{f: f"profile.{f}" for f in PROFILE_FIELDS},
    **{f"profile.{f}": f"profile.{f}" for f in PROFILE_FIELDS},
}  # never `type` or `occurred_at`: a web page must not choose what its post is worth


def normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def target_for(name: str, source: Source, defaults: Mapping[str, str]) -> str:
    mapping = source.field_mapping
    if name in mapping:
        return mapping[name]
    norm = normalise(name)
    if norm in mapping:
        return mapping[norm]
    if name in defaults:
        return defaults[name]
    if norm in WELL_KNOWN:
        return WELL_KNOWN[norm]
    if norm.startswith("properties."):
        norm = norm.removeprefix("properties.")
    return "properties." + (re.sub(r"[^a-z0-9_.-]", "", norm)[:64] or "field")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping):
        return None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v is not None)
    text = str(value).strip()
    return text or None


def _property(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_PROPERTY_TEXT]
    if isinstance(value, list):
        return [_property(v) for v in value[:50]]
    return value


def build_touchpoint(
    fields: Mapping[str, Any],
    source: Source,
    *,
    defaults: Mapping[str, str] | None = None,
    occurred_at: datetime | None = None,
    properties: Mapping[str, Any] | None = None,
    event_id: str | None = None,
    anonymous_id: str | None = None,
) -> TouchpointIn:
    """Raises a 422 ``Problem`` naming the provider's field when the result is not a valid touchpoint."""
    doc: dict[str, Any] = {"type": source.touchpoint_type.value, "source_id": source.id, "profile": {}}
    props: dict[str, Any] = dict(properties or {})
    origin_of: dict[str, str] = {}
    for name, value in fields.items():
        if value is None or value == "" or value == []:
            continue
        target = target_for(name, source, defaults or {})
        if target == "ignore":
            continue
        head, _, tail = target.partition(".")
        if head == "properties":
            props[tail] = _property(value)
            continue
        text = _text(value)
        if text is None:
            continue
        if head == "profile":
            if tail == "company_size":
                digits = text.replace(",", "").replace(".", "").replace(" ", "")
                if not digits.isdigit():
                    props["company_size"] = text[:MAX_PROPERTY_TEXT]
                    continue
                doc["profile"][tail] = int(digits)
            elif tail == "country" and len(text) != 2:
                props["country"] = text[:MAX_PROPERTY_TEXT]
                continue
            else:
                doc["profile"][tail] = text
            origin_of[target] = name
        else:
            doc[target] = text
            origin_of[target] = name
    if anonymous_id and "anonymous_id" not in doc:
        doc["anonymous_id"] = anonymous_id
    if occurred_at and "occurred_at" not in doc:
        doc["occurred_at"] = occurred_at
    if event_id:
        doc["event_id"] = event_id
    doc["properties"] = dict(list(props.items())[:MAX_PROPERTIES])
    try:
        return TouchpointIn.model_validate(doc)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ())) or "<root>"
            sent_as = origin_of.get(field)
            errors.append({"in": "body", "field": sent_as or field, "maps_to": field, "message": err.get("msg", "invalid")})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise Problem(
            422, f"The submission cannot be recorded: {summary}.", type_="https://leadflow.dev/problems/validation",
            errors=errors,
        ) from None
