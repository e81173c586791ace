"""One scrape of the API's ``/metrics`` sees every process: a real ``kameng serve --workers 2``
and a real ``kameng worker`` sharing the metrics directory. A job the worker ran is counted in
the API's answer, whichever API process answers, and stays counted after the worker stops."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Servers, _exec_admin
from tests.support.procs import free_port, kameng_env, start_worker, stop

pytestmark = pytest.mark.slow

JOB_DONE = re.compile(
    r'^kameng_jobs_total\{outcome="done",task="notifications:send_email"\} (\S+)$', re.M
)


def _figure(pattern: str, text: str) -> float | None:
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else None


@pytest.fixture
def database(servers: Servers, template_db: str) -> Iterator[str]:
    name = f"kameng_metrics_{uuid.uuid4().hex[:8]}"
    asyncio.run(
        _exec_admin(servers.admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    )
    yield servers.url(name)
    asyncio.run(_exec_admin(servers.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _scrape(base: str) -> str:
    # a new connection each time: either API process may answer
    r = httpx.get(f"{base}/metrics", timeout=5, headers={"connection": "close"})
    assert r.status_code == 200
    return r.text


def test_a_job_run_in_the_worker_shows_in_the_api_scrape(database: str, tmp_path: Path) -> None:
    port = free_port()
    env = kameng_env(
        KAMENG_DATABASE_URL=database,
        KAMENG_PORT=str(port),
        KAMENG_QUEUE_NAME=f"kameng-test-metrics:{uuid.uuid4().hex[:8]}",
        KAMENG_METRICS_DIR=str(tmp_path / "metrics"),
        KAMENG_LOG_LEVEL="WARNING",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("KAMENG_SMTP_HOST", None)  # mail is logged: the job is done at once
    cli = [sys.executable, "-m", "kameng_api.cli"]
    api = subprocess.Popen([*cli, "serve", "--workers", "2"], env=env, start_new_session=True)
    worker = start_worker(env, str(tmp_path / "worker.log"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert api.poll() is None, "the server stopped"
            assert time.monotonic() < deadline, "the server did not start in 60 s"
            time.sleep(0.2)

        # a sign-up: its verification mail is a job for the worker
        addr = f"buyer-{uuid.uuid4().hex[:6]}@shop.example.com"
        r = httpx.post(
            f"{base}/api/v1/auth/register",
            json={"email": addr, "password": "Blue-Horse-Battery-9"},
            timeout=10,
        )
        assert r.status_code == 201, r.text

        deadline = time.monotonic() + 30
        while not JOB_DONE.search(_scrape(base)):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker's job never showed in /metrics"
            time.sleep(0.3)

        # many requests, spread over both API processes: every scrape sees the sum of both
        for _ in range(20):
            httpx.get(f"{base}/healthz", timeout=5, headers={"connection": "close"})
        for _ in range(12):
            text = _scrape(base)
            assert [float(x) for x in JOB_DONE.findall(text)] == [1.0]
            assert _figure(r"^kameng_outbox_pending (\S+)$", text) is not None  # the sweeper's

        stop(worker)
        text = _scrape(base)
        assert [float(x) for x in JOB_DONE.findall(text)] == [1.0]  # kept after the worker went
    finally:
        api.terminate()
        api.wait(20)
        if worker.poll() is None:
            stop(worker)
    # every process said it was gone: no live gauge of theirs is left behind
    assert not list((tmp_path / "metrics").glob("gauge_live*"))
