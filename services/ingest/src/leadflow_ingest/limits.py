"""Request body limits (Starlette sets none): 413 problem details before the body is read in full."""

from __future__ import annotations

from typing import Any

import orjson

from leadflow_runtime.problems import PROBLEM_JSON


class BodyLimitMiddleware:
    def __init__(self, app, *, default_limit: int, limits: dict[str, int], suffix_limits: dict[str, int] | None = None,  # type: ignore[no-untyped-def]
                 advice: dict[str, str] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits
        self.suffix_limits = suffix_limits or {}
        self.advice = advice or {}

    def limit_for(self, path: str) -> int:
        if path in self.limits:
            return self.limits[path]
        for suffix, limit in self.suffix_limits.items():
            if path.endswith(suffix):
                return limit
        return self.default_limit

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._reject(send, scope["path"], limit)
                    return
        if declared is None and limit <= BUFFER_UNDECLARED_UP_TO:
            # No Content-Length (a chunked body): read it here, up to the limit. An exception raised while a route
            # reads its body would be turned into a 400 by the framework, not the 413 this is.
            body, within, _ = await read_body(receive, limit)
            if not within:
                await self._reject(send, scope["path"], limit)
                return
            await self.app(scope, replay_body(body, receive), send)
            return
        received = 0

        async def limited_receive():  # type: ignore[no-untyped-def]
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(send, scope["path"], limit)

    async def _reject(self, send, path: str, limit: int) -> None:  # type: ignore[no-untyped-def]
        advice = self.advice.get(path, "send fewer touchpoints per request")
        body = orjson.dumps({
            "type": "https://leadflow.dev/problems/body-too-large", "title": "Content Too Large", "status": 413,
            "detail": f"The request body is larger than {limit} bytes; {advice}.",
            "instance": path, "limit_bytes": limit,
        })
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


BUFFER_UNDECLARED_UP_TO = 4 * 1024 * 1024  # larger limits (CSV imports) are enforced while the route reads


async def read_body(receive: Any, limit: int) -> tuple[bytes, bool, bool]:
    """``(body, within the limit, more to come)``: reading stops as soon as the body is past ``limit``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
        if size > limit:
            return b"".join(chunks), False, more
        if not more:
            break
    return b"".join(chunks), True, False


def replay_body(body: bytes, receive: Any, *, more: bool = False) -> Any:
    """An ASGI ``receive`` that yields the body read already (``more``: the request goes on), then the rest."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay
