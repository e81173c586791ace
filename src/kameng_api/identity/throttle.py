"""Brute-force protection in Redis: per-account and per-IP failure counters with a lockout
that grows with every further failure. Fails open (with a warning) if Redis is unreachable:
argon2 still makes guessing slow, and sign-in keeps working during an outage."""

from __future__ import annotations

import logging

from kameng_api.core.redis import get_queue

log = logging.getLogger("kameng.throttle")

WINDOW_S = 15 * 60
ACCOUNT_FREE_FAILURES = 5
IP_FREE_FAILURES = 20
BASE_LOCK_S = 60
MAX_LOCK_S = 3600


def _keys(login: str, ip: str | None) -> list[tuple[str, str, int]]:
    out = [
        (
            f"auth:fail:acct:{login.lower()}",
            f"auth:lock:acct:{login.lower()}",
            ACCOUNT_FREE_FAILURES,
        )
    ]
    if ip:
        out.append((f"auth:fail:ip:{ip}", f"auth:lock:ip:{ip}", IP_FREE_FAILURES))
    return out


async def locked_for(login: str, ip: str | None) -> int:
    """Seconds until the account or IP may try again (0: not locked)."""
    try:
        redis = get_queue()
        worst = 0
        for _, lock_key, _ in _keys(login, ip):
            ttl = await redis.ttl(lock_key)
            worst = max(worst, int(ttl) if ttl and ttl > 0 else 0)
        return worst
    except Exception as exc:
        log.warning("throttle unavailable; failing open", extra={"error": repr(exc)})
        return 0


async def register_failure(login: str, ip: str | None) -> int:
    """Count a failure; returns the lockout (seconds) it triggered, if any."""
    try:
        redis = get_queue()
        lock = 0
        for fail_key, lock_key, free in _keys(login, ip):
            n = int(await redis.incr(fail_key))
            if n == 1:
                await redis.expire(fail_key, WINDOW_S)
            if n >= free:
                seconds = min(BASE_LOCK_S * 2 ** (n - free), MAX_LOCK_S)
                await redis.set(lock_key, b"1", ex=seconds)
                await redis.expire(fail_key, max(WINDOW_S, seconds))
                lock = max(lock, seconds)
        return lock
    except Exception as exc:
        log.warning("throttle unavailable; failing open", extra={"error": repr(exc)})
        return 0


async def register_success(login: str) -> None:
    try:
        await get_queue().delete(f"auth:fail:acct:{login.lower()}")
    except Exception as exc:
        log.warning("throttle unavailable", extra={"error": repr(exc)})
