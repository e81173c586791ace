"""Benchmark: direct recharges through upstream suppliers with a dead primary and a backup
that times out on a share of the orders.

    python bench/suppliers.py [--orders 1000] [--timeout-rate 0.2] [--workers 2]

Starts embedded PostgreSQL and Redis under var/bench-suppliers (or uses DATABASE_URL /
REDIS_URL, in a scratch database it creates), one direct-recharge SKU mapped to two Fulu
suppliers: the PRIMARY is dead (nothing listens on its port: every call is refused) and the
BACKUP is a Fulu simulator (``suppliers/fulu_simulator.py``, in this process) that takes every
order but answers ``--timeout-rate`` of them only after ``--hang-s`` (longer than the
supplier's timeout: the delivery job must QUERY, never order again). ``--orders`` buyers pay
by balance (the real order path, in this process); ``--workers`` real ``kameng worker``
processes deliver them.

Prints: orders delivered / refunded / still open (all must be delivered or refunded),
duplicate upstream orders (from the simulator's top-up counter: must be 0), calls the dead
primary got, when its circuit opened and how long until the first order went straight to the
backup, and throughput (orders settled per second, from the first payment to the last
settlement). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import asyncpg  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from kameng_api import migrate, tasks  # noqa: E402
from kameng_api.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from kameng_api.settings import get_settings  # noqa: E402

DB_NAME = "kameng_bench_suppliers"
APP_KEY = "bench-app"
SECRET = "bench-fulu-secret-0123456789abcd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def admin_exec(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(
    n_orders: int, dead_url: str, backup_url: str, timeout_s: float
) -> tuple[int, int, int, list[int]]:
    """Admin, suppliers, mappings, the SKU and the buyers; returns (sku, primary, backup,
    buyer ids)."""
    from kameng_api.catalog import service as catalog
    from kameng_api.catalog.schemas import BuyerField, CategoryIn, ProductIn, SkuIn
    from kameng_api.core import db
    from kameng_api.core.actor import Actor, RequestMeta, UserKind
    from kameng_api.identity import service as identity
    from kameng_api.rbac import service as rbac
    from kameng_api.suppliers import service as suppliers
    from kameng_api.wallet import service as wallet

    async with db.unit_of_work() as s:
        admin = await identity.create_user(
            s,
            kind=UserKind.staff,
            email="suppliers-admin@bench.kameng.example",
            phone=None,
            password=secrets.token_urlsafe(16) + "Aa1!",
            must_change_password=False,
            email_verified=True,
        )
        await rbac.grant_builtin_role(s, admin.id, "super_admin")
        actor = Actor(
            user_id=admin.id,
            kind=UserKind.staff,
            session_id="bench",
            permissions=frozenset({"catalog:write", "catalog:pricing"}),
            meta=RequestMeta(user_agent="bench"),
        )
        cat = await catalog.create_category(s, actor, CategoryIn(name="直充"))
        saved = await catalog.create_product(
            s,
            actor,
            ProductIn(
                category_id=cat.id,
                name="Q币直充",
                delivery_type="direct_recharge",
                status="listed",
                buyer_fields=[BuyerField(key="account", label="QQ号")],
                skus=[SkuIn(name="10元", base_price="10.00", cost_price="9.50")],  # type: ignore[arg-type]
            ),
        )
        sku_id = (await catalog.skus_of(s, saved.product.id))[0].id
        creds = {"app_key": APP_KEY, "app_secret": SECRET}
        primary = await suppliers.create_supplier(
            s,
            actor,
            {"name": "dead", "protocol": "fulu", "base_url": dead_url, "timeout_s": timeout_s},
            creds,
        )
        backup = await suppliers.create_supplier(
            s,
            actor,
            {"name": "backup", "protocol": "fulu", "base_url": backup_url, "timeout_s": timeout_s},
            creds,
        )
        for sup, prio in ((primary, 10), (backup, 20)):
            await suppliers.create_mapping(
                s,
                actor,
                sku_id,
                {"supplier_id": sup.id, "supplier_product_id": "10000001", "priority": prio},
            )
        buyers = []
        for i in range(n_orders):
            u = await identity.create_user(
                s,
                kind=UserKind.customer,
                email=f"buyer{i}@bench.kameng.example",
                phone=None,
                password="x" * 12 + "Aa1!",
                must_change_password=False,
                email_verified=True,
            )
            await wallet.recharge(s, u.id, Decimal("10"), payment_id=10**9 + i)
            buyers.append(u.id)
        return sku_id, primary.id, backup.id, buyers


async def place(sku_id: int, buyers: list[int], concurrency: int = 20) -> float:
    """Every buyer buys one recharge (balance), ``concurrency`` at a time; returns the start."""
    from kameng_api.core import db
    from kameng_api.core.actor import Actor, RequestMeta, UserKind
    from kameng_api.orders import service as orders

    queue: asyncio.Queue[int] = asyncio.Queue()
    for b in buyers:
        queue.put_nowait(b)

    async def one() -> None:
        while not queue.empty():
            buyer = queue.get_nowait()
            actor = Actor(user_id=buyer, kind=UserKind.customer, session_id="b", meta=RequestMeta())
            async with db.unit_of_work() as s:
                await orders.create_order(
                    s,
                    actor,
                    orders.PurchaseIn(sku_id, 1, "balance", {"account": f"{10000 + buyer}"}),
                )

    start = time.time()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    return start


async def watch(dsn: str, n: int, primary_id: int, deadline_s: float) -> dict[str, Any]:
    """Wait until every order is delivered or refunded (or the deadline); note when the
    primary's circuit first opened."""
    from kameng_api.suppliers import breaker

    conn = await asyncpg.connect(dsn)
    opened_at: float | None = None
    settled_at = None
    start = time.time()
    try:
        while time.time() - start < deadline_s:
            if opened_at is None:
                st = await breaker.state(primary_id)
                opened_at = st.opened_at
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE status IN ('delivered','refunded','failed'))"
                " AS done, max(updated_at) AS last FROM orders"
            )
            if row["done"] >= n:
                settled_at = row["last"]
                break
            await asyncio.sleep(0.5)
        return {"opened_at": opened_at, "settled_at": settled_at}
    finally:
        await conn.close()


async def figures(
    dsn: str, primary_id: int, backup_id: int, opened_at: float | None
) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        statuses = dict(
            await conn.fetch("SELECT status, count(*) FROM orders GROUP BY status")  # type: ignore[arg-type]
        )
        rows = await conn.fetch(
            "SELECT supplier_id, state, never_reached, count(*) AS n FROM upstream_orders"
            " GROUP BY 1, 2, 3 ORDER BY 1, 2"
        )
        primary_calls = sum(r["n"] for r in rows if r["supplier_id"] == primary_id)
        first_direct = None
        if opened_at is not None:
            first_direct = await conn.fetchval(
                "SELECT min(u.created_at) FROM upstream_orders u WHERE u.supplier_id = $1"
                " AND NOT EXISTS (SELECT 1 FROM upstream_orders p WHERE p.order_id = u.order_id"
                " AND p.supplier_id = $2) AND u.created_at >= to_timestamp($3)",
                backup_id,
                primary_id,
                opened_at,
            )
        first_paid = await conn.fetchval("SELECT min(paid_at) FROM orders")
        last_settled = await conn.fetchval(
            "SELECT max(updated_at) FROM orders WHERE status IN ('delivered','refunded','failed')"
        )
        return {
            "statuses": statuses,
            "upstream": [dict(r) for r in rows],
            "primary_calls": primary_calls,
            "first_direct_to_backup": first_direct,
            "first_paid": first_paid,
            "last_settled": last_settled,
        }
    finally:
        await conn.close()


def serve_sim(port: int, timeout_rate: float, hang_s: float) -> None:
    """The backup supplier in a process of its own (the load generator must not slow it),
    with ``GET /stats``: its top-up counter and calls."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from kameng_api.suppliers.fulu_simulator import FuluSimulator

    sim = FuluSimulator(APP_KEY, SECRET, mode="timeout", hang_s=hang_s)
    sim.timeout_rate = timeout_rate
    sim.balance = Decimal("1000000")

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "topups": dict(sim.topups),
                "calls": dict(sim.calls),
                "timed_out": sum(1 for o in sim.orders if sim._times_out(o)),
            }
        )

    sim.app.router.routes.append(Route("/stats", stats, methods=["GET"]))
    uvicorn.run(sim.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-sim":
        serve_sim(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--timeout-rate", type=float, default=0.2)
    ap.add_argument("--hang-s", type=float, default=5.0)
    ap.add_argument("--supplier-timeout-s", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--deadline-s", type=float, default=420)
    args = ap.parse_args()

    given_db = os.environ.get("DATABASE_URL") or os.environ.get("KAMENG_DATABASE_URL")
    given_redis = os.environ.get("REDIS_URL") or os.environ.get("KAMENG_REDIS_URL")
    var = ROOT / "var" / "bench-suppliers"
    pg = redis = None
    if given_db:
        base_url = make_url(given_db).set(drivername="postgresql+asyncpg")
    else:
        pg = EmbeddedPostgres(var / "postgres", database="postgres")
        base_url = make_url(pg.start())
    if given_redis:
        redis_url = given_redis
    else:
        shutil.rmtree(var / "redis", ignore_errors=True)
        redis = EmbeddedRedis(var / "redis")
        redis_url = redis.start()
    admin = base_url.set(drivername="postgresql", database="postgres").render_as_string(False)
    url = base_url.set(database=DB_NAME).render_as_string(False)
    dsn = base_url.set(drivername="postgresql", database=DB_NAME).render_as_string(False)
    procs: list[subprocess.Popen[bytes]] = []
    var.mkdir(parents=True, exist_ok=True)
    log = (var / "worker.log").open("wb")
    try:
        asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        asyncio.run(admin_exec(admin, f'CREATE DATABASE "{DB_NAME}"'))
        migrate.upgrade(url)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "KAMENG_DATABASE_URL": url,
            "KAMENG_REDIS_URL": redis_url,
            "KAMENG_ENVIRONMENT": "development",
            "KAMENG_OUTBOUND_ALLOW_LOOPBACK": "true",
            "KAMENG_QUEUE_NAME": f"suppliers:{uuid.uuid4().hex[:6]}",
            "KAMENG_RECHARGE_SUPPLIER_URL": "",
            "KAMENG_SUPPLIER_BREAKER_MIN_CALLS": "5",
            "KAMENG_SUPPLIER_BREAKER_COOLDOWN_S": "10",
            "KAMENG_LOG_JSON": "false",
        }
        os.environ.update({k: env[k] for k in env if k.startswith("KAMENG_")})
        get_settings.cache_clear()
        tasks.load()
        result = asyncio.run(run(args, dsn, procs, env, log))
        print(json.dumps(result, default=str))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()


async def run(
    args: argparse.Namespace,
    dsn: str,
    procs: list[subprocess.Popen[bytes]],
    env: dict[str, str],
    log: Any,
) -> dict[str, Any]:
    import httpx

    from kameng_api.core import db

    port, dead = free_port(), free_port()
    procs.append(
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-sim",
                str(port),
                str(args.timeout_rate),
                str(args.hang_s),
            ],
            env=env,
            stderr=log,
        )
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            await asyncio.sleep(0.1)
    db.init_engine(get_settings(), pool_size=20, max_overflow=0)
    try:
        print(f"seeding {args.orders} buyers …", flush=True)
        sku_id, primary_id, backup_id, buyers = await seed(
            args.orders,
            f"http://127.0.0.1:{dead}/api/getway",
            f"http://127.0.0.1:{port}/api/getway",
            args.supplier_timeout_s,
        )
        for _ in range(args.workers):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "kameng_api.cli", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
        await asyncio.sleep(3)  # the workers are up
        print(f"placing {args.orders} orders …", flush=True)
        start = await place(sku_id, buyers)
        placed = time.time()
        seen = await watch(dsn, args.orders, primary_id, args.deadline_s)
        end = time.time()
        f = await figures(dsn, primary_id, backup_id, seen["opened_at"])
        async with httpx.AsyncClient() as c:
            sim = (await c.get(f"http://127.0.0.1:{port}/stats")).json()
    finally:
        await db.dispose_engine()
    duplicates = sum(n - 1 for n in sim["topups"].values() if n > 1)
    st = f["statuses"]
    opened = seen["opened_at"]
    first_direct: datetime | None = f["first_direct_to_backup"]
    failover_s = (
        None if opened is None or first_direct is None else first_direct.timestamp() - opened
    )
    settled = st.get("delivered", 0) + st.get("refunded", 0)
    span = (f["last_settled"] - f["first_paid"]).total_seconds() if f["last_settled"] else None
    out = {
        "orders": args.orders,
        "delivered": st.get("delivered", 0),
        "refunded": st.get("refunded", 0),
        "open": args.orders - settled,
        "duplicate_upstream_orders": duplicates,
        "topped_up_at_backup": len(sim["topups"]),
        "backup_order_calls": sim["calls"].get("fulu.order.direct.add", 0),
        "backup_queries": sim["calls"].get("fulu.order.info.get", 0),
        "timed_out_answers": sim["timed_out"],
        "primary_calls": f["primary_calls"],
        "breaker_opened_after_s": None if opened is None else round(opened - start, 3),
        "breaker_open_to_failover_s": None if failover_s is None else round(failover_s, 3),
        "placing_s": round(placed - start, 2),
        "settle_span_s": None if span is None else round(span, 2),
        "throughput_orders_per_s": None if not span else round(settled / span, 1),
        "wall_s": round(end - start, 2),
        "upstream_rows": f["upstream"],
    }
    print(
        f"delivered {out['delivered']}, refunded {out['refunded']}, open {out['open']} "
        f"of {args.orders}; duplicate upstream orders {duplicates}; "
        f"dead primary called {out['primary_calls']}×; breaker opened "
        f"{out['breaker_opened_after_s']} s after the first order, first order straight to "
        f"the backup {out['breaker_open_to_failover_s']} s after it opened; "
        f"{out['throughput_orders_per_s']} orders/s settled",
        flush=True,
    )
    return out


if __name__ == "__main__":
    main()
