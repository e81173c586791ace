"""Access-token resolution: a bearer token → the live session's ``Actor`` (with permissions),
or 401; rejected tokens are kept in the operation log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import security
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.errors import Unauthenticated
from kameng_api.identity.models import AuthSession, User
from kameng_api.rbac import service as rbac


async def resolve_access_token(session: AsyncSession, token: str, meta: RequestMeta) -> Actor:
    try:
        claims = security.decode_jwt(token, typ="access")
    except security.TokenError as exc:
        expired = "expired" in str(exc).lower()
        await audit.record_attempt(
            "auth.token",
            actor=None,
            meta=meta,
            result="expired" if expired else "rejected",
            risk="low" if expired else "high",
            detail=str(exc)[:200],
        )
        raise Unauthenticated(
            "The access token has expired; refresh it." if expired else "The token is invalid.",
            code="token_expired" if expired else "invalid_token",
        ) from exc
    row = (
        await session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == str(claims.get("sid")))
        )
    ).first()
    if row is None or str(row.User.id) != str(claims["sub"]):
        raise Unauthenticated("The session does not exist.", code="session_ended")
    auth, user = row.AuthSession, row.User
    if auth.revoked_at is not None or auth.expires_at <= clock.now():
        raise Unauthenticated("The session has ended. Sign in again.", code="session_ended")
    if user.status != "active":
        raise Unauthenticated("The account is disabled.", code="session_ended")
    perms = (
        await rbac.permissions_for_user(session, user.id)
        if user.kind == UserKind.staff
        else frozenset()
    )
    return Actor(
        user_id=user.id,
        kind=UserKind(user.kind),
        session_id=auth.id,
        permissions=perms,
        mfa_enabled=user.totp_enabled_at is not None,
        mfa_verified_at=auth.mfa_verified_at,
        must_change_password=user.must_change_password,
        meta=meta,
    )
