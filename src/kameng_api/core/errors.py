"""One error shape for every failure: RFC 9457 ``application/problem+json``.

Raise :class:`AppError` (or a subclass) from services with a stable :class:`ErrorCode`. The
handlers registered by :func:`install_error_handlers` render it, FastAPI's validation errors,
Starlette's HTTP errors (404/405/…) and unexpected exceptions in the same envelope:
``type``, ``title``, ``status``, ``detail``, ``code``, ``request_id`` and ``errors[]`` for field
problems. A 500 carries only the request id; the traceback goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis import exceptions as redis_exceptions
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from kameng_api.core.context import request_id_var

log = logging.getLogger("kameng.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://kameng.dev/problems/"


class ErrorCode(StrEnum):
    """Stable, documented error codes. Never rename a value: clients switch on them."""

    validation_failed = "validation_failed"
    bad_request = "bad_request"
    not_found = "not_found"
    method_not_allowed = "method_not_allowed"
    unauthenticated = "unauthenticated"
    forbidden = "forbidden"
    conflict = "conflict"
    payload_too_large = "payload_too_large"
    unsupported_media_type = "unsupported_media_type"
    rate_limited = "rate_limited"
    service_unavailable = "service_unavailable"
    internal_error = "internal_error"


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description='Path to the offending field, e.g. ["body", "qty"].')
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response of this API."""

    type: str = Field(description="URI identifying the problem type.")
    title: str
    status: int
    detail: str | None = None
    code: str = Field(description="Stable machine-readable error code.")
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


class AppError(Exception):
    """Base of every error a service raises on purpose."""

    status: int = 400
    code: ErrorCode | str = ErrorCode.bad_request
    title: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: ErrorCode | str | None = None,
        status: int | None = None,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title or "")
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.errors = errors
        self.headers = headers


class NotFound(AppError):
    status = 404
    code = ErrorCode.not_found
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = ErrorCode.conflict
    title = "Conflict"


class Forbidden(AppError):
    status = 403
    code = ErrorCode.forbidden
    title = "Forbidden"


class Unauthenticated(AppError):
    status = 401
    code = ErrorCode.unauthenticated
    title = "Authentication required"


class ServiceUnavailable(AppError):
    status = 503
    code = ErrorCode.service_unavailable
    title = "Service unavailable"


def problem_response(
    *,
    status: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_BASE + code,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        request_id=request_id_var.get(),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


_STATUS_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.bad_request,
    401: ErrorCode.unauthenticated,
    403: ErrorCode.forbidden,
    404: ErrorCode.not_found,
    405: ErrorCode.method_not_allowed,
    409: ErrorCode.conflict,
    413: ErrorCode.payload_too_large,
    415: ErrorCode.unsupported_media_type,
    422: ErrorCode.validation_failed,
    429: ErrorCode.rate_limited,
    503: ErrorCode.service_unavailable,
}


def _field_problems(exc: RequestValidationError) -> list[FieldProblem]:
    out = []
    for err in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        out.append(FieldProblem(loc=loc, msg=str(err.get("msg", "")), type=str(err.get("type"))))
    return out


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RejectionRecorder = Callable[[Request, int, str], Awaitable[None]]
_rejection_recorder: list[RejectionRecorder] = []


def set_rejection_recorder(recorder: RejectionRecorder) -> None:
    """Who writes a refused write request to the operation log (the audit capability)."""
    _rejection_recorder[:] = [recorder]


async def _note_rejection(request: Request, status: int, code: str) -> None:
    """A write to an API route that was refused (bad input, no permission, conflict …) leaves
    a trace in the operation log even though its transaction rolled back."""
    route = request.scope.get("route")
    if (
        request.method not in WRITE_METHODS
        or not _rejection_recorder
        or route is None
        or not getattr(route, "include_in_schema", False)
    ):
        return
    try:
        await _rejection_recorder[0](request, status, code)
    except Exception:  # the answer to the client matters more than this trace
        log.exception("could not record a rejected write")


def app_error_answer(request: Request, exc: AppError) -> JSONResponse:
    """The problem+json answer for ``exc``, for a route that must keep the answer (idempotent
    replays) instead of raising. Its 'rejected' operation-log entry is written after the
    response is sent, when the request's own database connection is back in the pool (under
    load, a second connection per request would exhaust it)."""
    answer = problem_response(
        status=exc.status,
        code=str(exc.code),
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )
    answer.background = BackgroundTask(_note_rejection, request, exc.status, str(exc.code))
    return answer


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    await _note_rejection(request, exc.status, str(exc.code))
    return problem_response(
        status=exc.status,
        code=str(exc.code),
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    await _note_rejection(request, 422, ErrorCode.validation_failed)
    return problem_response(
        status=422,
        code=ErrorCode.validation_failed,
        title="Validation failed",
        detail="The request has invalid fields; see errors[].",
        errors=_field_problems(exc),
    )


AllowedMethods = Callable[[str], list[str]]
_allowed_methods: list[AllowedMethods] = []


def set_allowed_methods(finder: AllowedMethods) -> None:
    """Who knows every method a path has (the app's routes), for the ``Allow`` of a 405."""
    _allowed_methods[:] = [finder]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, ErrorCode.bad_request)
    if exc.status_code >= 500:
        code = ErrorCode.internal_error
    await _note_rejection(request, exc.status_code, str(code))
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and _allowed_methods:
        # Starlette names the methods of the first route that matched the path only
        methods = _allowed_methods[0](request.url.path)
        if methods:
            headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
            headers["Allow"] = ", ".join(methods)
    return problem_response(
        status=exc.status_code, code=code, detail=detail, headers=headers or None
    )


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    """A unique/foreign-key/check constraint refused the write (usually two requests racing
    for the same name): 409, not 500. Services check first; this is the database's last word."""
    log.info("constraint refused a write: %s", getattr(exc, "orig", exc))
    await _note_rejection(request, 409, ErrorCode.conflict)
    return problem_response(
        status=409,
        code=ErrorCode.conflict,
        title="Conflict",
        detail="The change conflicts with existing data (it may have just been made by "
        "someone else). Reload and try again.",
    )


async def _overloaded(request: Request, exc: Exception) -> JSONResponse:
    """No database connection came free in time: the service is overloaded, not broken —
    503 with Retry-After, and the client may try again (an Idempotency-Key makes it safe)."""
    log.warning("no database connection in time: %s", exc)
    answer = problem_response(
        status=503,
        code=ErrorCode.service_unavailable,
        title="Service busy",
        detail="The service is busy; try again in a moment.",
        headers={"Retry-After": "1"},
    )
    # the log entry needs a connection too: written after the answer, not before it
    answer.background = BackgroundTask(
        _note_rejection, request, 503, str(ErrorCode.service_unavailable)
    )
    return answer


_AWAY: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, broken pipe: the server is not there
    asyncio.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,  # 08xxx
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,  # 57P01: a fast shutdown ended our session
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,  # e.g. "connection is closed"
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
    PoolTimeout,
)


def dependency_away(exc: BaseException) -> bool:
    """Did ``exc`` come from PostgreSQL or Redis being away (down, restarting, unreachable,
    out of connections) rather than from a bug? Follows the causes SQLAlchemy wraps."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _AWAY):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        nxt = getattr(current, "orig", None)
        if not isinstance(nxt, BaseException):
            nxt = current.__cause__ or current.__context__
        current = nxt
    return False


def unavailable_response() -> JSONResponse:
    """503 ``service_unavailable`` with ``Retry-After``: a dependency is away; the client may
    try again (an Idempotency-Key makes a retried write safe)."""
    return problem_response(
        status=503,
        code=ErrorCode.service_unavailable,
        title="Service unavailable",
        detail="A service we depend on is unavailable; try again in a moment.",
        headers={"Retry-After": "2"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if dependency_away(exc):
        log.warning("a dependency is away: %s: %s", type(exc).__name__, exc)
        answer = unavailable_response()
        # the log entry needs the database: written after the answer, and may fail quietly
        answer.background = BackgroundTask(
            _note_rejection, request, 503, str(ErrorCode.service_unavailable)
        )
        return answer
    log.exception("unhandled exception", exc_info=exc)
    await _note_rejection(request, 500, ErrorCode.internal_error)
    return problem_response(
        status=500,
        code=ErrorCode.internal_error,
        title="Internal error",
        detail="Something went wrong on our side. Quote the request id when reporting it.",
    )


async def unexpected_answer(request: Request, exc: Exception) -> JSONResponse:
    """The answer to an exception no handler took: 503 when a dependency is away, else 500
    (logged with its traceback). Used by the request-context middleware."""
    return await _unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(PoolTimeout, _overloaded)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route, so the generated client knows its error shape."""
    return {
        s: {"model": Problem, "description": HTTPStatus(s).phrase, "content": {PROBLEM_JSON: {}}}
        for s in statuses
    }
