"""Send mail (through the outbox, so a rolled-back request sends nothing) and in-app notices."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.clock import clock
from kameng_api.notifications.models import Notice
from kameng_api.outbox import service as outbox

SEND_EMAIL = "notifications:send_email"


async def send_email(session: AsyncSession, to: str, subject: str, body: str) -> None:
    await outbox.enqueue(session, SEND_EMAIL, {"to": to, "subject": subject, "body": body})


async def notify(session: AsyncSession, user_id: int, kind: str, title: str, body: str) -> Notice:
    n = Notice(user_id=user_id, kind=kind, title=title, body=body)
    session.add(n)
    await session.flush()
    return n


async def notify_many(session: AsyncSession, notices: list[tuple[int, str, str, str]]) -> None:
    """Many notices (user id, kind, title, body) in one statement."""
    await session.execute(
        insert(Notice),
        [{"user_id": u, "kind": k, "title": t, "body": b} for u, k, t, b in notices],
    )


async def list_notices(session: AsyncSession, user_id: int, limit: int = 50) -> Sequence[Notice]:
    q = select(Notice).where(Notice.user_id == user_id).order_by(Notice.id.desc()).limit(limit)
    return (await session.execute(q)).scalars().all()


async def mark_read(session: AsyncSession, user_id: int, notice_id: int) -> bool:
    res = await session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.user_id == user_id)
        .values(read_at=clock.now())
        .returning(Notice.id)
    )
    return res.scalar_one_or_none() is not None
