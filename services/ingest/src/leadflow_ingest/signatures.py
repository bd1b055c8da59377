"""Checks that a webhook really comes from the provider: pure functions over headers, body, secret and clock.

Each ``verify_*`` returns nothing when the request is authentic and raises
``SignatureRejected`` (with a reason a person can act on) otherwise. Digests are compared
in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from leadflow_ingest.sources import check_standard_webhooks_secret

# HubSpot signs the URI with these characters decoded (its v3 request-validation guide)
_HUBSPOT_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
    "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}


class SignatureRejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # a metric label: missing, malformed, stale, mismatch
        self.detail = detail


def _hmac(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise SignatureRejected("missing", f"The `{name}` header is missing; is the request really from the provider?")
    return value.strip()


def _timestamp(value: str, name: str, *, millis: bool) -> float:
    try:
        number = int(value)
    except ValueError:
        raise SignatureRejected("malformed", f"`{name}` must be an integer Unix time{' in ms' if millis else ''}.") from None
    return number / 1000 if millis else float(number)


def _fresh(sent_at: float, now: float, tolerance: float, name: str) -> None:
    if abs(now - sent_at) > tolerance:
        raise SignatureRejected(
            "stale",
            f"`{name}` is {abs(now - sent_at):.0f} s away from now; more than {tolerance:.0f} s is refused as a possible "
            "replay. Check the sender's and this server's clocks.",
        )


def _mismatch(provider: str) -> SignatureRejected:
    return SignatureRejected(
        "mismatch",
        f"The {provider} signature does not match the body: the source's signing secret differs from the provider's, "
        "or the body was changed on the way.",
    )


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def hubspot_signed_uri(uri: str) -> str:
    for encoded, plain in _HUBSPOT_DECODED.items():
        uri = uri.replace(encoded, plain).replace(encoded.lower(), plain)
    return uri


def verify_hubspot_v3(
    secret: str, headers: Mapping[str, str], method: str, uri: str, body: bytes, now: float, tolerance: float
) -> None:
    """``X-HubSpot-Signature-v3``: base64 HMAC-SHA256 of method + URI + body + timestamp (ms)."""
    signature = _header(headers, "x-hubspot-signature-v3")
    stamp = _header(headers, "x-hubspot-request-timestamp")
    _fresh(_timestamp(stamp, "X-HubSpot-Request-Timestamp", millis=True), now, tolerance, "X-HubSpot-Request-Timestamp")
    message = method.upper().encode() + hubspot_signed_uri(uri).encode() + body + stamp.encode()
    if not hmac.compare_digest(_hmac(secret.encode(), message), _b64(signature)):
        raise _mismatch("HubSpot")


def verify_typeform(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """``Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>``; Typeform sends no timestamp."""
    signature = _header(headers, "typeform-signature")
    scheme, _, value = signature.partition("=")
    if scheme != "sha256" or not value:
        raise SignatureRejected("malformed", "`Typeform-Signature` must look like `sha256=<base64>`.")
    if not hmac.compare_digest(_hmac(secret.encode(), body), _b64(value)):
        raise _mismatch("Typeform")


def verify_webflow(secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float) -> None:
    """``x-webflow-signature``: hex HMAC-SHA256 of ``<x-webflow-timestamp>:<body>`` (timestamp in ms)."""
    signature = _header(headers, "x-webflow-signature")
    stamp = _header(headers, "x-webflow-timestamp")
    _fresh(_timestamp(stamp, "x-webflow-timestamp", millis=True), now, tolerance, "x-webflow-timestamp")
    expected = _hmac(secret.encode(), stamp.encode() + b":" + body).hex()
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise _mismatch("Webflow")


def verify_standard_webhooks(secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float) -> None:
    """Standard Webhooks 1.0: ``webhook-signature: v1,<base64>`` (several, space-separated) over ``id.timestamp.body``."""
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    _fresh(_timestamp(stamp, "webhook-timestamp", millis=False), now, tolerance, "webhook-timestamp")
    expected = _hmac(check_standard_webhooks_secret(secret), f"{msg_id}.{stamp}.".encode() + body)
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, _b64(value)):
            return
    raise _mismatch("Standard Webhooks")
