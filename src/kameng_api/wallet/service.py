"""Wallet rules: post balanced entries, the movements built from them (recharge, purchase,
refund, staff adjustment), statements, the ledger and the trial balance.

``post`` is the only writer of ``wallet_lines`` and balances. It books an entry at most once
per ``dedupe`` key, moves each account with one conditional ``UPDATE`` (a user balance that
would go negative refuses the whole entry: ``insufficient_balance``) in account-id order (two
entries never deadlock), and writes the lines with the balances they left. The database
re-checks both rules: the lines of an entry sum to zero (a deferred constraint trigger) and a
user balance is never negative (a CHECK).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor, RequestMeta
from kameng_api.core.errors import AppError, NotFound
from kameng_api.core.money import quantize
from kameng_api.identity.models import User
from kameng_api.wallet.models import SYSTEM_KINDS, Account, Entry, Line

MAX_AMOUNT = Decimal("10000000")  # one movement; a typo guard, not a business limit


class InsufficientBalance(AppError):
    status = 409
    code = "insufficient_balance"
    title = "Insufficient balance"


class BadAmount(AppError):
    status = 422
    code = "bad_amount"
    title = "Bad amount"


@dataclass(frozen=True)
class Posted:
    entry: Entry
    applied: bool  # False: this dedupe key was booked before; nothing moved now


# ---- accounts -------------------------------------------------------------------------------


_shop_ids: dict[str, dict[str, int]] = {}  # database URL → kind → account id


async def shop_accounts(session: AsyncSession) -> dict[str, int]:
    """The ids of the shop's accounts by kind (rows made by the migration; never change)."""
    key = str(session.get_bind().engine.url)
    ids = _shop_ids.get(key)
    if ids is None:
        rows = (
            await session.execute(select(Account.kind, Account.id).where(Account.kind != "user"))
        ).all()
        ids = _shop_ids[key] = dict(rows)
        assert set(ids) == set(SYSTEM_KINDS), ids
    return ids


async def system_account(session: AsyncSession, kind: str) -> int:
    return (await shop_accounts(session))[kind]


async def user_account(session: AsyncSession, user_id: int) -> int:
    """The id of this user's wallet (created on first use)."""
    q = select(Account.id).where(Account.user_id == user_id)
    found = (await session.execute(q)).scalar_one_or_none()
    if found is None:  # first use (a racing first use is fine: the insert does nothing)
        await session.execute(
            pg_insert(Account)
            .values(kind="user", user_id=user_id)
            .on_conflict_do_nothing(index_elements=[Account.user_id])
        )
        found = (await session.execute(q)).scalar_one()
    return int(found)


async def balance(session: AsyncSession, user_id: int) -> Decimal:
    value = (
        await session.execute(select(Account.balance).where(Account.user_id == user_id))
    ).scalar_one_or_none()
    return value if value is not None else Decimal("0.0000")


# ---- posting --------------------------------------------------------------------------------


def check_amount(value: Decimal) -> Decimal:
    """``value`` rounded to the ledger's precision, or ``bad_amount``."""
    if not value.is_finite():
        raise BadAmount("金额无效 (the amount must be a number)")
    q = quantize(value)
    if q <= 0 or q > MAX_AMOUNT:
        raise BadAmount(f"金额须大于 0 且不超过 {MAX_AMOUNT} (0 < amount ≤ {MAX_AMOUNT})")
    return q


async def post(
    session: AsyncSession,
    kind: str,
    legs: list[tuple[int, Decimal]],
    *,
    memo: str = "",
    ref_type: str | None = None,
    ref_id: str | int | None = None,
    dedupe: str | None = None,
    actor_id: int | None = None,
) -> Posted:
    """Book one balanced entry: ``legs`` are (account id, signed amount)."""
    if len(legs) < 2 or sum((a for _, a in legs), Decimal(0)) != 0 or any(a == 0 for _, a in legs):
        raise ValueError(f"an entry needs two or more non-zero legs summing to zero: {legs}")
    values = {
        "kind": kind,
        "memo": memo[:255],
        "ref_type": ref_type,
        "ref_id": None if ref_id is None else str(ref_id),
        "dedupe": dedupe,
        "actor_id": actor_id,
    }
    entry: Entry | None
    async with session.begin_nested():  # a refusal leaves the caller's transaction usable
        if dedupe is None:
            stmt = insert(Entry).values(values).returning(Entry)
        else:
            stmt = (
                pg_insert(Entry)
                .values(values)
                .on_conflict_do_nothing(index_elements=[Entry.dedupe])
                .returning(Entry)
            )
        entry = (await session.execute(select(Entry).from_statement(stmt))).scalar_one_or_none()
        if entry is None:  # booked before (same dedupe key)
            existing = (
                await session.execute(select(Entry).where(Entry.dedupe == dedupe))
            ).scalar_one()
            return Posted(existing, applied=False)
        entry_id = entry.id
        shop = set((await shop_accounts(session)).values())
        lines = []
        for account_id, amount in sorted(legs):
            after = None  # a shop account's balance is the sum of its lines (see models)
            if account_id not in shop:
                after = (
                    await session.execute(
                        text(
                            "UPDATE wallet_accounts SET balance = balance + :amount,"
                            " updated_at = now() WHERE id = :id AND kind = 'user'"
                            " AND balance + :amount >= 0 RETURNING balance"
                        ),
                        {"id": account_id, "amount": amount},
                    )
                ).scalar_one_or_none()
                if after is None:
                    raise InsufficientBalance("余额不足 (the balance is too low)")
            lines.append(
                {
                    "entry_id": entry_id,
                    "account_id": account_id,
                    "amount": amount,
                    "balance_after": after,
                }
            )
        await session.execute(insert(Line), lines)
    return Posted(entry, applied=True)


# ---- movements ------------------------------------------------------------------------------


async def recharge(
    session: AsyncSession, user_id: int, amount: Decimal, *, payment_id: int, memo: str = "充值"
) -> Posted:
    """Money received through a gateway credits the user's wallet (once per payment)."""
    amount = check_amount(amount)
    gateway = await system_account(session, "gateway")
    wallet = await user_account(session, user_id)
    return await post(
        session,
        "recharge",
        [(gateway, -amount), (wallet, amount)],
        memo=memo,
        ref_type="payment",
        ref_id=payment_id,
        dedupe=f"recharge:payment:{payment_id}",
    )


async def charge(
    session: AsyncSession,
    user_id: int,
    amount: Decimal,
    *,
    order_id: int,
    order_no: str | None = None,
    memo: str = "购买",
) -> Posted:
    """A purchase paid from the wallet (once per order; the statement names ``order_no``)."""
    amount = check_amount(amount)
    wallet = await user_account(session, user_id)
    revenue = await system_account(session, "revenue")
    return await post(
        session,
        "purchase",
        [(wallet, -amount), (revenue, amount)],
        memo=memo,
        ref_type="order",
        ref_id=order_no or order_id,
        dedupe=f"purchase:order:{order_id}",
    )


async def gateway_purchase(
    session: AsyncSession,
    amount: Decimal,
    *,
    order_id: int,
    payment_id: int | None,
    order_no: str | None = None,
    memo: str = "购买",
) -> Posted:
    """A purchase paid outside the wallet — through a gateway (``payment_id``) or confirmed by
    staff (None): money in, revenue, once per order."""
    amount = check_amount(amount)
    shop = await shop_accounts(session)
    return await post(
        session,
        "purchase",
        [(shop["gateway"], -amount), (shop["revenue"], amount)],
        memo=memo,
        ref_type="payment" if payment_id is not None else "order",
        ref_id=payment_id if payment_id is not None else (order_no or order_id),
        dedupe=f"purchase:order:{order_id}",
    )


async def refund(
    session: AsyncSession,
    user_id: int,
    amount: Decimal,
    *,
    ref: str,
    memo: str = "退款",
    actor_id: int | None = None,
) -> Posted:
    """Money given back to the wallet (once per ``ref``, e.g. ``refund:17``)."""
    amount = check_amount(amount)
    refunds = await system_account(session, "refunds")
    wallet = await user_account(session, user_id)
    return await post(
        session,
        "refund",
        [(refunds, -amount), (wallet, amount)],
        memo=memo,
        ref_type=ref.split(":", 1)[0],
        ref_id=ref.split(":", 1)[-1],
        dedupe=f"refund:{ref}",
        actor_id=actor_id,
    )


async def adjust(
    session: AsyncSession,
    actor: Actor,
    user_id: int,
    amount: Decimal,
    reason: str,
    meta: RequestMeta | None = None,
) -> Posted:
    """A staff correction (调账): signed amount, a reason, audited. The route demands
    ``wallet:adjust`` with a fresh 2FA."""
    if not amount.is_finite() or amount == 0:
        raise BadAmount("调整金额不能为 0 (the amount must not be zero)")
    magnitude = check_amount(abs(amount))
    signed = magnitude if amount > 0 else -magnitude
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="unknown_user")
    before = await balance(session, user_id)
    adjustments = await system_account(session, "adjustments")
    wallet = await user_account(session, user_id)
    posted = await post(
        session,
        "adjustment",
        [(adjustments, -signed), (wallet, signed)],
        memo=reason,
        ref_type="user",
        ref_id=user_id,
        actor_id=actor.user_id,
    )
    await audit.record(
        session,
        "wallet.adjust",
        actor=actor,
        meta=meta,
        target_type="user",
        target_id=user_id,
        before={"balance": format(before, "f")},
        after={"balance": format(before + signed, "f"), "amount": format(signed, "f")},
        risk="high",
        detail=reason,
    )
    return posted


# ---- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    line: Line
    entry: Entry


async def statement(
    session: AsyncSession, user_id: int, *, before: int | None = None, limit: int = 50
) -> list[StatementLine]:
    """The user's wallet lines, newest first (keyset on the line id)."""
    account = (
        await session.execute(select(Account.id).where(Account.user_id == user_id))
    ).scalar_one_or_none()
    if account is None:
        return []
    q = (
        select(Line, Entry)
        .join(Entry, Entry.id == Line.entry_id)
        .where(Line.account_id == account)
        .order_by(Line.id.desc())
        .limit(limit)
    )
    if before is not None:
        q = q.where(Line.id < before)
    return [StatementLine(line, entry) for line, entry in (await session.execute(q)).all()]


@dataclass(frozen=True)
class AccountRow:
    account: Account
    user: User | None


def _accounts_query(q: str | None) -> Select[Account, User]:
    query = (
        select(Account, User)
        .join(User, User.id == Account.user_id)
        .where(Account.kind == "user")
        .order_by(Account.balance.desc(), Account.id)
    )
    if q:
        query = query.where(  # % and _ are text here, not wildcards
            User.email.icontains(q, autoescape=True) | User.phone.contains(q, autoescape=True)
        )
    return query


async def list_accounts(
    session: AsyncSession, *, q: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[AccountRow], int]:
    base = _accounts_query(q)
    total = int(
        (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    )
    rows = (await session.execute(base.offset(offset).limit(limit))).all()
    return [AccountRow(a, u) for a, u in rows], total


@dataclass(frozen=True)
class LedgerEntry:
    entry: Entry
    lines: list[tuple[Line, Account]]


async def ledger(
    session: AsyncSession,
    *,
    kind: str | None = None,
    user_id: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[LedgerEntry]:
    """Journal entries, newest first, with their lines."""
    q = select(Entry).order_by(Entry.id.desc()).limit(limit)
    if kind:
        q = q.where(Entry.kind == kind)
    if before is not None:
        q = q.where(Entry.id < before)
    if user_id is not None:
        q = q.where(
            Entry.id.in_(
                select(Line.entry_id)
                .join(Account, Account.id == Line.account_id)
                .where(Account.user_id == user_id)
            )
        )
    entries = list((await session.execute(q)).scalars())
    if not entries:
        return []
    rows = (
        await session.execute(
            select(Line, Account)
            .join(Account, Account.id == Line.account_id)
            .where(Line.entry_id.in_([e.id for e in entries]))
            .order_by(Line.id)
        )
    ).all()
    by_entry: dict[int, list[tuple[Line, Account]]] = {}
    for line, account in rows:
        by_entry.setdefault(line.entry_id, []).append((line, account))
    return [LedgerEntry(e, by_entry.get(e.id, [])) for e in entries]


@dataclass(frozen=True)
class TrialBalance:
    by_kind: dict[str, Decimal]  # wallets: sum of balances; shop accounts: sum of lines
    total: Decimal  # always 0
    lines_total: Decimal  # sum of every line: always 0
    mismatched_accounts: list[int]  # accounts whose balance ≠ the sum of their lines: none
    unbalanced_entries: list[int]  # entries whose lines do not sum to 0: none


async def trial_balance(session: AsyncSession) -> TrialBalance:
    """Reconciliation (对账): does the ledger balance, and does every wallet's balance match
    its lines? (Shop accounts have no stored balance: theirs is the sum of their lines.)"""
    users_total = (
        await session.execute(
            select(func.coalesce(func.sum(Account.balance), 0)).where(Account.kind == "user")
        )
    ).scalar_one()
    shop = dict(
        (
            await session.execute(
                select(Account.kind, func.coalesce(func.sum(Line.amount), 0))
                .outerjoin(Line, Line.account_id == Account.id)
                .where(Account.kind != "user")
                .group_by(Account.kind)
            )
        ).all()
    )
    by_kind = {"user": Decimal(users_total), **{k: Decimal(v) for k, v in shop.items()}}
    lines_total = (
        await session.execute(select(func.coalesce(func.sum(Line.amount), 0)))
    ).scalar_one()
    sums = (
        select(Line.account_id, func.sum(Line.amount).label("s"))
        .group_by(Line.account_id)
        .subquery()
    )
    mismatched = (
        await session.execute(
            select(Account.id)
            .outerjoin(sums, sums.c.account_id == Account.id)
            .where(Account.kind == "user", Account.balance != func.coalesce(sums.c.s, 0))
            .order_by(Account.id)
        )
    ).scalars()
    unbalanced = (
        await session.execute(
            select(Line.entry_id)
            .group_by(Line.entry_id)
            .having(func.sum(Line.amount) != 0)
            .order_by(Line.entry_id)
        )
    ).scalars()
    return TrialBalance(
        by_kind=by_kind,
        total=sum(by_kind.values(), Decimal(0)),
        lines_total=Decimal(lines_total),
        mismatched_accounts=list(mismatched),
        unbalanced_entries=list(unbalanced),
    )
