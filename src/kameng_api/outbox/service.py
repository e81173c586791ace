"""Write work into the outbox, relay it to arq, sweep what the relay missed; hold what can
wait (mails, notices) while a sale is hot."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from sqlalchemy import ColumnElement, Row, false, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kameng_api.core import db
from kameng_api.core.clock import clock
from kameng_api.core.metrics import OUTBOX_LAG, OUTBOX_PENDING, OUTBOX_RELAYED, OUTBOX_REPUSHED
from kameng_api.core.redis import get_queue
from kameng_api.outbox.models import OutboxMessage
from kameng_api.settings import get_settings

if TYPE_CHECKING:
    from kameng_api.outbox.jobs import JobSpec

log = logging.getLogger("kameng.outbox")


HOLD_TTL_S = 2.0  # the flag outlives the last hot moment by this much
SWEEP_PAGE = 500  # rows per sweep; a full page is followed by another at once


def hold_key() -> str:
    """Up while a sale is hot: holdable rows wait (one per queue, like the jobs)."""
    return f"kameng:outbox:hold:{get_settings().queue_name}"


def job_id(outbox_id: int) -> str:
    return f"outbox:{outbox_id}"


async def hold(queue: ArqRedis | None = None) -> None:
    """A sale is hot: holdable rows (``outbox_job(holdable=True)``: mails, notices) wait for
    the next ``HOLD_TTL_S`` — the caller leaves them unrelayed and the sweeper leaves them
    alone while the flag is up, for at most ``notice_hold_max_s``. Raises nothing: without
    Redis nothing is relayed anyway, and the sweeper pushes the rows later."""
    try:
        await (queue or get_queue()).set(hold_key(), b"1", px=int(HOLD_TTL_S * 1000))
    except Exception as exc:
        log.warning("could not raise the outbox hold", extra={"error": repr(exc)})


async def holding(queue: ArqRedis | None = None) -> bool:
    """Whether holdable rows wait now (False when Redis cannot say)."""
    try:
        return bool(await (queue or get_queue()).exists(hold_key()))
    except Exception:
        return False


async def enqueue(
    session: AsyncSession,
    task: str,
    payload: dict[str, Any] | None = None,
    *,
    delay: timedelta | None = None,
) -> OutboxMessage:
    """Record background work in the caller's transaction.

    Nothing reaches Redis unless and until the transaction commits; then an after-commit hook
    pushes the row. If Redis is down at that moment the sweeper pushes it later.
    """
    from kameng_api.outbox.jobs import registry  # local: jobs imports this module

    if task not in registry:
        raise ValueError(
            f"unknown outbox task {task!r} (this process must call kameng_api.tasks.load())"
        )
    msg = OutboxMessage(task=task, payload=payload or {})
    if delay is not None:
        msg.available_at = clock.now() + delay
    session.add(msg)
    await session.flush()
    relay_after_commit(session, msg.id, msg.task, msg.available_at)
    return msg


def relay_after_commit(
    session: AsyncSession, outbox_id: int, task: str, available_at: datetime | None = None
) -> None:
    """Push this row (written in ``session``'s transaction) once the transaction commits —
    for rows written by ``enqueue`` or by SQL (``kameng_purchase``)."""
    pending: list[tuple[int, str, datetime | None]] = session.info.setdefault("outbox_pending", [])
    if not pending:

        async def _relay_after_commit() -> None:
            await relay(session.info.pop("outbox_pending", []), via="after_commit")

        db.after_commit(session, _relay_after_commit)
    pending.append((outbox_id, task, available_at))


async def relay(
    rows: list[tuple[int, str, datetime | None]],
    *,
    via: str,
    queue: ArqRedis | None = None,
    maker: async_sessionmaker[AsyncSession] | None = None,
) -> int:
    """Push rows to arq with ``_job_id`` = outbox id (arq ignores a duplicate push) and note
    when they were pushed. Returns how many were pushed. Raises nothing: a failure leaves the
    rows for the sweeper."""
    if not rows:
        return 0
    settings = get_settings()
    queue = queue or get_queue()
    pushed: list[int] = []
    try:
        for outbox_id, task, available_at in rows:
            defer = available_at if available_at and available_at > clock.now() else None
            jid = job_id(outbox_id)
            job = await queue.enqueue_job(
                task, outbox_id, _job_id=jid, _queue_name=settings.queue_name, _defer_until=defer
            )
            if job is None and via != "after_commit" and await _finished(queue, jid):
                # arq keeps a finished run's result (an hour) and refuses the id meanwhile; the
                # row is still open, so that run did not do it: push it under a fresh id
                await queue.enqueue_job(
                    task,
                    outbox_id,
                    _job_id=f"{jid}:{uuid.uuid4().hex[:12]}",
                    _queue_name=settings.queue_name,
                    _defer_until=defer,
                )
                OUTBOX_REPUSHED.inc()
            pushed.append(outbox_id)
    except Exception as exc:  # Redis down: the sweeper retries later
        log.warning("outbox relay failed; sweeper will retry", extra={"error": repr(exc)})
    if pushed:
        OUTBOX_RELAYED.labels(via).inc(len(pushed))
    # Right after commit most rows are done long before the sweeper looks (grace period), so
    # the after-commit relay writes nothing back: no second transaction per request. A row
    # still open after the grace period is pushed once more by the sweeper (arq ignores the
    # duplicate job id) and marked then.
    if pushed and via != "after_commit":
        try:
            async with db.unit_of_work(maker) as session:
                locked = (
                    select(OutboxMessage.id)
                    .where(OutboxMessage.id.in_(pushed))
                    .with_for_update(skip_locked=True)
                )
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(locked))
                    .values(enqueued_at=func.now())
                )
        except Exception:
            log.exception("could not record relay time (harmless: rows may be pushed again)")
    return len(pushed)


async def _finished(queue: ArqRedis, jid: str) -> bool:
    """Is ``jid`` only a kept result (not queued, not running)?"""
    status = await Job(jid, queue, _queue_name=get_settings().queue_name).status()
    return status in (JobStatus.complete, JobStatus.not_found)


async def sweep(
    *,
    queue: ArqRedis | None = None,
    maker: async_sessionmaker[AsyncSession] | None = None,
    limit: int = SWEEP_PAGE,
) -> int:
    """Push open rows the after-commit relay missed (older than the grace period) and rows
    pushed long ago that are still not done (job lost, e.g. Redis lost its data). While the
    hold is up, holdable rows younger than ``notice_hold_max_s`` stay (``hold``); when they
    go, rows of a mergeable task go as few jobs (``_merged``). Returns how many rows it took
    (0 when none could be pushed): a full page means more may wait."""
    from kameng_api.outbox.jobs import registry  # local: jobs imports this module

    settings = get_settings()
    now = clock.now()
    grace = now - timedelta(seconds=settings.outbox_relay_grace_s)
    stale = now - timedelta(seconds=settings.outbox_requeue_after_s)
    held = [name for name, spec in registry.items() if spec.holdable]
    waiting: ColumnElement[bool] = false()
    if held and await holding(queue):
        waiting = OutboxMessage.task.in_(held) & (
            OutboxMessage.created_at > now - timedelta(seconds=settings.notice_hold_max_s)
        )
    async with db.unit_of_work(maker) as session:
        rows = (
            await session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.task,
                    OutboxMessage.available_at,
                    OutboxMessage.enqueued_at,
                    OutboxMessage.payload,
                )
                .where(
                    OutboxMessage.done_at.is_(None),
                    OutboxMessage.failed_at.is_(None),
                    (
                        (OutboxMessage.enqueued_at.is_(None) & (OutboxMessage.created_at < grace))
                        | (OutboxMessage.enqueued_at < stale)
                    ),
                    ~waiting,
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        push = await _merged(session, rows, now, registry)
    pushed = await relay(push, via="sweeper", queue=queue, maker=maker)
    return len(rows) if pushed else 0


async def _merged(
    session: AsyncSession, rows: Sequence[Row[Any]], now: datetime, registry: dict[str, JobSpec]
) -> list[tuple[int, str, datetime | None]]:
    """The rows to push, with those of a mergeable task (``outbox_job(merge=…)``) that were
    never pushed combined: one new row per ``most`` items, the rows it replaces marked
    done in the same transaction (locked: a job pushed for one of them after all finds it
    done and does nothing)."""
    push: list[tuple[int, str, datetime | None]] = []
    chunks: dict[tuple[str, str], list[tuple[list[int], list[Any]]]] = {}  # [(ids, items)]
    for r in rows:
        spec = registry.get(r.task)
        merge = spec.merge if spec else None
        items = r.payload.get(merge[0]) if merge and list(r.payload) == [merge[0]] else None
        if (
            merge is None
            or not isinstance(items, list)
            or r.enqueued_at is not None
            or (r.available_at is not None and r.available_at > now)
        ):
            push.append((r.id, r.task, r.available_at))
            continue
        key, most = merge
        task_chunks = chunks.setdefault((r.task, key), [])
        if not task_chunks or len(task_chunks[-1][1]) + len(items) > most:
            task_chunks.append(([], []))
        task_chunks[-1][0].append(r.id)
        task_chunks[-1][1].extend(items)
    for (task, key), task_chunks in chunks.items():
        for ids, items in task_chunks:
            if len(ids) == 1:
                push.append((ids[0], task, None))
                continue
            merged = OutboxMessage(task=task, payload={key: items})
            session.add(merged)
            await session.flush()
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(done_at=now)
            )
            log.info("outbox rows merged", extra={"task": task, "rows": ids, "into": merged.id})
            push.append((merged.id, task, None))
    return push


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    failed: int
    oldest_pending_age_s: float | None


async def stats(session: AsyncSession) -> OutboxStats:
    row = (
        await session.execute(
            text(
                "SELECT count(*) FILTER (WHERE failed_at IS NULL) AS pending, "
                "count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed, "
                "extract(epoch FROM now() - min(created_at) FILTER (WHERE failed_at IS NULL)) "
                "AS lag FROM outbox_messages WHERE done_at IS NULL"
            )
        )
    ).one()
    lag = float(row.lag) if row.lag is not None else None
    OUTBOX_PENDING.set(row.pending)
    OUTBOX_LAG.set(lag or 0.0)
    return OutboxStats(pending=row.pending, failed=row.failed, oldest_pending_age_s=lag)
