"""The one way an adapter calls its supplier: through the SSRF guard (``core.outbound``),
with the guard's errors turned into the adapter interface's (nothing sent → unreachable;
sent, no usable answer → unavailable)."""

from __future__ import annotations

from collections.abc import Mapping

from kameng_api.core import outbound
from kameng_api.suppliers.adapter import SupplierUnavailable, SupplierUnreachable

_NOT_SENT = ("could not connect", "could not resolve", "resolved to no address")


async def call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    timeout_s: float,
) -> outbound.OutboundResponse:
    try:
        return await outbound.request(
            method, url, headers=headers, content=content, timeout_s=timeout_s
        )
    except outbound.OutboundRefused as exc:
        raise SupplierUnreachable(f"URL refused: {exc}") from exc
    except outbound.OutboundFailed as exc:
        msg = str(exc)
        if msg.startswith(_NOT_SENT):
            raise SupplierUnreachable(msg) from exc
        raise SupplierUnavailable(msg) from exc
