"""Every capability's tables, gathered for Alembic and the tests. Add new models modules here."""

from kameng_api.alerts.models import Alert
from kameng_api.audit.models import AuditLog
from kameng_api.catalog.models import (
    Category,
    Product,
    Sku,
    SkuAudiencePrice,
    SkuTierPrice,
    product_tags,
)
from kameng_api.core.db import Base
from kameng_api.demo import SeedMark
from kameng_api.identity.models import (
    AuthSession,
    LoginEvent,
    OneTimeCode,
    PasswordHistory,
    RecoveryCode,
    RefreshToken,
    User,
)
from kameng_api.inventory.models import CardKey, ImportBatch, ImportFile, Stock, StockDelta
from kameng_api.notifications.models import Notice
from kameng_api.orders.models import IdempotencyKey, Order, OrderEvent, OrderKey
from kameng_api.outbox.models import OutboxMessage
from kameng_api.payments.models import Payment
from kameng_api.rbac.models import Role, RolePermission, UserRole
from kameng_api.resellers.callback_models import ResellerCallback, ResellerCallbackAttempt
from kameng_api.resellers.models import OpenOrder, ResellerAccount, ResellerKey
from kameng_api.suppliers.models import Supplier, SupplierMapping, UpstreamOrder
from kameng_api.suppliers.sync_models import (
    SupplierCatalogueItem,
    SupplierReconMismatch,
    SupplierReconReport,
    SupplierSyncChange,
    SupplierSyncRun,
)
from kameng_api.system.models import WorkerProbe
from kameng_api.wallet.models import Account, Entry, Line

metadata = Base.metadata

__all__ = [
    "Account",
    "Alert",
    "AuditLog",
    "AuthSession",
    "CardKey",
    "Category",
    "Entry",
    "IdempotencyKey",
    "ImportBatch",
    "ImportFile",
    "Line",
    "LoginEvent",
    "Notice",
    "OneTimeCode",
    "OpenOrder",
    "Order",
    "OrderEvent",
    "OrderKey",
    "OutboxMessage",
    "PasswordHistory",
    "Payment",
    "Product",
    "RecoveryCode",
    "RefreshToken",
    "ResellerAccount",
    "ResellerCallback",
    "ResellerCallbackAttempt",
    "ResellerKey",
    "Role",
    "RolePermission",
    "SeedMark",
    "Sku",
    "SkuAudiencePrice",
    "SkuTierPrice",
    "Stock",
    "StockDelta",
    "Supplier",
    "SupplierCatalogueItem",
    "SupplierMapping",
    "SupplierReconMismatch",
    "SupplierReconReport",
    "SupplierSyncChange",
    "SupplierSyncRun",
    "UpstreamOrder",
    "User",
    "UserRole",
    "WorkerProbe",
    "metadata",
    "product_tags",
]
