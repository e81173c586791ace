from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class ResellersPerm(StrEnum):
    read = "resellers:read"
    manage_keys = "resellers:manage_keys"


register_module(
    "resellers",
    "代理对接",
    "Resellers",
    ResellersPerm,
    {
        ResellersPerm.read: ("查看代理密钥", "View resellers' API keys", False),
        ResellersPerm.manage_keys: ("吊销代理密钥", "Revoke resellers' API keys", False),
    },
)
