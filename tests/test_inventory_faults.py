"""A large import is all or nothing, even when the worker running it is killed mid-COPY.

Real worker processes, their own database and Redis (``wired``), SIGKILL.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kameng_api.catalog import service as catalog
from kameng_api.catalog.schemas import CategoryIn, ProductIn, SkuIn
from kameng_api.core import db
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.identity import service as identity
from kameng_api.inventory import service as inventory
from kameng_api.inventory.keyfile import ReadOptions
from kameng_api.inventory.models import CardKey, ImportBatch, Stock
from kameng_api.outbox.models import OutboxMessage
from tests.support.procs import kameng_env, start_worker, stop, wait_for

pytestmark = pytest.mark.slow

N_KEYS = 300_000


async def _setup() -> tuple[Actor, int]:
    async with db.unit_of_work() as s:
        user = await identity.create_user(
            s,
            kind=UserKind.staff,
            email=f"op-{uuid.uuid4().hex[:6]}@test.kameng.example",
            phone=None,
            password="Quiet-Orchid-Lamp-5",
            must_change_password=False,
            email_verified=True,
        )
        actor = Actor(
            user_id=user.id,
            kind=UserKind.staff,
            session_id="test",
            permissions=frozenset(
                {"catalog:write", "catalog:pricing", "inventory:read", "inventory:import"}
            ),
            meta=RequestMeta(),
        )
        cat = await catalog.create_category(s, actor, CategoryIn(name="点卡"))
        saved = await catalog.create_product(
            s,
            actor,
            ProductIn(
                category_id=cat.id,
                name="Steam 充值卡",
                delivery_type="card_key",
                skus=[SkuIn(name="100元", base_price="98", cost_price="95")],  # type: ignore[arg-type]
            ),
        )
        sku_id = (await catalog.skus_of(s, saved.product.id))[0].id
    return actor, sku_id


async def _batch(batch_id: int) -> ImportBatch:
    async with db.unit_of_work() as s:
        b = await s.get(ImportBatch, batch_id)
        assert b is not None
        return b


async def _count_keys() -> int:
    async with db.unit_of_work() as s:
        return int(await s.scalar(select(func.count()).select_from(CardKey)) or 0)


async def test_worker_killed_mid_import_leaves_nothing_then_the_retry_imports_all_once(
    wired: dict[str, str], tmp_path: Path
) -> None:
    actor, sku_id = await _setup()
    content = "".join(f"CN{i:07d},KILL-{uuid.uuid4().hex[:16]}\n" for i in range(N_KEYS)).encode()
    log = str(tmp_path / "worker.log")
    first = start_worker(kameng_env(**wired), log)
    second = None
    try:
        async with db.unit_of_work() as s:
            batch = await inventory.stage_import(
                s,
                actor,
                sku_id,
                inventory.Upload(content=content, filename="keys.csv", options=ReadOptions()),
            )
            batch_id = batch.id
        assert batch.status == "validating"  # large: the worker checks it

        async def validated() -> ImportBatch | None:
            b = await _batch(batch_id)
            return b if b.status == "validated" else None

        assert (await wait_for(validated, 60)).valid_count == N_KEYS
        async with db.unit_of_work() as s:
            assert (await inventory.confirm(s, actor, batch_id)).status == "queued"

        async def copying() -> tuple[int, int] | None:
            p = await inventory.get_progress(batch_id)
            return p if p is not None and p[0] > 0 else None

        done, total = await wait_for(copying, 60, interval_s=0.02)
        assert 0 < done < total == N_KEYS  # killed in the middle of the COPY
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        killed_at = time.monotonic()
        assert (await _batch(batch_id)).status == "queued"
        assert await _count_keys() == 0  # nothing half-imported

        second = start_worker(kameng_env(**wired), log)

        async def imported() -> ImportBatch | None:
            b = await _batch(batch_id)
            return b if b.status == "imported" else None

        b = await wait_for(imported, 90)
        took = time.monotonic() - killed_at
    finally:
        stop(first)
        if second is not None:
            stop(second)
    assert b.imported_count == N_KEYS
    async with db.unit_of_work() as s:
        assert await s.scalar(select(func.count()).select_from(CardKey)) == N_KEYS
        assert await s.scalar(select(func.count(func.distinct(CardKey.digest)))) == N_KEYS
        stock = await s.get(Stock, sku_id)
        assert stock is not None
        assert stock.available == N_KEYS
        attempts = await s.scalar(
            select(OutboxMessage.attempts).where(OutboxMessage.task == inventory.IMPORT_TASK)
        )
    assert attempts == 2
    assert took < 90
