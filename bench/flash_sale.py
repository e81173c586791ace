"""Benchmark: a flash sale (秒杀) over HTTP against the real service.

    .venv/bin/python bench/flash_sale.py [--keys 10000] [--buyers 500] [--api-workers 2]

Starts embedded PostgreSQL and Redis under var/bench (or uses DATABASE_URL's server, in a
scratch database it creates and drops; REDIS_URL likewise), seeds one card-key product with
``--keys`` keys and ``--buyers`` customers with money, then runs ``kameng serve`` (API) and
``kameng worker`` as separate processes. Every buyer is a concurrent client that buys one key
at a time (``POST /api/v1/orders``, pay by balance, its own ``Idempotency-Key`` per attempt)
until the answer is ``sold_out``; after the last key all buyers keep asking for ``--tail-s``
seconds, which measures sold-out answers per second.

Prints purchases/s (keys sold / time to sell them), p50/p99 purchase latency, sold-out
answers/s, and — checked in the database — oversold (more keys sold than stocked) and
duplicates (a key in two orders), which must be 0. The reference, same run, same server:
``pgbench`` running the naive purchase (``SELECT … FOR UPDATE SKIP LOCKED`` + order insert +
wallet update) on plain tables, right before the race and right after it (the cores of a
shared machine change speed within a minute; ``naive_sql_tps`` is the mean of the two). The
last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import uvloop  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from kameng_api import migrate, tasks  # noqa: E402
from kameng_api.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from kameng_api.settings import get_settings  # noqa: E402

DB_NAME = "kameng_flash"
PRICE = Decimal("1.00")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_check_ms() -> float:
    """A fixed piece of Python work, best of three: this machine's speed right now. The cores
    of a shared virtual machine run at different speeds from hour to hour (measured: 0.83 to
    1.52 s for the same loop), and every figure here moves with them."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best * 1000


async def admin_exec(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# ---- seeding (in this process, through the services) ----------------------------------------


async def seed(n_keys: int, n_buyers: int) -> tuple[int, list[str]]:
    """One listed card-key product with ``n_keys`` keys; ``n_buyers`` customers with money
    and a signed-in session each. Returns the SKU id and the buyers' access tokens."""
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
    from kameng_api.wallet import service as wallet

    async with db.unit_of_work() as s:
        admin = await identity.create_user(
            s,
            kind=UserKind.staff,
            email="flash-admin@bench.kameng.example",
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
            permissions=frozenset({"catalog:write", "catalog:pricing", "inventory:import"}),
            meta=RequestMeta(user_agent="bench"),
        )
        cat = await catalog.create_category(s, actor, CategoryIn(name="秒杀"))
        saved = await catalog.create_product(
            s,
            actor,
            ProductIn(
                category_id=cat.id,
                name="秒杀卡",
                delivery_type="card_key",
                status="listed",
                max_qty=10,
                skus=[SkuIn(name="1元", base_price=str(PRICE), cost_price="0.50")],  # type: ignore[arg-type]
            ),
        )
        sku_id = (await catalog.skus_of(s, saved.product.id))[0].id
        keys = "\n".join(f"FLASH-{uuid.uuid4().hex}" for _ in range(n_keys))
        batch = await inventory.stage_import(
            s,
            actor,
            sku_id,
            inventory.Upload(
                content=keys.encode(),
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

    pw_hash = await _one_hash()  # one hash for all: hashing 500 passwords is not measured
    tokens: list[str] = []
    async with db.unit_of_work() as s:
        for i in range(n_buyers):
            user = User(
                kind="customer",
                email=f"buyer{i}@bench.kameng.example",
                password_hash=pw_hash,
                status="active",
            )
            s.add(user)
            await s.flush()
            await wallet.recharge(s, user.id, Decimal("1000"), payment_id=10**9 + i)
            issued = await sessions.new_session(
                s, user, RequestMeta(user_agent="bench"), "body", mfa=False
            )
            tokens.append(issued.access_token)
    return sku_id, tokens


async def _one_hash() -> str:
    from kameng_api.core import security

    return await security.hash_password(secrets.token_urlsafe(24))


# ---- the sale -------------------------------------------------------------------------------


class Conn:
    """One keep-alive HTTP/1.1 connection with a minimal client: the load generator shares
    the 2 cores with the service, so it must cost far less per request than httpx does."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\n{headers}"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status, data


async def sample_waits(dsn: str, stop: asyncio.Event) -> dict[str, int]:
    """What PostgreSQL backends are doing, sampled every 50 ms (a diagnostic)."""
    seen: dict[str, int] = {}
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            for r in await conn.fetch(
                "SELECT state, wait_event_type, wait_event, left(query, 60) AS q"
                " FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state <> 'idle'"
            ):
                k = f"{r['state']}|{r['wait_event_type']}|{r['wait_event']}|{r['q']}"
                seen[k] = seen.get(k, 0) + 1
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return dict(sorted(seen.items(), key=lambda kv: -kv[1])[:15])


async def cpu_by_role(procs: list[subprocess.Popen[bytes]], pg: Any) -> dict[str, float]:
    """CPU seconds used so far by each part of the system: the API processes, the worker,
    the PostgreSQL backends serving each (by ``application_name``) and its own processes
    (autovacuum, WAL writer …), Redis, and this load generator — where the 2 cores go."""
    import psutil

    roles = {procs[0].pid: "api", procs[1].pid: "worker"} if len(procs) >= 2 else {}
    apps = {
        r["pid"]: r["application_name"] or r["backend_type"]
        for r in await pg.fetch("SELECT pid, application_name, backend_type FROM pg_stat_activity")
    }
    out: dict[str, float] = {}
    for proc in psutil.process_iter(["name", "ppid", "cmdline"]):
        try:
            name = proc.info["name"] or ""
            cmd = " ".join(proc.info["cmdline"] or [])
            if proc.pid == os.getpid():
                role = "load_generator"
            elif proc.pid in roles:
                role = roles[proc.pid]
            elif proc.info["ppid"] in roles:
                role = roles[proc.info["ppid"]]
            elif name.startswith("postgres") or "postgres:" in cmd:
                app = apps.get(proc.pid, "other")
                role = "pg:" + (app.removeprefix("kameng-") if app.startswith("kameng") else app)
            elif "redis" in name:
                role = "redis"
            else:
                continue
            t = proc.cpu_times()
            out[role] = out.get(role, 0.0) + t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    # what the machine spent that no process above accounts for: processes that came and
    # went meanwhile (autovacuum workers …), the kernel's interrupts
    busy = psutil.cpu_times()
    total = sum(busy) - busy.idle - getattr(busy, "iowait", 0.0)
    out["unattributed"] = total - sum(out.values())
    return out


async def run_sale(
    base: str,
    sku_id: int,
    tokens: list[str],
    tail_s: float,
    cpu: Callable[[], Awaitable[dict[str, float]]],
    waits_dsn: str | None = None,
) -> dict[str, Any]:
    purchases: list[float] = []  # latency of each successful purchase (s)
    sold_out_at: list[float] = []  # when each sold_out answer arrived
    other: dict[str, int] = {}
    first_sold_out: list[float] = []
    last_purchase = [0.0]
    host, port = base.removeprefix("http://").split(":")
    body = json.dumps({"sku_id": sku_id}).encode()

    async def buyer(token: str) -> None:
        conn = Conn(host, int(port))
        auth = f"authorization: Bearer {token}\r\n"
        while True:
            t0 = time.perf_counter()
            status, data = await conn.post(
                "/api/v1/orders", body, f"{auth}idempotency-key: {uuid.uuid4().hex}\r\n"
            )
            t1 = time.perf_counter()
            if status == 201:
                purchases.append(t1 - t0)
                last_purchase[0] = max(last_purchase[0], t1)
                continue
            code = json.loads(data).get("code", str(status))
            if code == "sold_out":
                sold_out_at.append(t1)
                if not first_sold_out:
                    first_sold_out.append(t1)
                    cpu_marks.append(await cpu())
                if t1 - first_sold_out[0] > tail_s:
                    return
            else:
                other[code] = other.get(code, 0) + 1
                await asyncio.sleep(0.01)

    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_waits(waits_dsn, stop)) if waits_dsn else None
    cpu_marks = [await cpu()]
    start = time.perf_counter()
    await asyncio.gather(*(buyer(t) for t in tokens))
    cpu_marks.append(await cpu())
    stop.set()
    if sampler is not None:
        for k, n in (await sampler).items():
            print(f"  {n:6d}  {k}")
    sell_s = last_purchase[0] - start
    tail_start = first_sold_out[0] if first_sold_out else start
    tail = [t for t in sold_out_at if t >= max(tail_start, last_purchase[0])]
    tail_span = (max(tail) - max(tail_start, last_purchase[0])) if tail else 0.0
    lat = sorted(purchases)

    def per(a: dict[str, float], b: dict[str, float], n: int) -> dict[str, float]:
        if not n:
            return {}
        used = {k: (b[k] - a.get(k, 0.0)) * 1000 / n for k in sorted(b)}
        return {k: round(v, 3) for k, v in used.items() if v >= 0.001}

    return {
        "cpu_ms_per_purchase": per(cpu_marks[0], cpu_marks[1], len(purchases)),
        "cpu_ms_per_sold_out": per(cpu_marks[1], cpu_marks[-1], len(sold_out_at)),
        "sold": len(purchases),
        "sell_s": sell_s,
        "purchases_per_s": len(purchases) / sell_s if sell_s > 0 else 0.0,
        "p50_ms": statistics.median(lat) * 1000 if lat else 0.0,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0,
        "sold_out_per_s": len(tail) / tail_span if tail_span > 0 else 0.0,
        "other_answers": other,
    }


async def sale_with_cpu(
    base: str,
    sku_id: int,
    tokens: list[str],
    tail_s: float,
    procs: list[subprocess.Popen[bytes]],
    dsn: str,
    waits: bool,
) -> dict[str, Any]:
    pg = await asyncpg.connect(dsn)
    try:
        return await run_sale(
            base, sku_id, tokens, tail_s, lambda: cpu_by_role(procs, pg), dsn if waits else None
        )
    finally:
        await pg.close()


async def run_paced(
    base: str, sku_id: int, tokens: list[str], rate: float, seconds: float, warmup_s: float
) -> dict[str, Any]:
    """Purchases arriving at a fixed ``rate`` (one every 1/rate s) over the buyers'
    connections: the latency a buyer sees at that load, measured from when the purchase was
    due (a late start counts: no coordinated omission). The first ``warmup_s`` are not
    counted (every buyer's first purchase fills the service's caches)."""
    host, port = base.removeprefix("http://").split(":")
    body = json.dumps({"sku_id": sku_id}).encode()
    idle: asyncio.Queue[tuple[Conn, str]] = asyncio.Queue()
    for t in tokens:
        idle.put_nowait((Conn(host, int(port)), f"authorization: Bearer {t}\r\n"))
    lat: list[float] = []
    moments: dict[int, list[float]] = {}  # quarter second of the due time → latencies
    answers: dict[str, int] = {}

    async def connect(conn: Conn) -> None:  # connections are open before the clock starts
        conn.reader, conn.writer = await asyncio.open_connection(conn.host, conn.port)

    await asyncio.gather(*(connect(c) for c, _ in list(idle._queue)))  # type: ignore[attr-defined]

    async def one(due: float) -> None:
        conn, auth = await idle.get()
        try:
            status, data = await conn.post(
                "/api/v1/orders", body, f"{auth}idempotency-key: {uuid.uuid4().hex}\r\n"
            )
        finally:
            idle.put_nowait((conn, auth))
        code = "201" if status == 201 else json.loads(data).get("code", str(status))
        answers[code] = answers.get(code, 0) + 1
        if status == 201 and due >= start + warmup_s:
            lat.append(time.perf_counter() - due)
            moments.setdefault(int((due - start) * 4), []).append(lat[-1])

    start = time.perf_counter() + 0.05
    n = int(rate * seconds)
    tasks = []
    for k in range(n):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    took = time.perf_counter() - start - warmup_s
    lat.sort()
    # the slowest quarter seconds: a stall (a pause, a periodic job) shows as one or two
    worst = sorted(moments.items(), key=lambda m: -max(m[1]))[:3]
    return {
        "rate": round(len(lat) / took) if took > 0 else 0,
        "p50_ms": statistics.median(lat) * 1000 if lat else 0.0,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0,
        "answers": answers,
        "slowest": ", ".join(
            f"{q / 4:.2f} s: median {statistics.median(v) * 1000:.0f} / max {max(v) * 1000:.0f} ms"
            for q, v in worst
        ),
    }


async def check_db(dsn: str, n_keys: int) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        sold = await conn.fetchval("SELECT count(*) FROM order_keys")
        dup = await conn.fetchval(
            "SELECT count(*) FROM (SELECT key_id FROM order_keys GROUP BY key_id"
            " HAVING count(*) > 1) d"
        )
        return max(0, int(sold) - n_keys), int(dup)
    finally:
        await conn.close()


async def notices_done(dsn: str, timeout_s: float = 300) -> tuple[float, int]:
    """Seconds until every buyer was told (mail and notice: the worker runs at a lower CPU
    priority, so during the sale it falls behind), and how many orders were still untold."""
    conn = await asyncpg.connect(dsn)
    try:
        start = time.perf_counter()
        while True:
            left = int(await conn.fetchval("SELECT count(*) FROM orders WHERE notified_at IS NULL"))
            if left == 0 or time.perf_counter() - start > timeout_s:
                return time.perf_counter() - start, left
            await asyncio.sleep(0.25)
    finally:
        await conn.close()


# ---- the reference: naive SQL in pgbench ----------------------------------------------------

NAIVE_SQL = """
\\set buyer random(1, {buyers})
BEGIN;
SELECT id AS key_id FROM naive_keys WHERE state = 'available' LIMIT 1 FOR UPDATE SKIP LOCKED \\gset
UPDATE naive_keys SET state = 'sold' WHERE id = :key_id;
INSERT INTO naive_orders (buyer_id, key_id, total) VALUES (:buyer, :key_id, 1.00);
UPDATE naive_wallets SET balance = balance - 1.00 WHERE user_id = :buyer;
COMMIT;
"""


async def naive_setup(dsn: str, buyers: int) -> None:
    """The naive schema: 2,000,000 keys, one wallet per buyer."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            DROP TABLE IF EXISTS naive_keys, naive_orders, naive_wallets;
            CREATE TABLE naive_keys (id bigint PRIMARY KEY, state text NOT NULL);
            CREATE INDEX ON naive_keys (state, id);
            CREATE TABLE naive_orders (id bigserial PRIMARY KEY, buyer_id bigint, key_id bigint,
                total numeric(20,4));
            CREATE TABLE naive_wallets (user_id bigint PRIMARY KEY, balance numeric(20,4)
                CHECK (balance >= 0));
            INSERT INTO naive_keys SELECT g, 'available' FROM generate_series(1, 2000000) g;
            """
        )
        await conn.execute(
            "INSERT INTO naive_wallets SELECT g, 1000000 FROM generate_series(1, $1) g", buyers
        )
        await conn.execute("VACUUM ANALYZE naive_keys")
    finally:
        await conn.close()


def naive_tps(libpq: str, buyers: int, seconds: int) -> float:
    """The naive purchase in ``pgbench`` (32 clients) for ``seconds``: its tps."""
    from pgserver._commands import POSTGRES_BIN_PATH

    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(NAIVE_SQL.format(buyers=buyers))
        script = f.name
    os.chmod(script, 0o644)
    out = subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "pgbench"),
            "-n",
            "-c",
            "32",
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            script,
            libpq,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"tps = ([0-9.]+)", out)
    return float(m.group(1)) if m else 0.0


# ---- main -----------------------------------------------------------------------------------


def wait_ready(base: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the API did not become ready")


def main() -> None:
    tasks.load()  # the seeding writes outbox rows, as every process does
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=500)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--tail-s", type=float, default=3.0)
    parser.add_argument("--naive-s", type=int, default=10)
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=1000,
        help="first, purchases at this fixed rate (latency at a given load); 0: skip",
    )
    parser.add_argument("--paced-s", type=float, default=10.0)
    parser.add_argument("--paced-warmup-s", type=float, default=3.0)
    parser.add_argument(
        "--waits", action="store_true", help="sample PostgreSQL wait events during the sale"
    )
    args = parser.parse_args()
    # the load generator's own collector pauses would count as the service's latency (it
    # runs for two minutes: what cycles it leaves can wait)
    gc.disable()
    # the load generator on uvloop too (it shares the cores with the service)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    speed = cpu_check_ms()
    print(f"machine check: {speed:.0f} ms for a fixed loop (lower is faster)", flush=True)

    given_db = os.environ.get("DATABASE_URL") or os.environ.get("KAMENG_DATABASE_URL")
    given_redis = os.environ.get("REDIS_URL") or os.environ.get("KAMENG_REDIS_URL")
    pg = redis = None
    if given_db:
        base_url = make_url(given_db).set(drivername="postgresql+asyncpg")
    else:
        pg = EmbeddedPostgres(ROOT / "var" / "bench" / "postgres", database="postgres")
        base_url = make_url(pg.start())
    if given_redis:
        redis_url = given_redis
    else:  # a fresh one each run: what earlier runs left (keys, its append-only file) costs
        shutil.rmtree(ROOT / "var" / "bench" / "redis", ignore_errors=True)
        redis = EmbeddedRedis(ROOT / "var" / "bench" / "redis")
        redis_url = redis.start()
    admin = base_url.set(drivername="postgresql", database="postgres").render_as_string(False)
    url = base_url.set(database=DB_NAME).render_as_string(False)
    dsn = base_url.set(drivername="postgresql", database=DB_NAME).render_as_string(False)
    libpq = dsn
    procs: list[subprocess.Popen[bytes]] = []
    # the services' logs (warnings and errors), for a run that went wrong
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    logs = {r: (ROOT / "var" / "bench" / f"{r}.log").open("wb") for r in ("api", "worker")}
    try:
        asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        asyncio.run(admin_exec(admin, f'CREATE DATABASE "{DB_NAME}"'))
        migrate.upgrade(url)
        env = {
            **os.environ,
            "KAMENG_DATABASE_URL": url,
            "KAMENG_REDIS_URL": redis_url,
            "KAMENG_ENVIRONMENT": "development",
            "KAMENG_QUEUE_NAME": f"flash:{uuid.uuid4().hex[:6]}",
        }
        os.environ.update({k: env[k] for k in ("KAMENG_DATABASE_URL", "KAMENG_REDIS_URL")})
        get_settings.cache_clear()

        async def seeded() -> tuple[int, list[str]]:
            from kameng_api.core import db

            db.init_engine(get_settings(), pool_size=4, max_overflow=0)
            try:
                return await seed(stock, args.buyers)
            finally:
                await db.dispose_engine()

        paced_keys = int(args.paced_rate * args.paced_s)
        stock = args.keys + paced_keys
        print(f"seeding {stock:,} keys and {args.buyers} buyers …", flush=True)
        sku_id, tokens = asyncio.run(seeded())
        asyncio.run(naive_setup(dsn, args.buyers))
        # keys are imported well before a sale: autovacuum has seen them by then
        asyncio.run(admin_exec(dsn, "VACUUM ANALYZE"))
        asyncio.run(admin_exec(dsn, "CHECKPOINT"))
        port = free_port()
        kameng = str(ROOT / ".venv" / "bin" / "kameng")
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
        paced: dict[str, Any] = {"rate": 0, "p50_ms": 0.0, "p99_ms": 0.0}
        if paced_keys:
            print(
                f"purchases at {args.paced_rate:,.0f}/s for {args.paced_s} s "
                f"over {args.buyers} connections …",
                flush=True,
            )
            paced = asyncio.run(
                run_paced(base, sku_id, tokens, args.paced_rate, args.paced_s, args.paced_warmup_s)
            )
            print(
                f"  {paced['rate']:,}/s done; latency p50 {paced['p50_ms']:.1f} ms, "
                f"p99 {paced['p99_ms']:.1f} ms; answers {paced['answers']}",
                flush=True,
            )
            print(f"  slowest quarter seconds (from the start): {paced['slowest']}", flush=True)
            # the paced buyers' mails and notices waited for the sale to cool: they are sent
            # now, before the reference runs, so it does not share the cores with them
            told_s, untold = asyncio.run(notices_done(dsn))
            print(f"  paced buyers told {told_s:.1f} s later; {untold} orders untold", flush=True)
        # the reference, measured right before the race and again right after it: this
        # machine's cores change speed within a minute, and the mean of the two brackets it
        print(f"reference: naive SQL in pgbench for {args.naive_s} s …", flush=True)
        naive_runs = [naive_tps(libpq, args.buyers, args.naive_s)]
        print(f"  naive purchase transaction: {naive_runs[0]:,.0f} tps", flush=True)
        print(f"{args.buyers} buyers race for {args.keys:,} keys over HTTP …", flush=True)
        sale = asyncio.run(sale_with_cpu(base, sku_id, tokens, args.tail_s, procs, dsn, args.waits))
        oversold, duplicates = asyncio.run(check_db(dsn, stock))
        told_s, untold = asyncio.run(notices_done(dsn))
        lane = [  # how the purchase lane answered (one API process's counters)
            line
            for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines()
            if line.startswith(
                (
                    "kameng_purchase_lane_total",
                    "kameng_sold_out_at_gate_total",
                    "kameng_purchase_batch_size_count",
                    "kameng_purchase_batch_size_sum",
                )
            )
        ]
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        procs.clear()
        print(
            f"sold {sale['sold']:,} keys in {sale['sell_s']:.2f} s → "
            f"{sale['purchases_per_s']:,.0f} purchases/s; latency p50 {sale['p50_ms']:.1f} ms, "
            f"p99 {sale['p99_ms']:.1f} ms; sold-out answers {sale['sold_out_per_s']:,.0f}/s; "
            f"oversold {oversold}, duplicates {duplicates}; other answers {sale['other_answers']}",
            flush=True,
        )
        print(f"  purchase lane: {'; '.join(lane)}", flush=True)
        print(
            f"  every buyer told (mail and notice) {told_s:.1f} s after the sale; "
            f"{untold} orders untold",
            flush=True,
        )
        print(f"  CPU ms per purchase: {sale['cpu_ms_per_purchase']}", flush=True)
        print(f"  CPU ms per sold-out answer: {sale['cpu_ms_per_sold_out']}", flush=True)
        print(f"reference again, after the race: naive SQL for {args.naive_s} s …", flush=True)
        # (the first run's sold keys out of its queue's way, as they were before it)
        asyncio.run(admin_exec(dsn, "VACUUM naive_keys, naive_orders, naive_wallets"))
        naive_runs.append(naive_tps(libpq, args.buyers, args.naive_s))
        naive = sum(naive_runs) / len(naive_runs)
        print(
            f"  naive purchase transaction: {naive_runs[1]:,.0f} tps; "
            f"mean of before and after: {naive:,.0f} tps",
            flush=True,
        )
        asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    finally:
        for p in procs:
            p.kill()
        for log_file in logs.values():
            log_file.close()
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()
    print(
        json.dumps(
            {
                "purchases_per_s": round(sale["purchases_per_s"]),
                "p50_ms": round(sale["p50_ms"], 1),
                "p99_ms": round(sale["p99_ms"], 1),
                "sold_out_per_s": round(sale["sold_out_per_s"]),
                "oversold": oversold,
                "duplicates": duplicates,
                "naive_sql_tps": round(naive),
                "naive_sql_tps_before_after": [round(n) for n in naive_runs],
                "paced_rate": paced["rate"],
                "paced_p50_ms": round(paced["p50_ms"], 1),
                "paced_p99_ms": round(paced["p99_ms"], 1),
                "keys": args.keys,
                "buyers": args.buyers,
                "notices_done_s": round(told_s, 1),
                "cpu_check_ms": round(speed),
            }
        )
    )


if __name__ == "__main__":
    main()
