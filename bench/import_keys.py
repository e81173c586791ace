"""Benchmark: import 1,000,000 card keys through the service code the API uses, and list
page N of 10,000,000 keys.

    .venv/bin/python bench/import_keys.py [--keys 1000000] [--list-total 10000000]

Runs on embedded PostgreSQL under var/bench (or on DATABASE_URL's server, in a scratch
database it creates and drops). Steps, each timed:

1. stage   — the upload (40 MB CSV) stored encrypted, as ``POST /inventory/imports`` does;
2. check   — the per-line report (parse, keyed hash, duplicates, "already in stock"), the job
             a large upload runs;
3. import  — confirm + the import job: encrypt every secret (AES-GCM), COPY, stock counters —
             one transaction.

Reference, same run, same server: the plain ``COPY`` of the very rows step 3 wrote (already
encrypted, already sorted) into a copy of the table with the same indexes.

Then the table is filled to ``--list-total`` keys in one SKU and ``GET /inventory/keys``'s
service call is timed for random deep pages (keyset pagination).

The last line is one JSON object: keys, keys_per_s (the whole upload → check → import),
copy_rows_per_s, peak_rss_mb, list_p95_ms (plus the import step alone and each step's time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import asyncpg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from kameng_api import migrate, tasks  # noqa: E402
from kameng_api.embedded import EmbeddedPostgres  # noqa: E402
from kameng_api.settings import get_settings  # noqa: E402

DB_NAME = "kameng_bench"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(n: int) -> bytes:
    """``card_no,secret`` lines: 16-character card numbers, 20-character random secrets."""
    tag = secrets.token_hex(3)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    rnd = random.Random(secrets.randbits(64))
    choice = rnd.choices
    lines = [f"BN{tag}{i:08d},{''.join(choice(alphabet, k=20))}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


async def admin_exec(admin_dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def setup_catalog() -> tuple[Any, int]:
    """A staff user and one card-key product with one SKU; returns (actor, sku_id)."""
    from kameng_api.catalog import service as catalog
    from kameng_api.catalog.schemas import CategoryIn, ProductIn, SkuIn
    from kameng_api.core import db
    from kameng_api.core.actor import Actor, RequestMeta, UserKind
    from kameng_api.identity import service as identity

    async with db.unit_of_work() as s:
        user = await identity.create_user(
            s,
            kind=UserKind.staff,
            email="bench@bench.kameng.example",
            phone=None,
            password="Bench-Password-123",
            must_change_password=False,
            email_verified=True,
        )
        actor = Actor(
            user_id=user.id,
            kind=UserKind.staff,
            session_id="bench",
            permissions=frozenset(
                {"catalog:write", "catalog:pricing", "inventory:read", "inventory:import"}
            ),
            meta=RequestMeta(user_agent="bench"),
        )
        cat = await catalog.create_category(s, actor, CategoryIn(name="bench"))
        saved = await catalog.create_product(
            s,
            actor,
            ProductIn(
                category_id=cat.id,
                name="Bench card",
                delivery_type="card_key",
                skus=[SkuIn(name="100", base_price="98", cost_price="95")],  # type: ignore[arg-type]
            ),
        )
        sku_id = (await catalog.skus_of(s, saved.product.id))[0].id
    return actor, sku_id


async def import_keys(actor: Any, sku_id: int, content: bytes) -> dict[str, float]:
    from kameng_api.core import db
    from kameng_api.inventory import keyfile
    from kameng_api.inventory import service as inventory

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    async with db.unit_of_work() as s:
        batch = await inventory.stage_import(
            s,
            actor,
            sku_id,
            inventory.Upload(content=content, filename="keys.csv", options=keyfile.ReadOptions()),
        )
        batch_id = batch.id
        assert batch.status == "validating", batch.status  # large: checked by the job
    t1 = time.perf_counter()
    async with db.unit_of_work() as s:  # what the inventory:validate_import job runs
        batch = await inventory.validate_batch(s, batch_id)
        valid = batch.valid_count
    t2 = time.perf_counter()
    async with db.unit_of_work() as s:
        batch = await inventory.confirm(s, actor, batch_id)
        assert batch.status == "queued", batch.status
    async with db.unit_of_work() as s:  # what the inventory:run_import job runs
        batch = await inventory.run_import(s, batch_id)
        assert batch.status == "imported", (batch.status, batch.error_detail)
        imported = batch.imported_count
    t3 = time.perf_counter()
    t.update(stage_s=t1 - t0, check_s=t2 - t1, import_s=t3 - t2, total_s=t3 - t0)
    t.update(valid=valid, imported=imported)
    return t


async def copy_reference(dsn: str, sku_id: int) -> tuple[int, float]:
    """COPY the rows the import wrote, as they are (encrypted, in the same order), into a
    fresh table with the same indexes: what PostgreSQL alone needs for them."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS copy_reference")
        await conn.execute("CREATE TABLE copy_reference (LIKE inventory_keys INCLUDING ALL)")
        cols = [
            "id",
            "sku_id",
            "product_id",
            "batch_id",
            "card_no",
            "secret_ct",
            "key_id",
            "digest",
            "hint",
            "cost",
        ]
        rows = await conn.fetch(
            f"SELECT {', '.join(cols)} FROM inventory_keys WHERE sku_id = $1 ORDER BY id",
            sku_id,
        )
        records = [tuple(r) for r in rows]
        del rows
        await conn.execute("CHECKPOINT")
        t0 = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("copy_reference", records=records, columns=cols)
        took = time.perf_counter() - t0
        await conn.execute("DROP TABLE copy_reference")
        return len(records), took
    finally:
        await conn.close()


async def fill_to(dsn: str, sku_id: int, total: int) -> float:
    """Grow the SKU to ``total`` keys (2 in 3 sold) with SQL, indexes rebuilt afterwards."""
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval("SELECT count(*) FROM inventory_keys")
        extra = total - have
        if extra <= 0:
            return 0.0
        t0 = time.perf_counter()
        product_id = await conn.fetchval("SELECT product_id FROM catalog_skus WHERE id=$1", sku_id)
        base = await conn.fetchval("SELECT coalesce(max(id), 0) FROM inventory_keys")
        defs = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'inventory_keys'"
            " AND indexname <> 'pk_inventory_keys'"
        )
        for d in defs:
            await conn.execute(f'DROP INDEX "{d["indexname"]}"')
        await conn.execute(
            """
            INSERT INTO inventory_keys
              (id, sku_id, product_id, batch_id, state, card_no, secret_ct, key_id, digest, hint)
            SELECT $1::bigint + g, $2, $3, 0,
                   CASE WHEN g % 3 = 0 THEN 'available' ELSE 'sold' END,
                   'FILL' || g, decode(md5(g::text) || md5(g::text), 'hex'), 'k1',
                   md5('fill' || g)::uuid, '****' || right(md5(g::text), 4)
            FROM generate_series(1, $4::bigint) AS g
            """,
            base,
            sku_id,
            product_id,
            extra,
        )
        for d in defs:
            await conn.execute(d["indexdef"])
        await conn.execute("VACUUM ANALYZE inventory_keys")
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def list_pages(sku_id: int, samples: int) -> list[float]:
    """``GET /inventory/keys`` service calls at random deep cursors (50 per page)."""
    from kameng_api.core import db
    from kameng_api.inventory import service as inventory

    async with db.unit_of_work() as s:
        lo, top = (
            await s.execute(
                sa.text("SELECT min(id), max(id) FROM inventory_keys WHERE batch_id = 0")
            )
        ).one()
    rnd = random.Random(7)
    times = []
    for i in range(samples + 20):
        before = rnd.randint(int(lo) + 1000, int(top))
        state = "available" if i % 2 else "sold"
        t0 = time.perf_counter()
        async with db.unit_of_work() as s:
            rows = await inventory.list_keys(
                s, inventory.KeyFilter(sku_id=sku_id, state=state), before_id=before, limit=50
            )
        took = time.perf_counter() - t0
        assert len(rows) == 50, (before, len(rows))
        if i >= 20:  # warm-up excluded
            times.append(took * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


async def run(args: argparse.Namespace, dsn: str, url: str) -> dict[str, Any]:
    from kameng_api.core import db

    os.environ["KAMENG_DATABASE_URL"] = url
    get_settings.cache_clear()
    db.init_engine(get_settings(), pool_size=2, max_overflow=0)
    try:
        actor, sku_id = await setup_catalog()
        print(f"generating {args.keys:,} keys …", flush=True)
        content = generate(args.keys)
        print(f"  {len(content) / 1e6:.1f} MB CSV", flush=True)
        t = await import_keys(actor, sku_id, content)
        del content
        keys_per_s = t["imported"] / t["total_s"]
        print(
            f"import {int(t['imported']):,} keys: stage {t['stage_s']:.2f} s + check "
            f"{t['check_s']:.2f} s + import {t['import_s']:.2f} s = {t['total_s']:.2f} s "
            f"→ {keys_per_s:,.0f} keys/s",
            flush=True,
        )
        peak = rss_mb()
        print(f"peak RSS of this process: {peak:,.0f} MB", flush=True)
        n, copy_s = await copy_reference(dsn, sku_id)
        copy_rate = n / copy_s
        print(
            f"reference: plain COPY of the same {n:,} rows (same indexes): {copy_s:.2f} s "
            f"→ {copy_rate:,.0f} rows/s",
            flush=True,
        )
        print(f"filling the SKU to {args.list_total:,} keys …", flush=True)
        fill_s = await fill_to(dsn, sku_id, args.list_total)
        print(f"  filled in {fill_s:.1f} s", flush=True)
        times = await list_pages(sku_id, args.list_samples)
        list_p95 = p95(times)
        print(
            f"list page N of {args.list_total:,} keys (50 per page, random cursors, "
            f"{len(times)} samples): p50 {statistics.median(times):.2f} ms, "
            f"p95 {list_p95:.2f} ms",
            flush=True,
        )
        return {
            "keys": int(t["imported"]),
            "keys_per_s": round(keys_per_s),
            "import_step_keys_per_s": round(t["imported"] / t["import_s"]),
            "copy_rows_per_s": round(copy_rate),
            "peak_rss_mb": round(peak),
            "list_p95_ms": round(list_p95, 2),
            "stage_s": round(t["stage_s"], 2),
            "check_s": round(t["check_s"], 2),
            "import_s": round(t["import_s"], 2),
            "total_s": round(t["total_s"], 2),
            "copy_s": round(copy_s, 2),
            "list_total": args.list_total,
        }
    finally:
        await db.dispose_engine()


def main() -> None:
    # no Redis here: the outbox rows the import writes are simply not relayed (the bench runs
    # the jobs' code itself), so silence the relay's complaint about it
    logging.getLogger("kameng.db").setLevel(logging.CRITICAL)
    tasks.load()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--list-total", type=int, default=10_000_000)
    parser.add_argument("--list-samples", type=int, default=200)
    args = parser.parse_args()

    given = os.environ.get("DATABASE_URL") or os.environ.get("KAMENG_DATABASE_URL")
    pg: EmbeddedPostgres | None = None
    if given:
        base = make_url(given).set(drivername="postgresql+asyncpg")
    else:
        pg = EmbeddedPostgres(ROOT / "var" / "bench" / "postgres", database="postgres")
        base = make_url(pg.start())
    admin = base.set(drivername="postgresql", database="postgres").render_as_string(False)
    url = base.set(database=DB_NAME).render_as_string(False)
    dsn = base.set(drivername="postgresql", database=DB_NAME).render_as_string(False)
    try:
        asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        asyncio.run(admin_exec(admin, f'CREATE DATABASE "{DB_NAME}"'))
        migrate.upgrade(url)
        figures = asyncio.run(run(args, dsn, url))
        asyncio.run(admin_exec(admin, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    finally:
        if pg is not None:
            pg.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
