"""Behind a reverse proxy: ``X-Forwarded-For`` is believed from the proxies named in
``KAMENG_FORWARDED_ALLOW_IPS`` only. A real ``kameng serve``; the login log shows the address
the server took the client to be."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import Servers, _exec_admin
from tests.support.procs import free_port, kameng_env

pytestmark = pytest.mark.slow

SPOOFED = "203.0.113.7"


@contextmanager
def _serving(servers: Servers, database: str, allow: str) -> Iterator[str]:
    port = free_port()
    env = kameng_env(
        KAMENG_DATABASE_URL=servers.url(database),
        KAMENG_PORT=str(port),
        KAMENG_FORWARDED_ALLOW_IPS=allow,
        KAMENG_LOG_LEVEL="WARNING",
    )
    cli = [sys.executable, "-m", "kameng_api.cli"]
    server = subprocess.Popen([*cli, "serve"], env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "the server stopped"
            assert time.monotonic() < deadline, "the server did not start in 60 s"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(20)


def _address_seen(base: str) -> str:
    """Sign in with a spoofed X-Forwarded-For; the address the login log recorded."""
    with httpx.Client(base_url=base, timeout=10) as http:
        r = http.post(
            "/api/v1/auth/login",
            json={"login": "customer@demo.kameng.example", "password": "Kameng-Demo-2026!"},
            headers={"X-Forwarded-For": SPOOFED},
        )
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        events = http.get(
            "/api/v1/me/login-events", headers={"authorization": f"Bearer {token}"}
        ).json()["items"]
    return str(events[0]["ip"])


def test_forwarded_for_counts_only_from_trusted_proxies(servers: Servers, template_db: str) -> None:
    name = f"kameng_proxy_{uuid.uuid4().hex[:8]}"
    asyncio.run(
        _exec_admin(servers.admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    )
    try:
        env = kameng_env(KAMENG_DATABASE_URL=servers.url(name))
        subprocess.run([sys.executable, "-m", "kameng_api.cli", "seed-demo"], env=env, check=True)
        # the peer (127.0.0.1) is not a trusted proxy: the header changes nothing
        with _serving(servers, name, "10.9.9.9") as base:
            assert _address_seen(base) == "127.0.0.1"
        # the peer is the trusted proxy: the client is who it says it forwards
        with _serving(servers, name, "127.0.0.1") as base:
            assert _address_seen(base) == SPOOFED
    finally:
        asyncio.run(
            _exec_admin(servers.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )
