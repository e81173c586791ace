"""The endpoints that mail codes cannot be used to mail-bomb an address or to buy unlimited
guesses at a reset code, and the sign-in lockout's counters always expire."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import select

from kameng_api.core import db
from kameng_api.core.actor import UserKind
from kameng_api.core.redis import get_queue
from kameng_api.identity import throttle
from kameng_api.main import create_app
from kameng_api.outbox.models import OutboxMessage
from kameng_api.settings import get_settings
from tests.support.factories import PASSWORD, make_user
from tests.support.procs import settings_env

RESEND = "/api/v1/auth/verify-email/resend"
RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"


async def _mails_to(addr: str) -> list[str]:
    async with db.sessionmaker()() as s:
        rows = (
            await s.execute(
                select(OutboxMessage.payload)
                .where(OutboxMessage.task == "notifications:send_email")
                .order_by(OutboxMessage.id)
            )
        ).scalars()
        return [p["body"] for p in rows if p["to"] == addr]


async def _latest_code(addr: str) -> str:
    bodies = await _mails_to(addr)
    match = re.search(r": (\d{8})\b", bodies[-1])
    assert match, bodies[-1]
    return match.group(1)


def _limited(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "rate_limited"
    assert r.headers["content-type"].startswith("application/problem+json")
    wait = int(r.headers["retry-after"])
    assert wait > 0
    return wait


async def test_a_second_code_mail_within_the_minute_is_refused(client: httpx.AsyncClient) -> None:
    addr = f"buyer-{uuid.uuid4().hex[:6]}@shop.example.com"
    r = await client.post("/api/v1/auth/register", json={"email": addr, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = await client.post(RESEND, json={"email": addr})
    assert _limited(r) <= 60
    assert len(await _mails_to(addr)) == 1  # the sign-up's code only

    # a known address and an unknown one are answered alike: first 202, then 429
    acct = await make_user(kind=UserKind.customer)
    answers = []
    for email in (acct.email, f"nobody-{uuid.uuid4().hex[:6]}@shop.example.com"):
        first = await client.post(RESET, json={"email": email})
        assert first.status_code == 202
        second = await client.post(RESET, json={"email": email})
        assert _limited(second) <= 60
        answers.append((second.json()["title"], second.json()["detail"].split(";")[0]))
    assert answers[0] == answers[1]
    assert len(await _mails_to(acct.email)) == 1

    # the reset and the verification mail are counted apart; the resend to an unknown
    # address is limited as well
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@shop.example.com"
    assert (await client.post(RESEND, json={"email": unknown})).status_code == 202
    _limited(await client.post(RESEND, json={"email": unknown}))


async def test_an_address_gets_at_most_the_hourly_limit(client: httpx.AsyncClient) -> None:
    acct = await make_user(kind=UserKind.customer)
    with settings_env(KAMENG_MAIL_LIMIT_ADDRESS_PER_MINUTE="0"):
        for _ in range(5):
            assert (await client.post(RESET, json={"email": acct.email})).status_code == 202
        assert _limited(await client.post(RESET, json={"email": acct.email})) > 60
    assert len(await _mails_to(acct.email)) == 5


async def test_one_client_cannot_mail_many_addresses(app_db: str) -> None:
    app = create_app(get_settings())

    def from_ip(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 4711))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async with from_ip("203.0.113.7") as c, from_ip("198.51.100.9") as other:
        for n in range(20):
            r = await c.post(RESET, json={"email": f"n{n}-{uuid.uuid4().hex[:4]}@x.example"})
            assert r.status_code == 202, (n, r.text)
        _limited(await c.post(RESET, json={"email": f"z-{uuid.uuid4().hex[:4]}@x.example"}))
        # another client is not held up by that one
        r = await other.post(RESET, json={"email": f"z-{uuid.uuid4().hex[:4]}@x.example"})
        assert r.status_code == 202


async def _wrong_guesses(client: httpx.AsyncClient, email: str, n: int) -> None:
    code = await _latest_code(email)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(n):
        r = await client.post(
            CONFIRM, json={"email": email, "code": wrong, "new_password": "Green-Kite-Window-4"}
        )
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_code"


async def test_fresh_reset_codes_do_not_bring_fresh_guesses(client: httpx.AsyncClient) -> None:
    """Each code allows 5 tries, but the account's day allows 10 wrong guesses in all, however
    many codes are asked for (before, every new code gave 5 more)."""
    with settings_env(
        KAMENG_MAIL_LIMIT_ADDRESS_PER_MINUTE="0",
        KAMENG_MAIL_LIMIT_ADDRESS_PER_HOUR="0",
        KAMENG_MAIL_LIMIT_IP_PER_HOUR="0",
    ):
        within = await make_user(kind=UserKind.customer)
        beyond = await make_user(kind=UserKind.customer)
        for acct, guesses in ((within, (5, 4)), (beyond, (5, 5))):
            for n in guesses:
                assert (await client.post(RESET, json={"email": acct.email})).status_code == 202
                await _wrong_guesses(client, acct.email, n)
            # a fresh code, and the right one at that
            assert (await client.post(RESET, json={"email": acct.email})).status_code == 202
            r = await client.post(
                CONFIRM,
                json={
                    "email": acct.email,
                    "code": await _latest_code(acct.email),
                    "new_password": "Green-Kite-Window-4",
                },
            )
            if acct is within:  # 9 wrong guesses so far: the budget has one left
                assert r.status_code == 204, r.text
            else:  # 10 spent: even the right code is refused, like a wrong one
                assert r.status_code == 400
                assert r.json()["code"] == "invalid_code"
        login = await client.post(
            "/api/v1/auth/login", json={"login": beyond.email, "password": PASSWORD}
        )
        assert login.status_code == 200  # the password did not change


async def test_the_lockout_counter_always_expires(client: httpx.AsyncClient) -> None:
    acct = await make_user(kind=UserKind.customer)
    key = f"auth:fail:acct:{acct.email.lower()}"
    redis = get_queue()
    # a counter left without expiry (a process that died between INCR and EXPIRE)
    await redis.set(key, b"2")
    assert await redis.ttl(key) == -1
    r = await client.post("/api/v1/auth/login", json={"login": acct.email, "password": "nope-1"})
    assert r.status_code == 401
    assert 0 < await redis.ttl(key) <= throttle.WINDOW_S
    assert int(await redis.get(key)) == 3

    # the failures that lock the account: counter and lock both expire
    for _ in range(2):
        await client.post("/api/v1/auth/login", json={"login": acct.email, "password": "nope-1"})
    assert 0 < await redis.ttl(f"auth:lock:acct:{acct.email.lower()}") <= throttle.BASE_LOCK_S
    assert await redis.ttl(key) > 0
    r = await client.post("/api/v1/auth/login", json={"login": acct.email, "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["code"] == "login_locked"


@pytest.mark.parametrize("limit", ["0"])
async def test_limits_can_be_turned_off(client: httpx.AsyncClient, limit: str) -> None:
    addr = f"nobody-{uuid.uuid4().hex[:6]}@shop.example.com"
    with settings_env(
        KAMENG_MAIL_LIMIT_ADDRESS_PER_MINUTE=limit,
        KAMENG_MAIL_LIMIT_ADDRESS_PER_HOUR=limit,
        KAMENG_MAIL_LIMIT_IP_PER_HOUR=limit,
    ):
        for _ in range(8):
            assert (await client.post(RESET, json={"email": addr})).status_code == 202
