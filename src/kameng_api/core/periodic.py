"""Periodic tasks (schedules, expiries, re-drives): registered by capabilities, run by every
worker beside the outbox sweeper. Driven by the database, not by Redis, so they keep working
through a Redis outage; a transaction-level advisory lock makes each run happen on one worker
at a time."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core import db

log = logging.getLogger("kameng.periodic")

TaskFn = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval: float | Callable[[], float]  # seconds, or a setting read at each look
    fn: TaskFn

    @property
    def every_s(self) -> float:
        return self.interval() if callable(self.interval) else self.interval

    @property
    def lock_key(self) -> int:
        return zlib.crc32(f"kameng:periodic:{self.name}".encode())


PERIODIC: dict[str, PeriodicTask] = {}


def periodic(name: str, *, every_s: float | Callable[[], float]) -> Callable[[TaskFn], TaskFn]:
    def register(fn: TaskFn) -> TaskFn:
        PERIODIC[name] = PeriodicTask(name, every_s, fn)
        return fn

    return register


async def run_task(task: PeriodicTask) -> bool:
    """Run once in its own unit of work unless another worker is running it right now."""
    async with db.unit_of_work() as session:
        got = (
            await session.execute(select(func.pg_try_advisory_xact_lock(task.lock_key)))
        ).scalar_one()
        if not got:
            return False
        await task.fn(session)
        return True


async def run_due(last_run: dict[str, float]) -> None:
    now = time.monotonic()
    for task in list(PERIODIC.values()):
        if now - last_run.get(task.name, -1e9) < task.every_s:
            continue
        last_run[task.name] = now
        try:
            await run_task(task)
        except Exception as exc:
            log.warning("periodic task failed", extra={"task": task.name, "error": repr(exc)})
