"""Raise and resolve alerts inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.alerts.models import Alert
from kameng_api.core.clock import clock


async def raise_alert(
    session: AsyncSession,
    kind: str,
    subject: str,
    title: str,
    *,
    severity: str = "warning",
    detail: dict[str, Any] | None = None,
) -> bool:
    """Open an alert unless one is already open for ``(kind, subject)``; True if new."""
    stmt = (
        insert(Alert)
        .values(kind=kind, subject=subject, title=title, severity=severity, detail=detail or {})
        .on_conflict_do_nothing(
            index_elements=["kind", "subject"], index_where=text("resolved_at IS NULL")
        )
        .returning(Alert.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def resolve_alert(session: AsyncSession, kind: str, subject: str) -> bool:
    """Close the open alert for ``(kind, subject)``, if any; True if one was open."""
    done = await session.execute(
        update(Alert)
        .where(Alert.kind == kind, Alert.subject == subject, Alert.resolved_at.is_(None))
        .values(resolved_at=clock.now())
        .returning(Alert.id)
    )
    return done.scalar_one_or_none() is not None


async def open_alerts(session: AsyncSession, kind: str, subjects: list[str]) -> set[str]:
    """Which of ``subjects`` have an open ``kind`` alert."""
    if not subjects:
        return set()
    rows = await session.execute(
        select(Alert.subject).where(
            Alert.kind == kind, Alert.subject.in_(subjects), Alert.resolved_at.is_(None)
        )
    )
    return set(rows.scalars())
