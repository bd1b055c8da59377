"""Request body limits (Starlette sets none): 413 problem details before the body is read in full."""

from __future__ import annotations

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
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._reject(send, scope["path"], limit)
                    return
        received = 0
        too_large = False

        async def limited_receive():  # type: ignore[no-untyped-def]
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
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
