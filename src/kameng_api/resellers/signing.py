"""How an open-API request is signed, and how our callbacks are signed.

Requests (reseller → us, and kameng → kameng when one instance is another's supplier):

    string_to_sign = METHOD \n PATH \n CANONICAL_QUERY \n TIMESTAMP \n NONCE \n SHA256_HEX(body)
    X-Kameng-Signature = lowercase hex HMAC-SHA256(secret, string_to_sign)

- ``METHOD`` upper case; ``PATH`` the request path exactly as sent (``/open/v1/orders``);
- ``CANONICAL_QUERY``: every query parameter percent-encoded (RFC 3986, unreserved characters
  ``A-Z a-z 0-9 - _ . ~`` kept), sorted by name then value, joined as ``k=v`` with ``&``
  (empty when there is no query);
- ``TIMESTAMP``: Unix seconds, within ±300 s of our clock; ``NONCE``: 16–64 characters of
  ``A-Z a-z 0-9 _ -``, accepted once;
- the body's SHA-256 is over the exact bytes sent (``e3b0c442…`` for an empty body).

Headers: ``X-Kameng-App-Id``, ``X-Kameng-Timestamp``, ``X-Kameng-Nonce``, ``X-Kameng-Signature``.

Callbacks (us → reseller) follow Standard Webhooks (https://www.standardwebhooks.com):
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``"{id}.{timestamp}.{body}"`` with the key ``base64decode(secret without "whsec_")``, so a
receiver can check them with any Standard Webhooks library.

This module is pure (no I/O): the server, the Python client and tests share it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import quote

HEADER_APP_ID = "X-Kameng-App-Id"
HEADER_TIMESTAMP = "X-Kameng-Timestamp"
HEADER_NONCE = "X-Kameng-Nonce"
HEADER_SIGNATURE = "X-Kameng-Signature"
WINDOW_S = 300  # a timestamp further than this from our clock is stale
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _enc(s: str) -> str:
    return quote(s, safe="-_.~")


def canonical_query(params: list[tuple[str, str]]) -> str:
    """Query parameters, each percent-encoded, sorted by name then value, ``&``-joined."""
    return "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in params))


def string_to_sign(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    timestamp: str,
    nonce: str,
    body: bytes,
) -> str:
    return "\n".join(
        (
            method.upper(),
            path,
            canonical_query(query),
            timestamp,
            nonce,
            hashlib.sha256(body).hexdigest(),
        )
    )


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, text: str, given: str) -> bool:
    return hmac.compare_digest(sign(secret, text), given.strip().lower())


def new_app_id() -> str:
    return "ak_" + secrets.token_hex(10)


def new_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


def new_nonce() -> str:
    return secrets.token_hex(16)


# ---- callbacks: Standard Webhooks --------------------------------------------------------


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (``v1,<base64>``)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()
