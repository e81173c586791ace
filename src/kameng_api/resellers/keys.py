"""A reseller's open-API keys: create (the secret shown once, stored encrypted and bound to
its app id), list, update, rotate (a new key; the old one keeps working for the grace
period), revoke (at once). Every write is in the operation log.

The signature check (``auth.py``) reads a key with ``key_for_request``: one indexed query
with the owner's account status, so a revoked key or a disabled reseller is refused on the
very next request, in every process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError
from kameng_api.core.security import decrypt_field, encrypt_field
from kameng_api.identity.models import User
from kameng_api.resellers.models import ResellerKey
from kameng_api.resellers.signing import new_app_id, new_secret
from kameng_api.settings import get_settings

LAST_USED_EVERY_S = 60  # last_used_at is written at most this often per key


class TooManyKeys(AppError):
    status = 409
    code = "too_many_keys"
    title = "Conflict"


class KeyNotFound(AppError):
    status = 404
    code = "key_not_found"
    title = "Not found"


def status_of(key: ResellerKey, now: datetime) -> str:
    """What a list shows: active, rotated (in its grace), expired (grace over), revoked."""
    if key.status == "revoked":
        return "revoked"
    if key.expires_at is not None:
        return "rotated" if key.expires_at > now else "expired"
    return "active"


def usable(key: ResellerKey, now: datetime) -> bool:
    return key.status == "active" and (key.expires_at is None or key.expires_at > now)


def secret_of(key: ResellerKey) -> str:
    return decrypt_field(key.secret_enc, aad=key.app_id)


def _snapshot(key: ResellerKey) -> dict[str, object]:
    return {
        "app_id": key.app_id,
        "name": key.name,
        "ip_allowlist": list(key.ip_allowlist),
        "rate_limit_per_min": key.rate_limit_per_min,
        "status": key.status,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


async def list_keys(session: AsyncSession, user_id: int) -> list[ResellerKey]:
    return list(
        (
            await session.execute(
                select(ResellerKey)
                .where(ResellerKey.user_id == user_id)
                .order_by(ResellerKey.id.desc())
            )
        ).scalars()
    )


async def get_key(
    session: AsyncSession, key_id: int, *, user_id: int | None, lock: bool = False
) -> ResellerKey:
    """A key by id — scoped to ``user_id`` (the owner), or any (staff: None). 404 outside."""
    q = select(ResellerKey).where(ResellerKey.id == key_id)
    if user_id is not None:
        q = q.where(ResellerKey.user_id == user_id)
    if lock:
        q = q.with_for_update()
    key = (await session.execute(q)).scalar_one_or_none()
    if key is None:
        raise KeyNotFound("No such key.")
    return key


async def _live_count(session: AsyncSession, user_id: int) -> int:
    """Keys that are active and not rotated (a rotated key in its grace does not count)."""
    n = (
        await session.execute(
            select(func.count())
            .select_from(ResellerKey)
            .where(
                ResellerKey.user_id == user_id,
                ResellerKey.status == "active",
                ResellerKey.expires_at.is_(None),
            )
        )
    ).scalar_one()
    return int(n)


async def _lock_owner(session: AsyncSession, user_id: int) -> None:
    """Serialise one reseller's key writes (the key count cannot be raced past the limit)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())


async def _new_key(
    session: AsyncSession, user_id: int, name: str, allowlist: list[str], rate: int | None
) -> tuple[ResellerKey, str]:
    most = get_settings().reseller_max_keys
    if await _live_count(session, user_id) >= most:
        raise TooManyKeys(f"最多 {most} 个密钥 (at most {most} live keys): revoke one first")
    app_id, secret = new_app_id(), new_secret()
    key = ResellerKey(
        user_id=user_id,
        name=name,
        app_id=app_id,
        secret_enc=encrypt_field(secret, aad=app_id),
        secret_hint=secret[-4:],
        ip_allowlist=allowlist,
        rate_limit_per_min=rate or get_settings().reseller_default_rate_per_min,
        status="active",
        created_at=clock.now(),
    )
    session.add(key)
    await session.flush()
    return key, secret


async def create_key(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    ip_allowlist: list[str],
    rate_limit_per_min: int | None,
) -> tuple[ResellerKey, str]:
    """A new key for the acting reseller; returns it with its secret (shown once)."""
    await _lock_owner(session, actor.user_id)
    key, secret = await _new_key(session, actor.user_id, name, ip_allowlist, rate_limit_per_min)
    await audit.record(
        session,
        "resellers.key_create",
        actor=actor,
        target_type="reseller_key",
        target_id=key.id,
        after=_snapshot(key),
    )
    return key, secret


async def update_key(
    session: AsyncSession,
    actor: Actor,
    key_id: int,
    *,
    name: str | None,
    ip_allowlist: list[str] | None,
    rate_limit_per_min: int | None,
) -> ResellerKey:
    key = await get_key(session, key_id, user_id=actor.user_id, lock=True)
    before = _snapshot(key)
    if name is not None:
        key.name = name
    if ip_allowlist is not None:
        key.ip_allowlist = ip_allowlist
    if rate_limit_per_min is not None:
        key.rate_limit_per_min = rate_limit_per_min
    await audit.record(
        session,
        "resellers.key_update",
        actor=actor,
        target_type="reseller_key",
        target_id=key.id,
        before=before,
        after=_snapshot(key),
    )
    return key


class KeyNotLive(AppError):
    status = 409
    code = "key_not_active"
    title = "Conflict"


async def rotate_key(session: AsyncSession, actor: Actor, key_id: int) -> tuple[ResellerKey, str]:
    """A new key (new app id and secret, same name, allowlist and rate); the old one keeps
    working until now + ``KAMENG_RESELLER_KEY_GRACE_S``, then it is refused."""
    await _lock_owner(session, actor.user_id)
    old = await get_key(session, key_id, user_id=actor.user_id, lock=True)
    now = clock.now()
    if not usable(old, now) or old.rotated_to_id is not None:
        raise KeyNotLive("该密钥已轮换或吊销 (the key was rotated or revoked already)")
    before = _snapshot(old)
    old.expires_at = now + timedelta(seconds=get_settings().reseller_key_grace_s)
    await session.flush()
    key, secret = await _new_key(
        session, actor.user_id, old.name, list(old.ip_allowlist), old.rate_limit_per_min
    )
    old.rotated_to_id = key.id
    await audit.record(
        session,
        "resellers.key_rotate",
        actor=actor,
        target_type="reseller_key",
        target_id=old.id,
        before=before,
        after={**_snapshot(old), "rotated_to": key.app_id},
    )
    return key, secret


async def revoke_key(
    session: AsyncSession, actor: Actor, key_id: int, *, owner_only: bool = True
) -> ResellerKey:
    """Refused from the next request on (by its owner, or by staff with
    ``resellers:manage_keys``: ``owner_only=False``). Revoking twice changes nothing."""
    key = await get_key(session, key_id, user_id=actor.user_id if owner_only else None, lock=True)
    if key.status == "revoked":
        return key
    before = _snapshot(key)
    key.status = "revoked"
    key.revoked_at = clock.now()
    await audit.record(
        session,
        "resellers.key_revoke",
        actor=actor,
        target_type="reseller_key",
        target_id=key.id,
        before=before,
        after=_snapshot(key),
        risk="medium",
    )
    return key


# ---- for the signature check -------------------------------------------------------------


@dataclass(frozen=True)
class RequestKey:
    id: int
    user_id: int
    app_id: str
    secret: str
    ip_allowlist: tuple[str, ...]
    rate_limit_per_min: int
    last_used_at: datetime | None


async def key_for_request(session: AsyncSession, app_id: str) -> RequestKey | None:
    """The usable key with this app id whose owner is an active reseller, else None."""
    row = (
        await session.execute(
            select(ResellerKey, User.status, User.kind)
            .join(User, User.id == ResellerKey.user_id)
            .where(ResellerKey.app_id == app_id)
        )
    ).first()
    if row is None:
        return None
    key, status, kind = row
    if not usable(key, clock.now()) or status != "active" or kind != UserKind.reseller:
        return None
    return RequestKey(
        id=key.id,
        user_id=key.user_id,
        app_id=key.app_id,
        secret=secret_of(key),
        ip_allowlist=tuple(key.ip_allowlist),
        rate_limit_per_min=key.rate_limit_per_min,
        last_used_at=key.last_used_at,
    )


async def note_used(session: AsyncSession, key: RequestKey) -> None:
    """``last_used_at``, written at most once a minute per key (and only by one request)."""
    now = clock.now()
    if key.last_used_at is not None and now - key.last_used_at < timedelta(
        seconds=LAST_USED_EVERY_S
    ):
        return
    stale = now - timedelta(seconds=LAST_USED_EVERY_S)
    await session.execute(
        update(ResellerKey)
        .where(
            ResellerKey.id == key.id,
            (ResellerKey.last_used_at.is_(None)) | (ResellerKey.last_used_at < stale),
        )
        .values(last_used_at=now)
    )
