"""Health figures and worker probes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kameng_api.core.clock import clock
from kameng_api.core.redis import get_queue
from kameng_api.outbox import service as outbox
from kameng_api.settings import get_settings
from kameng_api.system.models import WorkerProbe

PROBE_TASK = "system:probe"


@dataclass(frozen=True)
class Check:
    ok: bool
    latency_ms: float | None
    error: str | None = None


async def check_database(engine: AsyncEngine, timeout_s: float = 2.0) -> Check:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return Check(False, None, type(exc).__name__)
    return Check(True, round((time.perf_counter() - started) * 1000, 2))


async def check_redis(timeout_s: float = 2.0) -> Check:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await get_queue().ping()
    except Exception as exc:
        return Check(False, None, type(exc).__name__)
    return Check(True, round((time.perf_counter() - started) * 1000, 2))


async def worker_last_seen() -> datetime | None:
    """When a worker last reported its health to Redis (arq's health-check key)."""
    try:
        async with asyncio.timeout(2.0):
            key = get_settings().queue_name + ":health-check"
            raw = await get_queue().get(key)
            ttl = await get_queue().pttl(key)
    except Exception:
        return None
    if raw is None or ttl is None or ttl < 0:
        return None
    # the worker writes the key with a TTL of interval + 1 s; its age is what the TTL lost
    interval = get_settings().worker_health_interval_s
    age_s = max(0.0, interval + 1 - ttl / 1000)
    return datetime.fromtimestamp(clock.now().timestamp() - age_s, UTC)


async def create_probe(session: AsyncSession, label: str, work_ms: int = 0) -> WorkerProbe:
    probe = WorkerProbe(label=label, work_ms=work_ms)
    session.add(probe)
    await session.flush()
    await outbox.enqueue(session, PROBE_TASK, {"probe_id": probe.id})
    return probe


async def get_probe(session: AsyncSession, probe_id: int) -> WorkerProbe | None:
    return (
        await session.execute(select(WorkerProbe).where(WorkerProbe.id == probe_id))
    ).scalar_one_or_none()
