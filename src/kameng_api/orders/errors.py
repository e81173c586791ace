"""Orders' error: a purchase or a staff action refused (422, or 409 for the wrong state)."""

from __future__ import annotations

from kameng_api.core.errors import AppError


class OrderRefused(AppError):
    status = 422
    code = "order_refused"
    title = "Order refused"
