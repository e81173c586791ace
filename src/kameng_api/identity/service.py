"""Accounts, sign-in, tokens, 2FA, sessions. Business rules only: no FastAPI here."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import db, security
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, Conflict, Forbidden, NotFound, Unauthenticated
from kameng_api.identity import throttle
from kameng_api.identity.models import (
    AuthSession,
    LoginEvent,
    OneTimeCode,
    PasswordHistory,
    RecoveryCode,
    RefreshToken,
    User,
)
from kameng_api.identity.passwords import check_password_policy
from kameng_api.notifications import service as notifications
from kameng_api.rbac import service as rbac
from kameng_api.rbac.catalogue import PERMISSIONS, load_catalogue
from kameng_api.settings import get_settings

PASSWORD_HISTORY_STAFF = 5
RECOVERY_CODES = 10
CODE_TTL = timedelta(minutes=15)
CODE_MAX_ATTEMPTS = 5
MFA_CHALLENGE_TTL = timedelta(minutes=5)
TOTP_ISSUER = "kameng"


# ---- errors -----------------------------------------------------------------------------------


class InvalidCredentials(AppError):
    status = 401
    code = "invalid_credentials"
    title = "Wrong login or password"


class LoginLocked(AppError):
    status = 429
    code = "login_locked"
    title = "Too many failed sign-ins"


class InvalidCode(AppError):
    status = 400
    code = "invalid_code"
    title = "Wrong or expired code"


class TokenRejected(AppError):
    status = 401
    code = "invalid_token"
    title = "Invalid token"


# ---- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    session_id: str
    user: User


@dataclass(frozen=True)
class MfaChallenge:
    mfa_token: str


def normalize_login(login: str) -> str:
    return login.strip().lower()


# ---- look-ups ---------------------------------------------------------------------------------


async def find_by_login(session: AsyncSession, login: str) -> User | None:
    login = normalize_login(login)
    q = select(User).where(or_(func.lower(User.email) == login, User.phone == login))
    return (await session.execute(q)).scalar_one_or_none()


async def login_names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """user id → email (or phone) for showing who did something."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.email, User.phone).where(User.id.in_(user_ids))
    )
    return {uid: email or phone or f"#{uid}" for uid, email, phone in rows}


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def get_users(session: AsyncSession, user_ids: list[int]) -> list[User]:
    """Many users in one query (loaded into the session: ``get_user`` then reads them)."""
    return list((await session.execute(select(User).where(User.id.in_(user_ids)))).scalars())


def requires_mfa_enrollment(user: User, permissions: frozenset[str]) -> bool:
    load_catalogue()
    return (
        user.kind == UserKind.staff
        and user.totp_enabled_at is None
        and any(PERMISSIONS[p].sensitive for p in permissions if p in PERMISSIONS)
    )


# ---- accounts ---------------------------------------------------------------------------------


async def _set_password(session: AsyncSession, user: User, password: str) -> None:
    login = user.email or user.phone
    check_password_policy(password, login=login)
    if user.kind == UserKind.staff and user.id is not None:
        recent = (
            await session.execute(
                select(PasswordHistory.password_hash)
                .where(PasswordHistory.user_id == user.id)
                .order_by(PasswordHistory.id.desc())
                .limit(PASSWORD_HISTORY_STAFF)
            )
        ).scalars()
        for old in recent:
            if await security.verify_password(old, password):
                raise AppError(
                    f"Choose a password you have not used in your last {PASSWORD_HISTORY_STAFF}.",
                    code="password_reused",
                    status=422,
                )
    user.password_hash = await security.hash_password(password)
    user.password_changed_at = clock.now()
    await session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))


async def create_user(
    session: AsyncSession,
    *,
    kind: UserKind,
    email: str | None,
    phone: str | None,
    password: str,
    display_name: str = "",
    must_change_password: bool = False,
    email_verified: bool = False,
) -> User:
    email = normalize_login(email) if email else None
    if email and await find_by_login(session, email):
        raise Conflict("An account with this email exists.", code="email_taken")
    if phone and await find_by_login(session, phone):
        raise Conflict("An account with this phone number exists.", code="phone_taken")
    check_password_policy(password, login=email or phone)
    user = User(
        kind=str(kind),
        email=email,
        phone=phone,
        display_name=display_name or (email or phone or "").split("@")[0],
        password_hash="!",  # noqa: S106 — placeholder until hashed below
        must_change_password=must_change_password,
        email_verified_at=clock.now() if email_verified else None,
    )
    session.add(user)
    await session.flush()
    await _set_password(session, user, password)
    return user


async def register_customer(
    session: AsyncSession,
    *,
    email: str,
    phone: str | None,
    password: str,
    display_name: str,
    meta: RequestMeta,
) -> User:
    user = await create_user(
        session,
        kind=UserKind.customer,
        email=email,
        phone=phone,
        password=password,
        display_name=display_name,
    )
    await _send_code(session, user, "verify_email")
    await audit.record(
        session,
        "auth.register",
        actor=None,
        meta=meta,
        target_type="user",
        target_id=user.id,
        after={"email": user.email, "kind": user.kind},
    )
    return user


def _new_code() -> str:
    return f"{secrets.randbelow(10**8):08d}"


async def _send_code(session: AsyncSession, user: User, purpose: str) -> None:
    assert user.email
    code = _new_code()
    await session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.user_id == user.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None),
        )
        .values(used_at=clock.now())
    )
    session.add(
        OneTimeCode(
            user_id=user.id,
            purpose=purpose,
            code_hash=security.token_hash(f"{purpose}:{code}"),
            expires_at=clock.now() + CODE_TTL,
        )
    )
    subject, intro = {
        "verify_email": (
            "验证您的邮箱 / Verify your email",
            "您的邮箱验证码 / Your verification code",
        ),
        "reset_password": ("重置密码 / Reset your password", "您的密码重置码 / Your reset code"),
    }[purpose]
    body = (
        f"{intro}: {code}\n\n"
        f"15 分钟内有效。/ Valid for 15 minutes.\n"
        f"如非本人操作请忽略。/ If this was not you, ignore this mail."
    )
    await notifications.send_email(session, user.email, subject, body)


async def _consume_code(session: AsyncSession, user: User, purpose: str, code: str) -> None:
    row = (
        await session.execute(
            select(OneTimeCode)
            .where(
                OneTimeCode.user_id == user.id,
                OneTimeCode.purpose == purpose,
                OneTimeCode.used_at.is_(None),
            )
            .order_by(OneTimeCode.id.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.expires_at < clock.now() or row.attempts >= CODE_MAX_ATTEMPTS:
        raise InvalidCode("The code is wrong or has expired; request a new one.")
    if not security.constant_time_equals(
        row.code_hash, security.token_hash(f"{purpose}:{code.strip()}")
    ):
        # Count the miss in its own transaction (the request's rolls back with the error).
        # Roll back first: it holds the row lock the count needs.
        row_id = row.id
        await session.rollback()
        async with db.unit_of_work() as s2:
            await s2.execute(
                update(OneTimeCode)
                .where(OneTimeCode.id == row_id)
                .values(attempts=OneTimeCode.attempts + 1)
            )
        raise InvalidCode("The code is wrong or has expired; request a new one.")
    row.used_at = clock.now()


async def verify_email(session: AsyncSession, email: str, code: str, meta: RequestMeta) -> User:
    user = await find_by_login(session, email)
    if user is None:
        raise InvalidCode("The code is wrong or has expired; request a new one.")
    await _consume_code(session, user, "verify_email", code)
    user.email_verified_at = clock.now()
    await audit.record(
        session, "auth.verify_email", actor=None, meta=meta, target_type="user", target_id=user.id
    )
    return user


async def resend_verification(session: AsyncSession, email: str, meta: RequestMeta) -> None:
    user = await find_by_login(session, email)
    if user is not None and user.email and user.email_verified_at is None:
        await _send_code(session, user, "verify_email")
    await audit.record(session, "auth.resend_verification", actor=None, meta=meta, detail=email)


async def request_password_reset(session: AsyncSession, email: str, meta: RequestMeta) -> None:
    """Always succeeds from the caller's view (no account enumeration)."""
    user = await find_by_login(session, email)
    if user is not None and user.email and user.status == "active":
        await _send_code(session, user, "reset_password")
    await audit.record(
        session,
        "auth.request_password_reset",
        actor=None,
        meta=meta,
        target_type="user" if user else None,
        target_id=user.id if user else None,
    )


async def reset_password(
    session: AsyncSession, email: str, code: str, new_password: str, meta: RequestMeta
) -> None:
    user = await find_by_login(session, email)
    if user is None:
        raise InvalidCode("The code is wrong or has expired; request a new one.")
    await _consume_code(session, user, "reset_password", code)
    await _set_password(session, user, new_password)
    user.must_change_password = False
    await revoke_all_sessions(session, user.id, reason="password_reset")
    await audit.record(
        session,
        "auth.reset_password",
        actor=None,
        meta=meta,
        target_type="user",
        target_id=user.id,
        risk="medium",
    )


async def change_password(session: AsyncSession, actor: Actor, current: str, new: str) -> None:
    user = await get_user(session, actor.user_id)
    if not await security.verify_password(user.password_hash, current):
        raise AppError("The current password is wrong.", code="wrong_password", status=400)
    if current == new:
        raise AppError("Choose a new password.", code="password_reused", status=422)
    await _set_password(session, user, new)
    user.must_change_password = False
    # every other device signs in again
    await session.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id == user.id,
            AuthSession.id != actor.session_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=clock.now(), revoked_reason="password_changed")
    )
    await audit.record(
        session, "me.change_password", actor=actor, target_type="user", target_id=user.id
    )


# ---- sign-in ----------------------------------------------------------------------------------


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
    if not await _check_second_factor(session, user, code, recovery_code):
        await _fail(login, user, meta, "mfa_failed")
        raise InvalidCode("The 2FA code is wrong.", code="invalid_2fa_code")
    return await _sign_in(session, user, meta, transport, mfa=True)


async def _check_second_factor(
    session: AsyncSession, user: User, code: str | None, recovery_code: str | None
) -> bool:
    if code:
        return verify_totp(user, code)
    if recovery_code:
        h = security.token_hash("recovery:" + recovery_code.strip().replace("-", "").lower())
        row = (
            await session.execute(
                select(RecoveryCode)
                .where(
                    RecoveryCode.user_id == user.id,
                    RecoveryCode.code_hash == h,
                    RecoveryCode.used_at.is_(None),
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            return False
        row.used_at = clock.now()
        return True
    return False


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
    issued = await _new_session(session, user, meta, transport, mfa=mfa)
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


def _access_token(user: User, session_id: str) -> tuple[str, int]:
    ttl = get_settings().access_token_ttl_s
    token = security.encode_jwt(
        {"sub": str(user.id), "sid": session_id, "knd": user.kind},
        timedelta(seconds=ttl),
        typ="access",
    )
    return token, ttl


async def _new_session(
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


# ---- access-token resolution ------------------------------------------------------------------


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


# ---- TOTP 2FA ---------------------------------------------------------------------------------


def _totp(user: User) -> pyotp.TOTP:
    assert user.totp_secret_enc
    secret = security.decrypt_field(user.totp_secret_enc, aad=f"users.totp:{user.id}")
    return pyotp.TOTP(secret)


def verify_totp(user: User, code: str) -> bool:
    """Accepts the current step ±1, each step at most once (no replay)."""
    if not user.totp_secret_enc:
        return False
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = _totp(user)
    now = clock.now()
    current = totp.timecode(now)
    for offset in (0, -1, 1):
        step = current + offset
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if security.constant_time_equals(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str


async def start_totp(session: AsyncSession, actor: Actor) -> TotpSetup:
    user = await get_user(session, actor.user_id)
    if user.totp_enabled_at is not None:
        raise Conflict("2FA is already on; turn it off first.", code="mfa_already_enabled")
    secret = pyotp.random_base32()
    user.totp_secret_enc = security.encrypt_field(secret, aad=f"users.totp:{user.id}")
    user.totp_last_step = None
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=user.email or user.phone or str(user.id), issuer_name=TOTP_ISSUER
    )
    await audit.record(session, "me.start_2fa", actor=actor, target_type="user", target_id=user.id)
    return TotpSetup(secret, uri)


async def _new_recovery_codes(session: AsyncSession, user_id: int) -> list[str]:
    await session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())
    )
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits each, 10 hex chars
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user_id, code_hash=security.token_hash("recovery:" + raw)))
    return codes


async def enable_totp(session: AsyncSession, actor: Actor, code: str) -> list[str]:
    user = await get_user(session, actor.user_id)
    if user.totp_enabled_at is not None:
        raise Conflict("2FA is already on.", code="mfa_already_enabled")
    if not user.totp_secret_enc:
        raise Conflict("Start the 2FA setup first.", code="mfa_setup_not_started")
    if not verify_totp(user, code):
        raise InvalidCode("The 2FA code is wrong.", code="invalid_2fa_code")
    user.totp_enabled_at = clock.now()
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == actor.session_id)
        .values(mfa_verified_at=clock.now())
    )
    codes = await _new_recovery_codes(session, user.id)
    await audit.record(
        session, "me.enable_2fa", actor=actor, target_type="user", target_id=user.id, risk="medium"
    )
    return codes


async def disable_totp(session: AsyncSession, actor: Actor, code: str) -> None:
    user = await get_user(session, actor.user_id)
    if user.totp_enabled_at is None:
        raise Conflict("2FA is not on.", code="mfa_not_enabled")
    perms = await rbac.permissions_for_user(session, user.id)
    if user.kind == UserKind.staff and any(
        PERMISSIONS[p].sensitive for p in perms if p in PERMISSIONS
    ):
        raise Forbidden(
            "Your roles include sensitive permissions: 2FA must stay on.",
            code="mfa_required_by_role",
        )
    if not verify_totp(user, code):
        raise InvalidCode("The 2FA code is wrong.", code="invalid_2fa_code")
    user.totp_enabled_at = None
    user.totp_secret_enc = None
    await session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())
    )
    await audit.record(
        session, "me.disable_2fa", actor=actor, target_type="user", target_id=user.id, risk="high"
    )


async def regenerate_recovery_codes(session: AsyncSession, actor: Actor) -> list[str]:
    user = await get_user(session, actor.user_id)
    if user.totp_enabled_at is None:
        raise Conflict("2FA is not on.", code="mfa_not_enabled")
    window = timedelta(seconds=get_settings().step_up_window_s)
    if actor.mfa_verified_at is None or clock.now() - actor.mfa_verified_at > window:
        raise Forbidden("Confirm with your 2FA code first.", code="step_up_required")
    codes = await _new_recovery_codes(session, user.id)
    await audit.record(
        session, "me.regenerate_recovery_codes", actor=actor, target_type="user", target_id=user.id
    )
    return codes


async def step_up(
    session: AsyncSession, actor: Actor, code: str | None, recovery_code: str | None
) -> datetime:
    user = await get_user(session, actor.user_id)
    if user.totp_enabled_at is None:
        raise Forbidden("Turn on 2FA first.", code="mfa_enrollment_required")
    if not await _check_second_factor(session, user, code, recovery_code):
        login = user.email or user.phone or str(user.id)
        await throttle.register_failure(login, actor.meta.ip)
        await audit.record_attempt(
            "auth.step_up", actor=actor, result="denied", target_type="user", target_id=user.id
        )
        raise InvalidCode("The 2FA code is wrong.", code="invalid_2fa_code")
    now = clock.now()
    await session.execute(
        update(AuthSession).where(AuthSession.id == actor.session_id).values(mfa_verified_at=now)
    )
    await audit.record(session, "auth.step_up", actor=actor, target_type="user", target_id=user.id)
    return now


# ---- staff administration ---------------------------------------------------------------------


def user_snapshot(user: User) -> dict[str, object]:
    return {
        "email": user.email,
        "phone": user.phone,
        "display_name": user.display_name,
        "status": user.status,
        "kind": user.kind,
    }


async def create_staff(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    display_name: str,
    password: str | None,
    role_ids: set[int],
) -> tuple[User, str | None]:
    temp = None
    if password is None:
        temp = security.new_opaque_token(12)
        password = temp
    user = await create_user(
        session,
        kind=UserKind.staff,
        email=email,
        phone=None,
        password=password,
        display_name=display_name,
        must_change_password=True,
        email_verified=True,
    )
    await audit.record(
        session,
        "users.create",
        actor=actor,
        target_type="user",
        target_id=user.id,
        after=user_snapshot(user),
        risk="medium",
    )
    if role_ids:
        await rbac.set_user_roles(session, actor, user.id, role_ids)
    return user, temp


async def list_users(
    session: AsyncSession,
    *,
    kind: str | None,
    q: str | None,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[User]:
    stmt = select(User)
    if kind:
        stmt = stmt.where(User.kind == kind)
    if status:
        stmt = stmt.where(User.status == status)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(User.email).like(like),
                User.phone.like(like),
                func.lower(User.display_name).like(like),
            )
        )
    if before_id is not None:
        stmt = stmt.where(User.id < before_id)
    return (await session.execute(stmt.order_by(User.id.desc()).limit(limit))).scalars().all()


async def update_user(
    session: AsyncSession,
    actor: Actor,
    user_id: int,
    *,
    display_name: str | None,
    status: str | None,
) -> User:
    user = await get_user(session, user_id)
    await rbac.ensure_can_manage(session, actor, user.id)
    before = user_snapshot(user)
    if status is not None and status != user.status:
        if "users:disable" not in actor.permissions:
            raise Forbidden("Disabling users needs users:disable.", code="permission_denied")
        if status == "disabled":
            if user.id == actor.user_id:
                raise Conflict("You cannot disable yourself.", code="cannot_disable_self")
            await rbac.ensure_not_last_super_admin(session, user.id)
            await revoke_all_sessions(session, user.id, reason="disabled")
        user.status = status
    if display_name is not None:
        user.display_name = display_name
    await session.flush()
    await audit.record(
        session,
        "users.update",
        actor=actor,
        target_type="user",
        target_id=user.id,
        before=before,
        after=user_snapshot(user),
        risk="medium" if status else "low",
    )
    return user


async def force_logout(session: AsyncSession, actor: Actor, user_id: int) -> int:
    if user_id == actor.user_id:
        raise Conflict(
            "Sign your own sessions out from your sessions list instead.",
            code="cannot_manage_self",
        )
    user = await get_user(session, user_id)
    await rbac.ensure_can_manage(session, actor, user.id)
    n = await revoke_all_sessions(session, user.id, reason="forced_by_admin")
    await audit.record(
        session,
        "users.force_logout",
        actor=actor,
        target_type="user",
        target_id=user.id,
        after={"sessions_ended": n},
        risk="medium",
    )
    return n


async def list_login_events(
    session: AsyncSession,
    *,
    user_id: int | None,
    result: str | None,
    ip: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> Sequence[LoginEvent]:
    stmt = select(LoginEvent)
    if user_id is not None:
        stmt = stmt.where(LoginEvent.user_id == user_id)
    if result:
        stmt = stmt.where(LoginEvent.result == result)
    if ip:
        stmt = stmt.where(LoginEvent.ip == ip)
    if since:
        stmt = stmt.where(LoginEvent.at >= since)
    if until:
        stmt = stmt.where(LoginEvent.at < until)
    if before_id is not None:
        stmt = stmt.where(LoginEvent.id < before_id)
    return (await session.execute(stmt.order_by(LoginEvent.id.desc()).limit(limit))).scalars().all()
