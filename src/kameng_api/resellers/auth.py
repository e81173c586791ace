"""The open API's access rule: a request signed with a reseller's key (``signing.py``).

Checked in this order, each refusal with its own code and nothing ordered:

1. the four headers present and well formed — else 401 ``signature_missing``;
2. the app id names a usable key of an active reseller — else 401 ``unknown_key`` (no such
   key, revoked, or rotated and past its grace);
3. the timestamp within ±300 s of our clock — else 401 ``stale_timestamp``;
4. the HMAC over method, raw path, the query pairs as received, timestamp, nonce and the
   exact body bytes — else 401 ``bad_signature`` (checked *before* the nonce is spent, so a
   forged request cannot burn a reseller's nonces);
5. the client address (``request.client.host``, which honours the proxy trust setting) in
   the key's allowlist, when it has one — else 403 ``ip_refused``;
6. one Redis script: the key's request count of this minute (fixed window, atomic
   ``INCR`` + ``PEXPIRE``) — beyond its limit 429 ``rate_limited`` with ``Retry-After`` —
   then the nonce stored ``SET NX EX`` (per app id, kept 2 × the window) — seen before: 401
   ``nonce_reused``.

The caller becomes an ``Actor`` of kind reseller (no permissions: the order services scope
everything to ``user_id``).

One implementation for both paths: ``signed_headers`` (1), ``check_signed`` (3–5, pure),
``run_gate`` / ``judge_gate`` (6). The route's dependency ``signed_reseller`` reads the key
fresh (2: a revoke acts on the next request); the open-API lane (``resellers/lane.py``)
reads it through ``KeyCache`` (a few seconds per process: its purchase statement checks
the key again) and, when it hands a request on after running the gate, leaves the verdict
in the scope (``GATE_SCOPE_KEY``) so the nonce is neither spent nor counted twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Header, Request
from redis.exceptions import NoScriptError

from kameng_api.core import db
from kameng_api.core.actor import Actor, UserKind
from kameng_api.core.errors import AppError, Unauthenticated
from kameng_api.core.redis import get_queue
from kameng_api.rbac.deps import ACCESS_MARKER, DbSession, request_meta
from kameng_api.resellers import keys
from kameng_api.resellers.signing import (
    HEADER_APP_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    NONCE_RE,
    WINDOW_S,
    signature_matches,
    string_to_sign,
)

log = logging.getLogger(__name__)

RATE_WINDOW_MS = 60_000
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
NONCE_TTL_S = 2 * WINDOW_S + 60  # longer than any timestamp we accept is fresh

# KEYS: the key's counter, the nonce. ARGV: window ms, limit, nonce TTL s.
# {-1, ms left}: rate limited (the nonce is not spent); {1, 0}: go on; {0, 0}: nonce seen.
_GATE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); left = tonumber(ARGV[1]) end
  return {-1, left}
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return {1, 0} end
return {0, 0}
"""


class SignatureError(Unauthenticated):
    """A 401 of the open API (its ``code`` says which check failed)."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": "KamengSignature"})


class IpRefused(AppError):
    status = 403
    code = "ip_refused"
    title = "Forbidden"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


@dataclass(frozen=True)
class Caller:
    """Who signed the request: the key and its reseller, as an Actor for the services."""

    key: keys.RequestKey
    actor: Actor

    @property
    def user_id(self) -> int:
        return self.actor.user_id


def _allowed(ip: str | None, allowlist: tuple[str, ...]) -> bool:
    if not allowlist:
        return True
    if ip is None:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for cidr in allowlist:
        try:
            if addr in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclass(frozen=True)
class SignedHeaders:
    """The four signing headers, present and well formed (``signed_headers``)."""

    app_id: str
    ts: str
    nonce: str
    signature: str


def signed_headers(header: Callable[[str], str]) -> SignedHeaders:
    """Check 1: the four headers (``header(name)``: its value, '' when absent)."""
    app_id = header(HEADER_APP_ID).strip()
    ts = header(HEADER_TIMESTAMP).strip()
    nonce = header(HEADER_NONCE).strip()
    signature = header(HEADER_SIGNATURE).strip()
    if not (app_id and ts and nonce and signature):
        raise SignatureError(
            "Sign the request: X-Kameng-App-Id, X-Kameng-Timestamp, X-Kameng-Nonce and "
            "X-Kameng-Signature are required.",
            "signature_missing",
        )
    if (
        len(app_id) > 64
        or not ts.isascii()
        or not ts.isdigit()
        or len(ts) > 12
        or not NONCE_RE.match(nonce)
        or len(signature) != 64
        or not _HEX.match(signature)
    ):
        raise SignatureError(
            "A signing header is malformed (timestamp: Unix seconds; nonce: 16-64 of "
            "A-Z a-z 0-9 _ -; signature: 64 hex digits).",
            "signature_missing",
        )
    return SignedHeaders(app_id, ts, nonce, signature)


def unknown_key() -> SignatureError:
    """Check 2's refusal: no usable key with that app id."""
    return SignatureError("No such key, or it was revoked or has expired.", "unknown_key")


def check_signed(
    key: keys.RequestKey,
    h: SignedHeaders,
    scope: Mapping[str, Any],
    body: bytes,
    ip: str | None,
) -> None:
    """Checks 3 to 5 for the request in ``scope`` (an ASGI scope): the timestamp window, the
    HMAC over method, raw path, query pairs as received, timestamp, nonce and body, and the
    key's allowlist. Pure: nothing is spent."""
    if abs(time.time() - int(h.ts)) > WINDOW_S:
        raise SignatureError(
            f"The timestamp is more than {WINDOW_S} s from our clock "
            f"(server time {int(time.time())}).",
            "stale_timestamp",
        )
    raw_path = scope.get("raw_path") or str(scope["path"]).encode()
    path = raw_path.decode("latin-1").partition("?")[0]
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
    text = string_to_sign(str(scope["method"]), path, query, h.ts, h.nonce, body)
    if not signature_matches(key.secret, text, h.signature):
        raise SignatureError(
            "The signature does not match the request (see docs/reseller-api.md).",
            "bad_signature",
        )
    if not _allowed(ip, key.ip_allowlist):
        raise IpRefused(f"This key may not be used from {ip}.")


@dataclass(frozen=True)
class GateVerdict:
    """Check 6's result for one request: ``verdict`` 1 go on, 0 nonce seen, -1 rate limited
    (``left_ms`` of the window left)."""

    app_id: str
    nonce: str
    verdict: int
    left_ms: int


GATE_SCOPE_KEY = "kameng.open_gate"
"""Where the open-API lane (``resellers/lane.py``) leaves the gate's verdict for a request it
hands on to the route after running the gate: the route takes that verdict (the nonce is
spent, the request counted) instead of asking Redis again."""


async def run_gate(key: keys.RequestKey, nonce: str) -> GateVerdict:
    """Check 6, one Redis script: count the request in the key's minute, then store the nonce."""
    verdict, left_ms = await get_queue().eval(  # type: ignore[misc]
        _GATE,
        2,
        f"open:rate:{key.app_id}",
        f"open:nonce:{key.app_id}:{nonce}",
        str(RATE_WINDOW_MS),
        str(key.rate_limit_per_min),
        str(NONCE_TTL_S),
    )
    return GateVerdict(key.app_id, nonce, int(verdict), int(left_ms))


# The same per request, for many requests in one command (``GateBatch``): KEYS the counter
# and the nonce of each request, ARGV window ms, nonce TTL s, then each request's limit.
_GATES = """
local out = {}
for i = 1, #KEYS, 2 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  if n > tonumber(ARGV[(i + 1) / 2 + 2]) then
    local left = redis.call('PTTL', KEYS[i])
    if left < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[1]); left = tonumber(ARGV[1]) end
    out[#out + 1] = -1; out[#out + 1] = left
  elseif redis.call('SET', KEYS[i + 1], '1', 'NX', 'EX', ARGV[2]) then
    out[#out + 1] = 1; out[#out + 1] = 0
  else
    out[#out + 1] = 0; out[#out + 1] = 0
  end
end
return out
"""
_GATES_SHA = hashlib.sha1(_GATES.encode()).hexdigest()  # noqa: S324 (Redis names scripts so)


class GateBatch:
    """``run_gate`` for the open-API lane: the gates of requests that arrive while one
    command is in flight go together in the next (one command each cost more than the rest
    of a lane answer), each judged exactly as ``run_gate`` judges it, in arrival order. Redis
    away: the error, for every request of the command (fail closed)."""

    def __init__(self) -> None:
        self.queue: list[tuple[keys.RequestKey, str, asyncio.Future[GateVerdict]]] = []
        self.running: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly

    async def run(self, key: keys.RequestKey, nonce: str) -> GateVerdict:
        future: asyncio.Future[GateVerdict] = asyncio.get_running_loop().create_future()
        self.queue.append((key, nonce, future))
        if self.running is None:
            self.running = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:256], self.queue[256:]
                names = [
                    k
                    for key, nonce, _ in batch
                    for k in (f"open:rate:{key.app_id}", f"open:nonce:{key.app_id}:{nonce}")
                ]
                args = [
                    *names,
                    str(RATE_WINDOW_MS),
                    str(NONCE_TTL_S),
                    *(str(key.rate_limit_per_min) for key, _, _ in batch),
                ]
                try:
                    out = await _evalsha(len(names), args)
                except Exception as exc:
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for i, (key, nonce, future) in enumerate(batch):
                    if not future.done():
                        future.set_result(
                            GateVerdict(key.app_id, nonce, int(out[2 * i]), int(out[2 * i + 1]))
                        )
        finally:
            self.running = None


async def _evalsha(n_keys: int, args: list[str]) -> Any:
    queue = get_queue()
    try:
        return await queue.evalsha(_GATES_SHA, n_keys, *args)  # type: ignore[misc]
    except NoScriptError:
        await queue.script_load(_GATES)
        return await queue.evalsha(_GATES_SHA, n_keys, *args)  # type: ignore[misc]


def judge_gate(key: keys.RequestKey, gate: GateVerdict) -> None:
    """Check 6's refusals: 429 ``rate_limited`` (with ``Retry-After``), 401 ``nonce_reused``."""
    if gate.verdict < 0:
        raise RateLimited(
            f"At most {key.rate_limit_per_min} requests a minute with this key.",
            headers={"Retry-After": str(max(1, math.ceil(gate.left_ms / 1000)))},
        )
    if gate.verdict == 0:
        raise SignatureError("This nonce was used already: make a new one.", "nonce_reused")


class KeyCache:
    """``keys.key_for_request`` kept per process (the open-API lane's lookup: a purchase
    re-checks the key — usable, its owner an active reseller, its allowlist — in its own
    statement, see ``orders/purchase.py``). A key read more than ``ttl_s`` ago is still
    used while it is read again in the background (a burst of one reseller's requests
    never waits on the database for it); one read longer than ``max_age_s`` ago, or never
    read, is read before the request goes on. A key not found is not kept: the route
    answers it, reading the database."""

    def __init__(self, ttl_s: float = 5.0, max_age_s: float = 60.0, max_keys: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.max_age_s = max_age_s
        self.max_keys = max_keys
        self.keys: dict[str, tuple[float, keys.RequestKey]] = {}
        self.reading: dict[str, asyncio.Task[keys.RequestKey | None]] = {}

    async def get(self, app_id: str) -> keys.RequestKey | None:
        hit = self.keys.get(app_id)
        age = time.monotonic() - hit[0] if hit is not None else float("inf")
        if hit is not None and age < self.ttl_s:
            return hit[1]
        task = self.reading.get(app_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._read(app_id))
            self.reading[app_id] = task
            task.add_done_callback(lambda t: self._read_done(app_id, t))
        if hit is not None and age < self.max_age_s:
            return hit[1]  # the read goes on in the background
        return await asyncio.shield(task)

    def _read_done(self, app_id: str, task: asyncio.Task[keys.RequestKey | None]) -> None:
        self.reading.pop(app_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("open-API key read failed", exc_info=task.exception())

    async def _read(self, app_id: str) -> keys.RequestKey | None:
        async with db.unit_of_work() as session:
            key = await keys.key_for_request(session, app_id)
        if key is None:
            self.keys.pop(app_id, None)
            return None
        if len(self.keys) >= self.max_keys:
            self.keys.clear()
        self.keys[app_id] = (time.monotonic(), key)
        return key

    def forget(self, app_id: str) -> None:
        self.keys.pop(app_id, None)


async def signed_reseller(
    request: Request,
    session: DbSession,
    x_kameng_app_id: Annotated[
        str | None, Header(description="your key's app id", max_length=64)
    ] = None,
    x_kameng_timestamp: Annotated[
        str | None, Header(description="Unix seconds (±300 s of our clock)", max_length=20)
    ] = None,
    x_kameng_nonce: Annotated[
        str | None, Header(description="16–64 of A-Z a-z 0-9 _ -, once per key", max_length=64)
    ] = None,
    x_kameng_signature: Annotated[
        str | None,
        Header(description="lowercase hex HMAC-SHA256 (docs/reseller-api.md)", max_length=128),
    ] = None,
) -> Caller:
    """The reseller whose key signed this request, or a refusal (see the module's doc)."""
    h = signed_headers(lambda name: request.headers.get(name, ""))
    key = await keys.key_for_request(session, h.app_id)  # fresh: a revoke acts at once
    if key is None:
        raise unknown_key()
    meta = request_meta(request)
    check_signed(key, h, request.scope, await request.body(), meta.ip)
    gate = request.scope.get(GATE_SCOPE_KEY)
    if not (isinstance(gate, GateVerdict) and (gate.app_id, gate.nonce) == (key.app_id, h.nonce)):
        gate = await run_gate(key, h.nonce)
    judge_gate(key, gate)
    await keys.note_used(session, key)
    actor = Actor(
        user_id=key.user_id,
        kind=UserKind.reseller,
        session_id=f"key:{key.app_id}",
        meta=meta,
    )
    request.state.actor = actor
    return caller_of(key, actor)


def caller_of(key: keys.RequestKey, actor: Actor) -> Caller:
    return Caller(key, actor)


setattr(signed_reseller, ACCESS_MARKER, "signed")

Signed = Annotated[Caller, Depends(signed_reseller)]
