"""The one way an adapter calls its supplier: through the SSRF guard (``core.outbound``),
with the guard's errors turned into the adapter interface's (nothing sent → unreachable;
sent, no usable answer → unavailable)."""

from __future__ import annotations

from collections.abc import Mapping

from kameng_api.core import outbound
from kameng_api.suppliers.adapter import SupplierUnavailable, SupplierUnreachable


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
    except outbound.OutboundNotSent as exc:
        raise SupplierUnreachable(str(exc)) from exc
    except outbound.OutboundFailed as exc:
        raise SupplierUnavailable(str(exc)) from exc
