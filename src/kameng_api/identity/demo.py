"""Demo accounts: one staff user per built-in role, a customer and a reseller."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.actor import UserKind
from kameng_api.demo import DEMO_LOGINS, STEPS, DemoLogin
from kameng_api.identity import service
from kameng_api.rbac import service as rbac

DEMO_PASSWORD = "Kameng-Demo-2026!"  # noqa: S105 — public demo login, printed by `make run`

STAFF = [
    ("super_admin", "admin@demo.kameng.example", "超管 Admin"),
    ("operator", "operator@demo.kameng.example", "运营 Operator"),
    ("customer_service", "cs@demo.kameng.example", "客服 Support"),
    ("finance", "finance@demo.kameng.example", "财务 Finance"),
    ("marketing", "marketing@demo.kameng.example", "营销 Marketing"),
    ("key_uploader", "keys@demo.kameng.example", "卡密上传 Key uploader"),
]
CUSTOMER = ("customer@demo.kameng.example", "演示顾客 Customer")
RESELLER = ("reseller@demo.kameng.example", "演示代理 Reseller")


async def seed_accounts(session: AsyncSession) -> None:
    for role, email, name in STAFF:
        user = await service.create_user(
            session,
            kind=UserKind.staff,
            email=email,
            phone=None,
            password=DEMO_PASSWORD,
            display_name=name,
            email_verified=True,
        )
        await rbac.grant_builtin_role(session, user.id, role)
    for kind, (email, name) in ((UserKind.customer, CUSTOMER), (UserKind.reseller, RESELLER)):
        await service.create_user(
            session,
            kind=kind,
            email=email,
            phone=None,
            password=DEMO_PASSWORD,
            display_name=name,
            email_verified=True,
        )


STEPS.append(("identity:accounts", seed_accounts))
DEMO_LOGINS.extend(
    [DemoLogin(role, email, DEMO_PASSWORD) for role, email, _ in STAFF]
    + [
        DemoLogin("customer", CUSTOMER[0], DEMO_PASSWORD),
        DemoLogin("reseller", RESELLER[0], DEMO_PASSWORD),
    ]
)
