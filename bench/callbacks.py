"""Benchmark: signed callbacks to a reseller whose endpoint fails 30 % of the time.

    PYTHONPATH=src .venv/bin/python bench/callbacks.py [--callbacks 10000] [--fail 0.3]
        [--workers 2] [--max-jobs 20] [--retry-s 0.2,0.5,1,1,2,2,3,3,5,5]

Starts embedded PostgreSQL and Redis under var/bench-callbacks (or uses DATABASE_URL's server
in a scratch database it creates and drops; REDIS_URL likewise), migrates, and makes one
reseller with ``--callbacks`` delivered orders that came through the open API (orders and
``open_orders`` rows written directly: the purchase is not what is measured). A receiver on a
local port (this process) checks every callback's Standard Webhooks signature with the
reseller's secret and answers 500 to a random ``--fail`` share of the attempts (seeded), 200
to the rest. ``--workers`` real ``kameng worker`` processes deliver; the retry schedule is
shortened (``KAMENG_CALLBACK_RETRY_S``).

The events are queued the way the notice job queues them (``callbacks.orders_settled``, 100
orders a transaction), all at once, and the clock starts with the first. Prints: callbacks
delivered (and failed), distinct webhook ids acknowledged with a 2xx and how many were
acknowledged more than once (must be 0), attempts in total (the database's count and the
receiver's), bad signatures (must be 0), delivery lag p50/p99 (from the event being queued to
the receiver's 2xx) and throughput (callbacks delivered a second, first event to last
acknowledgement). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import asyncpg  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from standardwebhooks.webhooks import Webhook  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from kameng_api import migrate, tasks  # noqa: E402
from kameng_api.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from kameng_api.settings import get_settings  # noqa: E402

DB_NAME = "kameng_callbacks_bench"
VAR = ROOT / "var" / "bench-callbacks"


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


class Receiver:
    """The reseller's endpoint: verifies, fails a seeded random share, counts 2xx per id."""

    def __init__(self, secret: str, fail: float, seed: int) -> None:
        self.hook = Webhook(secret)
        self.fail = fail
        self.rng = random.Random(seed)
        self.requests = 0
        self.bad_signatures = 0
        self.acked: Counter[str] = Counter()
        self.first_ack: dict[str, float] = {}  # webhook id → wall clock of the first 2xx

    async def handle(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        self.requests += 1
        try:
            self.hook.verify(body, dict(request.headers))
        except Exception:
            self.bad_signatures += 1
            return PlainTextResponse("bad signature", status_code=400)
        if self.rng.random() < self.fail:
            return PlainTextResponse("try again later", status_code=500)
        wid = request.headers["webhook-id"]
        self.acked[wid] += 1
        self.first_ack.setdefault(wid, time.time())
        return PlainTextResponse("ok")


async def seed(n: int, callback_url: str) -> tuple[int, str]:
    """One reseller (callback URL set) with ``n`` delivered open-API orders. Returns the
    reseller's id and webhook secret."""
    from sqlalchemy import text

    from kameng_api.core import db, security
    from kameng_api.core.actor import UserKind
    from kameng_api.identity import service as identity
    from kameng_api.resellers import accounts

    async with db.unit_of_work() as s:
        user = await identity.create_user(
            s,
            kind=UserKind.reseller,
            email="reseller@bench.kameng.example",
            phone=None,
            password=uuid.uuid4().hex + "Aa1!",
            must_change_password=False,
            email_verified=True,
        )
        await accounts.set_callback_url(s, user.id, callback_url)
        secret = accounts.webhook_secret(await accounts.ensure_account(s, user.id))
        key_id = (
            await s.execute(
                text(
                    "INSERT INTO reseller_keys (user_id, app_id, secret_enc, secret_hint) "
                    "VALUES (:u, :a, :e, 'xxxx') RETURNING id"
                ),
                {"u": user.id, "a": "ak_bench", "e": security.encrypt_field("sk", aad="ak_bench")},
            )
        ).scalar_one()
        await s.execute(
            text(
                """
                INSERT INTO orders (order_no, buyer_id, product_id, sku_id, product_name,
                    sku_name, delivery_type, quantity, unit_price, total, price_rule, status,
                    pay_method, delivered_qty, paid_at, delivered_at)
                SELECT 'B' || lpad(g::text, 12, '0'), :u, 1, 1, '点卡', '10元', 'card_key', 1,
                    10, 10, 'base', 'delivered', 'balance', 1, now(), now()
                FROM generate_series(1, :n) g
                """
            ),
            {"u": user.id, "n": n},
        )
        await s.execute(
            text(
                """
                INSERT INTO open_orders (order_id, user_id, out_trade_no, request_hash, key_id)
                SELECT id, :u, 'T' || id, repeat('0', 64), :k FROM orders WHERE buyer_id = :u
                """
            ),
            {"u": user.id, "k": key_id},
        )
        return user.id, secret


async def queue_events(user_id: int) -> tuple[float, int]:
    """Queue every order's callback as the notice job does; returns (wall clock of the
    first, how many were queued)."""
    from sqlalchemy import text

    from kameng_api.core import db
    from kameng_api.resellers import callbacks

    async with db.unit_of_work() as s:
        ids = list(
            (
                await s.execute(
                    text("SELECT id FROM orders WHERE buyer_id = :u ORDER BY id"), {"u": user_id}
                )
            ).scalars()
        )
    start = time.time()
    made = 0
    for i in range(0, len(ids), 100):
        async with db.unit_of_work() as s:
            made += await callbacks.orders_settled(s, ids[i : i + 100])
    return start, made


async def run(args: argparse.Namespace, url: str, redis_url: str, dsn: str) -> dict[str, Any]:
    from kameng_api.core import db

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "KAMENG_DATABASE_URL": url,
        "KAMENG_REDIS_URL": redis_url,
        "KAMENG_ENVIRONMENT": "development",
        "KAMENG_QUEUE_NAME": f"callbacks:{uuid.uuid4().hex[:6]}",
        "KAMENG_OUTBOUND_ALLOW_LOOPBACK": "true",
        "KAMENG_CALLBACK_RETRY_S": args.retry_s,
        "KAMENG_WORKER_MAX_JOBS": str(args.max_jobs),
        "KAMENG_DB_POOL_SIZE": str(args.max_jobs + 5),
        "KAMENG_WORKER_NICE": "0",
        "KAMENG_WORKER_IDLE_CLASS": "false",
        "KAMENG_LOG_JSON": "false",
    }
    os.environ.update(
        {k: env[k] for k in env if k.startswith("KAMENG_") and k != "KAMENG_LOG_JSON"}
    )
    get_settings.cache_clear()
    db.init_engine(get_settings(), pool_size=4, max_overflow=0)
    print(f"seeding a reseller with {args.callbacks:,} delivered open-API orders …", flush=True)
    user_id, secret = await seed(args.callbacks, f"http://127.0.0.1:{port}/kameng/callbacks")
    rx = Receiver(secret, args.fail, args.seed)
    app = Starlette(routes=[Route("/kameng/callbacks", rx.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", backlog=4096
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    VAR.mkdir(parents=True, exist_ok=True)
    log = (VAR / "worker.log").open("wb")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "kameng_api.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for _ in range(args.workers)
    ]
    conn = await asyncpg.connect(dsn)
    try:
        await asyncio.sleep(2)  # the workers are up before the clock starts
        print(
            f"queueing {args.callbacks:,} callbacks; {args.workers} workers × {args.max_jobs} "
            f"jobs deliver to a receiver that fails {args.fail:.0%} of attempts …",
            flush=True,
        )
        start, made = await queue_events(user_id)
        print(f"  queued {made:,} in {time.time() - start:.1f} s", flush=True)
        deadline = time.time() + args.timeout_s
        while True:
            open_ = await conn.fetchval(
                "SELECT count(*) FROM reseller_callbacks WHERE status = 'pending'"
            )
            if open_ == 0 or time.time() > deadline:
                break
            await asyncio.sleep(0.5)
        end = max(rx.first_ack.values(), default=time.time())
        rows = await conn.fetch(
            "SELECT webhook_id, status, attempts, extract(epoch FROM created_at) AS at "
            "FROM reseller_callbacks"
        )
        attempt_rows = await conn.fetchval("SELECT count(*) FROM reseller_callback_attempts")
    finally:
        await conn.close()
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
        server.should_exit = True
        await serving
        await db.dispose_engine()
    statuses = Counter(r["status"] for r in rows)
    lags = sorted(
        rx.first_ack[r["webhook_id"]] - float(r["at"])
        for r in rows
        if r["webhook_id"] in rx.first_ack
    )

    def pct(p: float) -> float:
        return lags[min(len(lags) - 1, int(p * len(lags)))] * 1000 if lags else 0.0

    return {
        "callbacks": len(rows),
        "delivered": statuses.get("delivered", 0),
        "failed": statuses.get("failed", 0),
        "pending": statuses.get("pending", 0),
        "acked_ids": len(rx.acked),
        "acked_more_than_once": sum(1 for n in rx.acked.values() if n > 1),
        "attempts_db": sum(int(r["attempts"]) for r in rows),
        "attempt_rows": int(attempt_rows),
        "receiver_requests": rx.requests,
        "bad_signatures": rx.bad_signatures,
        "lag_p50_ms": round(pct(0.50), 1),
        "lag_p99_ms": round(pct(0.99), 1),
        "lag_mean_ms": round(statistics.fmean(lags) * 1000, 1) if lags else 0.0,
        "seconds": round(end - start, 2),
        "callbacks_per_s": round(statuses.get("delivered", 0) / max(end - start, 1e-9), 1),
        "retry_s": args.retry_s,
        "fail": args.fail,
        "workers": args.workers,
        "max_jobs": args.max_jobs,
    }


def main() -> None:
    tasks.load()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--callbacks", type=int, default=10_000)
    parser.add_argument("--fail", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-jobs", type=int, default=20)
    # 11 attempts: at 30 % failures, 0.3^11 ≈ 2e-6 of the callbacks would be given up
    parser.add_argument("--retry-s", default="0.2,0.5,1,1,2,2,3,3,5,5")
    parser.add_argument("--timeout-s", type=float, default=600)
    args = parser.parse_args()

    given_db = os.environ.get("DATABASE_URL") or os.environ.get("KAMENG_DATABASE_URL")
    given_redis = os.environ.get("REDIS_URL") or os.environ.get("KAMENG_REDIS_URL")
    pg = redis = None
    if given_db:
        base_url = make_url(given_db).set(drivername="postgresql+asyncpg")
    else:
        pg = EmbeddedPostgres(VAR / "postgres", database="postgres")
        base_url = make_url(pg.start())
    if given_redis:
        redis_url = given_redis
    else:
        shutil.rmtree(VAR / "redis", ignore_errors=True)
        redis = EmbeddedRedis(VAR / "redis")
        redis_url = redis.start()
    admin = base_url.set(drivername="postgresql", database="postgres").render_as_string(False)
    url = base_url.set(database=DB_NAME).render_as_string(False)
    dsn = base_url.set(drivername="postgresql", database=DB_NAME).render_as_string(False)
    try:
        asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        asyncio.run(admin_exec(admin, f'CREATE DATABASE "{DB_NAME}"'))
        migrate.upgrade(url)
        out = asyncio.run(run(args, url, redis_url, dsn))
        print(
            f"delivered {out['delivered']:,} of {out['callbacks']:,} callbacks "
            f"(failed {out['failed']}, pending {out['pending']}); "
            f"acknowledged ids {out['acked_ids']:,}, more than once {out['acked_more_than_once']}; "
            f"attempts {out['attempts_db']:,} (receiver saw {out['receiver_requests']:,}); "
            f"bad signatures {out['bad_signatures']}",
            flush=True,
        )
        print(
            f"lag p50 {out['lag_p50_ms']:.0f} ms, p99 {out['lag_p99_ms']:.0f} ms; "
            f"{out['callbacks_per_s']:,.0f} callbacks/s over {out['seconds']:.1f} s",
            flush=True,
        )
        print(json.dumps(out))
    finally:
        try:
            asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        finally:
            if redis is not None:
                redis.stop()
            if pg is not None:
                pg.stop()


if __name__ == "__main__":
    main()
