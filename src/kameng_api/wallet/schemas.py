from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from kameng_api.core.bounds import Id
from kameng_api.core.money import Money, amount_schema, not_zero

EntryKind = Literal["recharge", "purchase", "refund", "adjustment"]
AccountKind = Literal["user", "gateway", "revenue", "refunds", "adjustments"]
ExportFormat = Literal["csv", "xlsx"]

RechargeAmount = Annotated[
    Decimal,
    Field(ge=Decimal("0.01"), le=50_000, max_digits=12, decimal_places=2),
    amount_schema(places=2, int_digits=5, sign="positive", maximum=50_000),
]
"""0.01 … 50,000 元 (payments.service.MAX_RECHARGE)."""
AdjustAmount = Annotated[
    Decimal,
    Field(ge=-10_000_000, le=10_000_000, max_digits=16, decimal_places=4),
    AfterValidator(not_zero),
    amount_schema(places=4, int_digits=8, sign="nonzero", maximum=10_000_000),
]
"""± 10,000,000 (wallet.service.MAX_AMOUNT), never 0."""


class WalletOut(BaseModel):
    balance: Money
    currency: Literal["CNY"] = "CNY"


class StatementLineOut(BaseModel):
    id: int
    entry_id: int
    kind: EntryKind
    memo: str
    amount: Money = Field(description="signed: + money in, - money out")
    balance_after: Money
    ref_type: str | None
    ref_id: str | None
    created_at: datetime


class StatementPage(BaseModel):
    items: list[StatementLineOut]
    next_before: int | None = Field(description="pass as ``before`` for the next page")


class AccountOut(BaseModel):
    user_id: int
    user_kind: str
    email: str | None
    phone: str | None
    display_name: str
    balance: Money
    updated_at: datetime


class AccountPage(BaseModel):
    items: list[AccountOut]
    total: int


class AdjustIn(BaseModel):
    user_id: Id
    amount: AdjustAmount = Field(
        description="signed amount: positive credits the wallet, negative debits it"
    )
    reason: str = Field(min_length=2, max_length=255)


class AdjustOut(BaseModel):
    entry_id: int
    balance: Money


class LedgerLineOut(BaseModel):
    account_id: int
    account_kind: AccountKind
    user_id: int | None
    amount: Money
    balance_after: Money | None = Field(description="wallets only; shop accounts keep none")


class LedgerEntryOut(BaseModel):
    id: int
    kind: EntryKind
    memo: str
    ref_type: str | None
    ref_id: str | None
    actor_id: int | None
    created_at: datetime
    lines: list[LedgerLineOut]


class LedgerPage(BaseModel):
    items: list[LedgerEntryOut]
    next_before: int | None


class TrialBalanceOut(BaseModel):
    balanced: bool = Field(description="true when every check below holds")
    by_kind: dict[str, Money] = Field(description="sum of balances per account kind")
    total: Money = Field(description="sum of every balance: 0")
    lines_total: Money = Field(description="sum of every ledger line: 0")
    mismatched_accounts: list[int] = Field(description="balance ≠ sum of its lines: none")
    unbalanced_entries: list[int] = Field(description="lines not summing to 0: none")


class RechargeIn(BaseModel):
    amount: RechargeAmount = Field(description="yuan")


class RechargeOut(BaseModel):
    out_trade_no: str
    amount: Money
    pay_url: str = Field(description="send the buyer here to pay; credited on the notice")
