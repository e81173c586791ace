"""The catalog's errors, shared by its modules."""

from __future__ import annotations

from kameng_api.core.errors import AppError


class PriceBelowCost(AppError):
    status = 422
    code = "price_below_cost"
    title = "Price below cost"


class UnknownCategory(AppError):
    status = 422
    code = "unknown_category"
    title = "Unknown category"
