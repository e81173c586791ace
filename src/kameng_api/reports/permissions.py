from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class ReportsPerm(StrEnum):
    read = "reports:read"
    export = "reports:export"


register_module(
    "reports",
    "报表",
    "Reports",
    ReportsPerm,
    {
        ReportsPerm.read: ("查看报表", "View reports", False),
        ReportsPerm.export: ("导出报表", "Export reports", False),
    },
)
