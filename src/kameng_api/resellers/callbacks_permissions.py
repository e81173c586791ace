"""The permissions of the reseller callback log (registered with the rest of the resellers
capability's in ``resellers/permissions.py``)."""

from enum import StrEnum


class CallbacksPerm(StrEnum):
    read = "resellers:callbacks"
    resend = "resellers:callbacks_resend"


CALLBACKS_LABELS: dict[StrEnum, tuple[str, str, bool]] = {
    CallbacksPerm.read: ("查看代理回调", "View reseller callbacks", False),
    CallbacksPerm.resend: ("重发代理回调", "Resend reseller callbacks", False),
}
