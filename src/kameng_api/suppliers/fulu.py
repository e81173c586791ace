"""The 福禄 (Fulu) open-platform protocol.

One gateway URL; every call is ``POST`` of a JSON envelope::

    {"app_key", "method", "timestamp": "yyyy-MM-dd HH:mm:ss", "version": "2.0",
     "format": "json", "charset": "utf-8", "sign_type": "md5", "app_auth_token": "",
     "biz_content": "<the method's parameters as a JSON string>", "sign"}

and the answer is ``{"code": 0, "message", "result": "<JSON string>", "sign"}``.

**Signature** — what the published SDKs do (the PHP SDK's ``getSign`` and the C#/Java
samples; found with the code search): serialize the envelope WITHOUT ``sign`` as compact JSON
with unicode and slashes unescaped (PHP ``json_encode($p, 320)``), split that string into its
characters, SORT the characters, join them, append the app secret, and take the lower-case
hex MD5. (Sorting the characters makes the key order irrelevant.) Answers and callbacks are
signed the same way over their fields without ``sign``; we check them when a sign is present.

Methods: ``fulu.order.direct.add`` (direct recharge: ``product_id``, ``customer_order_no``,
``charge_account``, ``buy_num``), ``fulu.order.card.add`` (card order: ``product_id``,
``customer_order_no``, ``buy_num``), ``fulu.order.info.get`` (``customer_order_no``),
``fulu.user.info.get`` (balance), ``fulu.goods.list.get`` (catalogue). Order states:
``success``, ``processing``, ``failed``, ``untreated`` (taken, not started: we treat it as
processing). An unknown order is a non-zero ``code`` listed in ``not_found_codes``
(credentials; default ``[4001]`` — the exact code of the real platform is not verified here).

**Card secrets** come back encrypted: ``card_number`` / ``card_pwd`` are base64 of AES-256-ECB
(PKCS#7) with the app secret's UTF-8 bytes as the key (the SDKs' ``CardDecrypt``). This rule
is from the SDKs' descriptions as recalled, not confirmed against the stored corpus: it is
isolated in :func:`decrypt_card` / :func:`encrypt_card` so a correction is one place.

Credentials: ``{"app_key", "app_secret", "not_found_codes"?}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kameng_api.suppliers.adapter import (
    BadCallback,
    CallbackNotice,
    CardSecret,
    CatalogueItem,
    RechargeRequest,
    RechargeResult,
    State,
    SupplierUnavailable,
)
from kameng_api.suppliers.calls import call

CHINA = timezone(timedelta(hours=8))  # the envelope's timestamp is China time
STATE_MAP: dict[str, State] = {
    "success": "success",
    "processing": "processing",
    "untreated": "processing",
    "failed": "failed",
}


def _compact(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))


def sign(params: Mapping[str, Any], secret: str) -> str:
    """The Fulu signature of ``params`` (``sign`` itself left out)."""
    text = _compact({k: v for k, v in params.items() if k != "sign"})
    digest = hashlib.md5(("".join(sorted(text)) + secret).encode(), usedforsecurity=False)
    return digest.hexdigest()  # the protocol's MD5


def _key(secret: str) -> bytes:
    return secret.encode()[:32].ljust(32, b"\0")


def encrypt_card(plain: str, secret: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(_key(secret)), modes.ECB()).encryptor()  # noqa: S305  (protocol)
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def decrypt_card(stored: str, secret: str) -> str:
    if not stored:
        return ""
    dec = Cipher(algorithms.AES(_key(secret)), modes.ECB()).decryptor()  # noqa: S305  (protocol)
    raw = dec.update(base64.b64decode(stored)) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(raw) + unpadder.finalize()).decode()


def envelope(app_key: str, secret: str, method: str, biz: Mapping[str, Any]) -> dict[str, Any]:
    env: dict[str, Any] = {
        "app_key": app_key,
        "method": method,
        "timestamp": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "version": "2.0",
        "format": "json",
        "charset": "utf-8",
        "sign_type": "md5",
        "app_auth_token": "",
        "biz_content": _compact(biz),
    }
    env["sign"] = sign(env, secret)
    return env


class FuluError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class FuluSupplier:
    def __init__(
        self, base_url: str, credentials: Mapping[str, Any], *, timeout_s: float = 8.0
    ) -> None:
        self.url = base_url
        self.app_key = str(credentials.get("app_key") or "")
        self.secret = str(credentials.get("app_secret") or "")
        self.not_found = {int(c) for c in credentials.get("not_found_codes") or [4001]}
        self.timeout_s = timeout_s

    async def _call(self, method: str, biz: Mapping[str, Any]) -> Any:
        body = json.dumps(envelope(self.app_key, self.secret, method, biz), ensure_ascii=False)
        r = await call(
            "POST",
            self.url,
            headers={"content-type": "application/json"},
            content=body.encode(),
            timeout_s=self.timeout_s,
        )
        if r.status_code != 200:
            raise SupplierUnavailable(f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            answer = r.json()
            code = int(answer["code"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SupplierUnavailable(f"unreadable answer: {r.text[:200]}") from exc
        given = answer.get("sign")
        if given and not hmac.compare_digest(sign(answer, self.secret), str(given)):
            raise SupplierUnavailable("the answer's signature is wrong")
        if code != 0:
            raise FuluError(code, str(answer.get("message") or ""))
        try:
            return json.loads(answer.get("result") or "null")
        except ValueError as exc:
            raise SupplierUnavailable("unreadable result") from exc

    def _order(self, data: Any) -> RechargeResult:
        if not isinstance(data, dict) or data.get("order_status") not in STATE_MAP:
            raise SupplierUnavailable(f"unreadable order: {str(data)[:200]}")
        cards: tuple[CardSecret, ...] = ()
        try:
            cards = tuple(
                CardSecret(
                    decrypt_card(str(c.get("card_pwd") or ""), self.secret),
                    decrypt_card(str(c.get("card_number") or ""), self.secret),
                )
                for c in data.get("cards") or []
            )
        except ValueError as exc:
            raise SupplierUnavailable("card secrets could not be decrypted") from exc
        price = data.get("order_price")
        return RechargeResult(
            STATE_MAP[data["order_status"]],
            str(data.get("order_id") or "")[:64],
            str(data.get("recharge_description") or ""),
            cost=None if price is None else Decimal(str(price)),
            cards=cards,
        )

    async def submit(self, request: RechargeRequest) -> RechargeResult:
        biz: dict[str, Any] = {
            "product_id": request.product,
            "customer_order_no": request.request_id,
            "buy_num": request.quantity,
        }
        if request.kind == "direct":
            values = list(request.account.values())
            biz["charge_account"] = request.account.get("account") or (values[0] if values else "")
        method = "fulu.order.direct.add" if request.kind == "direct" else "fulu.order.card.add"
        try:
            return self._order(await self._call(method, biz))
        except FuluError as exc:
            # refused — but a refusal of a repeated customer_order_no ("order exists") must
            # not read as a failure: ask what the supplier holds under our number
            held = await self.query(request.request_id)
            if held is not None:
                return held
            return RechargeResult("failed", "", exc.message[:200] or str(exc.code))

    async def query(self, request_id: str) -> RechargeResult | None:
        try:
            data = await self._call("fulu.order.info.get", {"customer_order_no": request_id})
        except FuluError as exc:
            if exc.code in self.not_found:
                return None
            raise SupplierUnavailable(f"query refused: {exc}") from exc
        return self._order(data)

    async def balance(self) -> Decimal:
        try:
            data = await self._call("fulu.user.info.get", {})
            return Decimal(str(data["balance"]))
        except (FuluError, KeyError, TypeError, InvalidOperation) as exc:
            raise SupplierUnavailable(f"balance: {exc}") from exc

    async def catalogue(self) -> list[CatalogueItem]:
        try:
            data = await self._call("fulu.goods.list.get", {})
        except FuluError as exc:
            raise SupplierUnavailable(f"catalogue: {exc}") from exc
        return [
            CatalogueItem(
                str(it["product_id"]),
                str(it.get("product_name") or ""),
                None if it.get("purchase_price") is None else Decimal(str(it["purchase_price"])),
                str(it.get("product_type") or ""),
                str(it.get("stock_status") or "有") != "断货",
            )
            for it in data or []
        ]

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackNotice:
        try:
            data = json.loads(body)
            given = str(data["sign"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadCallback("unreadable notice") from exc
        if not isinstance(data, dict) or not hmac.compare_digest(sign(data, self.secret), given):
            raise BadCallback("bad signature")
        state = STATE_MAP.get(str(data.get("order_status")))
        if state is None or not data.get("customer_order_no"):
            raise BadCallback("unreadable notice")
        return CallbackNotice(
            str(data["customer_order_no"]),
            state,
            str(data.get("order_id") or "")[:64],
            str(data.get("recharge_description") or ""),
        )
