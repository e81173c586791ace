"""Benchmark: card-key purchases through the reseller open API vs the shop's own route.

    python bench/open_api.py [--resellers 50] [--seconds 8] [--rounds 2] [--api-workers 2]

Starts embedded PostgreSQL and Redis under var/bench-open (or uses DATABASE_URL/REDIS_URL,
in a scratch database), seeds one card-key product with plenty of keys and ``--resellers``
resellers with money, each with a signed-in session *and* an open-API key, then runs
``kameng serve`` and ``kameng worker``. Each round runs, for ``--seconds`` each:

- ``orders``: every reseller buys one key at a time with ``POST /api/v1/orders``
  (bearer token, a new ``Idempotency-Key`` each; the purchase lane answers these);
- ``open``: every reseller buys one key at a time with ``POST /open/v1/orders``
  (signed: HMAC, a new nonce and ``out_trade_no`` each).

Same buyers, same server, same run, alternating (the cores of a shared machine change speed
within a minute). Prints purchases/s, p50/p99 per mode and the ratio open/orders, then one
JSON line. Checks in the database: no key sold twice, one order per out_trade_no.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import asyncpg  # noqa: E402
import uvloop  # noqa: E402
from flash_sale import Conn, _one_hash, admin_exec, free_port, wait_ready  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from kameng_api import migrate, tasks  # noqa: E402
from kameng_api.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from kameng_api.resellers import signing  # noqa: E402
from kameng_api.settings import get_settings  # noqa: E402

DB_NAME = "kameng_open_bench"
PRICE = Decimal("1.00")


async def seed(n_keys: int, n_resellers: int) -> tuple[int, list[tuple[str, str, str]]]:
    """The SKU id and, per reseller, (access token, app id, secret)."""
    from kameng_api.catalog import service as catalog
    from kameng_api.catalog.schemas import CategoryIn, ProductIn, SkuIn
    from kameng_api.core import db
    from kameng_api.core.actor import Actor, RequestMeta, UserKind
    from kameng_api.identity import service as identity
    from kameng_api.identity import sessions
    from kameng_api.identity.models import User
    from kameng_api.inventory import keyfile
    from kameng_api.inventory import service as inventory
    from kameng_api.rbac import service as rbac
    from kameng_api.resellers import keys
    from kameng_api.wallet import service as wallet

    async with db.unit_of_work() as s:
        admin = await identity.create_user(
            s,
            kind=UserKind.staff,
            email="open-admin@bench.kameng.example",
            phone=None,
            password=uuid.uuid4().hex + "Aa1!",
            must_change_password=False,
            email_verified=True,
        )
        await rbac.grant_builtin_role(s, admin.id, "super_admin")
        actor = Actor(
            user_id=admin.id,
            kind=UserKind.staff,
            session_id="bench",
            permissions=frozenset({"catalog:write", "catalog:pricing", "inventory:import"}),
            meta=RequestMeta(user_agent="bench"),
        )
        cat = await catalog.create_category(s, actor, CategoryIn(name="对接"))
        saved = await catalog.create_product(
            s,
            actor,
            ProductIn(
                category_id=cat.id,
                name="对接卡",
                delivery_type="card_key",
                status="listed",
                max_qty=10,
                skus=[SkuIn(name="1元", base_price=str(PRICE), cost_price="0.50")],  # type: ignore[arg-type]
            ),
        )
        sku_id = (await catalog.skus_of(s, saved.product.id))[0].id
        batch = await inventory.stage_import(
            s,
            actor,
            sku_id,
            inventory.Upload(
                content="\n".join(f"OPEN-{uuid.uuid4().hex}" for _ in range(n_keys)).encode(),
                filename=None,
                options=keyfile.ReadOptions(format=keyfile.KeyFormat.secret),
            ),
        )
        batch_id = batch.id
    async with db.unit_of_work() as s:
        await inventory.validate_batch(s, batch_id)
    async with db.unit_of_work() as s:
        await inventory.confirm(s, actor, batch_id)
    async with db.unit_of_work() as s:
        await inventory.run_import(s, batch_id)
    pw_hash = await _one_hash()
    out: list[tuple[str, str, str]] = []
    async with db.unit_of_work() as s:
        for i in range(n_resellers):
            user = User(
                kind="reseller",
                email=f"reseller{i}@bench.kameng.example",
                password_hash=pw_hash,
                status="active",
            )
            s.add(user)
            await s.flush()
            await wallet.recharge(s, user.id, Decimal("100000"), payment_id=10**9 + i)
            issued = await sessions.new_session(
                s, user, RequestMeta(user_agent="bench"), "body", mfa=False
            )
            me = Actor(user_id=user.id, kind=UserKind.reseller, session_id="bench")
            key, secret = await keys.create_key(
                s, me, name="bench", ip_allowlist=[], rate_limit_per_min=100_000
            )
            out.append((issued.access_token, key.app_id, secret))
    return sku_id, out


async def run_mode(
    base: str, mode: str, sku_id: int, buyers: list[tuple[str, str, str]], seconds: float
) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    lat: list[float] = []
    other: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def buyer(token: str, app_id: str, secret: str) -> None:
        conn = Conn(host, int(port))
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            if mode in ("orders", "route"):
                # "route": quantity 1.0 is not the lane's case (it wants an int): the route
                # answers it — the shop's purchase without the lane, for reference
                qty: Any = 1 if mode == "orders" else 1.0
                body = json.dumps({"sku_id": sku_id, "quantity": qty}).encode()
                status, data = await conn.post(
                    "/api/v1/orders",
                    body,
                    f"authorization: Bearer {token}\r\nidempotency-key: {uuid.uuid4().hex}\r\n",
                )
            else:
                body = json.dumps(
                    {"out_trade_no": uuid.uuid4().hex, "sku_id": sku_id, "quantity": 1}
                ).encode()
                ts, nonce = str(int(time.time())), signing.new_nonce()
                sig = signing.sign(
                    secret, signing.string_to_sign("POST", "/open/v1/orders", [], ts, nonce, body)
                )
                status, data = await conn.post(
                    "/open/v1/orders",
                    body,
                    f"x-kameng-app-id: {app_id}\r\nx-kameng-timestamp: {ts}\r\n"
                    f"x-kameng-nonce: {nonce}\r\nx-kameng-signature: {sig}\r\n",
                )
            t1 = time.perf_counter()
            if status == 201:
                lat.append(t1 - t0)
            else:
                code = json.loads(data).get("code", str(status))
                other[code] = other.get(code, 0) + 1
                await asyncio.sleep(0.01)

    start = time.perf_counter()
    await asyncio.gather(*(buyer(*b) for b in buyers))
    span = time.perf_counter() - start
    lat.sort()
    return {
        "mode": mode,
        "sold": len(lat),
        "purchases_per_s": len(lat) / span,
        "p50_ms": statistics.median(lat) * 1000 if lat else 0.0,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0,
        "other": other,
    }


async def check_db(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        dup_keys = await conn.fetchval(
            "SELECT count(*) FROM (SELECT key_id FROM order_keys GROUP BY key_id"
            " HAVING count(*) > 1) d"
        )
        dup_nos = await conn.fetchval(
            "SELECT count(*) FROM (SELECT user_id, out_trade_no FROM open_orders"
            " GROUP BY 1, 2 HAVING count(*) > 1) d"
        )
        return int(dup_keys), int(dup_nos)
    finally:
        await conn.close()


def main() -> None:
    tasks.load()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resellers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keys", type=int, default=60_000)
    parser.add_argument("--api-workers", type=int, default=2)
    args = parser.parse_args()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    given_db = os.environ.get("DATABASE_URL") or os.environ.get("KAMENG_DATABASE_URL")
    given_redis = os.environ.get("REDIS_URL") or os.environ.get("KAMENG_REDIS_URL")
    pg = redis = None
    var = ROOT / "var" / "bench-open"
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
    logs = {r: (var / f"{r}.log").open("wb") for r in ("api", "worker")}
    results: list[dict[str, Any]] = []
    try:
        asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        asyncio.run(admin_exec(admin, f'CREATE DATABASE "{DB_NAME}"'))
        migrate.upgrade(url)
        env = {
            **os.environ,
            "KAMENG_DATABASE_URL": url,
            "KAMENG_REDIS_URL": redis_url,
            "KAMENG_ENVIRONMENT": "development",
            "KAMENG_QUEUE_NAME": f"open:{uuid.uuid4().hex[:6]}",
            "PYTHONPATH": str(ROOT / "src"),
        }
        os.environ.update({k: env[k] for k in ("KAMENG_DATABASE_URL", "KAMENG_REDIS_URL")})
        get_settings.cache_clear()

        async def seeded() -> tuple[int, list[tuple[str, str, str]]]:
            from kameng_api.core import db

            db.init_engine(get_settings(), pool_size=4, max_overflow=0)
            try:
                return await seed(args.keys, args.resellers)
            finally:
                await db.dispose_engine()

        print(f"seeding {args.keys:,} keys and {args.resellers} resellers …", flush=True)
        sku_id, buyers = asyncio.run(seeded())
        asyncio.run(admin_exec(dsn, "VACUUM ANALYZE"))
        port = free_port()
        kameng = str(Path(sys.executable).parent / "kameng")
        procs.append(
            subprocess.Popen(
                [kameng, "serve", "--port", str(port), "--workers", str(args.api_workers)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=logs["api"],
            )
        )
        procs.append(
            subprocess.Popen(
                [kameng, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=logs["worker"]
            )
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        # warm both paths (snapshots, caches, connections)
        asyncio.run(run_mode(base, "orders", sku_id, buyers, 1.0))
        asyncio.run(run_mode(base, "open", sku_id, buyers, 1.0))
        asyncio.run(run_mode(base, "route", sku_id, buyers, 1.0))
        for r in range(args.rounds):
            for mode in ("orders", "open", "route"):
                res = asyncio.run(run_mode(base, mode, sku_id, buyers, args.seconds))
                res["round"] = r + 1
                results.append(res)
                print(
                    f"  round {r + 1} {mode:6s}: {res['purchases_per_s']:8,.0f} purchases/s  "
                    f"p50 {res['p50_ms']:6.1f} ms  p99 {res['p99_ms']:6.1f} ms  "
                    f"other {res['other']}",
                    flush=True,
                )
        dup_keys, dup_nos = asyncio.run(check_db(dsn))
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        procs.clear()
        asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    finally:
        for p in procs:
            p.kill()
        for f in logs.values():
            f.close()
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()

    def mean(mode: str, field: str) -> float:
        return statistics.fmean(r[field] for r in results if r["mode"] == mode)

    rows = {
        m: {f: mean(m, f) for f in ("purchases_per_s", "p50_ms", "p99_ms")}
        for m in ("orders", "open", "route")
    }
    ratio = rows["open"]["purchases_per_s"] / rows["orders"]["purchases_per_s"]
    print()
    print(f"{'path':28s} {'purchases/s':>12s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for m, label in (
        ("orders", "POST /api/v1/orders (lane)"),
        ("route", "POST /api/v1/orders (route)"),
        ("open", "POST /open/v1/orders"),
    ):
        r = rows[m]
        print(f"{label:28s} {r['purchases_per_s']:12,.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}")
    print(
        f"ratio open/orders: {ratio:.2f} (goal ≥ 0.8); keys sold twice: {dup_keys}; "
        f"out_trade_no with two orders: {dup_nos}"
    )
    print(
        json.dumps(
            {
                "orders_per_s": round(rows["orders"]["purchases_per_s"]),
                "open_per_s": round(rows["open"]["purchases_per_s"]),
                "ratio": round(ratio, 2),
                "orders_p50_ms": round(rows["orders"]["p50_ms"], 1),
                "orders_p99_ms": round(rows["orders"]["p99_ms"], 1),
                "open_p50_ms": round(rows["open"]["p50_ms"], 1),
                "open_p99_ms": round(rows["open"]["p99_ms"], 1),
                "route_per_s": round(rows["route"]["purchases_per_s"]),
                "route_p50_ms": round(rows["route"]["p50_ms"], 1),
                "open_vs_route": round(
                    rows["open"]["purchases_per_s"] / rows["route"]["purchases_per_s"], 2
                ),
                "resellers": args.resellers,
                "duplicate_keys": dup_keys,
                "duplicate_out_trade_no": dup_nos,
            }
        )
    )


if __name__ == "__main__":
    main()
