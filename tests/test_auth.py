"""Sign-in, tokens, refresh rotation, lockout, 2FA, sessions — as a client sees them."""

from __future__ import annotations

import time

import httpx
import pyotp
import pytest
from jose import jwt
from sqlalchemy import func, select

from kameng_api.audit.models import AuditLog
from kameng_api.core import db
from kameng_api.core.actor import UserKind
from kameng_api.identity.models import LoginEvent
from kameng_api.notifications.models import Notice
from kameng_api.outbox.models import OutboxMessage
from kameng_api.settings import get_settings
from tests.support.factories import PASSWORD, login, make_user, step_up

PROBLEM = "application/problem+json"


async def _count(model: type, *where: object) -> int:
    async with db.unit_of_work() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def test_login_then_me(client: httpx.AsyncClient) -> None:
    acct = await make_user(roles=("customer_service",))
    headers = await login(client, acct)
    r = await client.get("/api/v1/me", headers=headers)
    assert r.status_code == 200
    me = r.json()
    assert me["email"] == acct.email
    assert me["kind"] == "staff"
    assert "orders:read" in me["permissions"]
    assert "wallet:adjust" not in me["permissions"]  # 客服 sees orders, not finance
    assert me["roles"] == ["customer_service"]


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    acct = await make_user()
    wrong = await client.post(
        "/api/v1/auth/login", json={"login": acct.email, "password": "nope-nope-1"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"login": "ghost@test.kameng.example", "password": "nope-nope-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == PROBLEM
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]
    # both attempts are in the login log
    assert await _count(LoginEvent, LoginEvent.result == "bad_credentials") == 2


async def test_repeated_failures_lock_the_account_with_growing_delay(
    client: httpx.AsyncClient,
) -> None:
    acct = await make_user()
    codes = []
    for _ in range(6):
        r = await client.post(
            "/api/v1/auth/login", json={"login": acct.email, "password": "bad-pass-123"}
        )
        codes.append(r.json()["code"])
    assert codes[:4] == ["invalid_credentials"] * 4
    assert codes[5] == "login_locked"
    # even the right password is refused while locked
    r = await client.post("/api/v1/auth/login", json={"login": acct.email, "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["code"] == "login_locked"
    assert 55 <= int(r.headers["retry-after"]) <= 60  # the 5th failure locks for 60 s
    assert await _count(LoginEvent, LoginEvent.result == "locked") >= 1
    # when the lock runs out, the next failure locks for twice as long
    from kameng_api.core.redis import get_queue

    await get_queue().delete(f"auth:lock:acct:{acct.email}")
    r = await client.post(
        "/api/v1/auth/login", json={"login": acct.email, "password": "bad-pass-123"}
    )
    assert r.json()["code"] == "invalid_credentials"
    r = await client.post("/api/v1/auth/login", json={"login": acct.email, "password": PASSWORD})
    assert r.json()["code"] == "login_locked"
    assert 115 <= int(r.headers["retry-after"]) <= 120


async def test_disabled_account_cannot_sign_in(client: httpx.AsyncClient) -> None:
    acct = await make_user(status="disabled")
    r = await client.post("/api/v1/auth/login", json={"login": acct.email, "password": PASSWORD})
    assert r.status_code == 403
    assert r.json()["code"] == "account_disabled"


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    acct = await make_user(kind=UserKind.customer)
    r = await client.post(
        "/api/v1/auth/login",
        json={"login": acct.email, "password": PASSWORD, "refresh_transport": "body"},
    )
    first = r.json()
    r2 = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r2.status_code == 200
    second = r2.json()
    assert second["refresh_token"] != first["refresh_token"]
    # an attacker replays the old token: refused, and the whole session ends
    r3 = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r3.status_code == 401
    assert r3.json()["code"] == "refresh_token_reused"
    r4 = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r4.status_code == 401
    assert r4.json()["code"] == "session_ended"
    r5 = await client.get(
        "/api/v1/me", headers={"authorization": f"Bearer {second['access_token']}"}
    )
    assert r5.status_code == 401
    assert await _count(AuditLog, AuditLog.result == "reuse_detected") == 1


async def test_browser_refresh_uses_an_httponly_cookie(client: httpx.AsyncClient) -> None:
    acct = await make_user(kind=UserKind.customer)
    r = await client.post("/api/v1/auth/login", json={"login": acct.email, "password": PASSWORD})
    assert r.status_code == 200
    assert r.json()["refresh_token"] is None  # not readable by scripts
    cookie = r.headers["set-cookie"]
    assert "kameng_refresh=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Path=/api/v1/auth" in cookie
    r2 = await client.post("/api/v1/auth/refresh")
    assert r2.status_code == 200
    assert r2.json()["access_token"]


async def test_logout_ends_the_session_at_once(client: httpx.AsyncClient) -> None:
    acct = await make_user(kind=UserKind.customer)
    headers = await login(client, acct)
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    r = await client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "session_ended"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        ("expired", "token_expired"),
        ("forged", "invalid_token"),
        ("alg_none", "invalid_token"),
        ("wrong_audience", "invalid_token"),
        ("garbage", "invalid_token"),
    ],
)
async def test_bad_access_tokens_are_refused_and_logged(
    client: httpx.AsyncClient, mutate: str, code: str
) -> None:
    acct = await make_user(kind=UserKind.customer)
    headers = await login(client, acct)
    good = headers["authorization"].split()[1]
    claims = jwt.get_unverified_claims(good)
    key = get_settings().secret_key.get_secret_value()
    if mutate == "expired":
        token = jwt.encode({**claims, "exp": int(time.time()) - 10}, key, algorithm="HS256")
    elif mutate == "forged":
        token = jwt.encode(claims, "not-our-secret", algorithm="HS256")
    elif mutate == "alg_none":
        import base64
        import json

        def b64(d: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

        token = b64({"alg": "none", "typ": "JWT"}) + "." + b64(claims) + "."
    elif mutate == "wrong_audience":
        token = jwt.encode({**claims, "aud": "someone-else"}, key, algorithm="HS256")
    else:
        token = "not.a.jwt"
    r = await client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == code
    assert await _count(AuditLog, AuditLog.action == "auth.token") == 1


async def test_two_factor_enrollment_login_and_recovery_codes(client: httpx.AsyncClient) -> None:
    acct = await make_user(kind=UserKind.customer)
    headers = await login(client, acct)
    r = await client.post("/api/v1/me/2fa/setup", headers=headers)
    assert r.status_code == 200
    setup = r.json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(setup["secret"])
    bad = await client.post("/api/v1/me/2fa/enable", json={"code": "000000"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_2fa_code"
    ok = await client.post("/api/v1/me/2fa/enable", json={"code": totp.now()}, headers=headers)
    assert ok.status_code == 200
    codes = ok.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10

    # sign in again: password alone is not enough
    r = await client.post("/api/v1/auth/login", json={"login": acct.email, "password": PASSWORD})
    assert r.json()["status"] == "mfa_required"
    assert "access_token" not in r.json()
    mfa_token = r.json()["mfa_token"]
    # a recovery code works once
    r = await client.post(
        "/api/v1/auth/login/2fa", json={"mfa_token": mfa_token, "recovery_code": codes[0]}
    )
    assert r.status_code == 200
    r = await client.post(
        "/api/v1/auth/login/2fa", json={"mfa_token": mfa_token, "recovery_code": codes[0]}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_2fa_code"


async def test_totp_code_cannot_be_replayed(client: httpx.AsyncClient) -> None:
    acct = await make_user(kind=UserKind.customer, mfa=True)
    assert acct.device is not None
    code = await acct.device.code()
    tokens = []
    for _ in range(2):
        r = await client.post(
            "/api/v1/auth/login", json={"login": acct.email, "password": PASSWORD}
        )
        tokens.append(r.json()["mfa_token"])
    first = await client.post("/api/v1/auth/login/2fa", json={"mfa_token": tokens[0], "code": code})
    again = await client.post("/api/v1/auth/login/2fa", json={"mfa_token": tokens[1], "code": code})
    assert first.status_code == 200
    assert again.status_code == 400


async def test_sessions_list_and_revoke_only_your_own(client: httpx.AsyncClient) -> None:
    alice = await make_user(kind=UserKind.customer)
    bob = await make_user(kind=UserKind.customer)
    a1 = await login(client, alice)
    a2 = await login(client, alice)
    b1 = await login(client, bob)
    sessions = (await client.get("/api/v1/me/sessions", headers=a1)).json()
    assert len(sessions) == 2
    assert sum(s["current"] for s in sessions) == 1
    other = next(s for s in sessions if not s["current"])
    # bob cannot end alice's session: it does not exist for him
    r = await client.delete(f"/api/v1/me/sessions/{other['id']}", headers=b1)
    assert r.status_code == 404
    assert (await client.get("/api/v1/me", headers=a2)).status_code == 200
    r = await client.delete(f"/api/v1/me/sessions/{other['id']}", headers=a1)
    assert r.status_code == 204
    assert (await client.get("/api/v1/me", headers=a2)).status_code == 401


async def test_new_device_sign_in_notifies_the_user(client: httpx.AsyncClient) -> None:
    acct = await make_user(kind=UserKind.customer)
    await login(client, acct)  # first ever: nothing to compare with
    await login(client, acct)  # same device: no notice
    assert await _count(Notice) == 0
    r = await client.post(
        "/api/v1/auth/login",
        json={"login": acct.email, "password": PASSWORD},
        headers={"user-agent": "NewPhone/1.0"},
    )
    assert r.status_code == 200
    headers = {"authorization": f"Bearer {r.json()['access_token']}"}
    notices = (await client.get("/api/v1/me/notices", headers=headers)).json()
    assert len(notices) == 1
    assert notices[0]["kind"] == "new_device_login"
    assert "NewPhone/1.0" in notices[0]["body"]
    # and a mail is queued (delivered by the worker through the outbox)
    assert await _count(OutboxMessage, OutboxMessage.task == "notifications:send_email") == 1


async def test_password_rules(client: httpx.AsyncClient) -> None:
    cases = {
        "short1!": "validation_failed",  # under 8 characters: the schema says so
        "password123": "weak_password",
        "x" * 129: "validation_failed",
    }
    for pw, code in cases.items():
        r = await client.post(
            "/api/v1/auth/register", json={"email": "new@test.kameng.example", "password": pw}
        )
        assert r.status_code == 422, pw
        assert r.json()["code"] == code, pw
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": "new@test.kameng.example", "password": "a-much-better-one-77"},
    )
    assert r.status_code == 201


async def test_staff_cannot_reuse_recent_passwords(client: httpx.AsyncClient) -> None:
    acct = await make_user(roles=("operator",))
    headers = await login(client, acct)
    current = PASSWORD
    for n in range(2):
        new = f"Rotated-Password-{n}-xyz"
        r = await client.post(
            "/api/v1/me/password",
            json={"current_password": current, "new_password": new},
            headers=headers,
        )
        assert r.status_code == 204, r.text
        current = new
    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": current, "new_password": PASSWORD},
        headers=headers,
    )
    assert r.status_code == 422
    assert r.json()["code"] == "password_reused"


async def test_first_login_must_change_password(client: httpx.AsyncClient) -> None:
    acct = await make_user(roles=("operator",), must_change_password=True)
    headers = await login(client, acct)
    assert (await client.get("/api/v1/me", headers=headers)).json()["must_change_password"] is True
    r = await client.get("/api/v1/users", headers=headers)
    assert r.status_code == 403
    assert r.json()["code"] == "password_change_required"
    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "Brand-New-Secret-9"},
        headers=headers,
    )
    assert r.status_code == 204
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 200


async def test_sensitive_action_needs_recent_step_up(client: httpx.AsyncClient) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    headers = await login(client, admin)
    body = {"key": "auditor", "name": "Auditor", "permissions": ["audit:read"]}
    # the 2FA at sign-in counts as a fresh verification
    assert (await client.post("/api/v1/roles", json=body, headers=headers)).status_code == 201


async def test_step_up_expires(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from kameng_api.core.clock import clock

    admin = await make_user(roles=("super_admin",), mfa=True)
    headers = await login(client, admin)
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(minutes=6))
    body = {"key": "auditor", "name": "Auditor", "permissions": ["audit:read"]}
    r = await client.post("/api/v1/roles", json=body, headers=headers)
    assert r.status_code == 403
    assert r.json()["code"] == "step_up_required"
    await step_up(client, admin, headers)
    assert (await client.post("/api/v1/roles", json=body, headers=headers)).status_code == 201


async def test_staff_with_sensitive_permission_must_enroll_2fa(client: httpx.AsyncClient) -> None:
    fin = await make_user(roles=("finance",))
    headers = await login(client, fin)
    me = (await client.get("/api/v1/me", headers=headers)).json()
    assert me["mfa_enrollment_required"] is True
    op = await make_user(roles=("operator",))  # no sensitive permission
    me2 = (await client.get("/api/v1/me", headers=await login(client, op))).json()
    assert me2["mfa_enrollment_required"] is False
