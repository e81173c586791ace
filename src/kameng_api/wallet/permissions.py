from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class WalletPerm(StrEnum):
    read = "wallet:read"
    adjust = "wallet:adjust"
    export = "wallet:export"
    reconcile = "wallet:reconcile"


register_module(
    "wallet",
    "财务",
    "Finance",
    WalletPerm,
    {
        WalletPerm.read: ("查看余额与流水", "View balances and ledger", False),
        WalletPerm.adjust: ("调整余额", "Adjust balances", True),
        WalletPerm.export: ("导出流水", "Export statements", False),
        WalletPerm.reconcile: ("对账", "Reconcile", False),
    },
)
