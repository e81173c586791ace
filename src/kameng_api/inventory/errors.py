"""The inventory capability's errors, each with its stable ``code`` (one home, so every
module of the capability raises the same classes)."""

from __future__ import annotations

from kameng_api.core.errors import AppError


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


class SoldOut(AppError):
    status = 409
    code = "sold_out"
    title = "Sold out"
