"""OpenAPI descriptions of the problem-details answers (RFC 9457), with an example each."""

from __future__ import annotations

from typing import Any

from leadflow_runtime.problems import PROBLEM_JSON, TITLES

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong and what to do about it."},
        "instance": {"type": "string"},
        "errors": {
            "type": "array", "description": "For validation problems: each failing field.",
            "items": {"type": "object", "properties": {"in": {"type": "string"}, "field": {"type": "string"},
                                                       "message": {"type": "string"}}},
        },
    },
    "additionalProperties": True,
}

EXAMPLES = {
    400: "The body is not valid JSON: Expecting value: line 1 column 1 (char 0).",
    401: "Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
    403: "This API key belongs to source `website`; it cannot send touchpoints for source `partner-portal`.",
    404: "There is no source `website`; create it with POST /v1/sources or in the sources file.",
    409: "A source `website` exists already; change it with PUT /v1/sources/website.",
    413: "The request body is larger than 65536 bytes; send fewer touchpoints per request.",
    415: "Send the form as application/x-www-form-urlencoded or multipart/form-data.",
    422: "The request is invalid: email: value is not a valid e-mail address.",
    429: "Source `website` allows 600 requests a minute; try again in 1 s.",
    503: "The touchpoint was not accepted because Kafka did not acknowledge it. Send it again later.",
}

DESCRIPTIONS = {
    400: "The body cannot be parsed.",
    401: "Missing or invalid credentials (API key, admin key or provider signature).",
    403: "The credentials or the page's origin are not allowed here.",
    404: "No such source (or the source has no such endpoint).",
    409: "Conflict with the current state.",
    413: "Body too large.",
    415: "Unsupported content type.",
    422: "Invalid input; `errors` names each failing field.",
    429: "Rate limit of the source reached; retry after `Retry-After` seconds.",
    503: "A dependency (Kafka, PostgreSQL) or the feature is unavailable; retry after `Retry-After` seconds.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": DESCRIPTIONS[status],
            "content": {
                PROBLEM_JSON: {
                    "schema": PROBLEM_SCHEMA,
                    "example": {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
                                "detail": EXAMPLES[status]},
                }
            },
        }
        for status in statuses
    }


OPERATIONS_EXAMPLES = {
    ("/health/live", "get"): {"status": "pass", "checks": {}},
    ("/health/ready", "get"): {"status": "pass", "checks": {"kafka": {"status": "pass"}, "sources-file": {"status": "pass"}}},
}
METRICS_EXAMPLE = "# TYPE leadflow_ingest_touchpoints_total counter\nleadflow_ingest_touchpoints_total{type=\"form_submitted\"} 42.0\n"


def add_operations_examples(schema: dict[str, Any]) -> dict[str, Any]:
    """Examples for the operations routes the shared runtime adds (health, metrics)."""
    paths = schema.get("paths", {})
    for (path, method), example in OPERATIONS_EXAMPLES.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get("200")
        if response is not None:
            response["content"] = {"application/json": {"schema": {"type": "object"}, "example": example}}
            response.setdefault("description", "Pass (503 with the failing checks otherwise).")
    metrics = paths.get("/metrics", {}).get("get", {}).get("responses", {}).get("200")
    if metrics is not None:
        metrics["content"] = {"text/plain": {"schema": {"type": "string"}, "example": METRICS_EXAMPLE}}
    return schema
