"""The ``kameng`` command: run (all-in-one on embedded services), serve, worker, migrate,
seed-demo, create-admin, export-openapi."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kameng_api.settings import Settings, get_settings

if TYPE_CHECKING:
    from kameng_api.demo import DemoLogin
    from kameng_api.embedded import EmbeddedServices

app = typer.Typer(help="kameng — 卡盟 platform back office and API.", no_args_is_help=True)


@app.callback()
def _load_tasks() -> None:
    """Every command may write background work (seeding, accounts): the tasks are known."""
    from kameng_api import tasks

    tasks.load()


def _settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


def _require_urls(settings: Settings) -> None:
    if not settings.database_url or not settings.redis_url:
        typer.echo(
            "DATABASE_URL and REDIS_URL must be set (or use `kameng run`, which starts "
            "embedded PostgreSQL and Redis).",
            err=True,
        )
        raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (KAMENG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KAMENG_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the API (and the built SPA) with uvicorn."""
    import uvicorn

    from kameng_api.core.logging import configure_logging

    settings = _settings()
    _require_urls(settings)
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(
        "kameng_api.main:app_factory",
        factory=True,
        host=host or settings.host,
        port=port if port is not None else settings.port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,
        access_log=False,  # no access lines (core/logging.py); the metrics count requests
        server_header=False,
    )


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is there (it comes with uvicorn's standard extras; the API
    processes use it too): less CPU per socket read and write than asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without it
        asyncio.run(main)
        return
    uvloop.run(main)


@app.command()
def worker() -> None:
    """Run the arq worker (background jobs and the outbox sweeper)."""
    from kameng_api.core.logging import configure_logging
    from kameng_api.worker import run_worker

    settings = _settings()
    _require_urls(settings)
    configure_logging(settings.log_level, settings.log_json)
    _run_fast(run_worker(settings))


@app.command()
def migrate(revision: str = "head") -> None:
    """Upgrade the database schema (alembic upgrade)."""
    from kameng_api import migrate as mig

    settings = _settings()
    if not settings.database_url:
        typer.echo("DATABASE_URL must be set", err=True)
        raise typer.Exit(2)
    mig.upgrade(settings.database_url, revision)
    typer.echo(f"database migrated to {revision}")


async def _seed() -> list[str]:
    from kameng_api import seed
    from kameng_api.core import db

    db.init_engine(role="kameng-cli", pool_size=1, max_overflow=0)
    try:
        async with db.unit_of_work() as session:
            return await seed.seed_demo(session)
    finally:
        await db.dispose_engine()


@app.command("seed-demo")
def seed_demo() -> None:
    """Seed the demo shop (idempotent: steps already seeded are skipped)."""
    settings = _settings()
    if not settings.database_url:
        typer.echo("DATABASE_URL must be set", err=True)
        raise typer.Exit(2)
    ran = asyncio.run(_seed())
    typer.echo("seeded: " + (", ".join(ran) if ran else "nothing new"))


async def _create_admin(email: str, password: str, name: str) -> int:
    from kameng_api.audit import service as audit
    from kameng_api.core import db
    from kameng_api.core.actor import UserKind
    from kameng_api.identity import service as identity
    from kameng_api.rbac import service as rbac

    db.init_engine(role="kameng-cli", pool_size=1, max_overflow=0)
    try:
        async with db.unit_of_work() as session:
            user = await identity.create_user(
                session,
                kind=UserKind.staff,
                email=email,
                phone=None,
                password=password,
                display_name=name,
                email_verified=True,
            )
            await rbac.grant_builtin_role(session, user.id, rbac.SUPER_ADMIN)
            await audit.record(
                session,
                "users.create_admin",
                actor=None,
                target_type="user",
                target_id=user.id,
                after={"email": user.email, "role": rbac.SUPER_ADMIN},
                detail="kameng create-admin",
                risk="high",
            )
            return user.id
    finally:
        await db.dispose_engine()


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Login email of the new super admin.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="KAMENG_ADMIN_PASSWORD",
            help="Password (prompted when omitted; or KAMENG_ADMIN_PASSWORD).",
        ),
    ],
    name: Annotated[str, typer.Option(help="Display name.")] = "Admin",
) -> None:
    """Create a super admin account (non-interactive with --password)."""
    from kameng_api.core.errors import AppError

    settings = _settings()
    if not settings.database_url:
        typer.echo("DATABASE_URL must be set", err=True)
        raise typer.Exit(2)
    try:
        user_id = asyncio.run(_create_admin(email, password, name))
    except AppError as exc:
        typer.echo(f"error: {exc.code}: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created super admin {email} (user id {user_id})")


@app.command("export-openapi")
def export_openapi(
    out: Annotated[Path, typer.Option(help="Where to write the spec.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI document the SPA client is generated from."""
    from kameng_api.openapi import render_openapi

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_openapi())
    typer.echo(f"wrote {out}")


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "kameng_api.cli", *args], env=env
    )


def _terminate(proc: subprocess.Popen[bytes] | None, timeout_s: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Bind address (KAMENG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KAMENG_PORT).")] = None,
) -> None:
    """All in one: embedded PostgreSQL + Redis (unless URLs are set), migrate, seed the demo
    shop once, then serve API + SPA and run a worker until Ctrl-C. Whatever it started is
    kept alive (restarted with backoff, see kameng_api/supervisor.py) and stopped at exit."""
    from kameng_api import demo, seed
    from kameng_api import migrate as mig
    from kameng_api.embedded import EmbeddedServices
    from kameng_api.payments.simulator import SIMULATOR_PATH
    from kameng_api.supervisor import GaveUp, Supervised
    from kameng_api.suppliers.simulator import SUPPLIER_SIMULATOR_PATH

    seed.load_steps()

    started = time.monotonic()
    settings = _settings()
    host = host or settings.host
    port = port if port is not None else settings.port
    services = EmbeddedServices(settings.var_dir)
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    api: subprocess.Popen[bytes] | None = None
    wrk: subprocess.Popen[bytes] | None = None
    code = 0
    try:
        db_url, redis_url = services.start(
            need_postgres=not settings.database_url, need_redis=not settings.redis_url
        )
        env = dict(os.environ)
        env["KAMENG_DATABASE_URL"] = db_url or settings.database_url or ""
        env["KAMENG_REDIS_URL"] = redis_url or settings.redis_url or ""
        env["KAMENG_HOST"] = host
        env["KAMENG_PORT"] = str(port)
        env.setdefault("KAMENG_LOG_JSON", "false")
        if not settings.epay_gateway_url:  # demo: pay through the simulated gateway we host
            base = (settings.public_url or f"http://{_local(host)}:{port}").rstrip("/")
            env["KAMENG_EPAY_SIMULATOR"] = "true"
            env["KAMENG_EPAY_GATEWAY_URL"] = base + SIMULATOR_PATH
            env["KAMENG_EPAY_PID"] = "1000"
            env["KAMENG_EPAY_KEY"] = secrets.token_hex(16)
        if not settings.recharge_supplier_url:  # demo: top up through a simulated supplier
            base = (settings.public_url or f"http://{_local(host)}:{port}").rstrip("/")
            env["KAMENG_SUPPLIER_SIMULATOR"] = "true"
            env["KAMENG_RECHARGE_SUPPLIER_URL"] = base + SUPPLIER_SIMULATOR_PATH
            env["KAMENG_RECHARGE_SUPPLIER_SECRET"] = secrets.token_hex(16)
            # the simulated supplier is this process: calls to it pass the SSRF guard only
            # with loopback allowed (ignored in production)
            env.setdefault("KAMENG_OUTBOUND_ALLOW_LOOPBACK", "true")
        mig.upgrade(env["KAMENG_DATABASE_URL"])
        if settings.seed_demo:
            os.environ["KAMENG_DATABASE_URL"] = env["KAMENG_DATABASE_URL"]
            _settings()
            ran = asyncio.run(_seed())
            if ran:
                typer.echo("demo shop seeded: " + ", ".join(ran))
        api = _spawn(["serve"], env)
        wrk = _spawn(["worker"], env)
        url = settings.public_url or f"http://{host}:{port}"
        if not _wait_ready(
            f"http://{_local(host)}:{port}",
            api,
            lambda: stopping,
        ):
            if not stopping:
                typer.echo("the API did not become ready; see the log above", err=True)
                code = 1
        else:
            typer.echo(_banner(url, time.monotonic() - started, services, demo.DEMO_LOGINS))
        procs = {"serve": api, "worker": wrk}

        def _respawn(which: str) -> Callable[[], None]:
            def start() -> None:
                procs[which] = _spawn([which], env)

            return start

        watched = [
            Supervised(
                "the API", lambda: procs["serve"].poll() is None, _respawn("serve"), say=_say
            ),
            Supervised(
                "the worker", lambda: procs["worker"].poll() is None, _respawn("worker"), say=_say
            ),
        ]
        for name, embedded in (("PostgreSQL", services.postgres), ("Redis", services.redis)):
            if embedded is not None:
                watched.append(Supervised(name, embedded.alive, embedded.restart, say=_say))
        while not stopping and code == 0:
            try:
                for thing in watched:
                    thing.check()
            except GaveUp as exc:
                typer.echo(f"{exc}; stopping", err=True)
                code = 1
                break
            time.sleep(0.2)
        api, wrk = procs["serve"], procs["worker"]
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        typer.echo("stopping …")
        _terminate(api)
        _terminate(wrk)
        services.stop()
        typer.echo("stopped.")
    raise typer.Exit(code)


def _say(line: str) -> None:
    typer.echo(f"kameng run: {line}", err=True)


def _local(host: str) -> str:
    """An address to reach a server bound to ``host`` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104


def _wait_ready(
    base: str, api: subprocess.Popen[bytes], stopping: Callable[[], bool], timeout_s: float = 60
) -> bool:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stopping():
        if api.poll() is not None:
            return False
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _banner(
    url: str, took_s: float, services: EmbeddedServices, logins: Sequence[DemoLogin]
) -> str:
    lines = [
        "",
        "  kameng is running",
        f"  SPA   {url}/",
        f"  API   {url}/api/v1   (docs: {url}/api/docs)",
        f"  ready in {took_s:.1f} s; Ctrl-C stops everything",
    ]
    if services.postgres or services.redis:
        lines.append(f"  embedded PostgreSQL/Redis data: {services.var_dir}")
    lines.append("  demo logins:")
    if logins:
        width = max(len(lg.login) for lg in logins)
        lines += [f"    {lg.role:<18} {lg.login:<{width}}  {lg.password}" for lg in logins]
    else:
        lines.append("    (none yet: accounts arrive with the identity capability)")
    return "\n".join(lines) + "\n"


@app.command("print-settings", hidden=True)
def print_settings() -> None:
    """Print the effective settings (secrets masked) as JSON."""
    typer.echo(json.dumps(json.loads(_settings().model_dump_json()), indent=2))


if __name__ == "__main__":
    app()
