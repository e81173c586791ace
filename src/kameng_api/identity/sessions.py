"""A signed-in session's life: opened with an access and a refresh token, rotated on refresh
(a spent refresh token presented again ends the session), listed, and ended (logout, by the
user, or all of a user's at once)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import db, security
from kameng_api.core.actor import Actor, RequestMeta
from kameng_api.core.clock import clock
from kameng_api.core.errors import NotFound
from kameng_api.identity.errors import TokenRejected
from kameng_api.identity.lookups import get_user
from kameng_api.identity.models import AuthSession, RefreshToken, User
from kameng_api.settings import get_settings


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    session_id: str
    user: User


def _access_token(user: User, session_id: str) -> tuple[str, int]:
    ttl = get_settings().access_token_ttl_s
    token = security.encode_jwt(
        {"sub": str(user.id), "sid": session_id, "knd": user.kind},
        timedelta(seconds=ttl),
        typ="access",
    )
    return token, ttl


async def new_session(
    session: AsyncSession, user: User, meta: RequestMeta, transport: str, *, mfa: bool
) -> IssuedTokens:
    now = clock.now()
    sid = secrets.token_hex(16)
    session.add(
        AuthSession(
            id=sid,
            user_id=user.id,
            expires_at=now + timedelta(seconds=get_settings().refresh_token_ttl_s),
            ip=meta.ip,
            user_agent=(meta.user_agent or "")[:512] or None,
            transport=transport,
            mfa_verified_at=now if mfa else None,
            last_used_at=now,
        )
    )
    await session.flush()
    refresh = security.new_opaque_token(32)
    session.add(RefreshToken(session_id=sid, token_hash=security.token_hash(refresh)))
    access, ttl = _access_token(user, sid)
    return IssuedTokens(access, ttl, refresh, sid, user)


async def refresh(session: AsyncSession, refresh_token: str, meta: RequestMeta) -> IssuedTokens:
    """Rotate: the presented token is spent and a new one issued. Presenting a spent token
    again means it was stolen (or replayed): the whole session is revoked."""
    h = security.token_hash(refresh_token)
    row = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == h).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        await audit.record_attempt(
            "auth.refresh", actor=None, meta=meta, result="denied", detail="unknown refresh token"
        )
        raise TokenRejected("Sign in again.", code="invalid_refresh_token")
    if row.used_at is not None:
        # Revoke in a transaction of its own (this request's one rolls back with the error);
        # the session row is deliberately not locked here, or the two would wait on each other.
        session_id = row.session_id
        async with db.unit_of_work() as s2:
            await s2.execute(
                update(AuthSession)
                .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=clock.now(), revoked_reason="refresh_token_reused")
            )
        await audit.record_attempt(
            "auth.refresh",
            actor=None,
            meta=meta,
            result="reuse_detected",
            target_type="session",
            target_id=session_id,
            risk="high",
            detail="a spent refresh token was presented; session revoked",
        )
        raise TokenRejected(
            "This refresh token was already used; the session has been ended. Sign in again.",
            code="refresh_token_reused",
        )
    auth = await session.get(AuthSession, row.session_id, with_for_update=True)
    assert auth is not None
    now = clock.now()
    if auth.revoked_at is not None or auth.expires_at <= now:
        raise TokenRejected("The session has ended. Sign in again.", code="session_ended")
    user = await get_user(session, auth.user_id)
    if user.status != "active":
        raise TokenRejected("The account is disabled.", code="session_ended")
    row.used_at = now
    auth.last_used_at = now
    new_refresh = security.new_opaque_token(32)
    session.add(RefreshToken(session_id=auth.id, token_hash=security.token_hash(new_refresh)))
    access, ttl = _access_token(user, auth.id)
    await audit.record(
        session, "auth.refresh", actor=None, meta=meta, target_type="session", target_id=auth.id
    )
    return IssuedTokens(access, ttl, new_refresh, auth.id, user)


async def logout(session: AsyncSession, actor: Actor) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == actor.session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason="logout")
    )
    await audit.record(
        session, "auth.logout", actor=actor, target_type="session", target_id=actor.session_id
    )


async def revoke_all_sessions(session: AsyncSession, user_id: int, *, reason: str) -> int:
    res = await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
        .returning(AuthSession.id)
    )
    return len(res.scalars().all())


async def list_sessions(session: AsyncSession, user_id: int) -> Sequence[AuthSession]:
    q = (
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > clock.now(),
        )
        .order_by(AuthSession.last_used_at.desc())
    )
    return (await session.execute(q)).scalars().all()


async def revoke_own_session(session: AsyncSession, actor: Actor, session_id: str) -> None:
    res = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.user_id == actor.user_id,  # object-level: only your own
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=clock.now(), revoked_reason="revoked_by_user")
        .returning(AuthSession.id)
    )
    if res.scalar_one_or_none() is None:
        raise NotFound("No such session.")
    await audit.record(
        session, "me.revoke_session", actor=actor, target_type="session", target_id=session_id
    )
