"""What the callback log looks like over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CallbackStatus = Literal["pending", "delivered", "failed", "skipped"]
CallbackEvent = Literal[
    "order.delivered",
    "order.partially_delivered",
    "order.failed",
    "order.refunded",
    "order.cancelled",
    "ping",
]


class CallbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    webhook_id: str = Field(description="Standard Webhooks `webhook-id`, the same on every try.")
    event: CallbackEvent
    status: CallbackStatus = Field(
        description="pending (being tried) · delivered (a 2xx came back) · failed (given up) · "
        "skipped (no callback URL was set when the event happened)"
    )
    order_no: str | None
    out_trade_no: str | None
    url: str | None
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_response_excerpt: str | None
    last_error: str | None


class AdminCallbackOut(CallbackOut):
    user_id: int


class CallbackAttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt_no: int
    trigger: Literal["auto", "resend"]
    url: str
    started_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None = Field(description="The start of the answer (≤ 500 chars).")
    error: str | None


class CallbackDetailOut(CallbackOut):
    payload: dict[str, Any] = Field(
        description="The body as sent (signed): type, timestamp, data. Never card secrets: "
        "fetch keys with the signed order query."
    )
    attempt_log: list[CallbackAttemptOut]


class AdminCallbackDetailOut(CallbackDetailOut):
    user_id: int


class CallbackPage(BaseModel):
    items: list[CallbackOut]
    next_before: int | None


class AdminCallbackPage(BaseModel):
    items: list[AdminCallbackOut]
    next_before: int | None
