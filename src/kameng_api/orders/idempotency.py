"""``Idempotency-Key`` for creating orders: a retried request gets the first answer.

All in the request's own transaction (one connection, nothing to clean up after a crash):
a transaction-level advisory lock on (buyer, key) is *tried* first — held by a running
duplicate, the request gets 409 at once instead of waiting; then a stored answer is replayed
(or, for a different body, refused with 422); else the request runs and its answer is stored
in the same transaction as the order it describes. Card secrets are never stored here: a
replay re-reads them from the order. Answers are kept at least 24 hours.

The flash-sale gate (``Gate``) answers ``sold_out`` before any of this —
but only to a key never seen before (a Redis ``SET NX`` marker, kept longer than the stored
answers): a retry of a purchase that went through always reaches its stored answer. A gate
refusal is kept on that marker: the key's retries are answered ``sold_out`` again (the same
request) or ``idempotency_key_reused`` (another one), by the gate and by the route alike,
even once stock is back. Redis away: the database decides (the marker is not read).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.exceptions import NoScriptError
from sqlalchemy import delete, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError
from kameng_api.core.redis import get_queue
from kameng_api.orders.models import IdempotencyKey
from kameng_api.settings import get_settings


class IdempotencyInProgress(AppError):
    status = 409
    code = "idempotency_in_progress"
    title = "The same request is still running"


class IdempotencyKeyReused(AppError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"


@dataclass(frozen=True)
class Stored:
    status_code: int
    body: dict[str, Any]


def _seen_ttl_s() -> int:
    return get_settings().idempotency_keep_s + 3600  # longer than stored answers are kept


async def _eval(script: str, sha: str, n_keys: int, args: tuple[str, ...] | list[str]) -> Any:
    queue = get_queue()
    try:  # EVALSHA directly: redis-py's Script wrapper costs more than the command
        return await queue.evalsha(sha, n_keys, *args)  # type: ignore[misc]
    except NoScriptError:
        await queue.script_load(script)
        return await queue.evalsha(sha, n_keys, *args)  # type: ignore[misc]


# per check: KEYS marker, flag; ARGV[1] the marker's lifetime, then the request's hash per
# check. The marker holds the hash; "S" + hash once the gate refused the key. Answers:
# 0 go on, 1 sold out (first use while flagged), 2 the key was refused by the gate for
# another request, 3 this same request was refused before (answered sold_out again).
_MANY = """
local out = {}
for i = 1, #KEYS, 2 do
  local hash = ARGV[(i + 1) / 2 + 1]
  local first = redis.call('SET', KEYS[i], hash, 'NX', 'EX', ARGV[1])
  if first then
    if redis.call('EXISTS', KEYS[i + 1]) == 1 then
      redis.call('SET', KEYS[i], 'S' .. hash, 'EX', ARGV[1])
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
  else
    local seen = redis.call('GET', KEYS[i])
    if seen and string.sub(seen, 1, 1) == 'S' then
      out[#out + 1] = (string.sub(seen, 2) == hash) and 3 or 2
    else
      out[#out + 1] = 0
    end
  end
end
return out
"""
_MANY_SHA = hashlib.sha1(_MANY.encode(), usedforsecurity=False).hexdigest()


GO_ON, SOLD_OUT, REUSED, REFUSED_BEFORE = 0, 1, 2, 3  # the gate's answers


def seen_marker(owner_id: int, scope: str, key: str) -> str:
    return f"idem:seen:{scope}:{owner_id}:{key}"


class Gate:
    """The flash-sale gate's check: mark the key as used (``SET NX``, holding the request's
    hash) and read the SKU's sold-out ``flag``. A new key while the flag is up is refused
    ``SOLD_OUT`` and the refusal is kept on the marker ("S" + hash), so the key's later
    requests get the same answer (``REFUSED_BEFORE``: sold out again, for the same request;
    ``REUSED`` for another one) even when stock is back — the refusal is stored like any
    answer. Redis away → ``GO_ON`` (the database decides). Checks that arrive while one
    command is in flight go together in the next (during a sale the gate answers thousands
    of buyers a second; a command each cost more than the rest of the answer)."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, str, str, asyncio.Future[int]]] = []
        self.running: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly

    async def check(self, owner_id: int, scope: str, key: str, digest: str, flag: str) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.queue.append((seen_marker(owner_id, scope, key), flag, digest, future))
        if self.running is None:
            self.running = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:256], self.queue[256:]
                keys = [k for marker, flag, _, _ in batch for k in (marker, flag)]
                hashes = [digest for _, _, digest, _ in batch]
                try:
                    out = await _eval(
                        _MANY, _MANY_SHA, len(keys), [*keys, str(_seen_ttl_s()), *hashes]
                    )
                except Exception:  # the gate is only a shortcut: the database decides
                    out = [GO_ON] * len(batch)
                for (_, _, _, future), answer in zip(batch, out, strict=True):
                    if not future.done():
                        future.set_result(int(answer))
        finally:
            self.running = None


async def refused_at_gate(owner_id: int, scope: str, key: str, digest: str) -> bool:
    """For the route, when no answer is stored for the key: did the gate refuse it
    (``sold_out``; then this same request is answered so again)? Raises
    ``IdempotencyKeyReused`` when the gate refused it for another request. Redis away →
    False (nothing known)."""
    try:
        seen = await get_queue().get(seen_marker(owner_id, scope, key))
    except Exception:
        return False
    if not seen or not seen.startswith(b"S"):
        return False
    if seen[1:].decode() != digest:
        raise IdempotencyKeyReused(
            "这个 Idempotency-Key 已用于另一个请求 (the key was used for a different request)"
        )
    return True


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def claim(
    session: AsyncSession, owner_id: int, scope: str, key: str, digest: str
) -> Stored | None:
    """None: go ahead (the key is ours until this transaction ends); else the answer to
    replay."""
    got = (
        await session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:owner), hashtext(:key))"),
            {"owner": f"{scope}:{owner_id}", "key": key},
        )
    ).scalar_one()
    if not got:
        raise IdempotencyInProgress(
            "相同的请求正在处理中，请稍后重试 (the same request is still being processed)"
        )
    row = await session.get(IdempotencyKey, (owner_id, scope, key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise IdempotencyKeyReused(
            "这个 Idempotency-Key 已用于另一个请求 (the key was used for a different request)"
        )
    return Stored(row.status_code, row.body)


async def finish(
    session: AsyncSession,
    owner_id: int,
    scope: str,
    key: str,
    digest: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    """Store the answer in the caller's transaction (it commits with what it describes)."""
    session.add(
        IdempotencyKey(
            owner_id=owner_id,
            scope=scope,
            key=key,
            request_hash=digest,
            status_code=status_code,
            body=body,
        )
    )
    await session.flush()


async def purge(session: AsyncSession, *, limit: int = 5000) -> int:
    """Forget answers older than ``KAMENG_IDEMPOTENCY_KEEP_S`` (a batch per run)."""
    cut = clock.now() - timedelta(seconds=get_settings().idempotency_keep_s)
    old = (
        select(IdempotencyKey.owner_id, IdempotencyKey.scope, IdempotencyKey.key)
        .where(IdempotencyKey.created_at < cut)
        .limit(limit)
    )
    res = await session.execute(
        delete(IdempotencyKey).where(
            tuple_(IdempotencyKey.owner_id, IdempotencyKey.scope, IdempotencyKey.key).in_(old)
        )
    )
    return int(res.rowcount or 0)  # type: ignore[attr-defined]
