"""Orders' front door: create (price on the server, buyer input checked, limits enforced), pay
by balance, deliver card keys exactly once, the timeline, refunds, and reading orders.

Card keys paid by balance are one database call (``orders/purchase.py``): claim the keys
(sold out → nothing happened), charge the wallet (booked once per order), record the keys in
``order_keys`` and mark the order delivered. Any refusal rolls all of it back, so a buyer is
never charged without keys and a key never leaves stock without an order. (The purchase lane,
``orders/lane.py``, makes the same call for the flash-sale case before routing.)

Other goods leave through the outbox: a paid direct-recharge order becomes ``delivering`` and
writes a ``fulfilment:deliver`` job in the same transaction (fulfilment/ talks to the
supplier); a manual one waits, ``delivering``, for staff to fill the delivery form. Every
delivered (or failed) order writes a ``fulfilment:notify`` job: the buyer's mail and notice.

Callers use ``from kameng_api.orders import service as orders`` and ``orders.X``; every name
below is defined in the module that does that job and only re-exported here:

- ``errors.py``       ``OrderRefused``
- ``buyer_input.py``  checking the buyer input against the product's fields
- ``placing.py``      creating an order: quantity, price, per-user limit, order number, the
                      one-call card-key purchase (and its request for the purchase lane)
- ``paying.py``       paying by balance, by a gateway's confirmation, or confirmed by staff
- ``delivery.py``     delivering: keys, direct recharge outcomes and re-drive, manual
                      delivery, resending the notice, 补发 (the job names live here)
- ``refunds.py``      refunds to the balance, in part or in full
- ``timeline.py``     the state machine's record: ``move`` (status + event row), ``timeline``
- ``sweeps.py``       the periodic work: expire unpaid orders, fulfil or refund those awaiting
                      stock
- ``queries.py``      reading orders (scoped to the caller, locked for staff actions), lists,
                      delivered keys

Constants belong to the module that uses them; a test that patches a name (e.g.
``new_order_no``) patches it in its home module, not here.
"""

from __future__ import annotations

from kameng_api.orders.buyer_input import check_buyer_input
from kameng_api.orders.delivery import (
    DELIVER_TASK,
    NOTIFY_TASK,
    deliver_manually,
    delivery_content,
    delivery_failed,
    recharge_processing,
    recharge_request_id,
    recharge_succeeded,
    redeliver,
    redrive,
    resend_notice,
    upstream_keys_delivered,
)
from kameng_api.orders.errors import OrderRefused
from kameng_api.orders.paying import confirm_paid, paid_by_gateway
from kameng_api.orders.placing import (
    LIMIT_LOCK,
    PurchaseIn,
    card_key_request,
    create_order,
    new_order_no,
    refusal,
)
from kameng_api.orders.queries import (
    DeliveredKey,
    OrderFilter,
    delivered_keys,
    delivered_keys_many,
    get_order,
    list_orders,
    lock_order,
)
from kameng_api.orders.refunds import REFUNDABLE, refund
from kameng_api.orders.sweeps import expire_unpaid, fulfil_awaiting
from kameng_api.orders.timeline import timeline

__all__ = [
    "DELIVER_TASK",
    "LIMIT_LOCK",
    "NOTIFY_TASK",
    "REFUNDABLE",
    "DeliveredKey",
    "OrderFilter",
    "OrderRefused",
    "PurchaseIn",
    "card_key_request",
    "check_buyer_input",
    "confirm_paid",
    "create_order",
    "deliver_manually",
    "delivered_keys",
    "delivered_keys_many",
    "delivery_content",
    "delivery_failed",
    "expire_unpaid",
    "fulfil_awaiting",
    "get_order",
    "list_orders",
    "lock_order",
    "new_order_no",
    "paid_by_gateway",
    "recharge_processing",
    "recharge_request_id",
    "recharge_succeeded",
    "redeliver",
    "redrive",
    "refund",
    "refusal",
    "resend_notice",
    "timeline",
    "upstream_keys_delivered",
]
