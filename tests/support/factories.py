"""Plain factory functions for tests (no fixture soup)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
import pyotp

from kameng_api.core import db, security
from kameng_api.core.actor import UserKind
from kameng_api.core.clock import clock
from kameng_api.identity import service as identity
from kameng_api.identity.models import User
from kameng_api.rbac import service as rbac

PASSWORD = "Correct-Horse-42!"


@dataclass
class TotpDevice:
    """An authenticator app: gives a valid code for a step not used before."""

    secret: str
    last_step: int = -1
    totp: pyotp.TOTP = field(init=False)

    def __post_init__(self) -> None:
        self.totp = pyotp.TOTP(self.secret)

    async def code(self) -> str:
        while True:
            current = self.totp.timecode(clock.now())
            step = max(current - 1, self.last_step + 1)
            if step <= current + 1:
                self.last_step = step
                return self.totp.generate_otp(step)
            await asyncio.sleep(1)


@dataclass
class Account:
    user: User
    email: str
    password: str
    device: TotpDevice | None = None


async def make_user(
    *,
    kind: UserKind = UserKind.staff,
    roles: tuple[str, ...] = (),
    email: str | None = None,
    password: str = PASSWORD,
    mfa: bool = False,
    must_change_password: bool = False,
    status: str = "active",
) -> Account:
    email = email or f"{kind}-{uuid.uuid4().hex[:8]}@test.kameng.example"
    device = None
    async with db.unit_of_work() as s:
        user = await identity.create_user(
            s,
            kind=kind,
            email=email,
            phone=None,
            password=password,
            must_change_password=must_change_password,
            email_verified=True,
        )
        for role in roles:
            await rbac.grant_builtin_role(s, user.id, role)
        if mfa:
            secret = pyotp.random_base32()
            user.totp_secret_enc = security.encrypt_field(secret, aad=f"users.totp:{user.id}")
            user.totp_enabled_at = clock.now()
            device = TotpDevice(secret)
        user.status = status
    return Account(user, email, password, device)


async def login(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """Sign in (through 2FA when on); returns the Authorization header."""
    r = await client.post(
        "/api/v1/auth/login",
        json={"login": account.email, "password": account.password, "refresh_transport": "body"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    if body["status"] == "mfa_required":
        assert account.device is not None
        r = await client.post(
            "/api/v1/auth/login/2fa",
            json={
                "mfa_token": body["mfa_token"],
                "code": await account.device.code(),
                "refresh_transport": "body",
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
    return {"authorization": f"Bearer {body['access_token']}"}


async def step_up(client: httpx.AsyncClient, account: Account, headers: dict[str, str]) -> None:
    assert account.device is not None
    r = await client.post(
        "/api/v1/auth/step-up", json={"code": await account.device.code()}, headers=headers
    )
    assert r.status_code == 200, r.text
