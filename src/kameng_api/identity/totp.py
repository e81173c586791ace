"""TOTP 2FA: setup, enable, disable, recovery codes, step-up, and checking a second factor (a
TOTP code, each step accepted once, or a one-time recovery code)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import security
from kameng_api.core.actor import Actor, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.errors import Conflict, Forbidden
from kameng_api.identity import throttle
from kameng_api.identity.errors import InvalidCode
from kameng_api.identity.lookups import get_user
from kameng_api.identity.models import AuthSession, RecoveryCode, User
from kameng_api.rbac import service as rbac
from kameng_api.rbac.catalogue import PERMISSIONS
from kameng_api.settings import get_settings

RECOVERY_CODES = 10
TOTP_ISSUER = "kameng"


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


async def check_second_factor(
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
    if not await check_second_factor(session, user, code, recovery_code):
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
