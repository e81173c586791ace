"""What the delivery job needs from an upstream supplier (上游) for a direct recharge (直充).

Every adapter answers the same two questions, keyed by OUR request id (so asking twice — after
a crash, a timeout, a re-drive — can never top up twice at a supplier that honours it):

- ``submit(request)``: please top up; answers ``success``, ``failed`` or ``processing``.
- ``query(request_id)``: what became of it (``None``: the supplier never heard of it).

A network error or an unexpected answer raises ``SupplierUnavailable``: the job retries with
the same request id. Adapters per protocol, per-product routing, failover and circuit
breaking are to build on this interface (not built yet); today one generic HTTP supplier is
configured by settings (``suppliers/http_json.py``), chosen by ``suppliers/service.py``.
This module is the floor of the capability: it imports no adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

State = Literal["success", "failed", "processing"]


@dataclass(frozen=True)
class RechargeRequest:
    request_id: str  # ours: "<order_no>-<delivery attempt>"
    product: str
    sku: str
    quantity: int
    account: dict[str, str] = field(default_factory=dict)  # the buyer's input (game account …)


@dataclass(frozen=True)
class RechargeResult:
    state: State
    ref: str = ""  # the supplier's order number
    message: str = ""


class SupplierUnavailable(Exception):
    """The supplier could not be asked or gave no usable answer: try again later."""


class NoSupplier(Exception):
    """No supplier is configured for direct recharges."""


class RechargeAdapter(Protocol):
    async def submit(self, request: RechargeRequest) -> RechargeResult: ...

    async def query(self, request_id: str) -> RechargeResult | None: ...
