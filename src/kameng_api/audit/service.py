"""Record and read the operation log."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.core import db
from kameng_api.core.actor import Actor, RequestMeta
from kameng_api.core.context import audit_trail_var, request_id_var
from kameng_api.core.spreadsheet import csv_safe

# Field names whose values never reach the log: passwords, secrets, tokens, one-time codes,
# key material. (A role's ``key`` or a permission ``code`` name nothing secret.)
SECRET_FIELD = re.compile(
    r"password|passwd|secret|token|totp|otp|recovery|hash|credential|cvv"
    r"|(api|private|signing|merchant|access|secret|encryption|field)_?key"
    r"|(^|_)(one_time_|verification_|reset_|mfa_)?code$",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """Replace values under secret-looking keys, recursively."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if SECRET_FIELD.search(str(k)) else redact(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _row(
    action: str,
    *,
    actor: Actor | None,
    meta: RequestMeta | None,
    target_type: str | None,
    target_id: object | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    risk: str,
    result: str,
    detail: str | None,
) -> AuditLog:
    m = meta or (actor.meta if actor else RequestMeta())
    return AuditLog(
        actor_id=actor.user_id if actor else None,
        actor_kind=str(actor.kind) if actor else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        before=redact(before) if before is not None else None,
        after=redact(after) if after is not None else None,
        risk=risk,
        result=result,
        ip=m.ip,
        user_agent=(m.user_agent or "")[:512] or None,
        request_id=m.request_id,
        detail=(detail or "")[:500] or None,
    )


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor: Actor | None,
    meta: RequestMeta | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    risk: str = "low",
    detail: str | None = None,
) -> None:
    """Record a write in the caller's transaction (it commits or rolls back with the write)."""
    session.add(
        _row(
            action,
            actor=actor,
            meta=meta,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            risk=risk,
            result="ok",
            detail=detail,
        )
    )
    session.info["audited"] = True


async def record_attempt(
    action: str,
    *,
    actor: Actor | None,
    meta: RequestMeta | None = None,
    result: str,
    target_type: str | None = None,
    target_id: object | None = None,
    risk: str = "medium",
    detail: str | None = None,
) -> None:
    """Record a refused attempt in its own transaction (the request's own rolls back)."""
    trail = audit_trail_var.get()
    if trail is not None:
        trail["attempt_logged"] = True
    async with db.unit_of_work() as session:
        session.add(
            _row(
                action,
                actor=actor,
                meta=meta,
                target_type=target_type,
                target_id=target_id,
                before=None,
                after=None,
                risk=risk,
                result=result,
                detail=detail,
            )
        )


async def record_rejected_write(request: Request, status: int, code: str) -> None:
    """Operation-log entry for a write the API refused, unless the code that refused it already
    wrote one (``record_attempt``). Installed as the error handlers' rejection recorder."""
    trail = audit_trail_var.get()
    if trail is not None and trail.get("attempt_logged"):
        return
    route = request.scope.get("route")
    actor = getattr(request.state, "actor", None)
    await record_attempt(
        str(getattr(route, "operation_id", None) or request.url.path),
        actor=actor if isinstance(actor, Actor) else None,
        meta=RequestMeta(
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            request_id=request_id_var.get(),
        ),
        result="error" if status >= 500 else "rejected",
        risk="low" if status < 500 else "medium",
        detail=f"{status} {code}",
    )


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    result: str | None = None


def _filtered(f: AuditFilter) -> Select[AuditLog]:
    q = select(AuditLog)
    if f.actor_id is not None:
        q = q.where(AuditLog.actor_id == f.actor_id)
    if f.action:
        q = q.where(AuditLog.action.startswith(f.action))
    if f.target_type:
        q = q.where(AuditLog.target_type == f.target_type)
    if f.target_id:
        q = q.where(AuditLog.target_id == f.target_id)
    if f.since:
        q = q.where(AuditLog.at >= f.since)
    if f.until:
        q = q.where(AuditLog.at < f.until)
    if f.result:
        q = q.where(AuditLog.result == f.result)
    return q


async def list_entries(
    session: AsyncSession, f: AuditFilter, *, before_id: int | None, limit: int
) -> Sequence[AuditLog]:
    """Newest first, keyset-paginated by id."""
    q = _filtered(f)
    if before_id is not None:
        q = q.where(AuditLog.id < before_id)
    return (await session.execute(q.order_by(AuditLog.id.desc()).limit(limit))).scalars().all()


CSV_COLUMNS = [
    "id",
    "at",
    "actor_id",
    "actor_kind",
    "action",
    "target_type",
    "target_id",
    "result",
    "risk",
    "ip",
    "request_id",
    "detail",
    "before",
    "after",
]


async def export_csv(session: AsyncSession, f: AuditFilter, max_rows: int) -> AsyncIterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buf.getvalue()  # BOM: Excel opens UTF-8 (Chinese) correctly
    q = _filtered(f).order_by(AuditLog.id.desc()).limit(max_rows)
    result = await session.stream_scalars(q)
    async for row in result:
        buf.seek(0)
        buf.truncate()
        writer.writerow([csv_safe(getattr(row, c)) for c in CSV_COLUMNS])
        yield buf.getvalue()
