"""Step 2 of an import: confirm a checked upload and import its valid lines in one transaction
(all or none) — inline when small, else as the ``inventory:run_import`` job — by streaming
encrypted rows to PostgreSQL with binary COPY; and the job's progress, published to Redis.

Imports run one at a time (a transaction-level advisory lock), which is what lets them assign
key ids themselves: a batch's keys have consecutive ids, so "the keys of batch N" is a primary
key range, not a scan.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import db, pgcopy
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError
from kameng_api.core.security import field_cipher
from kameng_api.inventory import keyfile
from kameng_api.inventory.batches import get_batch, lock_batch
from kameng_api.inventory.bulk import COPY_CHUNK, raw_connection, short_switch_interval
from kameng_api.inventory.errors import BatchState, EmptyImport
from kameng_api.inventory.gate import clear_sold_out
from kameng_api.inventory.models import ImportBatch, ImportFile
from kameng_api.inventory.staging import (
    batch_options,
    fail_batch,
    file_content,
    import_target,
    read_rows,
)
from kameng_api.inventory.stock import check_low_stock, move_stock
from kameng_api.outbox import service as outbox
from kameng_api.settings import get_settings

log = logging.getLogger("kameng.inventory")

IMPORT_TASK = "inventory:run_import"
IMPORT_LOCK = 0x6B65_7973  # pg_advisory_xact_lock key held by the one running import ("keys")
KEY_COLUMNS = (
    "id",
    "sku_id",
    "product_id",
    "batch_id",
    "key_id",
    "digest",
    "secret_ct",
    "card_no",
    "hint",
    "cost",
)

Progress = Callable[[int, int], Awaitable[None]]


async def confirm(session: AsyncSession, actor: Actor, batch_id: int) -> ImportBatch:
    """Step 2: import the valid lines of a checked upload — now if small, else in a job."""
    batch = await get_batch(session, actor, batch_id, lock=True)
    if batch.status != "validated":
        raise BatchState(
            f"该导入当前状态为 {batch.status}，不能确认 (not waiting for confirmation)"
        )
    if batch.valid_count <= 0:
        raise EmptyImport(
            "没有可导入的有效卡密 (no valid lines to import)", code="nothing_to_import"
        )
    await import_target(session, batch.sku_id)
    batch.status = "queued"
    batch.confirmed_by = actor.user_id
    batch.confirmed_at = clock.now()
    await audit.record(
        session,
        "inventory.confirm_import",
        actor=actor,
        target_type="inventory_batch",
        target_id=batch.id,
        after={"sku_id": batch.sku_id, "valid": batch.valid_count},
    )
    await session.flush()
    if batch.valid_count <= get_settings().inventory_inline_lines:
        await run_import(session, batch.id)
    else:
        await outbox.enqueue(session, IMPORT_TASK, {"batch_id": batch.id})
    return batch


async def run_import(
    session: AsyncSession, batch_id: int, progress: Progress | None = None
) -> ImportBatch:
    """Encrypt and COPY the valid lines in the caller's transaction: all of them or none."""
    with keyfile.gc_paused():
        return await _run_import(session, batch_id, progress)


async def _run_import(
    session: AsyncSession, batch_id: int, progress: Progress | None
) -> ImportBatch:
    batch = await lock_batch(session, batch_id)
    if batch.status != "queued":
        return batch
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": IMPORT_LOCK})
    try:
        sku, product = await import_target(session, batch.sku_id)
    except AppError as exc:
        await fail_batch(session, batch, str(exc.code), exc.detail or "")
        return batch
    staged = await session.get(ImportFile, batch.id)
    if staged is None or staged.plan is None:
        await fail_batch(
            session,
            batch,
            "not_checked",
            "该导入没有检查结果，请重新验证后再确认 (check the upload again)",
            keep_file=staged is not None,
        )
        return batch
    rows = read_rows(batch, await file_content(session, batch.id))
    apg = await raw_connection(session)
    base = int(await apg.fetchval("SELECT coalesce(max(id), 0) FROM inventory_keys"))
    records = _KeyRows(batch, rows, staged.plan, sku.id, product.id, base)
    try:
        async with apg.transaction():  # a savepoint: the batch row survives a refused COPY
            await apg.copy_to_table(
                "inventory_keys",
                source=records.stream(progress),
                columns=KEY_COLUMNS,
                format="binary",
            )
    except UniqueViolationError:
        await fail_batch(
            session,
            batch,
            "stock_changed",
            "验证之后库存中出现了相同的卡密，请重新验证后再确认 "
            "(keys were added since the check: check again)",
            keep_file=True,
        )
        return batch
    n = records.count
    batch.status = "imported"
    batch.imported_count = n
    batch.cost_total = records.cost_total
    batch.first_key_id = base + 1 if n else None
    batch.last_key_id = base + n if n else None
    batch.imported_at = clock.now()
    await session.execute(delete(ImportFile).where(ImportFile.batch_id == batch.id))
    await move_stock(session, sku.id, product.id, available=n)
    await check_low_stock(session, [sku.id])
    sku_id = sku.id
    db.after_commit(session, lambda: clear_sold_out([sku_id]))  # buyers may come back
    await session.flush()
    return batch


class _KeyRows:
    """The binary COPY data of one import, made chunk by chunk (split, encrypt, encode) in a
    worker thread while PostgreSQL writes the previous chunk. The check's plan names the rows
    and their keyed hashes, in hash order per chunk."""

    def __init__(
        self,
        batch: ImportBatch,
        rows: list[str] | list[list[str]],
        plan: bytes,
        sku_id: int,
        product_id: int,
        base_id: int,
    ) -> None:
        self.batch = batch
        self.rows = rows
        self.plan = plan
        self.total = keyfile.plan_len(plan)
        self.ids = (batch.id, sku_id, product_id, base_id)
        self.count = 0
        self.cost_total = Decimal(0)
        self.opts = batch_options(batch)
        self.kid, cipher = field_cipher()
        self.encrypt = cipher.encrypt
        self.prefix = os.urandom(8)  # nonce = these 8 random bytes + the key id's low 4 bytes

    async def stream(self, progress: Progress | None) -> AsyncIterator[bytes]:
        """Binary COPY data. The next chunk is made in a worker thread while this one is sent,
        so PostgreSQL (another process, another core) never waits for Python."""
        yield pgcopy.HEADER
        starts = range(0, self.total, COPY_CHUNK)
        pending = asyncio.ensure_future(asyncio.to_thread(self._make_chunk, 0)) if starts else None
        try:
            with short_switch_interval():
                for n in range(len(starts)):
                    assert pending is not None
                    chunk = await pending
                    pending = None
                    if n + 1 < len(starts):
                        pending = asyncio.ensure_future(
                            asyncio.to_thread(self._make_chunk, starts[n + 1])
                        )
                    yield chunk
                    if progress is not None:
                        await progress(self.count, self.total)
            yield pgcopy.TRAILER
        finally:
            if pending is not None:  # the COPY failed: let the running chunk finish unused
                await asyncio.wait([pending])

    def _make_chunk(self, start: int) -> bytes:
        """Rows ``start``.. of the plan, encrypted and encoded for binary COPY."""
        batch_id, sku_id, product_id, base_id = self.ids
        encrypt, prefix, sized, null = self.encrypt, self.prefix, pgcopy.LENGTHS, pgcopy.NULL
        head = pgcopy.field_count(len(KEY_COLUMNS)) + pgcopy.length(8)  # then the id
        constant = (  # sku_id, product_id, batch_id, key_id, and the digest's length
            pgcopy.int8(sku_id)
            + pgcopy.int8(product_id)
            + pgcopy.int8(batch_id)
            + pgcopy.text(self.kid)
            + pgcopy.length(16)
        )
        out: list[bytes] = []
        add = out.extend
        with keyfile.gc_paused():
            digests, indexes = keyfile.plan_slice(self.plan, start, start + COPY_CHUNK)
            f = keyfile.fields(self.rows, indexes, self.opts, self.batch.default_cost)
            tails = [  # card_no, hint
                (null if c is None else sized[len(c)] + c) + sized[len(h)] + h
                for c, h in zip(f.cards, f.hints, strict=True)
            ]
            cost_fields = {c: pgcopy.numeric(c) for c in set(f.costs)}
            key_id = base_id + start
            for d, secret, tail, cost in zip(digests, f.secrets, tails, f.costs, strict=True):
                key_id += 1
                id_bytes = key_id.to_bytes(8, "big")
                # nonce: 8 random bytes per batch + the id's low 4 (consecutive in a batch)
                nonce = prefix + id_bytes[4:]
                ct = nonce + encrypt(nonce, secret, d)
                add((head, id_bytes, constant, d, sized[len(ct)], ct, tail, cost_fields[cost]))
        self.count = start + len(digests)
        self.cost_total += sum(c for c in f.costs if c is not None)
        return b"".join(out)


# ---- progress of running imports (Redis: best effort, the batch row is the truth) -----------


def _progress_key(batch_id: int) -> str:
    return f"inventory:import:{batch_id}:progress"


async def set_progress(batch_id: int, done: int, total: int) -> None:
    from kameng_api.core.redis import get_queue

    try:
        await get_queue().set(_progress_key(batch_id), f"{done}/{total}", ex=3600)
    except Exception:
        log.warning("could not publish import progress", extra={"batch_id": batch_id})


async def get_progress(batch_id: int) -> tuple[int, int] | None:
    from kameng_api.core.redis import get_queue

    try:
        raw = await get_queue().get(_progress_key(batch_id))
    except Exception:
        return None
    if not raw:
        return None
    done, _, total = (raw.decode() if isinstance(raw, bytes) else str(raw)).partition("/")
    return int(done), int(total)
