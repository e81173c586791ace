"""Account flows that go through real mail: a local SMTP server (aiosmtpd) receives what a real
`kameng worker` sends; the test reads the code out of the mail like a user would."""

from __future__ import annotations

import asyncio
import email
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from kameng_api.audit.models import AuditLog
from kameng_api.core import db
from tests.support.factories import login, make_user
from tests.support.procs import free_port, kameng_env, settings_env, start_worker, stop, wait_for

pytestmark = pytest.mark.slow


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse: set[str] = set()  # addresses the server turns away (550)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def for_(self, to: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == to]

    @staticmethod
    def text(m: Message) -> str:
        payload = m.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode(m.get_content_charset() or "utf-8")

    def code(self, to: str, subject_part: str) -> str:
        found = [m for m in self.for_(to) if subject_part in str(m["Subject"])]
        assert found, f"no mail to {to} about {subject_part}"
        match = re.search(r": (\d{6,8})\b", self.text(found[-1]))
        assert match, self.text(found[-1])
        return match.group(1)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
async def mailing_worker(
    app_db: str, inbox: tuple[Inbox, int], tmp_path: Path
) -> AsyncIterator[Inbox]:
    """A real worker on this test's database and its own queue, mailing to the local server."""
    box, port = inbox
    env = {
        "KAMENG_SMTP_HOST": "127.0.0.1",
        "KAMENG_SMTP_PORT": str(port),
        "KAMENG_QUEUE_NAME": f"kameng-test-mail:{uuid.uuid4().hex[:8]}",
    }
    with settings_env(**env):
        worker = start_worker(kameng_env(**env), str(tmp_path / "worker.log"))
        try:
            yield box
        finally:
            stop(worker)


async def _mail_arrives(box: Inbox, to: str, subject_part: str) -> None:
    async def arrived() -> bool:
        return any(subject_part in str(m["Subject"]) for m in box.for_(to))

    await wait_for(arrived, 30)


async def _audit_count(action: str) -> int:
    async with db.sessionmaker()() as s:
        q = select(func.count()).select_from(AuditLog).where(AuditLog.action == action)
        return int((await s.execute(q)).scalar_one())


async def test_sign_up_verify_email_and_reset_password_with_mailed_codes(
    client: httpx.AsyncClient, mailing_worker: Inbox
) -> None:
    box = mailing_worker
    addr = f"buyer-{uuid.uuid4().hex[:6]}@shop.example.com"
    r = await client.post(
        "/api/v1/auth/register", json={"email": addr, "password": "Blue-Horse-Battery-9"}
    )
    assert r.status_code == 201, r.text

    await _mail_arrives(box, addr, "Verify")
    code = box.code(addr, "Verify")
    wrong = "000000" if code != "000000" else "111111"
    r = await client.post("/api/v1/auth/verify-email", json={"email": addr, "code": wrong})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_code"
    r = await client.post("/api/v1/auth/verify-email", json={"email": addr, "code": code})
    assert r.status_code == 204, r.text
    # a code works once
    r = await client.post("/api/v1/auth/verify-email", json={"email": addr, "code": code})
    assert r.status_code == 400

    r = await client.post(
        "/api/v1/auth/login", json={"login": addr, "password": "Blue-Horse-Battery-9"}
    )
    token = r.json()["access_token"]
    me = await client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert me.json()["email_verified"] is True

    # forgot the password: the reset code comes by mail, every session ends
    r = await client.post("/api/v1/auth/password-reset", json={"email": addr})
    assert r.status_code == 202
    # an unknown address gets the same answer and no mail (no account enumeration)
    r = await client.post("/api/v1/auth/password-reset", json={"email": "nobody@shop.example.com"})
    assert r.status_code == 202
    await _mail_arrives(box, addr, "Reset")
    reset = box.code(addr, "Reset")
    r = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"email": addr, "code": reset, "new_password": "Green-Kite-Window-4"},
    )
    assert r.status_code == 204, r.text
    assert (
        await client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    ).status_code == 401
    old = await client.post(
        "/api/v1/auth/login", json={"login": addr, "password": "Blue-Horse-Battery-9"}
    )
    assert old.json()["code"] == "invalid_credentials"
    new = await client.post(
        "/api/v1/auth/login", json={"login": addr, "password": "Green-Kite-Window-4"}
    )
    assert new.status_code == 200
    assert box.for_("nobody@shop.example.com") == []
    assert await _audit_count("auth.reset_password") == 1


async def test_sign_in_from_a_new_device_is_mailed(
    client: httpx.AsyncClient, mailing_worker: Inbox
) -> None:
    acct = await make_user()
    await login(client, acct)  # first sign-in: this device becomes known
    r = await client.post(
        "/api/v1/auth/login",
        json={"login": acct.email, "password": acct.password},
        headers={"user-agent": "Mozilla/5.0 (NewPhone)"},
    )
    assert r.status_code == 200
    await _mail_arrives(mailing_worker, acct.email, "New sign-in")


async def test_create_admin_cli_makes_a_super_admin_who_can_sign_in(
    client: httpx.AsyncClient, app_db: str
) -> None:
    env = kameng_env(KAMENG_DATABASE_URL=app_db)
    addr = f"root-{uuid.uuid4().hex[:6]}@shop.example.com"
    cmd = [sys.executable, "-m", "kameng_api.cli", "create-admin", "--email", addr, "--password"]

    def run(password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cmd, password], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    weak = await asyncio.to_thread(run, "password")
    assert weak.returncode == 1
    assert "weak_password" in weak.stderr
    ok = await asyncio.to_thread(run, "Tall-Cedar-Lantern-7")
    assert ok.returncode == 0, ok.stderr
    assert f"created super admin {addr}" in ok.stdout
    again = await asyncio.to_thread(run, "Tall-Cedar-Lantern-7")
    assert again.returncode == 1
    assert "email_taken" in again.stderr

    r = await client.post(
        "/api/v1/auth/login", json={"login": addr, "password": "Tall-Cedar-Lantern-7"}
    )
    assert r.status_code == 200, r.text
    me = await client.get(
        "/api/v1/me", headers={"authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.json()["roles"] == ["super_admin"]
    # holding sensitive permissions, the new admin is asked to turn on 2FA
    assert me.json()["mfa_enrollment_required"] is True
