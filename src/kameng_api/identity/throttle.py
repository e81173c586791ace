"""Brute-force and abuse protection in Redis.

- Sign-in: per-account and per-IP failure counters with a lockout that grows with every
  further failure.
- Mail: how often a code may be mailed to one address (per minute, per hour, each kind apart)
  and how many such requests one client address may make per hour, whoever the target is.

Each check-and-count is one Lua script, so a counter never exists without its expiry (a
process that dies between an INCR and an EXPIRE would otherwise leave a counter that never
resets and locks its account out for good). Fails open (with a warning) if Redis is
unreachable: argon2 still makes guessing slow, and sign-in keeps working during an outage."""

from __future__ import annotations

import logging
from typing import Literal

from kameng_api.core.redis import get_queue
from kameng_api.settings import get_settings

log = logging.getLogger("kameng.throttle")

WINDOW_S = 15 * 60
ACCOUNT_FREE_FAILURES = 5
IP_FREE_FAILURES = 20
BASE_LOCK_S = 60
MAX_LOCK_S = 3600

# KEYS[1] the failure counter, KEYS[2] the lock; ARGV: window, free failures, base, max lock.
# Returns the lock (seconds) this failure set, 0 for none.
_FAILURE = """
local n = redis.call('INCR', KEYS[1])
local window = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
if n >= free then
  local lock = math.min(tonumber(ARGV[3]) * 2 ^ math.min(n - free, 30), tonumber(ARGV[4]))
  lock = math.floor(lock)
  redis.call('SET', KEYS[2], '1', 'EX', lock)
  redis.call('EXPIRE', KEYS[1], math.max(window, lock))
  return lock
end
if redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], window)
end
return 0
"""

# KEYS: counters; ARGV: limit and window (seconds) of each, in turn. When any counter is at
# its limit, counts nothing and returns the seconds until it resets; else counts in all of
# them and returns 0.
_LIMIT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= limit then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('EXPIRE', key, ttl)
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 or redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, tonumber(ARGV[2 * i]))
  end
end
return 0
"""


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
            seconds = await redis.eval(  # type: ignore[misc]
                _FAILURE,
                2,
                fail_key,
                lock_key,
                *map(str, (WINDOW_S, free, BASE_LOCK_S, MAX_LOCK_S)),
            )
            lock = max(lock, int(seconds))
        return lock
    except Exception as exc:
        log.warning("throttle unavailable; failing open", extra={"error": repr(exc)})
        return 0


async def register_success(login: str) -> None:
    try:
        await get_queue().delete(f"auth:fail:acct:{login.lower()}")
    except Exception as exc:
        log.warning("throttle unavailable", extra={"error": repr(exc)})


async def mail_wait(kind: Literal["verify", "reset"], address: str, ip: str | None) -> int:
    """Count a request to mail a ``kind`` code to ``address`` from ``ip``; returns 0 when it
    may go ahead, else the seconds until it may (the request is then not counted). Known and
    unknown addresses count alike, so the answer tells nothing about accounts."""
    s = get_settings()
    limits: list[tuple[str, int, int]] = [
        (f"auth:mail:{kind}:m:{address.lower()}", s.mail_limit_address_per_minute, 60),
        (f"auth:mail:{kind}:h:{address.lower()}", s.mail_limit_address_per_hour, 3600),
    ]
    if ip:
        limits.append((f"auth:mail:ip:{ip}", s.mail_limit_ip_per_hour, 3600))
    limits = [x for x in limits if x[1] > 0]
    if not limits:
        return 0
    args: list[str] = []
    for _, limit, window in limits:
        args += [str(limit), str(window)]
    try:
        wait = await get_queue().eval(  # type: ignore[misc]
            _LIMIT, len(limits), *[k for k, _, _ in limits], *args
        )
        return int(wait)
    except Exception as exc:
        log.warning("mail limit unavailable; failing open", extra={"error": repr(exc)})
        return 0
