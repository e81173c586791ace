"""`kameng run` on embedded services: ready, serves the API, and Ctrl-C leaves no process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.procs import free_port

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"KAMENG_DATABASE_URL", "KAMENG_REDIS_URL", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(KAMENG_VAR_DIR=str(tmp_path / "var"), KAMENG_PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kameng_api.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "demo logins" in line:
                break
        text = "".join(out)
        assert f"http://127.0.0.1:{port}/" in text, text
        r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert r.status_code == 200
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"login": "admin@demo.kameng.example", "password": "Kameng-Demo-2026!"},
            timeout=10,
        ).json()["access_token"]
        info = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/system/info",
            headers={"authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
        assert info["database"]["ok"]
        shop = httpx.get(f"http://127.0.0.1:{port}/api/v1/shop/products", timeout=5).json()
        assert len(shop) >= 3  # the demo shop is seeded
        customer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"login": "customer@demo.kameng.example", "password": "Kameng-Demo-2026!"},
            timeout=10,
        ).json()["access_token"]
        purse = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/wallet/me",
            headers={"authorization": f"Bearer {customer}"},
            timeout=5,
        ).json()
        assert purse["balance"] == "200.0000"  # demo balances are seeded through the ledger
        assert info["redis"]["ok"]
        pg_pid = int((tmp_path / "var" / "postgres" / "postmaster.pid").read_text().split()[0])
        redis_pid = int((tmp_path / "var" / "redis" / "redis.pid").read_text().strip())
        assert _alive(pg_pid)
        assert _alive(redis_pid)
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopped." in rest
    assert not _alive(pg_pid), "postgres left running"
    assert not _alive(redis_pid), "redis left running"
