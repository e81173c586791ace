"""Card-key inventory rules: two-step imports (stage → report → confirm), keys encrypted at rest
and de-duplicated by a keyed hash, stock counters, void, reveal and export.

An import is a batch (``ImportBatch``). Staging stores the upload encrypted and checks it —
within the request for small files, as a job for large ones. Confirming imports the valid
lines in one transaction (all or nothing), again inline or as a job that reports progress.
Imports run one at a time (a transaction-level advisory lock), which is what lets them assign
key ids themselves: a batch's keys have consecutive ids, so "the keys of batch N" is a primary
key range, not a scan.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from asyncpg.pgproto.pgproto import UUID as PgUUID  # builds from 16 bytes, ~10x uuid.UUID
from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.alerts import service as alerts
from kameng_api.audit import service as audit
from kameng_api.catalog import service as catalog
from kameng_api.catalog.models import Product, Sku
from kameng_api.core import db, pgcopy
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, NotFound
from kameng_api.core.security import dedupe_key, field_cipher
from kameng_api.core.spreadsheet import csv_safe
from kameng_api.inventory import keyfile
from kameng_api.inventory.keyfile import FileRejected, Problem, ReadOptions
from kameng_api.inventory.models import (
    STOCK_SLOTS,
    CardKey,
    ImportBatch,
    ImportFile,
    Stock,
    StockDelta,
)
from kameng_api.inventory.permissions import InventoryPerm
from kameng_api.outbox import service as outbox
from kameng_api.settings import get_settings

log = logging.getLogger("kameng.inventory")

VALIDATE_TASK = "inventory:validate_import"
IMPORT_TASK = "inventory:run_import"
LOW_STOCK_ALERT = "inventory.low_stock"
IMPORT_LOCK = 0x6B65_7973  # pg_advisory_xact_lock key held by the one running import ("keys")
COPY_CHUNK = 50_000
IN_STOCK_CHUNK = 100_000
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


class NotCardKeyProduct(AppError):
    status = 422
    code = "not_card_key_product"
    title = "This product is not delivered from card-key stock"


class EmptyImport(AppError):
    status = 422
    code = "empty_file"
    title = "Nothing to import"


class UploadTooLarge(AppError):
    status = 413
    code = "upload_too_large"
    title = "File too large"


class BatchState(AppError):
    status = 409
    code = "batch_state"
    title = "Not possible in this state"


class BatchHasSoldKeys(AppError):
    status = 409
    code = "batch_has_sold_keys"
    title = "Keys of this batch were sold"


# ---- staging and checking -------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    content: bytes
    filename: str | None  # None: pasted text
    options: ReadOptions
    default_cost: Decimal | None = None
    note: str = ""


async def _import_target(session: AsyncSession, sku_id: int) -> tuple[Sku, Product]:
    try:
        sku, product = await catalog.get_sku(session, sku_id)
    except NotFound:
        raise NotFound("No such SKU.", code="unknown_sku") from None
    if product.delivery_type != "card_key":
        raise NotCardKeyProduct(
            f"「{product.name}」的发货方式不是卡密，不能导入卡密 "
            f"(product delivery type is {product.delivery_type})"
        )
    return sku, product


async def stage_import(
    session: AsyncSession, actor: Actor, sku_id: int, upload: Upload
) -> ImportBatch:
    """Step 1: store the upload (encrypted) and check it — now if small, else in a job."""
    settings = get_settings()
    if len(upload.content) > settings.inventory_upload_max_bytes:
        raise UploadTooLarge(
            f"文件超过 {settings.inventory_upload_max_bytes // (1024 * 1024)} MB，请拆分后导入 "
            f"(at most {settings.inventory_upload_max_bytes} bytes)"
        )
    if not upload.content.strip():
        raise EmptyImport("文件为空 (the file is empty)")
    sku, product = await _import_target(session, sku_id)
    source = (
        "paste"
        if upload.filename is None
        else keyfile.detect_source(upload.filename, upload.content)
    )
    # Whole-file problems (encoding, broken or unsafe archives) are answered now, for any size.
    if source == "xlsx":
        keyfile.check_zip(upload.content, settings.xlsx_max_unzipped_bytes)
        inline = len(upload.content) <= 512 * 1024
    else:
        keyfile.decode_text(upload.content, upload.options.encoding)
        inline = upload.content.count(b"\n") < settings.inventory_inline_lines

    batch = ImportBatch(
        sku_id=sku.id,
        product_id=product.id,
        status="validating",
        source=source,
        filename=(upload.filename or "")[:255] or None,
        options=_options_json(upload.options),
        default_cost=upload.default_cost,
        note=upload.note[:255],
        created_by=actor.user_id,
    )
    session.add(batch)
    await session.flush()
    kid, cipher = field_cipher()
    nonce = os.urandom(12)
    session.add(
        ImportFile(
            batch_id=batch.id,
            key_id=kid,
            content=nonce + cipher.encrypt(nonce, upload.content, _file_aad(batch.id)),
            size=len(upload.content),
        )
    )
    await session.flush()
    await audit.record(
        session,
        "inventory.stage_import",
        actor=actor,
        target_type="inventory_batch",
        target_id=batch.id,
        after={
            "sku_id": sku.id,
            "source": source,
            "filename": batch.filename,
            "bytes": len(upload.content),
            "options": batch.options,
        },
    )
    if inline:
        await validate_batch(session, batch.id, raise_file_errors=True)
    else:
        await outbox.enqueue(session, VALIDATE_TASK, {"batch_id": batch.id})
    await session.refresh(batch)
    return batch


def _options_json(o: ReadOptions) -> dict[str, Any]:
    return {
        "format": str(o.format),
        "separator": o.separator,
        "encoding": str(o.encoding),
        "has_header": o.has_header,
    }


def _options(batch: ImportBatch) -> ReadOptions:
    o = batch.options
    return ReadOptions(
        format=keyfile.KeyFormat(o["format"]),
        separator=o["separator"],
        encoding=keyfile.Encoding(o["encoding"]),
        has_header=bool(o["has_header"]),
    )


def _file_aad(batch_id: int) -> bytes:
    return f"inventory_import_files:{batch_id}".encode()


async def _file_content(session: AsyncSession, batch_id: int) -> bytes:
    f = await session.get(ImportFile, batch_id)
    if f is None:
        raise BatchState("上传的文件已删除，请重新上传 (the staged file is gone)")
    _, cipher = field_cipher(f.key_id)
    return cipher.decrypt(f.content[:12], f.content[12:], _file_aad(batch_id))


def _read(batch: ImportBatch, content: bytes) -> list[str] | list[list[str]]:
    settings = get_settings()
    return keyfile.read_lines(
        batch.source if batch.source != "paste" else "txt",
        content,
        _options(batch),
        max_lines=settings.inventory_max_lines,
        max_unzipped=settings.xlsx_max_unzipped_bytes,
    )


async def _lock_batch(session: AsyncSession, batch_id: int) -> ImportBatch:
    batch = await session.get(ImportBatch, batch_id, with_for_update=True, populate_existing=True)
    if batch is None:
        raise NotFound("No such import.", code="unknown_import")
    return batch


async def validate_batch(
    session: AsyncSession, batch_id: int, *, raise_file_errors: bool = False
) -> ImportBatch:
    """Check every line and write the report. File-level problems fail the batch (or, inline,
    are raised so the whole request rolls back)."""
    with keyfile.gc_paused():
        return await _validate(session, batch_id, raise_file_errors)


async def _validate(session: AsyncSession, batch_id: int, raise_file_errors: bool) -> ImportBatch:
    batch = await _lock_batch(session, batch_id)
    if batch.status != "validating":
        return batch
    try:
        rows = _read(batch, await _file_content(session, batch.id))
    except FileRejected as exc:
        if raise_file_errors:
            raise
        await _fail(session, batch, str(exc.code), exc.detail or "")
        return batch
    opts = _options(batch)
    first_line = 2 if opts.has_header else 1
    checked, in_stock = await _check(session, rows, opts, first_line)
    in_stock_lines = (
        [n for n, d in zip(checked.line_nos, checked.digests, strict=True) if d in in_stock]
        if in_stock
        else []
    )
    for n in in_stock_lines[: keyfile.MAX_SAMPLES]:
        checked.problem(n, Problem.in_stock, keyfile.row_preview(rows[n - first_line], opts))
    if in_stock_lines[keyfile.MAX_SAMPLES :]:
        checked.counts[Problem.in_stock] += len(in_stock_lines) - keyfile.MAX_SAMPLES
    checked.samples.sort(key=lambda s: int(str(s["line"])))
    plan = await asyncio.to_thread(keyfile.make_plan, checked, first_line, in_stock, COPY_CHUNK)
    await session.execute(
        update(ImportFile).where(ImportFile.batch_id == batch.id).values(plan=plan)
    )
    batch.total_lines = checked.total_lines
    batch.valid_count = keyfile.plan_len(plan)
    batch.problem_counts = {str(k): v for k, v in checked.counts.items()}
    batch.samples = checked.samples[: keyfile.MAX_SAMPLES]
    batch.validated_at = clock.now()
    batch.status = "validated"
    await session.flush()
    return batch


async def _check(
    session: AsyncSession, rows: list[str] | list[list[str]], opts: ReadOptions, first_line: int
) -> tuple[keyfile.Checked, set[bytes]]:
    """Check the lines in chunks in a worker thread while PostgreSQL looks up the previous
    chunk's hashes: the report, and which of its valid lines are already in stock."""
    checked = keyfile.Checked()
    seen: set[bytes] = set()
    key = dedupe_key()
    in_stock: set[bytes] = set()
    lookup: Awaitable[set[bytes]] | None = None
    with _short_switch_interval():
        for start in range(0, len(rows), IN_STOCK_CHUNK):
            done = checked.valid
            work = asyncio.to_thread(
                keyfile.check,
                rows[start : start + IN_STOCK_CHUNK],
                opts,
                key,
                first_line=first_line + start,
                seen=seen,
                out=checked,
            )
            if lookup is None:
                await work
            else:
                in_stock |= (await asyncio.gather(work, lookup))[1]
            lookup = _in_stock(session, checked.digests[done:])
        if lookup is not None:
            in_stock |= await lookup
    return checked, in_stock


_switch_lock = threading.Lock()
_switch_users = 0
_switch_old = 0.0


@contextmanager
def _short_switch_interval() -> Iterator[None]:
    """While a worker thread computes, the event loop must get the GIL back quickly to keep
    PostgreSQL fed (measured: a 0.5 ms interval took 1 M keys from ~12 s to ~9.6 s). The
    interval is process-wide: reference-counted so overlapping imports restore it once."""
    global _switch_users, _switch_old
    with _switch_lock:
        if _switch_users == 0:
            _switch_old = sys.getswitchinterval()
            sys.setswitchinterval(0.0005)
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_old)


async def _raw(session: AsyncSession) -> Any:
    """The asyncpg connection under the session (same transaction), for COPY and big arrays."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def _in_stock(session: AsyncSession, digests: list[bytes]) -> set[bytes]:
    """Which of these keyed hashes are already in stock (sold keys included, voided not)."""
    if not digests:
        return set()
    apg = await _raw(session)
    rows = await apg.fetch(
        "SELECT digest FROM inventory_keys WHERE digest = ANY($1::uuid[]) AND state <> 'voided'",
        [PgUUID(d) for d in digests],
    )
    return {r[0].bytes for r in rows}


async def _fail(
    session: AsyncSession, batch: ImportBatch, code: str, detail: str, *, keep_file: bool = False
) -> None:
    """Mark the batch failed; ``keep_file`` when checking it again can still help."""
    batch.status = "failed"
    batch.error_code = code
    batch.error_detail = detail[:500]
    if not keep_file:
        await session.execute(delete(ImportFile).where(ImportFile.batch_id == batch.id))
    await session.flush()


async def revalidate(session: AsyncSession, actor: Actor, batch_id: int) -> ImportBatch:
    """Check a staged upload again (e.g. after ``stock_changed``)."""
    batch = await get_batch(session, actor, batch_id, lock=True)
    if (
        batch.status not in ("validated", "failed")
        or await session.get(ImportFile, batch.id) is None
    ):
        raise BatchState("只有已验证且文件仍在的导入可以重新验证 (nothing to check again)")
    batch.status = "validating"
    batch.error_code = batch.error_detail = None
    await audit.record(
        session,
        "inventory.revalidate_import",
        actor=actor,
        target_type="inventory_batch",
        target_id=batch.id,
    )
    if batch.total_lines <= get_settings().inventory_inline_lines:
        await validate_batch(session, batch.id)
    else:
        await session.flush()
        await outbox.enqueue(session, VALIDATE_TASK, {"batch_id": batch.id})
    return batch


async def discard(session: AsyncSession, actor: Actor, batch_id: int) -> ImportBatch:
    batch = await get_batch(session, actor, batch_id, lock=True)
    if batch.status not in ("validating", "validated", "failed"):
        raise BatchState("已确认的导入不能丢弃；已导入的批次请作废 (void an imported batch)")
    batch.status = "discarded"
    await session.execute(delete(ImportFile).where(ImportFile.batch_id == batch.id))
    await audit.record(
        session,
        "inventory.discard_import",
        actor=actor,
        target_type="inventory_batch",
        target_id=batch.id,
    )
    await session.flush()
    return batch


# ---- importing ------------------------------------------------------------------------------


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
    await _import_target(session, batch.sku_id)
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
    batch = await _lock_batch(session, batch_id)
    if batch.status != "queued":
        return batch
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": IMPORT_LOCK})
    try:
        sku, product = await _import_target(session, batch.sku_id)
    except AppError as exc:
        await _fail(session, batch, str(exc.code), exc.detail or "")
        return batch
    staged = await session.get(ImportFile, batch.id)
    if staged is None or staged.plan is None:
        await _fail(
            session,
            batch,
            "not_checked",
            "该导入没有检查结果，请重新验证后再确认 (check the upload again)",
            keep_file=staged is not None,
        )
        return batch
    rows = _read(batch, await _file_content(session, batch.id))
    apg = await _raw(session)
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
        await _fail(
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
    await _move_stock(session, sku.id, product.id, available=n)
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
        self.opts = _options(batch)
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
            with _short_switch_interval():
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


# ---- selling --------------------------------------------------------------------------------


class SoldOut(AppError):
    status = 409
    code = "sold_out"
    title = "Sold out"


async def allocate(
    session: AsyncSession, sku_id: int, product_id: int, quantity: int, order_id: int
) -> list[int]:
    """Take ``quantity`` keys out of stock for an order, in the caller's transaction (the one
    that records the delivery), or raise ``SoldOut`` and take none.

    Keys are claimed with ``FOR UPDATE SKIP LOCKED``: concurrent buyers never wait on each
    other's keys and never get the same one. A looping product (one key sold many times)
    hands out its oldest available key and counts the sale on it."""
    product = await session.get(Product, product_id)
    assert product is not None
    # SoldOut must leave nothing behind. Only a multi-key claim can change rows and still
    # fail (it found too few); it runs in a savepoint. A single-key claim changes nothing
    # when it finds none, and saves the two round trips.
    partial_possible = quantity > 1 and not product.looping_keys
    async with session.begin_nested() if partial_possible else nullcontext():
        if product.looping_keys:
            key_id = (
                await session.execute(
                    text(
                        "UPDATE inventory_keys SET sold_count = sold_count + :n, sold_at = now()"
                        " WHERE id = (SELECT id FROM inventory_keys WHERE sku_id = :sku"
                        " AND state = 'available' ORDER BY id LIMIT 1) RETURNING id"
                    ),
                    {"sku": sku_id, "n": quantity},
                )
            ).scalar_one_or_none()
            if key_id is None:
                raise SoldOut("已售罄 (sold out)")
            return [key_id]
        ids = list(
            (
                await session.execute(
                    text(
                        "UPDATE inventory_keys SET state = 'sold', order_id = :order,"
                        " sold_count = 1, sold_at = now() WHERE id IN (SELECT id FROM"
                        " inventory_keys WHERE sku_id = :sku AND state = 'available'"
                        " ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING id"
                    ),
                    {"sku": sku_id, "n": quantity, "order": order_id},
                )
            ).scalars()
        )
        if len(ids) < quantity:
            if not ids:
                await mark_sold_out(sku_id)
            raise SoldOut(
                "库存不足 (sold out)"
                if not ids
                else f"库存不足，仅剩 {len(ids)} 件 (not enough stock)"
            )
        # one of the SKU's slots, not its stock row: concurrent buyers do not queue on a row
        await session.execute(
            text(
                "INSERT INTO inventory_stock_deltas AS d (sku_id, slot, available, sold)"
                " VALUES (:sku, :slot, -CAST(:n AS bigint), :n)"
                " ON CONFLICT (sku_id, slot) DO UPDATE"
                " SET available = d.available + excluded.available,"
                " sold = d.sold + excluded.sold"
            ),
            {"sku": sku_id, "slot": order_id % STOCK_SLOTS, "n": quantity},
        )
    await after_sale(session, sku_id)
    return sorted(ids)


async def after_sale(session: AsyncSession, sku_id: int) -> None:
    """Check the SKU's low-stock alert after a sale (at most once a second per process)."""
    if low_stock_due(sku_id):
        await check_low_stock(session, [sku_id])


# A purchase checks its SKU's low-stock alert at most this often per process; the fold task
# checks every SKU it folds, so an alert is never more than a few seconds late.
_LOW_STOCK_EVERY_S = 1.0
_low_stock_checked: dict[int, float] = {}


def low_stock_due(sku_id: int) -> bool:
    now = time.monotonic()
    if now - _low_stock_checked.get(sku_id, -_LOW_STOCK_EVERY_S) < _LOW_STOCK_EVERY_S:
        return False
    _low_stock_checked[sku_id] = now
    return True


# ---- the sold-out gate --------------------------------------------------------------------
# When a claim finds no key, the SKU is flagged sold out in Redis; buyers of a flagged SKU are
# answered ``sold_out`` before any database work (orders/lane.py). The flag only ever follows
# the database saying "none left"; adding stock clears it after commit, and every fold run
# (5 s) clears any flag whose SKU has keys again (an import that committed between a claim
# finding none and its flag). It also expires by itself. A short expiry would send every
# waiting buyer to the database at once each time it lapsed; with Redis away every buyer
# simply goes to the database.
SOLD_OUT_FLAG_MS = 60_000


SOLD_OUT_SET = "inventory:soldout"  # the SKU ids flagged (a set, so rechecks need no SCAN)


def sold_out_key(sku_id: int) -> str:
    return f"{SOLD_OUT_SET}:{sku_id}"


async def mark_sold_out(sku_id: int) -> None:
    from kameng_api.core.redis import get_queue

    try:
        pipe = get_queue().pipeline(transaction=False)
        pipe.set(sold_out_key(sku_id), b"1", px=SOLD_OUT_FLAG_MS)
        pipe.sadd(SOLD_OUT_SET, str(sku_id))
        await pipe.execute()
    except Exception:  # a hint only
        log.debug("could not flag sold out", exc_info=True)


async def clear_sold_out(sku_ids: list[int]) -> None:
    from kameng_api.core.redis import get_queue

    if not sku_ids:
        return
    try:
        pipe = get_queue().pipeline(transaction=False)
        pipe.delete(*[sold_out_key(s) for s in sku_ids])
        pipe.srem(SOLD_OUT_SET, *[str(s) for s in sku_ids])
        await pipe.execute()
    except Exception:  # the flag expires by itself
        log.debug("could not clear the sold-out flag", exc_info=True)


async def recheck_sold_out(session: AsyncSession) -> list[int]:
    """Clear the sold-out flags of SKUs that have keys for sale (returns them); forget SKUs
    whose flag expired."""
    from kameng_api.core.redis import get_queue

    try:
        queue = get_queue()
        flagged = [int(m) for m in await queue.smembers(SOLD_OUT_SET)]  # type: ignore[misc]
        if flagged:
            up = await queue.mget([sold_out_key(s) for s in flagged])
            lapsed = [s for s, v in zip(flagged, up, strict=True) if v is None]
            if lapsed:
                await queue.srem(SOLD_OUT_SET, *[str(s) for s in lapsed])  # type: ignore[misc]
            flagged = [s for s in flagged if s not in lapsed]
    except Exception:  # Redis away: no flag is answering buyers either
        return []
    if not flagged:
        return []
    back = list(
        (
            await session.execute(
                select(CardKey.sku_id)
                .where(CardKey.sku_id.in_(flagged), CardKey.state == "available")
                .distinct()
            )
        ).scalars()
    )
    await clear_sold_out(back)
    return back


async def keys_of(session: AsyncSession, key_ids: list[int]) -> list[CardKey]:
    rows = (await session.execute(select(CardKey).where(CardKey.id.in_(key_ids)))).scalars()
    by_id = {k.id: k for k in rows}
    return [by_id[i] for i in key_ids if i in by_id]


# ---- stock ----------------------------------------------------------------------------------


async def _move_stock(session: AsyncSession, sku_id: int, product_id: int, **deltas: int) -> None:
    values = {k: v for k, v in deltas.items() if v}
    if not values:
        return
    # (an upsert would check its proposed row, negative deltas included, against the CHECK)
    await session.execute(
        insert(Stock)
        .values(sku_id=sku_id, product_id=product_id)
        .on_conflict_do_nothing(index_elements=[Stock.sku_id])
    )
    await session.execute(
        update(Stock)
        .where(Stock.sku_id == sku_id)
        .values(**{k: getattr(Stock, k) + v for k, v in values.items()}, updated_at=func.now())
    )


@dataclass(frozen=True)
class SkuStock:
    sku_id: int
    product_id: int
    sku_name: str
    available: int
    reserved: int
    sold: int
    voided: int
    threshold: int
    low_stock: bool


@dataclass(frozen=True)
class StockCount:
    available: int
    reserved: int
    sold: int
    voided: int


def _deltas(sku_ids: Any) -> Any:
    """Per SKU, what purchases took since the last fold (a subquery)."""
    return (
        select(
            StockDelta.sku_id,
            func.sum(StockDelta.available).label("available"),
            func.sum(StockDelta.sold).label("sold"),
        )
        .where(StockDelta.sku_id.in_(sku_ids))
        .group_by(StockDelta.sku_id)
        .subquery()
    )


async def stock_for_skus(session: AsyncSession, sku_ids: list[int]) -> dict[int, StockCount]:
    """Stock per SKU: its counters plus the not yet folded purchase slots."""
    if not sku_ids:
        return {}
    d = _deltas(sku_ids)
    rows = await session.execute(
        select(
            Stock.sku_id,
            Stock.available + func.coalesce(d.c.available, 0),
            Stock.reserved,
            Stock.sold + func.coalesce(d.c.sold, 0),
            Stock.voided,
        )
        .outerjoin(d, d.c.sku_id == Stock.sku_id)
        .where(Stock.sku_id.in_(sku_ids))
    )
    return {r[0]: StockCount(int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows.all()}


async def fold_stock(session: AsyncSession) -> list[int]:
    """Move the purchase slots into the SKUs' stock rows (one statement: the slots taken are
    exactly the ones added); then check those SKUs' low-stock alerts. Returns the SKUs."""
    folded = list(
        (
            await session.execute(
                text(
                    "WITH d AS (DELETE FROM inventory_stock_deltas RETURNING sku_id, available,"
                    " sold), agg AS (SELECT sku_id, sum(available) AS a, sum(sold) AS s FROM d"
                    " GROUP BY sku_id) UPDATE inventory_stock st SET available ="
                    " st.available + agg.a, sold = st.sold + agg.s, updated_at = now()"
                    " FROM agg WHERE st.sku_id = agg.sku_id RETURNING st.sku_id"
                )
            )
        ).scalars()
    )
    await check_low_stock(session, folded)
    return folded


async def product_stock(session: AsyncSession, product_id: int) -> tuple[Product, list[SkuStock]]:
    product = await catalog.get_product(session, product_id)
    skus = list(await catalog.skus_of(session, product_id))
    stock = await stock_for_skus(session, [s.id for s in skus])
    open_alerts = await alerts.open_alerts(session, LOW_STOCK_ALERT, [f"sku:{s.id}" for s in skus])
    out = []
    for s in skus:
        st = stock.get(s.id)
        out.append(
            SkuStock(
                sku_id=s.id,
                product_id=product_id,
                sku_name=s.name,
                available=st.available if st else 0,
                reserved=st.reserved if st else 0,
                sold=st.sold if st else 0,
                voided=st.voided if st else 0,
                threshold=product.stock_alert_threshold,
                low_stock=f"sku:{s.id}" in open_alerts,
            )
        )
    return product, out


async def check_low_stock(session: AsyncSession, sku_ids: list[int]) -> None:
    """Open a low-stock alert for each SKU at or below its product's threshold; close it once
    restocked above."""
    if not sku_ids:
        return
    d = _deltas(sku_ids)
    rows = await session.execute(
        select(
            Sku.id,
            Sku.name,
            Product.id,
            Product.name,
            Product.stock_alert_threshold,
            func.coalesce(Stock.available, 0) + func.coalesce(d.c.available, 0),
        )
        .join(Product, Product.id == Sku.product_id)
        .outerjoin(Stock, Stock.sku_id == Sku.id)
        .outerjoin(d, d.c.sku_id == Sku.id)
        .where(Sku.id.in_(sku_ids), Product.delivery_type == "card_key")
    )
    for sku_id, sku_name, product_id, product_name, threshold, available in rows.all():
        subject = f"sku:{sku_id}"
        if threshold > 0 and available <= threshold:
            await alerts.raise_alert(
                session,
                LOW_STOCK_ALERT,
                subject,
                f"库存不足：{product_name} / {sku_name} 剩余 {available}（阈值 {threshold}）",
                detail={
                    "product_id": product_id,
                    "sku_id": sku_id,
                    "available": int(available),
                    "threshold": threshold,
                },
            )
        else:
            await alerts.resolve_alert(session, LOW_STOCK_ALERT, subject)


# ---- batches --------------------------------------------------------------------------------


def _sees_all(actor: Actor) -> bool:
    return actor.has(InventoryPerm.read)


async def get_batch(
    session: AsyncSession, actor: Actor, batch_id: int, *, lock: bool = False
) -> ImportBatch:
    """A batch as this actor may see it: without ``inventory:read`` only their own (else 404)."""
    batch = await session.get(ImportBatch, batch_id, with_for_update=lock, populate_existing=lock)
    if batch is None or (not _sees_all(actor) and batch.created_by != actor.user_id):
        raise NotFound("No such import.", code="unknown_import")
    return batch


@dataclass(frozen=True)
class BatchFilter:
    product_id: int | None = None
    sku_id: int | None = None
    status: str | None = None


async def list_batches(
    session: AsyncSession, actor: Actor, f: BatchFilter, *, before_id: int | None, limit: int
) -> list[ImportBatch]:
    q = select(ImportBatch)
    if not _sees_all(actor):
        q = q.where(ImportBatch.created_by == actor.user_id)
    if f.product_id is not None:
        q = q.where(ImportBatch.product_id == f.product_id)
    if f.sku_id is not None:
        q = q.where(ImportBatch.sku_id == f.sku_id)
    if f.status is not None:
        q = q.where(ImportBatch.status == f.status)
    if before_id is not None:
        q = q.where(ImportBatch.id < before_id)
    rows = await session.execute(q.order_by(ImportBatch.id.desc()).limit(limit))
    return list(rows.scalars())


async def void_batch(
    session: AsyncSession, actor: Actor, batch_id: int, reason: str
) -> ImportBatch:
    """Void a whole imported batch — only while none of its keys was sold or reserved."""
    batch = await get_batch(session, actor, batch_id, lock=True)
    if batch.status != "imported":
        raise BatchState("只有已导入的批次可以整批作废 (only an imported batch can be voided)")
    in_batch = _batch_keys(batch)
    sold = await session.scalar(
        select(CardKey.id).where(*in_batch, CardKey.state.in_(("sold", "reserved"))).limit(1)
    )
    if sold is not None:
        raise BatchHasSoldKeys("该批次已有卡密售出，不能整批作废；请单独作废未售出的卡密")
    voided = await session.execute(
        update(CardKey)
        .where(*in_batch, CardKey.state == "available")
        .values(state="voided", voided_at=clock.now())
        .returning(CardKey.id)
    )
    n = len(voided.all())
    batch.status = "voided"
    batch.voided_by = actor.user_id
    batch.voided_at = clock.now()
    batch.voided_count = n
    await _move_stock(session, batch.sku_id, batch.product_id, available=-n, voided=n)
    await check_low_stock(session, [batch.sku_id])
    await audit.record(
        session,
        "inventory.void_import",
        actor=actor,
        target_type="inventory_batch",
        target_id=batch.id,
        after={"voided": n},
        detail=reason,
        risk="medium",
    )
    await session.flush()
    return batch


def _batch_keys(batch: ImportBatch) -> list[Any]:
    if batch.first_key_id is None or batch.last_key_id is None:
        return [CardKey.id.is_(None)]
    return [
        CardKey.id.between(batch.first_key_id, batch.last_key_id),
        CardKey.batch_id == batch.id,
    ]


# ---- keys -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFilter:
    sku_id: int
    state: str = "available"
    batch_id: int | None = None


async def _keys_query(session: AsyncSession, f: KeyFilter) -> Select[CardKey]:
    q = select(CardKey).where(CardKey.sku_id == f.sku_id, CardKey.state == f.state)
    if f.batch_id is not None:
        batch = await session.get(ImportBatch, f.batch_id)
        if batch is None:
            raise NotFound("No such import.", code="unknown_import")
        q = q.where(*_batch_keys(batch))
    return q


async def list_keys(
    session: AsyncSession, f: KeyFilter, *, before_id: int | None, limit: int
) -> list[CardKey]:
    """Newest first, keyset-paginated on ``(sku_id, state, id)``: page 10,000 costs what page 1
    costs. Secrets stay encrypted; lists show ``hint`` (masked)."""
    q = await _keys_query(session, f)
    if before_id is not None:
        q = q.where(CardKey.id < before_id)
    rows = await session.execute(q.order_by(CardKey.id.desc()).limit(limit))
    return list(rows.scalars())


async def void_keys(
    session: AsyncSession, actor: Actor, key_ids: list[int], reason: str
) -> tuple[int, int]:
    """Void available keys; sold, reserved or already voided ones are left alone (counted)."""
    rows = await session.execute(
        update(CardKey)
        .where(CardKey.id.in_(key_ids), CardKey.state == "available")
        .values(state="voided", voided_at=clock.now())
        .returning(CardKey.id, CardKey.sku_id, CardKey.product_id)
    )
    done = rows.all()
    per_sku: dict[tuple[int, int], int] = {}
    for _, sku_id, product_id in done:
        per_sku[(sku_id, product_id)] = per_sku.get((sku_id, product_id), 0) + 1
    for (sku_id, product_id), n in per_sku.items():
        await _move_stock(session, sku_id, product_id, available=-n, voided=n)
    await check_low_stock(session, [k[0] for k in per_sku])
    await audit.record(
        session,
        "inventory.void_keys",
        actor=actor,
        target_type="inventory_key",
        target_id=",".join(str(r[0]) for r in done[:50]) or None,
        after={"voided": len(done), "skipped": len(set(key_ids)) - len(done)},
        detail=reason,
        risk="medium",
    )
    return len(done), len(set(key_ids)) - len(done)


def decrypt_secret(key: CardKey) -> str:
    return decrypt_secret_parts(key.key_id, key.secret_ct, key.digest.bytes)


def decrypt_secret_parts(key_id: str, ct: bytes, digest: bytes) -> str:
    """A key's secret from its stored parts (``nonce | ciphertext | tag``, AAD = digest)."""
    _, cipher = field_cipher(key_id)
    return cipher.decrypt(ct[:12], ct[12:], digest).decode()


async def reveal(session: AsyncSession, actor: Actor, key_id: int, reason: str) -> CardKey:
    """The plaintext of one key (the caller passed step-up); written to the operation log."""
    key = await session.get(CardKey, key_id)
    if key is None:
        raise NotFound("No such key.", code="unknown_key")
    await audit.record(
        session,
        "inventory.reveal_key",
        actor=actor,
        target_type="inventory_key",
        target_id=key.id,
        detail=reason,
        risk="high",
    )
    return key


EXPORT_COLUMNS = ("id", "card_no", "secret", "state", "batch_id", "cost", "created_at")


async def export_csv(
    session: AsyncSession, actor: Actor, f: KeyFilter, max_rows: int, reason: str
) -> list[str]:
    """Decrypted keys as CSV chunks (UTF-8 with BOM; formula-looking cells neutralised)."""
    await catalog.get_sku(session, f.sku_id)
    q = await _keys_query(session, f)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EXPORT_COLUMNS)
    chunks = ["\ufeff" + buf.getvalue()]
    n = 0
    result = await session.stream_scalars(q.order_by(CardKey.id).limit(max_rows))
    async for key in result:
        buf.seek(0)
        buf.truncate()
        writer.writerow(
            [
                key.id,
                csv_safe(key.card_no),
                csv_safe(decrypt_secret(key)),
                key.state,
                key.batch_id,
                "" if key.cost is None else str(key.cost),
                key.created_at.isoformat(),
            ]
        )
        chunks.append(buf.getvalue())
        n += 1
    await audit.record(
        session,
        "inventory.export_keys",
        actor=actor,
        target_type="catalog_sku",
        target_id=f.sku_id,
        after={"state": f.state, "batch_id": f.batch_id, "rows": n},
        detail=reason,
        risk="high",
    )
    return chunks


# ---- housekeeping ---------------------------------------------------------------------------


async def expire_drafts(session: AsyncSession) -> int:
    """Discard imports left unconfirmed past the draft lifetime (their staged file goes too)."""
    cutoff = clock.now() - timedelta(seconds=get_settings().inventory_draft_ttl_s)
    rows = await session.execute(
        update(ImportBatch)
        .where(
            ImportBatch.status.in_(("validated", "failed")),
            ImportBatch.created_at < cutoff,
        )
        .values(status="discarded", error_code="expired")
        .returning(ImportBatch.id)
    )
    ids = list(rows.scalars())
    if ids:
        await session.execute(delete(ImportFile).where(ImportFile.batch_id.in_(ids)))
    return len(ids)


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
