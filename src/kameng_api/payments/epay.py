"""The EPay (易支付) protocol: signing, the pay URL, notices and the order query.

A request or notice is signed with MD5 over its non-empty parameters except ``sign`` and
``sign_type``, sorted by name, joined as ``k=v&k=v`` with the merchant key appended. Amounts
are yuan with two decimals (``"12.50"``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from kameng_api.core.money import to_cents

UNSIGNED = frozenset({"sign", "sign_type"})
TRADE_SUCCESS = "TRADE_SUCCESS"
_MONEY = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


def sign(params: Mapping[str, object], key: str) -> str:
    items = sorted(
        (k, str(v))
        for k, v in params.items()
        if k not in UNSIGNED and v is not None and str(v) != ""
    )
    return hashlib.md5(("&".join(f"{k}={v}" for k, v in items) + key).encode()).hexdigest()  # noqa: S324 — the protocol's


def verify(params: Mapping[str, str], key: str) -> bool:
    """Constant-time comparison of the notice's signature with ours."""
    given = str(params.get("sign", "")).lower()
    return bool(given) and hmac.compare_digest(sign(params, key), given)


def money(amount: Decimal) -> str:
    return format(to_cents(amount), "f")


def parse_money(text: str) -> Decimal | None:
    """The notice's amount, exactly, or None when it is not a plain yuan amount."""
    return Decimal(text) if _MONEY.match(text or "") else None


def pay_url(
    gateway: str,
    pid: str,
    key: str,
    *,
    out_trade_no: str,
    name: str,
    amount: Decimal,
    notify_url: str,
    return_url: str,
    channel: str | None = None,
) -> str:
    """Where the buyer is sent to pay (``submit.php``)."""
    params: dict[str, str] = {
        "pid": pid,
        "out_trade_no": out_trade_no,
        "notify_url": notify_url,
        "return_url": return_url,
        "name": name[:64],
        "money": money(amount),
    }
    if channel:
        params["type"] = channel
    params["sign"] = sign(params, key)
    params["sign_type"] = "MD5"
    return f"{gateway.rstrip('/')}/submit.php?{urlencode(params)}"


def query_url(gateway: str, pid: str, key: str, out_trade_no: str) -> str:
    """The order query API (``api.php?act=order``), for notices that never came."""
    q = urlencode({"act": "order", "pid": pid, "key": key, "out_trade_no": out_trade_no})
    return f"{gateway.rstrip('/')}/api.php?{q}"


@dataclass(frozen=True)
class Notice:
    pid: str
    trade_no: str
    out_trade_no: str
    channel: str
    name: str
    money: str
    trade_status: str

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Notice:
        return cls(
            pid=str(params.get("pid", "")),
            trade_no=str(params.get("trade_no", "")),
            out_trade_no=str(params.get("out_trade_no", "")),
            channel=str(params.get("type", "")),
            name=str(params.get("name", "")),
            money=str(params.get("money", "")),
            trade_status=str(params.get("trade_status", "")),
        )
