"""Real processes and servers for tests: a `kameng worker` subprocess, an ASGI app on a local
port, waiting helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn

from kameng_api.settings import get_settings

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve_app(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Serve an ASGI app on a real local port (a supplier, a gateway, the API itself);
    stop it with ``server.should_exit = True`` and await the task."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task


def kameng_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env["KAMENG_LOG_JSON"] = "false"
    env.update(overrides)
    return env


def start_worker(env: dict[str, str], log_path: str | None = None) -> subprocess.Popen[bytes]:
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "kameng_api.cli", "worker"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], timeout_s: float, interval_s: float = 0.2
) -> T:
    """Poll until ``probe`` returns a truthy value; fail the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)


@contextmanager
def settings_env(**env: str) -> Iterator[None]:
    """Temporarily point kameng's settings (and thus db/redis globals) elsewhere."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
