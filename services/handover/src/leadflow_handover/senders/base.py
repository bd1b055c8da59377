"""What every sender shares: the attempt it gets, the outcome it returns, and timed HTTP calls."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from leadflow_handover.domain.retry import parse_retry_after

EXCERPT = 500


@dataclass(frozen=True)
class Attempt:
    delivery_id: str  # also the webhook-id
    payload: dict[str, Any]  # the stored leadflow.handover.v1 notification
    progress: dict[str, Any] = field(default_factory=dict)  # steps finished by earlier attempts
    traceparent: str | None = None  # the attempt's span, passed on to the receiver


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the status of the last (or failing) response; None when none came
    error: str | None
    excerpt: str | None
    retry_after: float | None
    duration: float
    throttled: bool = False  # "slow down" said with another status (Salesforce 403 REQUEST_LIMIT_EXCEEDED)
    permanent: bool = False  # can never succeed as it is: do not retry
    progress: dict[str, Any] | None = None  # the steps finished now, to store with the attempt


class Sender(Protocol):
    async def send(self, attempt: Attempt) -> Outcome: ...


class StepFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


class Calls:
    """Timed HTTP calls of one attempt; a transport error or a non-2xx answer raises ``StepFailed``."""

    def __init__(self, client: httpx.AsyncClient, traceparent: str | None = None) -> None:
        self.client = client
        self.t0 = time.perf_counter()
        self.last: httpx.Response | None = None
        self.trace_headers = {"traceparent": traceparent} if traceparent else {}

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    async def request(self, step: str, method: str, url: str, *, ok: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        """``ok`` lists non-2xx statuses the caller handles itself (e.g. a 409 or a 404)."""
        if self.trace_headers:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), **self.trace_headers}
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise StepFailed(Outcome(None, f"{step}: {type(exc).__name__}: {exc}"[:EXCERPT], None, None, self.elapsed())) from None
        self.last = response
        if response.is_success or response.status_code in ok:
            return response
        raise self.failed(step, response)

    def failed(self, step: str, response: httpx.Response, detail: str | None = None, *,
               throttled: bool = False, permanent: bool = False) -> StepFailed:
        why = detail or summary(response)
        return StepFailed(Outcome(
            response.status_code, f"{step}: {response.status_code} {why}"[:EXCERPT], response.text[:EXCERPT],
            parse_retry_after(response.headers.get("retry-after")), self.elapsed(), throttled=throttled, permanent=permanent,
        ))

    def succeeded(self, progress: dict[str, Any] | None = None) -> Outcome:
        r = self.last
        return Outcome(r.status_code if r else None, None, r.text[:EXCERPT] if r else None, None, self.elapsed(), progress=progress)


def summary(response: httpx.Response) -> str:
    """The receiver's own words for an error: HubSpot's ``message``, Salesforce's ``errorCode: message``, or text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        code = body.get("errorCode") or body.get("category") or body.get("errorType")
        message = body.get("message") or body.get("error") or ""
        return f"{code}: {message}" if code else str(message) or response.reason_phrase
    return response.reason_phrase


def with_progress(outcome: Outcome, progress: dict[str, Any]) -> Outcome:
    return replace(outcome, progress=progress)
