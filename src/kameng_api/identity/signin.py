"""Sign-in: password (throttled, every attempt in the login log), then the second factor when
2FA is on; a successful sign-in opens a session and tells the user about a new device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import db, security
from kameng_api.core.actor import RequestMeta
from kameng_api.core.clock import clock
from kameng_api.core.errors import Forbidden
from kameng_api.identity import throttle
from kameng_api.identity.errors import InvalidCode, InvalidCredentials, LoginLocked, TokenRejected
from kameng_api.identity.lookups import find_by_login, get_user, normalize_login
from kameng_api.identity.models import LoginEvent, User
from kameng_api.identity.sessions import IssuedTokens, new_session
from kameng_api.identity.totp import check_second_factor
from kameng_api.notifications import service as notifications

MFA_CHALLENGE_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class MfaChallenge:
    mfa_token: str


async def _log_login(
    login: str, user_id: int | None, meta: RequestMeta, result: str, new_device: bool = False
) -> None:
    """Login log rows are written in their own transaction so failures are kept."""
    async with db.unit_of_work() as s:
        s.add(
            LoginEvent(
                login=login[:254],
                user_id=user_id,
                ip=meta.ip,
                user_agent=(meta.user_agent or "")[:512] or None,
                result=result,
                new_device=new_device,
            )
        )


async def _fail(login: str, user: User | None, meta: RequestMeta, result: str) -> None:
    await _log_login(login, user.id if user else None, meta, result)
    await throttle.register_failure(login, meta.ip)


async def authenticate(
    session: AsyncSession, login: str, password: str, meta: RequestMeta, transport: str
) -> IssuedTokens | MfaChallenge:
    login = normalize_login(login)
    wait = await throttle.locked_for(login, meta.ip)
    if wait:
        await _log_login(login, None, meta, "locked")
        raise LoginLocked(
            f"Too many failed attempts. Try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    user = await find_by_login(session, login)
    ok = await security.verify_password(user.password_hash if user else None, password)
    if user is None or not ok:
        await _fail(login, user, meta, "bad_credentials")
        raise InvalidCredentials("The login or the password is wrong.")
    if user.status != "active":
        await _fail(login, user, meta, "disabled")
        raise Forbidden("This account is disabled.", code="account_disabled")
    if user.totp_enabled_at is not None:
        await _log_login(login, user.id, meta, "mfa_required")
        token = security.encode_jwt({"sub": str(user.id)}, MFA_CHALLENGE_TTL, typ="mfa")
        return MfaChallenge(token)
    return await _sign_in(session, user, meta, transport, mfa=False)


async def authenticate_second_factor(
    session: AsyncSession,
    mfa_token: str,
    code: str | None,
    recovery_code: str | None,
    meta: RequestMeta,
    transport: str,
) -> IssuedTokens:
    try:
        claims = security.decode_jwt(mfa_token, typ="mfa")
    except security.TokenError as exc:
        raise TokenRejected(
            "The sign-in step expired; start again.", code="mfa_token_invalid"
        ) from exc
    user = await get_user(session, int(claims["sub"]))
    login = user.email or user.phone or str(user.id)
    wait = await throttle.locked_for(login, meta.ip)
    if wait:
        raise LoginLocked(
            f"Too many failed attempts. Try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    if not await check_second_factor(session, user, code, recovery_code):
        await _fail(login, user, meta, "mfa_failed")
        raise InvalidCode("The 2FA code is wrong.", code="invalid_2fa_code")
    return await _sign_in(session, user, meta, transport, mfa=True)


async def _is_new_device(session: AsyncSession, user_id: int, meta: RequestMeta) -> bool:
    seen_before = await session.execute(
        select(
            exists().where(
                LoginEvent.user_id == user_id,
                LoginEvent.result == "success",
            )
        )
    )
    if not seen_before.scalar():
        return False  # first sign-in ever: nothing to compare with
    same = await session.execute(
        select(
            exists().where(
                and_(
                    LoginEvent.user_id == user_id,
                    LoginEvent.result == "success",
                    LoginEvent.ip == meta.ip,
                    LoginEvent.user_agent == ((meta.user_agent or "")[:512] or None),
                )
            )
        )
    )
    return not same.scalar()


async def _sign_in(
    session: AsyncSession, user: User, meta: RequestMeta, transport: str, *, mfa: bool
) -> IssuedTokens:
    login = user.email or user.phone or str(user.id)
    await throttle.register_success(login)
    new_device = await _is_new_device(session, user.id, meta)
    issued = await new_session(session, user, meta, transport, mfa=mfa)
    user.last_login_at = clock.now()
    session.add(
        LoginEvent(
            login=login,
            user_id=user.id,
            ip=meta.ip,
            user_agent=(meta.user_agent or "")[:512] or None,
            result="success",
            new_device=new_device,
        )
    )
    if new_device:
        where = f"IP {meta.ip or '?'}, {(meta.user_agent or 'unknown device')[:120]}"
        await notifications.notify(
            session,
            user.id,
            "new_device_login",
            "新设备登录提醒 / New sign-in",
            f"您的账号在新设备上登录：{where}。如非本人操作，请立即修改密码并退出其他会话。\n"
            f"Your account signed in from a new device: {where}. If this was not you, change "
            f"your password and sign out other sessions now.",
        )
        if user.email:
            await notifications.send_email(
                session,
                user.email,
                "新设备登录提醒 / New sign-in to your kameng account",
                f"New sign-in: {where} at {clock.now().isoformat(timespec='seconds')}.",
            )
    await audit.record(
        session,
        "auth.login",
        actor=None,
        meta=meta,
        target_type="user",
        target_id=user.id,
        after={"session_id": issued.session_id, "mfa": mfa, "new_device": new_device},
    )
    return issued
