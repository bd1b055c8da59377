"""Builds and checks the signed accept / reject links of notifications (``domain.links`` does the signing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from leadflow_handover.domain.links import LinkAction, LinkClaims, sign_link, verify_link
from leadflow_handover.notification import Feedback


@dataclass(frozen=True)
class FeedbackLinks:
    public_url: str
    secret: bytes | None = None  # None: links are switched off, feedback comes through the API only
    ttl: timedelta = timedelta(days=7)

    @property
    def enabled(self) -> bool:
        return self.secret is not None

    def url(self, handover_id: str, action: LinkAction, member: str | None, expires: int) -> str:
        assert self.secret is not None
        token = sign_link(self.secret, handover_id, action, member, expires)
        return f"{self.public_url.rstrip('/')}/feedback/{handover_id}/{action.value}?{urlencode({'token': token})}"

    def block(self, handover_id: str, member: str | None, respond_by: datetime | None, now: datetime) -> Feedback:
        """The notification's ``feedback`` object for the member who has the lead now."""
        if not self.enabled:
            return Feedback(handover=handover_id, respond_by=respond_by)
        expires = int((now + self.ttl).timestamp())
        return Feedback(
            handover=handover_id, respond_by=respond_by,
            accept_url=self.url(handover_id, LinkAction.ACCEPT, member, expires),
            reject_url=self.url(handover_id, LinkAction.REJECT, member, expires),
            links_expire_at=datetime.fromtimestamp(expires, UTC),
        )

    def verify(self, handover_id: str, action: LinkAction, token: str, now: datetime) -> LinkClaims:
        assert self.secret is not None
        return verify_link(self.secret, handover_id, action, token, int(now.timestamp()))
