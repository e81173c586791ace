"""What kameng needs from an upstream supplier (上游), whatever protocol it speaks.

Every adapter answers the same questions, keyed by OUR request id (so asking twice — after
a crash, a timeout, a re-drive — can never top up twice at a supplier that honours it):

- ``submit(request)``: please deliver; answers ``success``, ``failed`` or ``processing``.
- ``query(request_id)``: what became of it (``None``: the supplier never heard of it).
- ``balance()``: our balance at the supplier.
- ``catalogue()``: the supplier's products with their cost (what a sync builds on).
- ``verify_callback(headers, body)``: a notice the supplier pushed, signature checked
  (raises ``BadCallback`` otherwise): which request id / ref, and its state.

Errors: ``SupplierUnreachable`` — the call never left (connection refused, DNS): nothing was
ordered, another supplier may be tried at once; ``SupplierUnavailable`` (its base class) — the
call may have arrived but gave no usable answer (timeout, HTTP 5xx, garbage): the outcome is
unknown and must be QUERIED before anything else is ordered.

This module is the floor of the capability: it imports no adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

State = Literal["success", "failed", "processing"]


@dataclass(frozen=True)
class CardSecret:
    """A card key the supplier delivered (decrypted; stored encrypted by us)."""

    secret: str
    card_no: str = ""


@dataclass(frozen=True)
class RechargeRequest:
    request_id: str  # ours: "<order_no>-<delivery attempt>-<supplier id>"
    product: str  # the supplier's product id (or our product name for an unmapped SKU)
    sku: str
    quantity: int
    account: dict[str, str] = field(default_factory=dict)  # the buyer's input (game account …)
    kind: Literal["direct", "card"] = "direct"


@dataclass(frozen=True)
class RechargeResult:
    state: State
    ref: str = ""  # the supplier's order number
    message: str = ""
    cost: Decimal | None = None
    cards: tuple[CardSecret, ...] = ()


@dataclass(frozen=True)
class CatalogueItem:
    product_id: str
    name: str
    cost: Decimal | None
    kind: str = ""  # "direct" / "card" / supplier's word
    available: bool = True


@dataclass(frozen=True)
class CallbackNotice:
    request_id: str
    state: State
    ref: str = ""
    message: str = ""
    event_id: str = ""  # for replay detection when the protocol has one


class SupplierUnavailable(Exception):
    """The supplier gave no usable answer: the outcome of a submit is unknown (query it)."""


class SupplierUnreachable(SupplierUnavailable):
    """The call never reached the supplier (connect refused, DNS): nothing was ordered."""


class BadCallback(Exception):
    """A callback whose signature, timestamp or shape is wrong."""


class NoSupplier(Exception):
    """No supplier serves this SKU."""


class SupplierAdapter(Protocol):
    async def submit(self, request: RechargeRequest) -> RechargeResult: ...

    async def query(self, request_id: str) -> RechargeResult | None: ...

    async def balance(self) -> Decimal: ...

    async def catalogue(self) -> list[CatalogueItem]: ...

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackNotice: ...


RechargeAdapter = SupplierAdapter  # the old name
