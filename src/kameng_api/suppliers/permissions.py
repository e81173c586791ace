from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class SuppliersPerm(StrEnum):
    read = "suppliers:read"
    write = "suppliers:write"
    credentials = "suppliers:credentials"


register_module(
    "suppliers",
    "上游",
    "Suppliers",
    SuppliersPerm,
    {
        SuppliersPerm.read: ("查看上游", "View suppliers", False),
        SuppliersPerm.write: ("编辑上游", "Edit suppliers", False),
        SuppliersPerm.credentials: ("管理上游密钥", "Manage supplier credentials", True),
    },
)
