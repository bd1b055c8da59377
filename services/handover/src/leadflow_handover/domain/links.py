"""Signed accept / reject links: an HMAC token that names the handover, the action, the member and an expiry.

The token is the link's whole authentication, so it binds everything the link may do: a
token for accepting cannot reject, one for handover A cannot touch B, one made for the
member who had the lead stops working once the lead is reassigned (the caller compares
``member`` with the current assignee), and none works after ``expires``. Tokens are
``<expires>.<member, base64url>.<HMAC-SHA256, base64url>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

VERSION = "leadflow-feedback-link.v1"


class LinkAction(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


class InvalidLink(ValueError):
    """The token is malformed or its signature does not match: it was not made by us, or was changed."""


class ExpiredLink(ValueError):
    def __init__(self, expired_at: int) -> None:
        super().__init__(f"the link expired at {expired_at}")
        self.expired_at = expired_at


@dataclass(frozen=True, slots=True)
class LinkClaims:
    handover_id: str
    action: LinkAction
    member: str | None
    expires: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, handover_id: str, action: LinkAction, member: str | None, expires: int) -> bytes:
    message = "\n".join((VERSION, handover_id, action.value, member or "", str(expires))).encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def sign_link(secret: bytes, handover_id: str, action: LinkAction, member: str | None, expires: int) -> str:
    return f"{expires}.{_b64((member or '').encode())}.{_b64(_mac(secret, handover_id, action, member, expires))}"


def verify_link(secret: bytes, handover_id: str, action: LinkAction, token: str, now: int) -> LinkClaims:
    """The claims of a valid token; ``InvalidLink`` or ``ExpiredLink`` otherwise (the signature is checked first)."""
    try:
        expires_text, member_text, mac_text = token.split(".")
        expires = int(expires_text)
        member = _unb64(member_text).decode() or None
        presented = _unb64(mac_text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidLink("the link is malformed") from exc
    if not hmac.compare_digest(presented, _mac(secret, handover_id, action, member, expires)):
        raise InvalidLink("the link's signature does not match")
    if now >= expires:
        raise ExpiredLink(expires)
    return LinkClaims(handover_id, action, member, expires)
