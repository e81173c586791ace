"""Which supplier serves a direct recharge: today the one generic HTTP supplier configured by
settings (``http_json.py``); per-product routing and failover are not built yet. Callers
(the delivery job) ask here and talk to the interface of ``adapter.py``.
"""

from __future__ import annotations

from kameng_api.settings import get_settings
from kameng_api.suppliers.adapter import NoSupplier, RechargeAdapter
from kameng_api.suppliers.http_json import HttpJsonSupplier


def recharge_adapter() -> RechargeAdapter:
    """The supplier for direct recharges (until products choose theirs)."""
    s = get_settings()
    if not s.recharge_supplier_url:
        raise NoSupplier("未配置直充上游 (no direct-recharge supplier configured)")
    return HttpJsonSupplier(
        s.recharge_supplier_url,
        s.recharge_supplier_secret.get_secret_value(),
        timeout_s=s.recharge_supplier_timeout_s,
    )
