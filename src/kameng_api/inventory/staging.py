"""Step 1 of an import: stage the upload (stored encrypted in ``inventory_import_files``) and
check it — within the request when small, else as the ``inventory:validate_import`` job —
writing the report and the plan the import follows; check again, discard, and expire drafts
left unconfirmed.

The staged file's helpers (``import_target``, ``batch_options``, ``file_content``,
``read_rows``, ``fail_batch``) are used by ``importing.py`` too.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from asyncpg.pgproto.pgproto import UUID as PgUUID  # builds from 16 bytes, ~10x uuid.UUID
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog import service as catalog
from kameng_api.catalog.models import Product, Sku
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import NotFound
from kameng_api.core.security import dedupe_key, field_cipher
from kameng_api.inventory import keyfile
from kameng_api.inventory.batches import get_batch, lock_batch
from kameng_api.inventory.bulk import COPY_CHUNK, raw_connection, short_switch_interval
from kameng_api.inventory.errors import BatchState, EmptyImport, NotCardKeyProduct, UploadTooLarge
from kameng_api.inventory.keyfile import FileRejected, Problem, ReadOptions
from kameng_api.inventory.models import ImportBatch, ImportFile
from kameng_api.outbox import service as outbox
from kameng_api.settings import get_settings

VALIDATE_TASK = "inventory:validate_import"
IN_STOCK_CHUNK = 100_000


@dataclass(frozen=True)
class Upload:
    content: bytes
    filename: str | None  # None: pasted text
    options: ReadOptions
    default_cost: Decimal | None = None
    note: str = ""


async def import_target(session: AsyncSession, sku_id: int) -> tuple[Sku, Product]:
    """The SKU and product keys are imported into; refuses products not sold from card keys."""
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
    sku, product = await import_target(session, sku_id)
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


def batch_options(batch: ImportBatch) -> ReadOptions:
    """How to read the batch's file, as chosen when it was staged."""
    o = batch.options
    return ReadOptions(
        format=keyfile.KeyFormat(o["format"]),
        separator=o["separator"],
        encoding=keyfile.Encoding(o["encoding"]),
        has_header=bool(o["has_header"]),
    )


def _file_aad(batch_id: int) -> bytes:
    return f"inventory_import_files:{batch_id}".encode()


async def file_content(session: AsyncSession, batch_id: int) -> bytes:
    """The staged upload, decrypted."""
    f = await session.get(ImportFile, batch_id)
    if f is None:
        raise BatchState("上传的文件已删除，请重新上传 (the staged file is gone)")
    _, cipher = field_cipher(f.key_id)
    return cipher.decrypt(f.content[:12], f.content[12:], _file_aad(batch_id))


def read_rows(batch: ImportBatch, content: bytes) -> list[str] | list[list[str]]:
    """The lines (or rows of fields) of the batch's file."""
    settings = get_settings()
    return keyfile.read_lines(
        batch.source if batch.source != "paste" else "txt",
        content,
        batch_options(batch),
        max_lines=settings.inventory_max_lines,
        max_unzipped=settings.xlsx_max_unzipped_bytes,
    )


async def validate_batch(
    session: AsyncSession, batch_id: int, *, raise_file_errors: bool = False
) -> ImportBatch:
    """Check every line and write the report. File-level problems fail the batch (or, inline,
    are raised so the whole request rolls back)."""
    with keyfile.gc_paused():
        return await _validate(session, batch_id, raise_file_errors)


async def _validate(session: AsyncSession, batch_id: int, raise_file_errors: bool) -> ImportBatch:
    batch = await lock_batch(session, batch_id)
    if batch.status != "validating":
        return batch
    try:
        rows = read_rows(batch, await file_content(session, batch.id))
    except FileRejected as exc:
        if raise_file_errors:
            raise
        await fail_batch(session, batch, str(exc.code), exc.detail or "")
        return batch
    opts = batch_options(batch)
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
    with short_switch_interval():
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


async def _in_stock(session: AsyncSession, digests: list[bytes]) -> set[bytes]:
    """Which of these keyed hashes are already in stock (sold keys included, voided not)."""
    if not digests:
        return set()
    apg = await raw_connection(session)
    rows = await apg.fetch(
        "SELECT digest FROM inventory_keys WHERE digest = ANY($1::uuid[]) AND state <> 'voided'",
        [PgUUID(d) for d in digests],
    )
    return {r[0].bytes for r in rows}


async def fail_batch(
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
