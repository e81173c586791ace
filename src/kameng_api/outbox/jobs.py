"""A thin wrapper that turns ``async def handler(session, payload, meta)`` into an idempotent
arq job fed by the outbox.

Each run: note the attempt in its own small transaction (so attempts survive a crash), then in
one unit of work lock the row (``SELECT … FOR UPDATE``), skip it if already done, run the
handler and mark the row done — the effect and the done mark commit together. Errors are
recorded and retried with backoff up to ``max_tries``; then the row is marked failed. A run
that cannot reach the database at all is retried too (nothing recorded, nothing lost).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arq import Retry
from arq.worker import Function
from arq.worker import func as arq_func
from sqlalchemy import func, select, update

from kameng_api.core import db
from kameng_api.core.metrics import JOBS
from kameng_api.outbox.models import OutboxMessage

log = logging.getLogger("kameng.jobs")


@dataclass(frozen=True)
class JobMeta:
    outbox_id: int
    task: str
    attempt: int


Handler = Callable[[Any, dict[str, Any], JobMeta], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    timeout_s: float
    max_tries: int
    holdable: bool = False  # may wait while a sale is hot (outbox.service.hold)
    # (key, most): rows whose payload is only ``{key: [...]}`` may be swept as one job of up
    # to ``most`` items (outbox.service.sweep)
    merge: tuple[str, int] | None = None


registry: dict[str, JobSpec] = {}

# Keep every timeout small: arq re-runs a job whose worker died once
# (largest timeout + 10 s) have passed, so a SIGKILLed job is retried within ~25 s.
MAX_TIMEOUT_S = 15.0


def outbox_job(
    name: str,
    *,
    timeout_s: float = 10.0,
    max_tries: int = 8,
    holdable: bool = False,
    merge: tuple[str, int] | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the outbox task ``name`` (e.g. ``"fulfilment:deliver"``).
    ``holdable``: its rows may wait while a sale is hot (``outbox.service.hold``) — work a
    buyer does not wait for, such as a mail. ``merge=(key, most)``: rows whose payload is
    only ``{key: [...]}``, swept together, become one job of up to ``most`` items (the
    handler must take any such list)."""
    if timeout_s > MAX_TIMEOUT_S:
        raise ValueError(f"{name}: timeout {timeout_s}s exceeds {MAX_TIMEOUT_S}s; split the work")

    def register(handler: Handler) -> Handler:
        if name in registry:
            raise ValueError(f"outbox task {name!r} registered twice")
        registry[name] = JobSpec(name, handler, timeout_s, max_tries, holdable, merge)
        return handler

    return register


def _backoff_s(attempt: int) -> float:
    return float(min(2**attempt, 300))


async def run_outbox_job(spec: JobSpec, outbox_id: int, arq_try: int = 1) -> str:
    try:
        async with db.unit_of_work() as session:
            attempt = (
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == outbox_id,
                        OutboxMessage.done_at.is_(None),
                        OutboxMessage.failed_at.is_(None),
                    )
                    .values(attempts=OutboxMessage.attempts + 1, started_at=func.now())
                    .returning(OutboxMessage.attempts)
                )
            ).scalar_one_or_none()
    except Exception as exc:
        # the database is away before anything could be recorded: try again (arq keeps a
        # failed job's result for an hour, and the sweeper's push would find it taken)
        log.warning(
            "job could not start; retrying",
            extra={"task": spec.name, "outbox_id": outbox_id, "error": repr(exc)},
        )
        JOBS.labels(spec.name, "retry").inc()
        raise Retry(defer=_backoff_s(min(arq_try, 5))) from exc
    if attempt is None:
        JOBS.labels(spec.name, "skipped").inc()
        return "skipped: already done or failed"

    try:
        async with db.unit_of_work() as session:
            msg = (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update()
                )
            ).scalar_one()
            if msg.done_at is not None:
                JOBS.labels(spec.name, "skipped").inc()
                return "skipped: done meanwhile"
            await spec.handler(session, dict(msg.payload), JobMeta(outbox_id, spec.name, attempt))
            msg.done_at = func.now()
            msg.last_error = None
    except Exception as exc:
        final = attempt >= spec.max_tries
        log.exception(
            "job failed",
            extra={"task": spec.name, "outbox_id": outbox_id, "attempt": attempt, "final": final},
        )
        try:
            async with db.unit_of_work() as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == outbox_id)
                    .values(
                        last_error=f"{type(exc).__name__}: {exc}"[:2000],
                        failed_at=func.now() if final else None,
                    )
                )
        except Exception:  # the database went away too: the next run records it
            log.warning("could not record the job's failure", extra={"outbox_id": outbox_id})
            raise Retry(defer=_backoff_s(attempt)) from exc
        JOBS.labels(spec.name, "failed" if final else "retry").inc()
        if final:
            return "failed"
        raise Retry(defer=_backoff_s(attempt)) from exc
    JOBS.labels(spec.name, "done").inc()
    return "done"


def arq_functions() -> list[Function]:
    """One arq function per registered task, each with its own short timeout."""
    out = []
    for spec in registry.values():

        async def _job(ctx: dict[str, Any], outbox_id: int, _spec: JobSpec = spec) -> str:
            return await run_outbox_job(_spec, outbox_id, int(ctx.get("job_try") or 1))

        # arq counts crashed runs as tries too; our own attempt counter decides when to stop.
        out.append(
            arq_func(_job, name=spec.name, timeout=spec.timeout_s, max_tries=spec.max_tries + 5)
        )
    return out
