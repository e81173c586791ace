"""Card-key inventory rules: two-step imports (stage → report → confirm), keys encrypted at rest
and de-duplicated by a keyed hash, stock counters, void, reveal and export.

An import is a batch (``ImportBatch``). Staging stores the upload encrypted and checks it —
within the request for small files, as a job for large ones. Confirming imports the valid
lines in one transaction (all or nothing), again inline or as a job that reports progress.
Imports run one at a time (a transaction-level advisory lock), which is what lets them assign
key ids themselves: a batch's keys have consecutive ids, so "the keys of batch N" is a primary
key range, not a scan.

This module is the capability's front door: callers use ``inventory.<name>`` from here. Each
job lives in its own module:

- ``staging.py``    step 1: stage the upload (encrypted), check it, check again, discard,
                    expire unconfirmed drafts
- ``importing.py``  step 2: confirm, import by binary COPY (one transaction), job progress
- ``bulk.py``       shared by check and import: COPY chunk size, raw asyncpg connection,
                    short GIL switch interval
- ``selling.py``    claim keys for an order; the per-process low-stock check after a sale
- ``gate.py``       the sold-out gate: Redis flags for SKUs found empty, cleared on restock
- ``stock.py``      stock counters, the purchase slots and their fold, low-stock alerts
- ``batches.py``    find (actor-scoped or locked), list and void import batches
- ``keys.py``       list, read, void, decrypt, reveal and export keys
- ``errors.py``     the capability's errors
- ``keyfile.py``    reading and checking key files (no database)
"""

from __future__ import annotations

from kameng_api.inventory.batches import BatchFilter, get_batch, list_batches, void_batch
from kameng_api.inventory.bulk import COPY_CHUNK
from kameng_api.inventory.errors import (
    BatchHasSoldKeys,
    BatchState,
    EmptyImport,
    NotCardKeyProduct,
    SoldOut,
    UploadTooLarge,
)
from kameng_api.inventory.gate import (
    SOLD_OUT_FLAG_MS,
    SOLD_OUT_SET,
    clear_sold_out,
    mark_sold_out,
    recheck_sold_out,
    sold_out_key,
)
from kameng_api.inventory.importing import (
    IMPORT_LOCK,
    IMPORT_TASK,
    KEY_COLUMNS,
    Progress,
    confirm,
    get_progress,
    run_import,
    set_progress,
)
from kameng_api.inventory.keys import (
    EXPORT_COLUMNS,
    KeyFilter,
    decrypt_secret,
    decrypt_secret_parts,
    export_csv,
    keys_of,
    list_keys,
    reveal,
    void_keys,
)
from kameng_api.inventory.selling import after_sale, allocate, low_stock_due
from kameng_api.inventory.staging import (
    IN_STOCK_CHUNK,
    VALIDATE_TASK,
    Upload,
    discard,
    expire_drafts,
    revalidate,
    stage_import,
    validate_batch,
)
from kameng_api.inventory.stock import (
    LOW_STOCK_ALERT,
    SkuStock,
    StockCount,
    check_low_stock,
    fold_stock,
    product_stock,
    stock_figures,
    stock_for_skus,
)

__all__ = [
    "COPY_CHUNK",
    "EXPORT_COLUMNS",
    "IMPORT_LOCK",
    "IMPORT_TASK",
    "IN_STOCK_CHUNK",
    "KEY_COLUMNS",
    "LOW_STOCK_ALERT",
    "SOLD_OUT_FLAG_MS",
    "SOLD_OUT_SET",
    "VALIDATE_TASK",
    "BatchFilter",
    "BatchHasSoldKeys",
    "BatchState",
    "EmptyImport",
    "KeyFilter",
    "NotCardKeyProduct",
    "Progress",
    "SkuStock",
    "SoldOut",
    "StockCount",
    "Upload",
    "UploadTooLarge",
    "after_sale",
    "allocate",
    "check_low_stock",
    "clear_sold_out",
    "confirm",
    "decrypt_secret",
    "decrypt_secret_parts",
    "discard",
    "expire_drafts",
    "export_csv",
    "fold_stock",
    "get_batch",
    "get_progress",
    "keys_of",
    "list_batches",
    "list_keys",
    "low_stock_due",
    "mark_sold_out",
    "product_stock",
    "recheck_sold_out",
    "revalidate",
    "reveal",
    "run_import",
    "set_progress",
    "sold_out_key",
    "stage_import",
    "stock_figures",
    "stock_for_skus",
    "validate_batch",
    "void_batch",
    "void_keys",
]
