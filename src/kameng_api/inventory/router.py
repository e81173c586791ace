"""HTTP for the card-key inventory: imports (upload → report → confirm → progress), batches,
masked key lists, void, reveal and export (both step-up), stock figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog import service as catalog
from kameng_api.core.actor import Actor
from kameng_api.core.bounds import Id
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, error_responses
from kameng_api.core.money import amount_limit, amount_schema
from kameng_api.identity import service as identity
from kameng_api.inventory import service
from kameng_api.inventory.keyfile import Encoding, KeyFormat, ReadOptions
from kameng_api.inventory.models import CardKey, ImportBatch
from kameng_api.inventory.permissions import InventoryPerm
from kameng_api.inventory.schemas import (
    BatchStatus,
    ExportIn,
    ImportOut,
    ImportPage,
    ImportProgress,
    ImportTarget,
    ImportTargetSku,
    KeyOut,
    KeyPage,
    KeyState,
    ProductStockOut,
    RevealIn,
    RevealOut,
    SkuStockOut,
    VoidKeysIn,
    VoidKeysOut,
    VoidReasonIn,
)
from kameng_api.rbac.deps import DbSession, require, require_any

KeyCost = Annotated[
    Decimal,
    Field(ge=0, le=amount_limit(9, 4), max_digits=13, decimal_places=4),
    amount_schema(places=4, int_digits=9, sign="not_negative"),
]

router = APIRouter(prefix="/inventory", tags=["inventory"])

Reader = Annotated[Actor, require(InventoryPerm.read)]
Importer = Annotated[Actor, require(InventoryPerm.import_keys)]
# a key uploader holds only inventory:import and sees only their own imports
ImportViewer = Annotated[Actor, require_any(InventoryPerm.read, InventoryPerm.import_keys)]
Voider = Annotated[Actor, require(InventoryPerm.void)]
Revealer = Annotated[Actor, require(InventoryPerm.reveal)]
Exporter = Annotated[Actor, require(InventoryPerm.export)]

EXPORT_MAX_ROWS = 200_000
SEPARATORS = {"tab": "\t", "\\t": "\t", "space": " "}


class BadSeparator(AppError):
    status = 422
    code = "bad_separator"
    title = "Bad separator"


async def imports_out(session: AsyncSession, batches: list[ImportBatch]) -> list[ImportOut]:
    names = await identity.login_names(
        session, {b.created_by for b in batches if b.created_by is not None}
    )
    out = [await import_out(b) for b in batches]
    for o in out:
        o.created_by_name = names.get(o.created_by) if o.created_by is not None else None
    return out


async def import_out(batch: ImportBatch) -> ImportOut:
    out = ImportOut.model_validate(batch)
    if batch.status in ("validating", "queued"):
        p = await service.get_progress(batch.id)
        if p is not None:
            out.progress = ImportProgress(done=p[0], total=p[1])
    return out


def _separator(raw: str) -> str:
    sep = SEPARATORS.get(raw.lower(), raw)
    if not sep or len(sep) > 8 or "\n" in sep or "\r" in sep:
        raise BadSeparator("分隔符须为 1–8 个字符，如 , | ---- tab (separator: 1-8 characters)")
    return sep


@router.get(
    "/targets",
    operation_id="inventory:import_targets",
    response_model=list[ImportTarget],
    responses=error_responses(401, 403),
)
async def import_targets(session: DbSession, _: ImportViewer) -> list[ImportTarget]:
    """Products delivered from card-key stock and their SKUs, with available counts — what
    an importer can pick (a key uploader has no catalog access)."""
    targets = await catalog.card_key_products(session)
    stock = await service.stock_for_skus(session, [s.id for _, skus in targets for s in skus])
    return [
        ImportTarget(
            product_id=p.id,
            product_name=p.name,
            looping_keys=p.looping_keys,
            skus=[
                ImportTargetSku(
                    id=s.id,
                    name=s.name,
                    available=stock[s.id].available if s.id in stock else 0,
                )
                for s in skus
            ],
        )
        for p, skus in targets
    ]


@router.get(
    "/stock/{product_id}",
    operation_id="inventory:product_stock",
    response_model=ProductStockOut,
    responses=error_responses(401, 403, 404),
)
async def product_stock(product_id: Id, session: DbSession, _: Reader) -> ProductStockOut:
    """Stock per SKU from counters kept with the keys (no counting of rows)."""
    product, skus = await service.product_stock(session, product_id)
    return ProductStockOut(
        product_id=product.id,
        product_name=product.name,
        looping_keys=product.looping_keys,
        available=sum(s.available for s in skus),
        skus=[SkuStockOut(**s.__dict__) for s in skus],
    )


# ---- imports --------------------------------------------------------------------------------


@router.post(
    "/imports",
    operation_id="inventory:stage_import",
    status_code=201,
    response_model=ImportOut,
    responses=error_responses(401, 403, 404, 413, 422),
)
async def stage_import(
    session: DbSession,
    actor: Importer,
    sku_id: Annotated[Id, Form()],
    format: Annotated[KeyFormat, Form()] = KeyFormat.card_secret,
    separator: Annotated[str, Form(max_length=8)] = ",",
    encoding: Annotated[Encoding, Form()] = Encoding.auto,
    has_header: Annotated[bool, Form()] = False,
    default_cost: Annotated[KeyCost | None, Form()] = None,
    note: Annotated[str, Form(max_length=255)] = "",
    text: Annotated[str | None, Form(description="pasted keys, one per line")] = None,
    file: Annotated[UploadFile | None, File(description="TXT, CSV or XLSX")] = None,
) -> ImportOut:
    """Step 1 of an import: upload pasted text or a file; get the per-line report (empty, too
    long, duplicate in the file, already in stock …). Large files are checked by a job: poll
    the import until ``validated``. Nothing is imported before ``confirm``."""
    if (text is None) == (file is None):
        raise AppError("请粘贴卡密或上传文件（二选一）(send text or a file)", code="bad_upload")
    if file is not None:
        content = await file.read()
        filename: str | None = file.filename or "upload.txt"
    else:
        assert text is not None
        content = text.encode()
        filename = None
    opts = ReadOptions(
        format=format, separator=_separator(separator), encoding=encoding, has_header=has_header
    )
    batch = await service.stage_import(
        session,
        actor,
        sku_id,
        service.Upload(
            content=content, filename=filename, options=opts, default_cost=default_cost, note=note
        ),
    )
    return await import_out(batch)


@router.get(
    "/imports",
    operation_id="inventory:list_imports",
    response_model=ImportPage,
    responses=error_responses(401, 403, 422),
)
async def list_imports(
    session: DbSession,
    actor: ImportViewer,
    product_id: Id | None = None,
    sku_id: Id | None = None,
    status: BatchStatus | None = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ImportPage:
    """Import batches, newest first (a key uploader sees their own)."""
    rows = await service.list_batches(
        session,
        actor,
        service.BatchFilter(product_id=product_id, sku_id=sku_id, status=status),
        before_id=before_id,
        limit=limit,
    )
    return ImportPage(
        items=await imports_out(session, rows),
        next_before_id=rows[-1].id if rows and len(rows) == limit else None,
    )


@router.get(
    "/imports/{import_id}",
    operation_id="inventory:get_import",
    response_model=ImportOut,
    responses=error_responses(401, 403, 404),
)
async def get_import(import_id: Id, session: DbSession, actor: ImportViewer) -> ImportOut:
    """The report, the status and — while a large import runs — its progress."""
    return (await imports_out(session, [await service.get_batch(session, actor, import_id)]))[0]


@router.post(
    "/imports/{import_id}/confirm",
    operation_id="inventory:confirm_import",
    response_model=ImportOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def confirm_import(import_id: Id, session: DbSession, actor: Importer) -> ImportOut:
    """Step 2: import the valid lines, all or none. Small imports finish in this request
    (``imported``); large ones are ``queued`` for a job that reports progress."""
    return await import_out(await service.confirm(session, actor, import_id))


@router.post(
    "/imports/{import_id}/revalidate",
    operation_id="inventory:revalidate_import",
    response_model=ImportOut,
    responses=error_responses(401, 403, 404, 409),
)
async def revalidate_import(import_id: Id, session: DbSession, actor: Importer) -> ImportOut:
    """Check the staged upload again (after ``stock_changed``)."""
    return await import_out(await service.revalidate(session, actor, import_id))


@router.post(
    "/imports/{import_id}/discard",
    operation_id="inventory:discard_import",
    response_model=ImportOut,
    responses=error_responses(401, 403, 404, 409),
)
async def discard_import(import_id: Id, session: DbSession, actor: Importer) -> ImportOut:
    """Throw away an unconfirmed import; its staged file is deleted."""
    return await import_out(await service.discard(session, actor, import_id))


@router.post(
    "/imports/{import_id}/void",
    operation_id="inventory:void_import",
    response_model=ImportOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def void_import(
    import_id: Id, body: VoidReasonIn, session: DbSession, actor: Voider
) -> ImportOut:
    """Void a whole imported batch, only while none of its keys was sold
    (``batch_has_sold_keys``)."""
    return await import_out(await service.void_batch(session, actor, import_id, body.reason))


# ---- keys -----------------------------------------------------------------------------------


def key_out(k: CardKey) -> KeyOut:
    return KeyOut.model_validate(k)


@router.get(
    "/keys",
    operation_id="inventory:list_keys",
    response_model=KeyPage,
    responses=error_responses(401, 403, 404, 422),
)
async def list_keys(
    session: DbSession,
    _: Reader,
    sku_id: Id,
    state: KeyState = "available",
    batch_id: Id | None = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> KeyPage:
    """Keys of one SKU in one state, newest first, secrets masked; keyset-paginated."""
    rows = await service.list_keys(
        session,
        service.KeyFilter(sku_id=sku_id, state=state, batch_id=batch_id),
        before_id=before_id,
        limit=limit,
    )
    return KeyPage(
        items=[key_out(k) for k in rows],
        next_before_id=rows[-1].id if rows and len(rows) == limit else None,
    )


@router.post(
    "/keys/void",
    operation_id="inventory:void_keys",
    response_model=VoidKeysOut,
    responses=error_responses(401, 403, 422),
)
async def void_keys(body: VoidKeysIn, session: DbSession, actor: Voider) -> VoidKeysOut:
    """Void available keys (sold, reserved and voided ones are skipped and counted)."""
    voided, skipped = await service.void_keys(session, actor, body.key_ids, body.reason)
    return VoidKeysOut(voided=voided, skipped=skipped)


@router.post(
    "/keys/{key_id}/reveal",
    operation_id="inventory:reveal_key",
    response_model=RevealOut,
    responses=error_responses(401, 403, 404),
)
async def reveal_key(key_id: Id, body: RevealIn, session: DbSession, actor: Revealer) -> RevealOut:
    """The plaintext secret of one key. Needs ``inventory:reveal`` with a fresh 2FA (step-up)
    and is written to the operation log."""
    key = await service.reveal(session, actor, key_id, body.reason)
    return RevealOut(id=key.id, card_no=key.card_no, secret=service.decrypt_secret(key))


@router.post(
    "/keys/export",
    operation_id="inventory:export_keys",
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV (UTF-8 with BOM)"},
        **error_responses(401, 403, 404, 422),
    },
    response_class=StreamingResponse,
)
async def export_keys(body: ExportIn, session: DbSession, actor: Exporter) -> StreamingResponse:
    """Decrypted keys of one SKU as CSV (at most 200,000 rows). Needs ``inventory:export``
    with step-up; written to the operation log; formula-looking cells are prefixed."""
    chunks = await service.export_csv(
        session,
        actor,
        service.KeyFilter(sku_id=body.sku_id, state=body.state, batch_id=body.batch_id),
        EXPORT_MAX_ROWS,
        body.reason,
    )
    name = f"keys-sku{body.sku_id}-{body.state}-{clock.now():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        iter(chunks),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )
