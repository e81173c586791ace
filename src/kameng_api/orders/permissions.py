from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class OrdersPerm(StrEnum):
    read = "orders:read"
    export = "orders:export"
    refund = "orders:refund"
    redeliver = "orders:redeliver"
    confirm_paid = "orders:confirm_paid"
    resend = "orders:resend"
    deliver = "orders:deliver"


register_module(
    "orders",
    "交易",
    "Orders",
    OrdersPerm,
    {
        OrdersPerm.read: ("查看订单", "View orders", False),
        OrdersPerm.export: ("导出订单", "Export orders", False),
        OrdersPerm.refund: ("退款", "Refund orders", True),
        OrdersPerm.redeliver: ("补发", "Re-deliver", False),
        OrdersPerm.confirm_paid: ("手动确认收款", "Confirm paid manually", True),
        OrdersPerm.resend: ("重发通知", "Resend notifications", False),
        OrdersPerm.deliver: ("人工发货", "Deliver manual orders", False),
    },
)
