"""Accounts: creating users, customer registration, email verification and password reset by
mailed one-time codes, password changes (policy and staff password history)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import db, security
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, Conflict
from kameng_api.identity import throttle
from kameng_api.identity.errors import InvalidCode, MailRateLimited
from kameng_api.identity.lookups import find_by_login, get_user, normalize_login
from kameng_api.identity.models import AuthSession, OneTimeCode, PasswordHistory, User
from kameng_api.identity.passwords import check_password_policy
from kameng_api.identity.sessions import revoke_all_sessions
from kameng_api.notifications import service as notifications

PASSWORD_HISTORY_STAFF = 5
CODE_TTL = timedelta(minutes=15)
CODE_MAX_ATTEMPTS = 5
# Wrong guesses one account may make at its codes of one kind in a day, however many codes it
# asks for: a fresh code does not bring fresh guesses.
CODE_GUESS_BUDGET = 10
CODE_GUESS_WINDOW = timedelta(hours=24)


async def check_mail_limit(kind: Literal["verify", "reset"], email: str, meta: RequestMeta) -> None:
    """Refuse (429 ``rate_limited``, ``Retry-After``) a request that would mail a ``kind``
    code to ``email`` too often, or from a client that asks too often; checked before the
    account is looked up, so known and unknown addresses are answered alike."""
    wait = await throttle.mail_wait(kind, normalize_login(email), meta.ip)
    if wait:
        raise MailRateLimited(
            f"Too many requests for this address; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


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
    # after the checks of the input (a weak password does not use up the address's mail)
    await check_mail_limit("verify", email, meta)
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
    spent = (
        await session.execute(
            select(func.coalesce(func.sum(OneTimeCode.attempts), 0)).where(
                OneTimeCode.user_id == user.id,
                OneTimeCode.purpose == purpose,
                # codes made in the window (expires_at: our clock's, not the database's)
                OneTimeCode.expires_at > clock.now() - CODE_GUESS_WINDOW + CODE_TTL,
            )
        )
    ).scalar_one()
    if int(spent) >= CODE_GUESS_BUDGET:
        # the same answer as a wrong code: the guesser learns nothing, not even that it ended
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
    await check_mail_limit("verify", email, meta)
    user = await find_by_login(session, email)
    if user is not None and user.email and user.email_verified_at is None:
        await _send_code(session, user, "verify_email")
    await audit.record(session, "auth.resend_verification", actor=None, meta=meta, detail=email)


async def request_password_reset(session: AsyncSession, email: str, meta: RequestMeta) -> None:
    """Always succeeds from the caller's view (no account enumeration), unless the address
    or the client asked too often (then 429, known or not)."""
    await check_mail_limit("reset", email, meta)
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
