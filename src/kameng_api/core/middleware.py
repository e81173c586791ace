"""Pure ASGI middleware: request id + access metrics, security headers, body size limit, and
the NUL guard (no U+0000 in any text the API accepts)."""

from __future__ import annotations

import os
import re
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kameng_api.core.context import audit_trail_var, request_id_var
from kameng_api.core.errors import ErrorCode, problem_response, unexpected_answer
from kameng_api.core.metrics import HTTP_LATENCY, HTTP_REQUESTS


def new_request_id() -> str:
    """32 random hex digits (``os.urandom``: a quarter of what ``uuid4().hex`` costs, and it
    runs for every answer)."""
    return os.urandom(16).hex()


SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'",
    ),
]


def _route_name(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"


class RequestContextMiddleware:
    """Assigns a request id (or accepts a sane incoming ``X-Request-ID``), echoes it, adds
    security headers, and records metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if SAFE_REQUEST_ID.match(incoming) else new_request_id()
        request_id_var.set(rid)
        audit_trail_var.set({})
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500, "started": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["started"] = 1
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", rid.encode()))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_wrapper)
            except Exception as exc:
                # answered here, not by Starlette's outermost error layer: the answer then
                # carries the request id and the security headers like any other
                if status_holder.get("started"):
                    raise
                answer = await unexpected_answer(Request(scope, receive), exc)
                await answer(scope, receive, send_wrapper)
        finally:
            route = _route_name(scope)
            if route != "/metrics":
                method = scope.get("method", "GET")
                HTTP_REQUESTS.labels(method, route, str(status_holder["status"])).inc()
                HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


class BodySizeLimitMiddleware:
    """Answers 413 problem+json for bodies above ``max_bytes`` (by header or while streaming)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}  # exact path → its own limit (uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.overrides.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._reject(scope, receive, send, max_bytes)
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # rendered as problem+json (payload_too_large) by the error handlers
                    raise HTTPException(413, f"The request body is larger than {max_bytes} bytes.")
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            status=413,
            code=ErrorCode.payload_too_large,
            title="Payload too large",
            detail=f"The request body is larger than {max_bytes} bytes.",
        )
        await response(scope, receive, send)


# a JSON string escape \u0000 (an odd number of backslashes before it; \\u0000 is text)
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_TEXT_BODIES = (b"application/json", b"application/x-www-form-urlencoded", b"text/")


def nul_in_json(raw: bytes) -> bool:
    """Does this JSON text hold a NUL character (raw or escaped)?"""
    return b"\x00" in raw or _JSON_NUL.search(raw) is not None


def _nul_refusal(where: str) -> HTTPException:
    return HTTPException(
        422, f"Text must not contain NUL characters (U+0000); found in the {where}."
    )


class NulGuardMiddleware:
    """PostgreSQL stores no NUL character in text, and no field of ours needs one: a NUL in
    the path, the query, a header or a JSON or form body is refused with 422 before any route
    sees it (the rule is in the API's description). File uploads (multipart) are read by their
    own checks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        qs: bytes = scope.get("query_string", b"")
        where = (
            "path"
            if "\x00" in scope.get("path", "")
            else "query"
            if b"%00" in qs or b"\x00" in qs
            else "headers"
            if any(b"\x00" in v for _, v in scope.get("headers", ()))
            else None
        )
        if where is not None:
            await self._reject(scope, receive, send, where)
            return
        ctype = dict(scope.get("headers", ())).get(b"content-type", b"").lower()
        if not ctype.startswith(_TEXT_BODIES):
            await self.app(scope, receive, send)
            return
        form = ctype.startswith(b"application/x-www-form-urlencoded")
        body = bytearray()

        async def guarded_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    raw = bytes(body)
                    if (b"%00" in raw or b"\x00" in raw) if form else nul_in_json(raw):
                        raise _nul_refusal("body")  # rendered as problem+json (422)
            return message

        await self.app(scope, guarded_receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, where: str) -> None:
        response = problem_response(
            status=422,
            code=ErrorCode.validation_failed,
            title="Validation failed",
            detail=str(_nul_refusal(where).detail),
        )
        await response(scope, receive, send)
