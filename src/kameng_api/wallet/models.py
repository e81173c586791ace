"""The wallet ledger (余额): double-entry, append-only.

Every movement of money is one ``Entry`` with two or more ``Line``s whose amounts sum to zero
(the database checks this at commit). Customer and reseller wallets are ``user`` accounts:
each keeps its running ``balance``, moved in the same transaction as its lines
(``balance_after`` on each line makes a statement readable without summing), and can never
go negative (a CHECK). The shop's own side is one account per kind, without a stored
balance — theirs is the sum of their lines — so thousands of purchases a second do not all
queue on one ``revenue`` row:

- ``gateway`` — money received through payment gateways (goes negative as money comes in);
- ``revenue`` — what buyers paid for goods;
- ``refunds`` — money given back (contra-revenue);
- ``adjustments`` — staff corrections (with a reason, step-up, audited).

So the ledger sums to zero, and every wallet's balance equals the sum of its lines.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base
from kameng_api.core.money import MoneyColumn

SYSTEM_KINDS = ("gateway", "revenue", "refunds", "adjustments")
ACCOUNT_KINDS = ("user", *SYSTEM_KINDS)
ENTRY_KINDS = ("recharge", "purchase", "refund", "adjustment")


class Account(Base):
    __tablename__ = "wallet_accounts"
    __table_args__ = (
        CheckConstraint(f"kind IN {ACCOUNT_KINDS}", name="kind"),
        CheckConstraint("(kind = 'user') = (user_id IS NOT NULL)", name="owner"),
        # the rule of a wallet, enforced where no code path can skip it
        CheckConstraint("kind <> 'user' OR balance >= 0", name="user_balance_non_negative"),
        Index("uq_wallet_accounts_user", "user_id", unique=True),
        Index(
            "uq_wallet_accounts_system_kind",
            "kind",
            unique=True,
            postgresql_where=text("kind <> 'user'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    balance: Mapped[Decimal] = mapped_column(MoneyColumn, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Entry(Base):
    """One journal entry (记账凭证): why money moved, by whom, for what."""

    __tablename__ = "wallet_entries"
    __table_args__ = (
        CheckConstraint(f"kind IN {ENTRY_KINDS}", name="kind"),
        # an external event (a payment notice, an order's charge) is booked at most once
        Index("uq_wallet_entries_dedupe", "dedupe", unique=True),
        Index("ix_wallet_entries_ref", "ref_type", "ref_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    memo: Mapped[str] = mapped_column(String(255), server_default="")
    ref_type: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[str | None] = mapped_column(String(64))
    dedupe: Mapped[str | None] = mapped_column(String(128))
    actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Line(Base):
    """One leg of an entry: ``amount`` (signed) on one account, and that account's balance
    right after it."""

    __tablename__ = "wallet_lines"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_non_zero"),
        Index("ix_wallet_lines_account_id", "account_id", "id"),
        Index("ix_wallet_lines_entry_id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("wallet_entries.id"))
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("wallet_accounts.id"))
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    # the wallet's balance after this line; NULL on shop accounts (no stored balance)
    balance_after: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
