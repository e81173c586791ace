from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class AuditPerm(StrEnum):
    read = "audit:read"
    export = "audit:export"


register_module(
    "audit",
    "操作日志",
    "Operation log",
    AuditPerm,
    {
        AuditPerm.read: ("查看操作日志", "View operation log", False),
        AuditPerm.export: ("导出操作日志", "Export operation log", False),
    },
)
