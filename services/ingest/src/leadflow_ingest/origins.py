"""Which web pages may post to a source: the Origin (or Referer) against the source's allowed origins, and CORS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit


def request_origin(headers: Mapping[str, str]) -> str | None:
    """The page's origin: ``Origin`` when the browser sent one, else derived from ``Referer``."""
    origin = headers.get("origin")
    if origin and origin != "null":
        return origin.strip().rstrip("/").lower()
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}".lower()
    return None


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    if not origin:
        return False
    for pattern in allowed:
        if pattern == origin:
            return True
        if "://*." in pattern:
            scheme, _, host = pattern.partition("://*.")
            o_scheme, _, o_host = origin.partition("://")
            if o_scheme == scheme and o_host.endswith("." + host):
                return True
    return False


def cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Max-Age": "600",
}
