"""The resellers capability's permissions (代理/对接): staff views of resellers' API keys and
callback logs. The callback log's code names its own (``callbacks_permissions.py``, the same
values); this module registers the whole capability as one module of the catalogue."""

from enum import StrEnum

from kameng_api.rbac.catalogue import register_module
from kameng_api.resellers.callbacks_permissions import CALLBACKS_LABELS, CallbacksPerm


class ResellersPerm(StrEnum):
    read = "resellers:read"
    manage_keys = "resellers:manage_keys"
    callbacks = CallbacksPerm.read.value
    callbacks_resend = CallbacksPerm.resend.value


register_module(
    "resellers",
    "代理对接",
    "Resellers",
    ResellersPerm,
    {
        ResellersPerm.read: ("查看代理密钥", "View resellers' API keys", False),
        ResellersPerm.manage_keys: ("吊销代理密钥", "Revoke resellers' API keys", False),
        **CALLBACKS_LABELS,
    },
)
