"""Card keys bought from a supplier for one order (a card-key SKU with no stock, sourced
upstream: ``fulfilment/routing.py``), stored exactly like imported keys.

Each delivery is one ``inventory_batches`` row (status ``imported``, note and options
``origin`` = ``upstream:<supplier name>``) whose keys are one id range, like an import's:
the ids are assigned under the import lock (``IMPORT_LOCK``), so they never collide with a
running import. Every key is encrypted at rest with the field key (AES-GCM, AAD = its keyed
hash, as the import does), de-duplicated by that hash, and stored ``sold`` to the order. A
secret already in stock (the unique hash index) is skipped, not stored twice: the caller
counts it as not delivered.

The caller holds the order's row lock and has checked the order is still waiting for these
keys (exactly once); it links the returned ids to the order (``order_keys``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.clock import clock
from kameng_api.core.security import dedupe_key, field_cipher
from kameng_api.inventory.importing import IMPORT_LOCK
from kameng_api.inventory.keyfile import mask
from kameng_api.inventory.models import CardKey, ImportBatch
from kameng_api.inventory.stock import move_stock


def digest_of(secret: str) -> bytes:
    """The keyed hash the import de-duplicates by (``keyfile.check``)."""
    h = hashlib.blake2s(key=dedupe_key(), digest_size=16)
    h.update(secret.encode())
    return h.digest()


async def store_bought_keys(
    session: AsyncSession,
    *,
    sku_id: int,
    product_id: int,
    order_id: int,
    origin: str,
    cards: Sequence[tuple[str, str]],  # (card number or "", secret)
    unit_cost: Decimal | None,
) -> list[int]:
    """Store ``cards`` as keys of the SKU, sold to ``order_id``; their ids in ``cards``' order
    (a secret already in stock, or twice in ``cards``, is left out)."""
    now = clock.now()
    has_card = any(c for c, _ in cards)
    batch = ImportBatch(
        sku_id=sku_id,
        product_id=product_id,
        status="imported",
        source="paste",  # the nearest allowed source; ``options.origin`` says where from
        filename=None,
        options={
            "format": "card_secret" if has_card else "secret",
            "separator": ",",
            "encoding": "utf-8",
            "has_header": False,
            "origin": origin,
            "order_id": order_id,
        },
        default_cost=unit_cost,
        note=origin[:255],
        total_lines=len(cards),
        valid_count=len(cards),
        validated_at=now,
        confirmed_at=now,
    )
    session.add(batch)
    await session.flush()
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": IMPORT_LOCK})
    top = text("SELECT coalesce(max(id), 0) FROM inventory_keys")
    base = int((await session.execute(top)).scalar_one())
    kid, cipher = field_cipher()
    ids: list[int] = []
    seen: set[bytes] = set()
    next_id = base
    for card_no, secret in cards:
        d = digest_of(secret)
        if d in seen:
            continue
        seen.add(d)
        next_id += 1
        nonce = os.urandom(12)
        ct = nonce + cipher.encrypt(nonce, secret.encode(), d)
        stmt = (
            insert(CardKey)
            .values(
                id=next_id,
                sku_id=sku_id,
                product_id=product_id,
                batch_id=batch.id,
                state="sold",
                card_no=card_no[:128] or None,
                secret_ct=ct,
                key_id=kid,
                digest=uuid.UUID(bytes=d),
                hint=mask(secret),
                cost=unit_cost,
                sold_count=1,
                order_id=order_id,
                sold_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=["digest"], index_where=text("state <> 'voided'")
            )
            .returning(CardKey.id)
        )
        got = (await session.execute(stmt)).scalar_one_or_none()
        if got is None:  # already in stock: not ours to sell again
            next_id -= 1
            continue
        ids.append(int(got))
    batch.imported_count = len(ids)
    batch.imported_at = now
    batch.first_key_id = ids[0] if ids else None
    batch.last_key_id = ids[-1] if ids else None
    batch.cost_total = (unit_cost or Decimal(0)) * len(ids)
    await move_stock(session, sku_id, product_id, sold=len(ids))
    return ids
