"""Card keys in stock: list them (keyset pages), read an order's keys, void keys, decrypt a
secret, reveal one key and export keys as CSV (both written to the operation log)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog import service as catalog
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import NotFound
from kameng_api.core.security import field_cipher
from kameng_api.core.spreadsheet import csv_safe
from kameng_api.inventory.batches import batch_keys
from kameng_api.inventory.models import CardKey, ImportBatch
from kameng_api.inventory.stock import check_low_stock, move_stock


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
        q = q.where(*batch_keys(batch))
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


async def keys_of(session: AsyncSession, key_ids: list[int]) -> list[CardKey]:
    rows = (await session.execute(select(CardKey).where(CardKey.id.in_(key_ids)))).scalars()
    by_id = {k.id: k for k in rows}
    return [by_id[i] for i in key_ids if i in by_id]


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
        await move_stock(session, sku_id, product_id, available=-n, voided=n)
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
