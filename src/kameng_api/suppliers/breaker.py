"""A circuit breaker per supplier, its state in Redis so every API and worker process sees
the same circuit.

Why our own (≈100 lines) and not a library: ``pybreaker`` shares state through Redis but
with a synchronous client and opens on N *consecutive* failures; ``aiobreaker`` keeps its
state in process memory; ``purgatory`` has an async Redis store but also counts consecutive
failures and wraps the call in its own context (it would decide about exceptions that for us
are answers, e.g. a ``failed`` order). We need: open on an *error rate* over a window with a
minimum number of calls, one half-open probe shared by all processes, a manual reset, and
the time it opened (for health and the bench).

- calls are counted in buckets of ``KAMENG_SUPPLIER_BREAKER_WINDOW_S`` (the current and the
  previous bucket are the window);
- errors / calls ≥ ``…_ERROR_RATE`` with at least ``…_MIN_CALLS`` calls → open (``opened_at``);
- after ``…_COOLDOWN_S`` ONE caller (``SET NX`` on the probe key) may call: success closes the
  circuit (counters cleared), failure opens it again for another cool-down;
- only transport-level trouble counts as an error (timeouts, 5xx, unreadable answers); a
  supplier that answers "failed" is healthy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from kameng_api.core.redis import get_queue
from kameng_api.settings import get_settings

Circuit = Literal["closed", "open", "half_open"]


def _k(supplier_id: int, part: str) -> str:
    # keyed by the database too: supplier ids are per database (tests, staging beside
    # production on one Redis) and a circuit must never leak into another's
    return f"kameng:breaker:{_db()}:{supplier_id}:{part}"


def _db() -> str:
    url = get_settings().database_url or ""
    return url.rsplit("/", 1)[-1].split("?", 1)[0] or "default"


def _redis() -> Redis:
    return get_queue()


@dataclass(frozen=True)
class CircuitState:
    state: Circuit
    opened_at: float | None
    calls: int
    errors: int


async def allow(supplier_id: int) -> Circuit | None:
    """May we call this supplier now? ``closed``: yes; ``half_open``: yes, as THE probe (report
    its outcome with ``probe=True``); None: no, the circuit is open."""
    r = _redis()
    opened = await r.get(_k(supplier_id, "open"))
    if opened is None:
        return "closed"
    cooldown = get_settings().supplier_breaker_cooldown_s
    if time.time() - float(opened) < cooldown:
        return None
    got = await r.set(_k(supplier_id, "probe"), "1", nx=True, ex=max(1, int(cooldown)))
    return "half_open" if got else None


async def record(supplier_id: int, ok: bool, *, probe: bool = False) -> None:
    s = get_settings()
    r = _redis()
    window = s.supplier_breaker_window_s
    bucket = int(time.time() // window)
    key = _k(supplier_id, f"b:{bucket}")
    if ok:
        if probe or await r.exists(_k(supplier_id, "open")):
            await _clear(r, supplier_id)
        async with r.pipeline(transaction=False) as p:
            p.hincrby(key, "ok", 1)
            p.expire(key, 2 * window)
            await p.execute()
        return
    async with r.pipeline(transaction=False) as p:
        p.hincrby(key, "err", 1)
        p.expire(key, 2 * window)
        p.hgetall(key)
        p.hgetall(_k(supplier_id, f"b:{bucket - 1}"))
        _, _, now_b, prev_b = await p.execute()
    if probe:
        await r.set(_k(supplier_id, "open"), repr(time.time()))
        await r.delete(_k(supplier_id, "probe"))
        return
    errors = int(now_b.get(b"err", 0)) + int(prev_b.get(b"err", 0))
    calls = errors + int(now_b.get(b"ok", 0)) + int(prev_b.get(b"ok", 0))
    if calls >= s.supplier_breaker_min_calls and errors / calls >= s.supplier_breaker_error_rate:
        await r.set(_k(supplier_id, "open"), repr(time.time()), nx=True)


async def _clear(r: Redis, supplier_id: int) -> None:
    keys = [k async for k in r.scan_iter(match=_k(supplier_id, "*"), count=100)]
    if keys:
        await r.delete(*keys)


async def reset(supplier_id: int) -> None:
    """Close the circuit by hand (staff)."""
    await _clear(_redis(), supplier_id)


async def state(supplier_id: int) -> CircuitState:
    s = get_settings()
    r = _redis()
    bucket = int(time.time() // s.supplier_breaker_window_s)
    async with r.pipeline(transaction=False) as p:
        p.get(_k(supplier_id, "open"))
        p.hgetall(_k(supplier_id, f"b:{bucket}"))
        p.hgetall(_k(supplier_id, f"b:{bucket - 1}"))
        opened, now_b, prev_b = await p.execute()
    errors = int(now_b.get(b"err", 0)) + int(prev_b.get(b"err", 0))
    calls = errors + int(now_b.get(b"ok", 0)) + int(prev_b.get(b"ok", 0))
    if opened is None:
        return CircuitState("closed", None, calls, errors)
    at = float(opened)
    st: Circuit = "open" if time.time() - at < s.supplier_breaker_cooldown_s else "half_open"
    return CircuitState(st, at, calls, errors)
